package policy

// The decoder and encoder as they were before the hand-written scanner,
// kept as the reference of the differential tests. Deliberate changes since
// are applied here too, so that the comparison is exact: user text in
// messages is quoted with rangeset.Quote and keys that are not plain
// identifiers are quoted in paths. (The refusal of the zero instant and the
// bound on the number of problems are not: the tests allow for them.)

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipgate/ipgate/rangeset"
)

var (
	errOldMissingTarget = fmt.Errorf("%w: no ip, or from and to", errTarget)
	errOldMissingAction = fmt.Errorf("%w: missing", errAction)
	errOldFromToAndIP   = fmt.Errorf("%w: both ip and from/to", errTarget)
	errOldFromWithoutTo = fmt.Errorf("%w: from without to, or to without from", errTarget)
	oldSettingKeys      = []string{"enabled", "defaultAction", "precedence", "applyToMobile", "rules"}
	oldRuleKeys         = []string{"id", "ip", "from", "to", "action", "adminOnly", "createdAt", "updatedAt", "ttl", "expiresAt", "comment"}
)

type (
	oldRule   Rule
	oldPolicy Policy
)

func oldDecode(data []byte) (Policy, error) {
	d := oldNewDocReader(data)
	p := Policy{Settings: DefaultSettings()}
	var settingErrs []error
	d.settingErrs = &settingErrs
	known := map[int][]error{}
	err := d.object("", oldSettingKeys, func(key, path string) error {
		var err error
		switch key {
		case "enabled":
			p.Settings.Enabled, err = d.boolean(path)
		case "applyToMobile":
			p.Settings.ApplyToMobile, err = d.boolean(path)
		case "defaultAction":
			err = oldText(d, path, &p.Settings.DefaultAction)
		case "precedence":
			err = oldText(d, path, (*oldPrecedence)(&p.Settings.DenyOverrides))
		case "rules":
			err = d.array(path, func(i int, path string) error {
				r, problems, err := d.rule(path)
				if len(problems) > 0 {
					known[i] = problems
				}
				p.Rules = append(p.Rules, r)
				return err
			})
		}
		return err
	})
	if err == nil {
		err = d.end()
	}
	if err == nil {
		err = oldValidate(p, known, settingErrs)
	}
	if err != nil {
		return Policy{}, oldNameRule(data, err)
	}
	return p, nil
}

// nameRule wraps a document error inside rules[i] in a [*RuleError], so
// that it names the rule's id as well as the key. The id is read leniently,
// as the strict reader stopped at the error.
func oldNameRule(data []byte, err error) error {
	var de *DocError
	if !errors.As(err, &de) {
		return err
	}
	var i int
	if _, scanErr := fmt.Sscanf(de.Path, "rules[%d]", &i); scanErr != nil {
		return err
	}
	var doc struct{ Rules []map[string]json.RawMessage }
	_ = json.Unmarshal(data, &doc)
	var id string
	if i < len(doc.Rules) {
		_ = json.Unmarshal(doc.Rules[i]["id"], &id)
	}
	return &RuleError{Index: i, ID: id, Err: err}
}

type oldRuleDoc struct {
	ID        string     `json:"id"`
	IP        string     `json:"ip"`
	Action    Action     `json:"action"`
	AdminOnly bool       `json:"adminOnly,omitempty"`
	CreatedAt *time.Time `json:"createdAt,omitempty"`
	UpdatedAt *time.Time `json:"updatedAt,omitempty"`
	TTL       *int64     `json:"ttl,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	Comment   string     `json:"comment,omitempty"`
}

// MarshalJSON implements [json.Marshaler]. The target is written as "ip" in
// its canonical text; zero timestamps and empty comments are left out. A
// rule without a valid target or action is an error, since it could not be
// read back.
func (r oldRule) MarshalJSON() ([]byte, error) {
	if !r.Target.IsValid() {
		return nil, &RuleError{ID: r.ID, Err: errOldMissingTarget}
	}
	var ttl *int64
	if r.TTL != nil {
		if *r.TTL%time.Second != 0 {
			return nil, errors.New("fractional ttl")
		}
		s := int64(*r.TTL / time.Second)
		ttl = &s
	}
	doc := oldRuleDoc{ID: r.ID, IP: r.Target.String(), Action: r.Action, AdminOnly: r.AdminOnly,
		CreatedAt: oldNonZero(r.CreatedAt), UpdatedAt: oldNonZero(r.UpdatedAt), TTL: ttl,
		ExpiresAt: oldNonZero(r.ExpiresAt), Comment: r.Comment}
	return json.Marshal(doc)
}

func oldNonZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	if _, off := t.Zone(); off%60 != 0 || t.Year() < 0 || t.Year() > 9999 {
		t = t.UTC() // where the encoder departs from the old one: RFC 3339 would drop the offset's seconds, or fail
	}
	return &t
}

// MarshalJSON implements [json.Marshaler]: every setting is written, then
// the rules. [Decode] of the result gives back an equal policy.
func (p oldPolicy) MarshalJSON() ([]byte, error) {
	rules := make([]oldRule, len(p.Rules))
	for i, r := range p.Rules {
		rules[i] = oldRule(r)
	}
	return json.Marshal(struct {
		Enabled       bool          `json:"enabled"`
		DefaultAction DefaultAction `json:"defaultAction"`
		Precedence    string        `json:"precedence"`
		ApplyToMobile bool          `json:"applyToMobile"`
		Rules         []oldRule     `json:"rules"`
	}{p.Settings.Enabled, p.Settings.DefaultAction, map[bool]string{false: "mostSpecific", true: "denyOverrides"}[p.Settings.DenyOverrides], p.Settings.ApplyToMobile, rules})
}

// oldDocReader walks a JSON document token by token, so that keys compare
// exactly and duplicates are seen.
type oldDocReader struct {
	dec         *json.Decoder
	settingErrs *[]error // unknown setting values, reported with the rules' problems
}

func oldNewDocReader(data []byte) *oldDocReader {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &oldDocReader{dec: dec}
}

func (d *oldDocReader) token(path string) (json.Token, error) {
	tok, err := d.dec.Token()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, &DocError{Path: path, Err: fmt.Errorf("%w: %v", errSyntax, err)}
	}
	return tok, nil
}

// value reads the next value's first token; null is an error unless nullOK.
func (d *oldDocReader) value(path string, nullOK bool) (json.Token, error) {
	tok, err := d.token(path)
	if err == nil && tok == nil && !nullOK {
		err = &DocError{Path: path, Err: errNull}
	}
	return tok, err
}

func (d *oldDocReader) end() error {
	if _, err := d.dec.Token(); err != io.EOF {
		return &DocError{Err: fmt.Errorf("%w: data after the document", errSyntax)}
	}
	return nil
}

func oldTypeError(path, want string, tok json.Token) error {
	got := "a " + fmt.Sprintf("%T", tok)
	switch tok := tok.(type) {
	case json.Delim:
		got = map[json.Delim]string{'{': "an object", '[': "an array"}[tok]
	case json.Number:
		got = "a number"
	case string:
		got = "a string"
	case bool:
		got = "a boolean"
	}
	return &DocError{Path: path, Err: fmt.Errorf("%w: want %s, got %s", errType, want, got)}
}

func (d *oldDocReader) object(path string, keys []string, field func(key, path string) error) error {
	tok, err := d.value(path, false)
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return oldTypeError(path, "an object", tok)
	}
	seen := map[string]bool{}
	for d.dec.More() {
		tok, err := d.token(path)
		if err != nil {
			return err
		}
		key := tok.(string) // the decoder only yields strings in key position
		kp := keyText(key)
		if path != "" {
			kp = path + "." + kp
		}
		switch {
		case seen[key]:
			return &DocError{Path: kp, Err: errDuplicateKey}
		case !slices.Contains(keys, key):
			return &DocError{Path: kp, Err: oldUnknownKey(key, keys)}
		}
		seen[key] = true
		if err := field(key, kp); err != nil {
			return err
		}
	}
	_, err = d.token(path)
	return err
}

func oldUnknownKey(key string, keys []string) error {
	for _, k := range keys {
		if strings.EqualFold(k, key) {
			return fmt.Errorf("%w (keys are case-sensitive: did you mean %q?)", errUnknownKey, k)
		}
	}
	return errUnknownKey
}

func (d *oldDocReader) array(path string, elem func(i int, path string) error) error {
	tok, err := d.value(path, false)
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		return oldTypeError(path, "an array", tok)
	}
	for i := 0; d.dec.More(); i++ {
		if err := elem(i, path+"["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
	}
	_, err = d.token(path)
	return err
}

// str reads a string; null gives "" when nullOK.
func (d *oldDocReader) str(path string, nullOK bool) (string, error) {
	tok, err := d.value(path, nullOK)
	if err != nil || tok == nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", oldTypeError(path, "a string", tok)
	}
	return s, nil
}

// optStr reads a string that must be present when its key is.
func (d *oldDocReader) optStr(path string) (*string, error) {
	s, err := d.str(path, false)
	return &s, err
}

func (d *oldDocReader) boolean(path string) (bool, error) {
	tok, err := d.value(path, false)
	if err != nil {
		return false, err
	}
	b, ok := tok.(bool)
	if !ok {
		return false, oldTypeError(path, "true or false", tok)
	}
	return b, nil
}

func (d *oldDocReader) integer(path string) (int64, error) {
	tok, err := d.value(path, false)
	if err != nil {
		return 0, err
	}
	n, ok := tok.(json.Number)
	if !ok {
		return 0, oldTypeError(path, "an integer", tok)
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, &DocError{Path: path, Err: fmt.Errorf("%w: want a whole number of seconds in int64, got %s", errType, clip(string(n)))}
	}
	return v, nil
}

// instant reads an RFC 3339 timestamp; null gives the zero time when nullOK.
func (d *oldDocReader) instant(path string, nullOK bool) (time.Time, error) {
	s, err := d.str(path, nullOK)
	if err != nil || s == "" && nullOK {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !rfc3339([]byte(s)) {
		return time.Time{}, &DocError{Path: path, Err: fmt.Errorf("%w: want an RFC 3339 timestamp, got %s", errType, rangeset.Quote(s))}
	}
	return t, nil
}

// oldText reads a string into an enum through its UnmarshalText. An
// unknown value leaves the enum as it was and is reported with the rules'
// problems.
// oldPrecedence is the precedence setting as the reference reads it, with
// names of its own, so that the differential tests check the decoder's.
type oldPrecedence bool

func (p *oldPrecedence) UnmarshalText(b []byte) error {
	switch string(b) {
	case "mostSpecific":
		*p = false
	case "denyOverrides":
		*p = true
	default:
		return fmt.Errorf("%w precedence %s", errUnknownValue, rangeset.Quote(string(b)))
	}
	return nil
}

func oldText[T any, PT interface {
	*T
	UnmarshalText([]byte) error
}](d *oldDocReader, path string, v PT) error {
	s, err := d.str(path, false)
	if err != nil {
		return err
	}
	var t T
	if err := PT(&t).UnmarshalText([]byte(s)); err != nil {
		*d.settingErrs = append(*d.settingErrs, &DocError{Path: path, Err: fmt.Errorf("%w: %w", errSettings, err)})
		return nil
	}
	*v = t
	return nil
}

// rule reads one rule object. Problems that validation must report under
// the rule's id (a bad target or action) come back in problems; a
// malformed document is err.
func (d *oldDocReader) rule(path string) (r Rule, problems []error, err error) {
	var ip, from, to *string
	var ttlErr error
	err = d.object(path, oldRuleKeys, func(key, path string) error {
		var err error
		switch key {
		case "id":
			r.ID, err = d.str(path, false)
		case "ip":
			ip, err = d.optStr(path)
		case "from":
			from, err = d.optStr(path)
		case "to":
			to, err = d.optStr(path)
		case "action":
			var s string
			if s, err = d.str(path, false); err == nil && r.Action.UnmarshalText([]byte(s)) != nil {
				problems = append(problems, fmt.Errorf("%w %s (want \"allow\" or \"deny\")", errAction, rangeset.Quote(s)))
			}
		case "adminOnly":
			r.AdminOnly, err = d.boolean(path)
		case "createdAt":
			r.CreatedAt, err = d.instant(path, true)
		case "updatedAt":
			r.UpdatedAt, err = d.instant(path, true)
		case "expiresAt":
			r.ExpiresAt, err = d.instant(path, false)
		case "ttl":
			var n int64
			if n, err = d.integer(path); err == nil {
				var ttl time.Duration
				ttl, ttlErr = ttlSeconds(n)
				r.TTL = &ttl
			}
		case "comment":
			r.Comment, err = d.str(path, true)
		}
		return err
	})
	if err != nil {
		return Rule{}, nil, err
	}
	var terr error
	switch {
	case ip != nil && (from != nil || to != nil):
		terr = errOldFromToAndIP
	case ip != nil:
		r.Target, terr = rangeset.ParseRange(*ip)
	case from != nil && to != nil:
		r.Target, terr = rangeset.ParseFromTo(*from, *to)
	case from != nil || to != nil:
		terr = errOldFromWithoutTo
	}
	if terr != nil {
		if !errors.Is(terr, errTarget) {
			terr = fmt.Errorf("%w: %w", errTarget, terr)
		}
		problems = append(problems, terr)
	}
	if ttlErr != nil {
		problems = append(problems, ttlErr)
	}
	return r, problems, nil
}

func oldValidate(p Policy, known map[int][]error, settingErrs []error) error {
	errs := settingErrs
	s := p.Settings
	if !s.DefaultAction.IsValid() {
		errs = append(errs, fmt.Errorf("%w: defaultAction is %v", errSettings, s.DefaultAction))
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
			bad(errEmptyID)
		case seen[r.ID]:
			bad(errDuplicateID)
		}
		seen[r.ID] = true
		if !r.Target.IsValid() && !oldHasErr(pre, errTarget) {
			bad(errOldMissingTarget)
		}
		if !r.Action.IsValid() && !oldHasErr(pre, errAction) {
			if r.Action == 0 {
				bad(errOldMissingAction)
			} else {
				bad(fmt.Errorf("%w %v", errAction, r.Action))
			}
		}
		for _, err := range oldExpiryErrors(r) {
			bad(err)
		}
	}
	return errors.Join(errs...)
}

func oldHasErr(errs []error, target error) bool {
	return slices.ContainsFunc(errs, func(e error) bool { return errors.Is(e, target) })
}

func oldExpiryErrors(r Rule) []error {
	var errs []error
	if r.TTL != nil {
		if !r.ExpiresAt.IsZero() {
			errs = append(errs, errTTLAndExpiry)
		}
		if *r.TTL < 0 {
			errs = append(errs, fmt.Errorf("%w %d: negative", errTTL, *r.TTL/time.Second))
		}
		if r.CreatedAt.IsZero() && r.UpdatedAt.IsZero() {
			errs = append(errs, errTTLNoBase)
		}
	}
	if e, ok := r.Expiry(); ok && e.After(maxExpiry) {
		errs = append(errs, fmt.Errorf("%w: %s", errExpiryRange, e.Format(time.RFC3339Nano)))
	}
	return errs
}
