package policy

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

// Document errors, wrapped by [*DocError].
var (
	// ErrSyntax reports malformed JSON or data after the document.
	ErrSyntax = errors.New("malformed JSON")
	// ErrUnknownKey reports a key the document form does not have; keys
	// compare exactly, letter case included.
	ErrUnknownKey = errors.New("unknown key")
	// ErrDuplicateKey reports a key given twice in one object.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrNull reports null where a value is required.
	ErrNull = errors.New("null where a value is required")
	// ErrType reports a value of the wrong JSON type or form.
	ErrType = errors.New("wrong type")
)

// DocError reports a policy or rule document that is not in the strict
// form: malformed JSON, an unknown key (keys compare exactly, letter case
// included), a duplicate key, a misplaced null or a value of the wrong type.
type DocError struct {
	// Path names the offending key, e.g. "rules[2].adminOnly"; empty for
	// the document itself.
	Path string
	// Err says what is wrong.
	Err error
}

// Error returns "policy document: PATH: problem".
func (e *DocError) Error() string {
	if e.Path == "" {
		return "policy document: " + e.Err.Error()
	}
	return "policy document: " + e.Path + ": " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *DocError) Unwrap() error { return e.Err }

var (
	settingKeys = []string{"enabled", "defaultAction", "precedence", "applyToMobile", "rules"}
	ruleKeys    = []string{"id", "ip", "from", "to", "action", "adminOnly", "createdAt", "updatedAt", "ttl", "expiresAt", "comment"}
)

// Decode parses a policy document (the object form of the shared vectors'
// README): settings keys, each optional with the defaults of
// [DefaultSettings], and "rules", each rule with "ip" (single, CIDR or range
// text) or "from" and "to". Decoding is strict: any deviation is a
// [*DocError] naming the key. Null is accepted only for "comment",
// "createdAt" and "updatedAt", where it means absent. The decoded policy is
// then validated, and every rule problem is reported at once as in
// [Policy.Validate]. On error the returned Policy is the zero Policy.
func Decode(data []byte) (Policy, error) {
	d := newDocReader(data)
	p := Policy{Settings: DefaultSettings()}
	known := map[int][]error{}
	err := d.object("", settingKeys, func(key, path string) error {
		var err error
		switch key {
		case "enabled":
			p.Settings.Enabled, err = d.boolean(path)
		case "applyToMobile":
			p.Settings.ApplyToMobile, err = d.boolean(path)
		case "defaultAction":
			err = d.text(path, &p.Settings.DefaultAction)
		case "precedence":
			err = d.text(path, &p.Settings.Precedence)
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
		err = validate(p, known)
	}
	if err != nil {
		return Policy{}, nameRule(data, err)
	}
	return p, nil
}

// nameRule wraps a document error inside rules[i] in a [*RuleError], so
// that it names the rule's id as well as the key. The id is read leniently,
// as the strict reader stopped at the error.
func nameRule(data []byte, err error) error {
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

// DecodeRule parses one rule document, strictly as [Decode] does, and
// validates the rule on its own (uniqueness of ids is a policy's concern).
func DecodeRule(data []byte) (Rule, error) {
	d := newDocReader(data)
	r, problems, err := d.rule("")
	if err == nil {
		err = d.end()
	}
	if err == nil {
		err = validate(Policy{Settings: DefaultSettings(), Rules: []Rule{r}}, map[int][]error{0: problems})
	}
	if err != nil {
		return Rule{}, err
	}
	return r, nil
}

// UnmarshalJSON implements [json.Unmarshaler] with [Decode].
func (p *Policy) UnmarshalJSON(data []byte) error {
	q, err := Decode(data)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// UnmarshalJSON implements [json.Unmarshaler] with [DecodeRule].
func (r *Rule) UnmarshalJSON(data []byte) error {
	q, err := DecodeRule(data)
	if err != nil {
		return err
	}
	*r = q
	return nil
}

type ruleDoc struct {
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
func (r Rule) MarshalJSON() ([]byte, error) {
	if !r.Target.IsValid() {
		return nil, &RuleError{ID: r.ID, Err: errMissingTarget}
	}
	doc := ruleDoc{ID: r.ID, IP: r.Target.String(), Action: r.Action, AdminOnly: r.AdminOnly,
		CreatedAt: nonZero(r.CreatedAt), UpdatedAt: nonZero(r.UpdatedAt), TTL: r.TTL,
		ExpiresAt: nonZero(r.ExpiresAt), Comment: r.Comment}
	return json.Marshal(doc)
}

func nonZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// MarshalJSON implements [json.Marshaler]: every setting is written, then
// the rules. [Decode] of the result gives back an equal policy.
func (p Policy) MarshalJSON() ([]byte, error) {
	rules := p.Rules
	if rules == nil {
		rules = []Rule{}
	}
	return json.Marshal(struct {
		Enabled       bool          `json:"enabled"`
		DefaultAction DefaultAction `json:"defaultAction"`
		Precedence    Precedence    `json:"precedence"`
		ApplyToMobile bool          `json:"applyToMobile"`
		Rules         []Rule        `json:"rules"`
	}{p.Settings.Enabled, p.Settings.DefaultAction, p.Settings.Precedence, p.Settings.ApplyToMobile, rules})
}

// docReader walks a JSON document token by token, so that keys compare
// exactly and duplicates are seen.
type docReader struct{ dec *json.Decoder }

func newDocReader(data []byte) *docReader {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &docReader{dec: dec}
}

func (d *docReader) token(path string) (json.Token, error) {
	tok, err := d.dec.Token()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, &DocError{Path: path, Err: fmt.Errorf("%w: %v", ErrSyntax, err)}
	}
	return tok, nil
}

// value reads the next value's first token; null is an error unless nullOK.
func (d *docReader) value(path string, nullOK bool) (json.Token, error) {
	tok, err := d.token(path)
	if err == nil && tok == nil && !nullOK {
		err = &DocError{Path: path, Err: ErrNull}
	}
	return tok, err
}

func (d *docReader) end() error {
	if _, err := d.dec.Token(); err != io.EOF {
		return &DocError{Err: fmt.Errorf("%w: data after the document", ErrSyntax)}
	}
	return nil
}

func typeError(path, want string, tok json.Token) error {
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
	return &DocError{Path: path, Err: fmt.Errorf("%w: want %s, got %s", ErrType, want, got)}
}

func (d *docReader) object(path string, keys []string, field func(key, path string) error) error {
	tok, err := d.value(path, false)
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return typeError(path, "an object", tok)
	}
	seen := map[string]bool{}
	for d.dec.More() {
		tok, err := d.token(path)
		if err != nil {
			return err
		}
		key := tok.(string) // the decoder only yields strings in key position
		kp := key
		if path != "" {
			kp = path + "." + key
		}
		switch {
		case seen[key]:
			return &DocError{Path: kp, Err: ErrDuplicateKey}
		case !slices.Contains(keys, key):
			return &DocError{Path: kp, Err: unknownKey(key, keys)}
		}
		seen[key] = true
		if err := field(key, kp); err != nil {
			return err
		}
	}
	_, err = d.token(path)
	return err
}

func unknownKey(key string, keys []string) error {
	for _, k := range keys {
		if strings.EqualFold(k, key) {
			return fmt.Errorf("%w (keys are case-sensitive: did you mean %q?)", ErrUnknownKey, k)
		}
	}
	return ErrUnknownKey
}

func (d *docReader) array(path string, elem func(i int, path string) error) error {
	tok, err := d.value(path, false)
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		return typeError(path, "an array", tok)
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
func (d *docReader) str(path string, nullOK bool) (string, error) {
	tok, err := d.value(path, nullOK)
	if err != nil || tok == nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", typeError(path, "a string", tok)
	}
	return s, nil
}

// optStr reads a string that must be present when its key is.
func (d *docReader) optStr(path string) (*string, error) {
	s, err := d.str(path, false)
	return &s, err
}

func (d *docReader) boolean(path string) (bool, error) {
	tok, err := d.value(path, false)
	if err != nil {
		return false, err
	}
	b, ok := tok.(bool)
	if !ok {
		return false, typeError(path, "true or false", tok)
	}
	return b, nil
}

func (d *docReader) integer(path string) (int64, error) {
	tok, err := d.value(path, false)
	if err != nil {
		return 0, err
	}
	n, ok := tok.(json.Number)
	if !ok {
		return 0, typeError(path, "an integer", tok)
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, &DocError{Path: path, Err: fmt.Errorf("%w: want a whole number of seconds in int64, got %s", ErrType, n)}
	}
	return v, nil
}

// instant reads an RFC 3339 timestamp; null gives the zero time when nullOK.
func (d *docReader) instant(path string, nullOK bool) (time.Time, error) {
	s, err := d.str(path, nullOK)
	if err != nil || s == "" && nullOK {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &DocError{Path: path, Err: fmt.Errorf("%w: want an RFC 3339 timestamp, got %q", ErrType, s)}
	}
	return t, nil
}

// text reads a string into an enum through its UnmarshalText.
func (d *docReader) text(path string, v interface{ UnmarshalText([]byte) error }) error {
	s, err := d.str(path, false)
	if err != nil {
		return err
	}
	if err := v.UnmarshalText([]byte(s)); err != nil {
		return &DocError{Path: path, Err: fmt.Errorf("%w: %w", ErrSettings, err)}
	}
	return nil
}

// rule reads one rule object. Problems that validation must report under
// the rule's id (a bad target or action) come back in problems; a
// malformed document is err.
func (d *docReader) rule(path string) (r Rule, problems []error, err error) {
	var ip, from, to *string
	err = d.object(path, ruleKeys, func(key, path string) error {
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
				problems = append(problems, fmt.Errorf("%w %q (want \"allow\" or \"deny\")", ErrAction, s))
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
			n, err = d.integer(path)
			r.TTL = &n
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
		terr = errFromToAndIP
	case ip != nil:
		r.Target, terr = rangeset.ParseRange(*ip)
	case from != nil && to != nil:
		r.Target, terr = rangeset.ParseFromTo(*from, *to)
	case from != nil || to != nil:
		terr = errFromWithoutTo
	}
	if terr != nil {
		if !errors.Is(terr, ErrTarget) {
			terr = fmt.Errorf("%w: %w", ErrTarget, terr)
		}
		problems = append(problems, terr)
	}
	return r, problems, nil
}
