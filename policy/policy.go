package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ipgate/ipgate/rangeset"
)

// maxExpiry is the latest expiry a rule may have (SEMANTICS §3),
// 9999-12-31T23:59:59Z, so that no arithmetic on instants can wrap. It is
// unexported so that no caller can move the limit; packages check and
// check/lint write out the instant a second past it, and a test in check
// holds it to this one.
var maxExpiry = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// Rule is one entry of a policy: a target range, an action, whom it binds
// and until when. Metadata (CreatedAt, UpdatedAt, Comment) never changes a
// decision, except that a TTL counts from UpdatedAt, else from CreatedAt.
//
// The zero Rule is invalid: it has no id, target or action.
type Rule struct {
	// ID names the rule; non-empty, unique within its policy, and valid
	// UTF-8, as a document can hold it.
	ID string
	// Target is the set of addresses the rule matches.
	Target rangeset.Range
	// Action is Allow or Deny.
	Action Action
	// AdminOnly restricts the rule to admin subjects.
	AdminOnly bool
	// ExpiresAt, when not zero, is the instant from which the rule no longer
	// matches, at most 9999-12-31T23:59:59Z (SEMANTICS §3), so that no
	// arithmetic on instants can wrap. The zero time.Time means no expiry,
	// so a rule cannot expire at the zero instant 0001-01-01T00:00:00Z
	// itself ([Decode] refuses a document that says so); any later instant,
	// however far past, works.
	ExpiresAt time.Time
	// TTL, when not nil, is the rule's time to live, counted from
	// UpdatedAt, else from CreatedAt. It is a whole number of seconds, as a
	// document writes it, and at most the largest time.Duration (about 292
	// years), and the expiry it gives at most 9999-12-31T23:59:59Z. A rule
	// has at most one of TTL and ExpiresAt.
	TTL *time.Duration
	// CreatedAt and UpdatedAt are set by stores; zero means unknown. A
	// TTL counts from UpdatedAt when it is not zero, else from CreatedAt.
	CreatedAt, UpdatedAt time.Time
	// Comment is free text, in valid UTF-8.
	Comment string
}

// Expiry returns the instant from which r no longer matches, and reports
// whether r expires at all. It is ExpiresAt when set, else the TTL added to
// UpdatedAt (or CreatedAt). For a rule that [Policy.Validate] would
// refuse, the result is only a best effort: a TTL with no timestamp never
// expires, and one too large saturates at 10000-01-01T00:00:00Z, one
// second past the latest expiry a rule may have.
func (r Rule) Expiry() (time.Time, bool) {
	if !r.ExpiresAt.IsZero() {
		return r.ExpiresAt, true
	}
	base := r.ttlBase()
	if r.TTL == nil || base.IsZero() {
		return time.Time{}, false
	}
	limit := maxExpiry.Add(time.Second)
	if e := base.Add(*r.TTL); !e.After(limit) {
		return e, true
	}
	return limit, true
}

// ttlBase returns the instant r's TTL counts from: UpdatedAt, else
// CreatedAt, else zero.
func (r Rule) ttlBase() time.Time {
	if r.UpdatedAt.IsZero() {
		return r.CreatedAt
	}
	return r.UpdatedAt
}

// Expired reports whether r is expired at t, that is t >= its expiry.
func (r Rule) Expired(t time.Time) bool {
	e, ok := r.Expiry()
	return ok && !t.Before(e)
}

// Equal reports whether r and o are equal in every field; instants are
// compared with time.Time.Equal.
func (r Rule) Equal(o Rule) bool {
	return r.ID == o.ID && r.Target == o.Target && r.Action == o.Action && r.AdminOnly == o.AdminOnly &&
		r.ExpiresAt.Equal(o.ExpiresAt) && r.CreatedAt.Equal(o.CreatedAt) && r.UpdatedAt.Equal(o.UpdatedAt) &&
		r.Comment == o.Comment && (r.TTL == nil) == (o.TTL == nil) && (r.TTL == nil || *r.TTL == *o.TTL)
}

// Clone returns a copy of r that shares no memory with it.
func (r Rule) Clone() Rule {
	if r.TTL != nil {
		ttl := *r.TTL
		r.TTL = &ttl
	}
	return r
}

// Settings are a policy's switches (SEMANTICS §3). The zero Settings is
// invalid (its DefaultAction is unset), so that a policy built without
// thought fails to compile instead of allowing everything: start from
// [DefaultSettings], or build the policy with [New].
type Settings struct {
	// Enabled false allows every request, reason "disabled".
	Enabled bool
	// DefaultAction decides requests that no live rule matches.
	DefaultAction DefaultAction
	// DenyOverrides chooses the winner among the live rules that match
	// (SEMANTICS §4 step 6), and is the document's "precedence" setting.
	// False is "mostSpecific", the default: the rule whose target holds the
	// fewest addresses wins; at equal size deny beats allow, then the
	// smallest id wins. True is "denyOverrides": the narrowest matching deny
	// wins if there is one, else the narrowest allow; ties as for
	// mostSpecific.
	DenyOverrides bool
	// ApplyToMobile false allows every mobile request, reason "exempt".
	ApplyToMobile bool
}

// DefaultSettings returns the settings SEMANTICS §3 gives as defaults:
// enabled, default action auto, precedence mostSpecific (DenyOverrides
// false), applied to mobile.
func DefaultSettings() Settings {
	return Settings{Enabled: true, DefaultAction: DefaultAuto, ApplyToMobile: true}
}

// Policy is a set of rules under one set of settings. Rule order carries no
// meaning.
type Policy struct {
	Settings Settings
	Rules    []Rule
}

// New returns a policy with [DefaultSettings] and the given rules.
func New(rules ...Rule) Policy {
	return Policy{Settings: DefaultSettings(), Rules: slices.Clone(rules)}
}

// Allowlist returns a policy that allows the given targets and denies
// every other address: one allow rule per target, each parsed by
// [rangeset.ParseRange] and named by its canonical text (so "10.0.0.0/8"
// is the rule "10.0.0.0/8"), under [DefaultSettings] with default action
// deny, so that an empty list denies everything. A target given twice, in
// any spelling, gives one rule. Every target that does not parse is
// reported, in an error that unwraps, as an errors.Join does, to the
// parse errors of the first 10,000, each naming its input, and counts the
// rest; then the Policy is the zero Policy.
func Allowlist(targets ...string) (Policy, error) {
	p := New()
	p.Settings.DefaultAction = DefaultDeny
	var ps problems
	seen := make(map[rangeset.Range]bool, len(targets))
	for _, t := range targets {
		r, err := rangeset.ParseRange(t)
		if err != nil {
			ps.addErr(err)
			continue
		}
		if !seen[r] {
			seen[r] = true
			p.Rules = append(p.Rules, Rule{ID: r.String(), Target: r, Action: Allow})
		}
	}
	if err := ps.err(); err != nil {
		return Policy{}, fmt.Errorf("policy.Allowlist: %w", err)
	}
	return p, nil
}

// Clone returns a deep copy of p.
func (p Policy) Clone() Policy {
	q := Policy{Settings: p.Settings, Rules: make([]Rule, len(p.Rules))}
	for i, r := range p.Rules {
		q.Rules[i] = r.Clone()
	}
	return q
}

// Validation problems, wrapped by [*RuleError] and the settings errors of
// [Policy.Validate]. They are unexported: a caller tells problems apart by
// where they are (errors.As to *RuleError or *DocError) and by their
// message, which these begin; see the package doc.
var (
	// errEmptyID reports a rule without an id.
	errEmptyID = errors.New("empty id")
	// errDuplicateID reports a rule whose id an earlier rule has.
	errDuplicateID = errors.New("duplicate id")
	// errEncoding reports an id or a comment that is not valid UTF-8: a
	// JSON document cannot hold it, so a store would write, and every
	// other reader see, another string.
	errEncoding = errors.New("not valid UTF-8")
	// errTarget reports a missing or unparsable target; the parse error, if
	// any, is wrapped too.
	errTarget = errors.New("invalid target")
	// errAction reports a missing action or one other than "allow" and "deny".
	errAction = errors.New("invalid action")
	// errTTLNoBase reports a ttl on a rule with neither createdAt nor updatedAt.
	errTTLNoBase = errors.New("ttl without createdAt or updatedAt")
	// errTTLAndExpiry reports a rule with both ttl and expiresAt.
	errTTLAndExpiry = errors.New("both ttl and expiresAt")
	// errTTL reports a ttl below zero, one that is not a whole number of
	// seconds, or one larger than the largest time.Duration.
	errTTL = errors.New("invalid ttl")
	// errExpiryRange reports an expiry after maxExpiry.
	errExpiryRange = errors.New("expiry after 9999-12-31T23:59:59Z")
	// errZeroInstant reports a document's expiresAt at the zero instant
	// 0001-01-01T00:00:00Z (SEMANTICS §3 would have the rule expired at
	// every instant, but a [Rule]'s zero ExpiresAt means no expiry), or a
	// zero-instant updatedAt or createdAt that a ttl counts from.
	errZeroInstant = errors.New("zero instant 0001-01-01T00:00:00Z")
	// errSettings reports an unset or unknown setting.
	errSettings = errors.New("invalid setting")
	// errUnknownValue reports enum text that names no value, e.g. "Allow".
	errUnknownValue = errors.New("unknown")

	// The problems in a document's terms...
	errMissingTarget = fmt.Errorf("%w: no ip, or from and to", errTarget)
	errMissingAction = fmt.Errorf("%w: missing", errAction)
	errFromToAndIP   = fmt.Errorf("%w: both ip and from/to", errTarget)
	errFromWithoutTo = fmt.Errorf("%w: from without to, or to without from", errTarget)

	// ... and in Go's, for rules built in Go.
	errGoTarget       = &problem{"invalid target: Target is the zero rangeset.Range", errTarget}
	errGoAction       = &problem{"invalid action: Action is zero (want policy.Allow or policy.Deny)", errAction}
	errGoTTLNoBase    = &problem{"TTL without CreatedAt or UpdatedAt", errTTLNoBase}
	errGoTTLAndExpiry = &problem{"both TTL and ExpiresAt", errTTLAndExpiry}

	errIDEncoding      = &problem{"the id is not valid UTF-8", errEncoding}
	errCommentEncoding = &problem{"the comment is not valid UTF-8", errEncoding}
)

// problem is an error whose text says more than the sentinel it wraps.
type problem struct {
	msg string
	err error
}

func (p *problem) Error() string { return p.msg }
func (p *problem) Unwrap() error { return p.err }

// terms says in whose words a problem is reported: a document's keys or a
// Rule's fields.
type terms bool

const (
	goTerms  terms = false
	docTerms terms = true
)

// RuleError reports a problem with one rule of a policy: errors.As to a
// *RuleError tells which rule, and its message what is wrong (e.g.
// "duplicate id", "invalid target: ..."). When the problem is a target that
// does not parse, Err wraps the [*rangeset.ParseError], which errors.As
// finds too.
type RuleError struct {
	// Index is the rule's position in Policy.Rules.
	Index int
	// ID is the rule's id, possibly empty.
	ID string
	// Err says what is wrong. When the rule's document is not in the
	// strict form (a value of the wrong type, say), errors.As finds in it
	// a [*DocError] naming the key.
	Err error
}

// Error returns `rule "ID": problem`, or `rule #Index: problem` when the
// rule has no id. The id is quoted by [rangeset.Quote]: control characters
// are escaped and a long id is cut.
func (e *RuleError) Error() string {
	if e.ID == "" {
		return "rule #" + strconv.Itoa(e.Index) + ": " + e.Err.Error()
	}
	return "rule " + rangeset.Quote(e.ID) + ": " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *RuleError) Unwrap() error { return e.Err }

// Validate reports every problem of p at once, in an error that unwraps,
// as an errors.Join does, to [*RuleError] values (one per problem, each
// naming its rule) and settings errors (their text begins "invalid
// setting: Settings."), the first
// 10,000 of them; its text lists the first 100 problems and then a line
// that counts the rest. It
// returns nil for a valid policy. A disabled policy is validated all the
// same. The errors speak of the Go fields (Target, TTL,
// Settings.DefaultAction); [Decode] reports the same problems in the
// document's keys.
//
// Validate cannot see an ExpiresAt at the zero instant, which is how a
// Rule says it has no expiry; see [Rule].
func (p Policy) Validate() error {
	var ps problems
	s := p.Settings
	if !s.DefaultAction.IsValid() {
		ps.addErr(settingError("DefaultAction", s.DefaultAction.String(), s.DefaultAction == 0))
	}
	ids := newIDHashes(len(p.Rules))
	var buf [4]error
	for i := range p.Rules {
		r := &p.Rules[i]
		ids.add(r.ID)
		if r.ID == "" {
			ps.add(i, phaseID, r.ID, errEmptyID)
		}
		if !utf8.ValidString(r.ID) {
			ps.add(i, phaseID, r.ID, errIDEncoding)
		}
		if !utf8.ValidString(r.Comment) {
			ps.add(i, phaseAfterID, r.ID, errCommentEncoding)
		}
		if !r.Target.IsValid() {
			ps.add(i, phaseAfterID, r.ID, errGoTarget)
		}
		switch {
		case r.Action == 0:
			ps.add(i, phaseAfterID, r.ID, errGoAction)
		case !r.Action.IsValid():
			ps.add(i, phaseAfterID, r.ID, fmt.Errorf("%w %v (want policy.Allow or policy.Deny)", errAction, r.Action))
		}
		for _, err := range expiryProblems(buf[:0], r, 0, goTerms) {
			ps.add(i, phaseAfterID, r.ID, err)
		}
	}
	ps.addDuplicates(ids.duplicates(func(i int) string { return p.Rules[i].ID }))
	return ps.err()
}

func settingError(field, value string, unset bool) error {
	if unset {
		return fmt.Errorf("%w: Settings.%s is unset (%s): build the policy with policy.New, or start from policy.DefaultSettings()", errSettings, field, value)
	}
	return fmt.Errorf("%w: Settings.%s is %s", errSettings, field, value)
}

// expiryProblems appends the problems of r's expiry. zero says which
// instants a document wrote at the zero instant (none, for Go).
func expiryProblems(errs []error, r *Rule, zero zeroFields, t terms) []error {
	if r.TTL != nil {
		if !r.ExpiresAt.IsZero() || zero&zeroExpiresAt != 0 {
			errs = append(errs, pick(t, errTTLAndExpiry, errGoTTLAndExpiry))
		}
		if err := ttlProblem(*r.TTL, t); err != nil {
			errs = append(errs, err)
		}
		switch {
		case zero&zeroUpdatedAt != 0:
			errs = append(errs, &problem{"updatedAt, from which the ttl counts, is the " + errZeroInstant.Error() + " (a Rule's zero UpdatedAt means unknown)", errZeroInstant})
		case r.UpdatedAt.IsZero() && zero&zeroCreatedAt != 0:
			errs = append(errs, &problem{"createdAt, from which the ttl counts, is the " + errZeroInstant.Error() + " (a Rule's zero CreatedAt means unknown)", errZeroInstant})
		case r.CreatedAt.IsZero() && r.UpdatedAt.IsZero():
			errs = append(errs, pick(t, errTTLNoBase, errGoTTLNoBase))
		}
	}
	if zero&zeroExpiresAt != 0 {
		errs = append(errs, &problem{"expiresAt is the " + errZeroInstant.Error() + " (a Rule's zero ExpiresAt means no expiry)", errZeroInstant})
	}
	if e, ok := r.Expiry(); ok && e.After(maxExpiry) {
		if r.ExpiresAt.IsZero() {
			e = r.ttlBase().Add(*r.TTL) // the instant itself, which Expiry saturates
		}
		errs = append(errs, fmt.Errorf("%w: %s", errExpiryRange, e.Format(time.RFC3339Nano)))
	}
	return errs
}

// ttlProblem reports what is wrong with a ttl, or nil. A document's ttl is
// whole seconds by its syntax, and out-of-range ones fail to decode.
func ttlProblem(ttl time.Duration, t terms) error {
	switch {
	case ttl < 0 && t == docTerms:
		return fmt.Errorf("%w %d: negative", errTTL, ttl/time.Second)
	case ttl < 0:
		return &problem{"invalid TTL " + ttl.String() + ": negative", errTTL}
	case ttl%time.Second != 0:
		return &problem{"invalid TTL " + ttl.String() + ": not a whole number of seconds", errTTL}
	}
	return nil
}

func pick(t terms, doc, gov error) error {
	if t == docTerms {
		return doc
	}
	return gov
}
