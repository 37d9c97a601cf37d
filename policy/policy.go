package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ipgate/ipgate/rangeset"
)

// MaxExpiry is the latest expiry a rule may have (SEMANTICS §3), so that no
// arithmetic on instants can wrap.
var MaxExpiry = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// Rule is one entry of a policy: a target range, an action, whom it binds
// and until when. Metadata (CreatedAt, UpdatedAt, Comment) never changes a
// decision, except that a TTL counts from UpdatedAt, else from CreatedAt.
//
// The zero Rule is invalid: it has no id, target or action.
type Rule struct {
	// ID names the rule; non-empty and unique within its policy.
	ID string
	// Target is the set of addresses the rule matches.
	Target rangeset.Range
	// Action is Allow or Deny.
	Action Action
	// AdminOnly restricts the rule to admin subjects.
	AdminOnly bool
	// ExpiresAt, when not zero, is the instant from which the rule no longer
	// matches.
	ExpiresAt time.Time
	// TTL, when not nil, is the rule's time to live in whole seconds,
	// counted from UpdatedAt, else from CreatedAt. A rule has at most one of
	// TTL and ExpiresAt.
	TTL *int64
	// CreatedAt and UpdatedAt are set by stores; zero means unknown.
	CreatedAt, UpdatedAt time.Time
	// Comment is free text.
	Comment string
}

// Expiry returns the instant from which r no longer matches, and reports
// whether r expires at all. It is ExpiresAt when set, else the TTL added to
// UpdatedAt (or CreatedAt). For a rule that [Validate] would refuse, the
// result is only a best effort: a TTL with no timestamp never expires, and
// one too large saturates at [MaxExpiry] plus one second.
func (r Rule) Expiry() (time.Time, bool) {
	if !r.ExpiresAt.IsZero() {
		return r.ExpiresAt, true
	}
	if r.TTL == nil {
		return time.Time{}, false
	}
	base := r.UpdatedAt
	if base.IsZero() {
		base = r.CreatedAt
	}
	if base.IsZero() {
		return time.Time{}, false
	}
	limit := MaxExpiry.Unix() + 1
	if *r.TTL > limit-base.Unix() {
		return time.Unix(limit, 0).UTC(), true
	}
	return time.Unix(base.Unix()+*r.TTL, int64(base.Nanosecond())).In(base.Location()), true
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
// invalid (its DefaultAction and Precedence are unset), so that a policy
// built without thought fails to compile instead of allowing everything:
// start from [DefaultSettings].
type Settings struct {
	// Enabled false allows every request, reason "disabled".
	Enabled bool
	// DefaultAction decides requests that no live rule matches.
	DefaultAction DefaultAction
	// Precedence chooses among matching rules.
	Precedence Precedence
	// ApplyToMobile false allows every mobile request, reason "exempt".
	ApplyToMobile bool
}

// DefaultSettings returns the settings SEMANTICS §3 gives as defaults:
// enabled, default action auto, precedence mostSpecific, applied to mobile.
func DefaultSettings() Settings {
	return Settings{Enabled: true, DefaultAction: DefaultAuto, Precedence: MostSpecific, ApplyToMobile: true}
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

// Clone returns a deep copy of p.
func (p Policy) Clone() Policy {
	q := Policy{Settings: p.Settings, Rules: make([]Rule, len(p.Rules))}
	for i, r := range p.Rules {
		q.Rules[i] = r.Clone()
	}
	return q
}

// Validation errors, wrapped by [*RuleError] and the settings errors of
// [Validate]. Test for them with errors.Is.
var (
	// ErrEmptyID reports a rule without an id.
	ErrEmptyID = errors.New("empty id")
	// ErrDuplicateID reports a rule whose id an earlier rule has.
	ErrDuplicateID = errors.New("duplicate id")
	// ErrTarget reports a missing or unparsable target; the parse error, if
	// any, is wrapped too.
	ErrTarget = errors.New("invalid target")
	// ErrAction reports a missing action or one other than "allow" and "deny".
	ErrAction = errors.New("invalid action")
	// ErrTTLNoBase reports a ttl on a rule with neither createdAt nor updatedAt.
	ErrTTLNoBase = errors.New("ttl without createdAt or updatedAt")
	// ErrTTLAndExpiry reports a rule with both ttl and expiresAt.
	ErrTTLAndExpiry = errors.New("both ttl and expiresAt")
	// ErrNegativeTTL reports a ttl below zero.
	ErrNegativeTTL = errors.New("negative ttl")
	// ErrExpiryRange reports an expiry after [MaxExpiry].
	ErrExpiryRange = errors.New("expiry after 9999-12-31T23:59:59Z")
	// ErrSettings reports an unset or unknown setting.
	ErrSettings = errors.New("invalid setting")
	// ErrUnknownValue reports enum text that names no value, e.g. "Allow".
	ErrUnknownValue = errors.New("unknown")

	errMissingTarget = fmt.Errorf("%w: no ip, or from and to", ErrTarget)
	errMissingAction = fmt.Errorf("%w: missing", ErrAction)
	errFromToAndIP   = fmt.Errorf("%w: both ip and from/to", ErrTarget)
	errFromWithoutTo = fmt.Errorf("%w: from without to, or to without from", ErrTarget)
)

// RuleError reports a problem with one rule of a policy.
type RuleError struct {
	// Index is the rule's position in Policy.Rules.
	Index int
	// ID is the rule's id, possibly empty.
	ID string
	// Err says what is wrong.
	Err error
}

// Error returns `rule "ID": problem`, or `rule #Index: problem` when the
// rule has no id.
func (e *RuleError) Error() string {
	if e.ID == "" {
		return "rule #" + strconv.Itoa(e.Index) + ": " + e.Err.Error()
	}
	return "rule " + strconv.Quote(e.ID) + ": " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *RuleError) Unwrap() error { return e.Err }

// Validate reports every problem of p at once, as an errors.Join of
// [*RuleError] values (one per problem, each naming its rule) and settings
// errors wrapping [ErrSettings]. It returns nil for a valid policy. A
// disabled policy is validated all the same.
func (p Policy) Validate() error {
	return validate(p, nil)
}

// validate checks p; known holds problems found while decoding, by rule
// index, whose rules are not checked again for the same fields.
func validate(p Policy, known map[int][]error) error {
	var errs []error
	s := p.Settings
	if !s.DefaultAction.IsValid() {
		errs = append(errs, fmt.Errorf("%w: defaultAction is %v", ErrSettings, s.DefaultAction))
	}
	if !s.Precedence.IsValid() {
		errs = append(errs, fmt.Errorf("%w: precedence is %v", ErrSettings, s.Precedence))
	}
	seen := make(map[string]bool, len(p.Rules))
	for i, r := range p.Rules {
		bad := func(err error) { errs = append(errs, &RuleError{Index: i, ID: r.ID, Err: err}) }
		pre := known[i]
		for _, err := range pre {
			bad(err)
		}
		switch {
		case r.ID == "":
			bad(ErrEmptyID)
		case seen[r.ID]:
			bad(ErrDuplicateID)
		}
		seen[r.ID] = true
		if !r.Target.IsValid() && !hasErr(pre, ErrTarget) {
			bad(errMissingTarget)
		}
		if !r.Action.IsValid() && !hasErr(pre, ErrAction) {
			if r.Action == 0 {
				bad(errMissingAction)
			} else {
				bad(fmt.Errorf("%w %v", ErrAction, r.Action))
			}
		}
		for _, err := range expiryErrors(r) {
			bad(err)
		}
	}
	return errors.Join(errs...)
}

func hasErr(errs []error, target error) bool {
	return slices.ContainsFunc(errs, func(e error) bool { return errors.Is(e, target) })
}

func expiryErrors(r Rule) []error {
	var errs []error
	if r.TTL != nil {
		if !r.ExpiresAt.IsZero() {
			errs = append(errs, ErrTTLAndExpiry)
		}
		if *r.TTL < 0 {
			errs = append(errs, fmt.Errorf("%w %d", ErrNegativeTTL, *r.TTL))
		}
		if r.CreatedAt.IsZero() && r.UpdatedAt.IsZero() {
			errs = append(errs, ErrTTLNoBase)
		}
	}
	if e, ok := r.Expiry(); ok && e.After(MaxExpiry) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrExpiryRange, e.Format(time.RFC3339Nano)))
	}
	return errs
}
