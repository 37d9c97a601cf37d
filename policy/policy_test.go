package policy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// maxExpiry is the latest expiry a rule may have (SEMANTICS §3).
var maxExpiry = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func rule(id, target string, a policy.Action) policy.Rule {
	return policy.Rule{ID: id, Target: rangeset.MustParseRange(target), Action: a}
}

// The package exports no sentinel errors: a test tells problems apart as
// a caller does, by where they are (errors.As to *policy.RuleError or
// *policy.DocError) and by their message.

// anyIn reports whether f holds for an error in err's tree.
func anyIn(err error, f func(error) bool) bool {
	if err == nil {
		return false
	}
	if f(err) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return anyIn(u.Unwrap(), f)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if anyIn(e, f) {
				return true
			}
		}
	}
	return false
}

// docProblem matches an error that holds a *policy.DocError whose problem
// (its Err) says msg first.
func docProblem(msg string) func(error) bool {
	return func(err error) bool {
		return anyIn(err, func(e error) bool {
			de, ok := e.(*policy.DocError)
			return ok && strings.HasPrefix(de.Err.Error(), msg)
		})
	}
}

// ruleProblem matches an error that holds a *policy.RuleError whose
// problem (its Err) says msg first.
func ruleProblem(msg string) func(error) bool {
	return func(err error) bool {
		return anyIn(err, func(e error) bool {
			re, ok := e.(*policy.RuleError)
			return ok && strings.HasPrefix(re.Err.Error(), msg)
		})
	}
}

// settingProblem matches an error that holds a settings error of
// [policy.Policy.Validate], whose text begins "invalid setting: Settings.".
func settingProblem(err error) bool {
	return anyIn(err, func(e error) bool { return strings.HasPrefix(e.Error(), "invalid setting: Settings.") })
}

func TestValidate(t *testing.T) {
	t.Parallel()
	withTTL := func(r policy.Rule, ttl time.Duration) policy.Rule { r.TTL = &ttl; return r }
	tests := []struct {
		name  string
		rules []policy.Rule
		want  []string // one per problem, in order: how its text begins
		ids   []string
	}{
		{name: "valid", rules: []policy.Rule{rule("a", "10.0.0.0/8", policy.Allow), rule("b", "10.1.0.0/16", policy.Deny)}},
		{name: "empty id", rules: []policy.Rule{rule("", "10.0.0.0/8", policy.Allow)}, want: []string{"empty id"}, ids: []string{""}},
		{name: "duplicate", rules: []policy.Rule{rule("a", "10.0.0.1", policy.Allow), rule("a", "10.0.0.2", policy.Allow)},
			want: []string{"duplicate id"}, ids: []string{"a"}},
		{name: "no target", rules: []policy.Rule{{ID: "a", Action: policy.Allow}}, want: []string{"invalid target: "}, ids: []string{"a"}},
		{name: "no action", rules: []policy.Rule{rule("a", "10.0.0.1", 0)}, want: []string{"invalid action"}, ids: []string{"a"}},
		{name: "bad action", rules: []policy.Rule{rule("a", "10.0.0.1", 9)}, want: []string{"invalid action"}, ids: []string{"a"}},
		{name: "ttl no base", rules: []policy.Rule{withTTL(rule("a", "10.0.0.1", policy.Deny), time.Minute)}, want: []string{"TTL without CreatedAt or UpdatedAt"}, ids: []string{"a"}},
		{name: "ttl and expiresAt", rules: []policy.Rule{func() policy.Rule {
			r := withTTL(rule("a", "10.0.0.1", policy.Deny), time.Minute)
			r.CreatedAt, r.ExpiresAt = t0, t0
			return r
		}()}, want: []string{"both TTL and ExpiresAt"}, ids: []string{"a"}},
		{name: "negative ttl", rules: []policy.Rule{func() policy.Rule {
			r := withTTL(rule("a", "10.0.0.1", policy.Deny), -time.Second)
			r.CreatedAt = t0
			return r
		}()}, want: []string{"invalid TTL "}, ids: []string{"a"}},
		{name: "ttl not whole seconds", rules: []policy.Rule{func() policy.Rule {
			r := withTTL(rule("a", "10.0.0.1", policy.Deny), 1500*time.Millisecond)
			r.CreatedAt = t0
			return r
		}()}, want: []string{"invalid TTL "}, ids: []string{"a"}},
		{name: "expiry too late", rules: []policy.Rule{func() policy.Rule {
			r := rule("a", "10.0.0.1", policy.Deny)
			r.ExpiresAt = maxExpiry.Add(time.Second)
			return r
		}()}, want: []string{"expiry after 9999-12-31T23:59:59Z: "}, ids: []string{"a"}},
		{name: "ttl past the limit", rules: []policy.Rule{func() policy.Rule {
			r := withTTL(rule("a", "10.0.0.1", policy.Deny), 2*time.Second)
			r.UpdatedAt = maxExpiry.Add(-time.Second)
			return r
		}()}, want: []string{"expiry after 9999-12-31T23:59:59Z: "}, ids: []string{"a"}},
		{name: "expiry at the limit", rules: []policy.Rule{func() policy.Rule {
			r := rule("a", "10.0.0.1", policy.Deny)
			r.ExpiresAt = maxExpiry
			return r
		}()}},
		{name: "id not UTF-8", rules: []policy.Rule{rule("x\xff", "10.0.0.1", policy.Allow)}, want: []string{"the id is not valid UTF-8"}, ids: []string{"x\xff"}},
		{name: "comment not UTF-8", rules: []policy.Rule{func() policy.Rule {
			r := rule("a", "10.0.0.1", policy.Allow)
			r.Comment = "caf\xe9"
			return r
		}()}, want: []string{"the comment is not valid UTF-8"}, ids: []string{"a"}},
		{name: "every problem at once",
			rules: []policy.Rule{rule("x", "10.0.0.1", policy.Allow), rule("x", "10.0.0.2", 7), withTTL(rule("", "10.0.0.3", policy.Deny), 5*time.Second)},
			want:  []string{"duplicate id", "invalid action", "empty id", "TTL without CreatedAt or UpdatedAt"}, ids: []string{"x", "x", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policy.New(tt.rules...)
			err := p.Validate()
			var errs []error
			if err != nil {
				errs = err.(interface{ Unwrap() []error }).Unwrap()
			}
			if len(errs) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d problems", err, len(tt.want))
			}
			for i, e := range errs {
				var re *policy.RuleError
				if !errors.As(e, &re) || !strings.HasPrefix(re.Err.Error(), tt.want[i]) || re.ID != tt.ids[i] {
					t.Errorf("problem %d = %v, want a RuleError for %q saying %q", i, e, tt.ids[i], tt.want[i])
				}
			}
		})
	}
}

func TestValidateSettings(t *testing.T) {
	t.Parallel()
	err := policy.Policy{}.Validate()
	for _, want := range []string{"Settings.DefaultAction is unset", "policy.New", "policy.DefaultSettings"} {
		if !settingProblem(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("zero Policy.Validate() = %v, want it to say %q", err, want)
		}
	}
	// The zero DenyOverrides is precedence mostSpecific, the default: only
	// the unset DefaultAction is a problem of the zero Settings.
	if err != nil && strings.Count(err.Error(), "invalid setting") != 1 {
		t.Errorf("zero Policy.Validate() = %v, want one settings problem", err)
	}
	for _, deny := range []bool{false, true} {
		p := policy.Policy{Settings: policy.Settings{DefaultAction: policy.DefaultAuto, DenyOverrides: deny}}
		if err := p.Validate(); err != nil {
			t.Errorf("Validate() with DenyOverrides %v = %v, want nil", deny, err)
		}
	}
	disabled := policy.New(rule("a", "10.0.0.1", 0))
	disabled.Settings.Enabled = false
	if disabled.Validate() == nil {
		t.Error("a disabled policy with a bad rule validated")
	}
}

func TestRuleErrorText(t *testing.T) {
	t.Parallel()
	e := &policy.RuleError{Index: 3, ID: "guest-net", Err: errors.New("duplicate id")}
	if got, want := e.Error(), `rule "guest-net": duplicate id`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e.ID = ""
	if got, want := e.Error(), `rule #3: duplicate id`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	r := rule("a", "10.0.0.1", policy.Deny)
	if _, ok := r.Expiry(); ok || r.Expired(maxExpiry) {
		t.Error("a rule without expiry expires")
	}
	r.CreatedAt = t0
	r.TTL = ptr(time.Hour)
	if e, ok := r.Expiry(); !ok || !e.Equal(t0.Add(time.Hour)) {
		t.Errorf("Expiry() = %v, %v, want createdAt+1h", e, ok)
	}
	r.UpdatedAt = t0.Add(time.Hour)
	if e, _ := r.Expiry(); !e.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("Expiry() = %v, want updatedAt+1h", e)
	}
	if r.Expired(t0.Add(2*time.Hour-1)) || !r.Expired(t0.Add(2*time.Hour)) {
		t.Error("Expired is not t >= expiry")
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	doc := `{"enabled": true, "defaultAction": "deny", "precedence": "denyOverrides", "applyToMobile": false,
	  "rules": [
	    {"id": "office", "ip": "10.0.0.0/8", "action": "allow"},
	    {"id": "lab", "from": "10.1.0.1", "to": "10.1.0.9", "action": "deny", "adminOnly": true,
	     "createdAt": "2025-12-31T00:00:00Z", "ttl": 86400, "comment": "free text", "updatedAt": null}
	  ]}`
	got, err := policy.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := policy.Policy{
		Settings: policy.Settings{Enabled: true, DefaultAction: policy.DefaultDeny, DenyOverrides: true},
		Rules: []policy.Rule{
			rule("office", "10.0.0.0/8", policy.Allow),
			{ID: "lab", Target: rangeset.MustParseRange("10.1.0.1-10.1.0.9"), Action: policy.Deny, AdminOnly: true,
				CreatedAt: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), TTL: ptr(24 * time.Hour), Comment: "free text"},
		},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(rangeset.Range{})); diff != "" {
		t.Errorf("Decode() mismatch (-want +got):\n%s", diff)
	}
	defaults, err := policy.Decode([]byte(`{}`))
	if err != nil || defaults.Settings != policy.DefaultSettings() || len(defaults.Rules) != 0 {
		t.Errorf("Decode({}) = %+v, %v, want default settings", defaults, err)
	}
}

func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		doc  string
		want func(error) bool // what the error holds
		msg  string
	}{
		{`{"Enabled": true}`, docProblem("unknown key"), `policy document: Enabled: unknown key (keys are case-sensitive: did you mean "enabled"?)`},
		{`{"enabled": true, "enabled": false}`, docProblem("duplicate key"), `policy document: enabled: duplicate key`},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "id": "b"}]}`, docProblem("duplicate key"), `rule "b": policy document: rules[0].id: duplicate key`},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "extra": 1}]}`, docProblem("unknown key"), `rule "a": policy document: rules[0].extra: unknown key`},
		{`{"rules": [{"Action": "allow", "id": "b", "ip": "10.0.0.1"}]}`, docProblem("unknown key"), `rule "b": policy document: rules[0].Action: unknown key (keys are case-sensitive: did you mean "action"?)`},
		{`{"enabled": null}`, docProblem("null where a value is required"), `policy document: enabled: null where a value is required`},
		{`{"rules": null}`, docProblem("null where a value is required"), ""},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "adminOnly": null}]}`, docProblem("null where a value is required"), ""},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": null}]}`, docProblem("null where a value is required"), ""},
		{`{"rules": [{"id": "a", "ip": null, "action": "allow"}]}`, docProblem("null where a value is required"), ""},
		{`{"enabled": "true"}`, docProblem("wrong type: "), `policy document: enabled: wrong type: want true or false, got a string`},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "ttl": 1.5, "createdAt": "2026-01-01T00:00:00Z"}]}`, docProblem("wrong type: "), ""},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "createdAt": "yesterday"}]}`, docProblem("wrong type: "), ""},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": "2030-01-01T00:00:00+24:00"}]}`, docProblem("wrong type: "), `rule "a": policy document: rules[0].expiresAt: wrong type: want an RFC 3339 timestamp, got "2030-01-01T00:00:00+24:00"`},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "createdAt": "2030-01-01T00:00:00-23:60"}]}`, docProblem("wrong type: "), ""},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "updatedAt": "2030-01-01T00:00:00+05:60"}]}`, docProblem("wrong type: "), ""},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": "2030-01-01T1:00:00Z"}]}`, docProblem("wrong type: "), ""},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": "2030-01-01T10:00:00,5Z"}]}`, docProblem("wrong type: "), ""},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": "2030-1-01T10:00:00Z"}]}`, docProblem("wrong type: "), ""},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": "2030-01-01t10:00:00z"}]}`, docProblem("wrong type: "), ""},
		{`{"defaultAction": "Deny"}`, docProblem("invalid setting: "), `policy document: defaultAction: invalid setting: unknown defaultAction "Deny"`},
		{`{"precedence": "first"}`, docProblem("invalid setting: "), ""},
		{`[]`, docProblem("wrong type: "), ""},
		{`{"enabled": true} {}`, docProblem("malformed JSON: "), ""},
		{`{"enabled": true`, docProblem("malformed JSON: "), ""},
		{``, docProblem("malformed JSON: "), ""},
		{`null`, docProblem("null where a value is required"), ""},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "from": "10.0.0.1", "to": "10.0.0.2", "action": "allow"}]}`, ruleProblem("invalid target: "), ""},
		{`{"rules": [{"id": "a", "from": "10.0.0.1", "action": "allow"}]}`, ruleProblem("invalid target: "), ""},
		{`{"rules": [{"id": "a", "action": "allow"}]}`, ruleProblem("invalid target: "), ""},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "Allow"}]}`, ruleProblem("invalid action "), `rule "a": invalid action "Allow" (want "allow" or "deny")`},
	}
	for _, tt := range tests {
		p, err := policy.Decode([]byte(tt.doc))
		if !tt.want(err) {
			t.Errorf("Decode(%s) = %v, want another problem", tt.doc, err)
			continue
		}
		if tt.msg != "" && err.Error() != tt.msg {
			t.Errorf("Decode(%s) error = %q, want %q", tt.doc, err, tt.msg)
		}
		if p.Rules != nil || p.Settings != (policy.Settings{}) {
			t.Errorf("Decode(%s) returned a policy with its error", tt.doc)
		}
	}
}

// TestPrecedenceJSON checks the document form of Settings.DenyOverrides,
// the "precedence" setting: exactly "mostSpecific" (false, and the value of
// an absent key) and "denyOverrides" (true), letter case included, both ways.
func TestPrecedenceJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		doc  string
		deny bool
	}{
		{`{}`, false},
		{`{"precedence": "mostSpecific"}`, false},
		{`{"precedence": "denyOverrides"}`, true},
		{`{"precedence": "denyOverrides", "defaultAction": "deny"}`, true},
	} {
		p, err := policy.Decode([]byte(tt.doc))
		if err != nil || p.Settings.DenyOverrides != tt.deny {
			t.Errorf("Decode(%s) = DenyOverrides %v, %v, want %v", tt.doc, p.Settings.DenyOverrides, err, tt.deny)
		}
	}
	for deny, name := range map[bool]string{false: "mostSpecific", true: "denyOverrides"} {
		s := policy.DefaultSettings()
		s.DenyOverrides = deny
		b, err := json.Marshal(policy.Policy{Settings: s})
		want := `{"enabled":true,"defaultAction":"auto","precedence":"` + name + `","applyToMobile":true,"rules":[]}`
		if err != nil || string(b) != want {
			t.Errorf("json.Marshal(DenyOverrides %v) = %s, %v, want %s", deny, b, err, want)
		}
		var back policy.Policy
		if err := json.Unmarshal(b, &back); err != nil || back.Settings != s {
			t.Errorf("json.Unmarshal(%s) = %+v, %v, want %+v", b, back.Settings, err, s)
		}
	}
	for _, tt := range []struct{ value, msg string }{
		{`"MostSpecific"`, `policy document: precedence: invalid setting: unknown precedence "MostSpecific"`},
		{`"mostspecific"`, `policy document: precedence: invalid setting: unknown precedence "mostspecific"`},
		{`"DenyOverrides"`, `policy document: precedence: invalid setting: unknown precedence "DenyOverrides"`},
		{`"denyoverrides"`, `policy document: precedence: invalid setting: unknown precedence "denyoverrides"`},
		{`"most_specific"`, `policy document: precedence: invalid setting: unknown precedence "most_specific"`},
		{`" mostSpecific"`, `policy document: precedence: invalid setting: unknown precedence " mostSpecific"`},
		{`"bogus"`, `policy document: precedence: invalid setting: unknown precedence "bogus"`},
		{`""`, `policy document: precedence: invalid setting: unknown precedence ""`},
		{`null`, `policy document: precedence: null where a value is required`},
		{`true`, `policy document: precedence: wrong type: want a string, got a boolean`},
		{`false`, `policy document: precedence: wrong type: want a string, got a boolean`},
		{`1`, `policy document: precedence: wrong type: want a string, got a number`},
		{`[]`, `policy document: precedence: wrong type: want a string, got an array`},
		{`{}`, `policy document: precedence: wrong type: want a string, got an object`},
		{`"mostSpecific", "precedence": "mostSpecific"`, `policy document: precedence: duplicate key`},
		{`"denyOverrides", "precedence": "bogus"`, `policy document: precedence: duplicate key`},
	} {
		doc := `{"precedence": ` + tt.value + `}`
		p, err := policy.Decode([]byte(doc))
		if err == nil || err.Error() != tt.msg {
			t.Errorf("Decode(%s) error = %v, want %q", doc, err, tt.msg)
		}
		if p.Rules != nil || p.Settings != (policy.Settings{}) {
			t.Errorf("Decode(%s) returned a policy with its error", doc)
		}
	}
	const wrongCase = `policy document: Precedence: unknown key (keys are case-sensitive: did you mean "precedence"?)`
	if _, err := policy.Decode([]byte(`{"Precedence": "mostSpecific"}`)); err == nil || err.Error() != wrongCase {
		t.Errorf(`Decode({"Precedence": "mostSpecific"}) error = %v, want %q`, err, wrongCase)
	}
	if _, err := policy.Decode([]byte(`{"precedence": "bogus"}`)); !docProblem("invalid setting: ")(err) {
		t.Errorf(`Decode({"precedence": "bogus"}) = %v, want a settings DocError`, err)
	}
}

func TestDecodeNamesEveryBadRule(t *testing.T) {
	t.Parallel()
	doc := `{"rules": [
	  {"id": "ok", "ip": "10.0.0.0/8", "action": "allow"},
	  {"id": "hostbits", "ip": "10.0.0.5/24", "action": "allow"},
	  {"id": "ok", "ip": "10.0.0.1", "action": "allow"},
	  {"id": "verb", "ip": "10.0.0.2", "action": "permit"},
	  {"id": "ttl-no-base", "ip": "10.0.0.3", "action": "deny", "ttl": 60}]}`
	_, err := policy.Decode([]byte(doc))
	want := `rule "hostbits": invalid target: rangeset.ParseRange("10.0.0.5/24"): host bits set (canonical form 10.0.0.0/24)
rule "ok": duplicate id
rule "verb": invalid action "permit" (want "allow" or "deny")
rule "ttl-no-base": ttl without createdAt or updatedAt`
	if err == nil || err.Error() != want {
		t.Errorf("Decode() error =\n%v\nwant\n%s", err, want)
	}
	// The bad target's RuleError wraps the parse error.
	var re *policy.RuleError
	var pe *rangeset.ParseError
	if !errors.As(err, &re) || re.ID != "hostbits" || !errors.As(re, &pe) || pe.Input != "10.0.0.5/24" || !errors.Is(re, rangeset.ErrHostBits) {
		t.Errorf("Decode() error %v: the first problem does not wrap the target's *rangeset.ParseError", err)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	p := policy.New(
		rule("a", "10.0.0.0/8", policy.Allow),
		policy.Rule{ID: "b", Target: rangeset.MustParseRange("2001:db8::1-2001:db8::ff"), Action: policy.Deny, AdminOnly: true,
			CreatedAt: t0, UpdatedAt: t0.Add(time.Minute), TTL: ptr(time.Duration(0)), Comment: "zero ttl is kept"},
		policy.Rule{ID: "c", Target: rangeset.MustParseRange("192.0.2.7"), Action: policy.Allow,
			ExpiresAt: time.Date(2026, 5, 1, 12, 0, 0, 5, time.FixedZone("x", 3600))},
	)
	p.Settings.ApplyToMobile = false
	b, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := policy.Decode(b)
	if err != nil {
		t.Fatalf("Decode(%s) = %v", b, err)
	}
	if diff := cmp.Diff(p, back, cmpopts.EquateComparable(rangeset.Range{})); diff != "" {
		t.Errorf("decode(encode(p)) mismatch (-want +got):\n%s", diff)
	}
	if _, err := (policy.Rule{ID: "x", Action: policy.Allow}).MarshalJSON(); err == nil {
		t.Error("MarshalJSON of a rule without target succeeded")
	}
}

func TestRuleUnmarshalJSON(t *testing.T) {
	t.Parallel()
	var r policy.Rule
	err := json.Unmarshal([]byte(`{"id": "v", "from": "192.168.0.1", "to": "192.168.0.100", "action": "allow"}`), &r)
	if err != nil || r.Target.String() != "192.168.0.1-192.168.0.100" {
		t.Errorf("json.Unmarshal into a Rule = %+v, %v", r, err)
	}
	var q policy.Rule
	if err := json.Unmarshal([]byte(`{"id": "v", "ip": "10.0.0.5/24", "action": "allow"}`), &q); !errors.Is(err, rangeset.ErrHostBits) {
		t.Errorf("json.Unmarshal(host bits) = %v, want ErrHostBits", err)
	}
}

func TestRuleEqual(t *testing.T) {
	t.Parallel()
	a := rule("a", "10.0.0.0/8", policy.Allow)
	a.TTL, a.CreatedAt = ptr(time.Minute), t0
	b := a.Clone()
	b.CreatedAt = t0.In(time.FixedZone("x", 3600)) // the same instant
	if !a.Equal(b) {
		t.Error("equal rules differ")
	}
	for _, change := range []func(*policy.Rule){
		func(r *policy.Rule) { r.ID = "b" },
		func(r *policy.Rule) { r.Target = rangeset.MustParseRange("10.0.0.0/9") },
		func(r *policy.Rule) { r.Action = policy.Deny },
		func(r *policy.Rule) { r.AdminOnly = true },
		func(r *policy.Rule) { r.TTL = ptr(61 * time.Second) },
		func(r *policy.Rule) { r.TTL = nil },
		func(r *policy.Rule) { r.ExpiresAt = t0 },
		func(r *policy.Rule) { r.UpdatedAt = t0 },
		func(r *policy.Rule) { r.Comment = "x" },
	} {
		c := a.Clone()
		change(&c)
		if a.Equal(c) || c.Equal(a) {
			t.Errorf("rules differing in one field are Equal: %+v", c)
		}
	}
}

func TestDecodeZeroInstant(t *testing.T) {
	t.Parallel()
	base := `{"id": "z", "ip": "10.0.0.1", "action": "allow"`
	refused := []string{
		`"expiresAt": "0001-01-01T00:00:00Z"`,
		`"expiresAt": "0000-12-31T23:00:00-01:00"`,
		`"expiresAt": "0001-01-01T01:30:00+01:30"`,
		`"expiresAt": "0001-01-01T00:00:00.000Z"`,
		`"ttl": 60, "createdAt": "0001-01-01T00:00:00Z"`,
		`"ttl": 60, "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "0001-01-01T00:00:00Z"`,
	}
	for _, extra := range refused {
		doc := `{"rules": [` + base + `, ` + extra + `}]}`
		_, err := policy.Decode([]byte(doc))
		var re *policy.RuleError
		if !errors.As(err, &re) || re.ID != "z" || !strings.Contains(re.Err.Error(), "zero instant 0001-01-01T00:00:00Z") {
			t.Errorf("Decode(%s) = %v, want a RuleError for \"z\" saying zero instant", doc, err)
		}
		var r policy.Rule
		if err := json.Unmarshal([]byte(base+`, `+extra+`}`), &r); !errors.As(err, &re) || re.ID != "z" || !strings.Contains(re.Err.Error(), "zero instant 0001-01-01T00:00:00Z") {
			t.Errorf("json.Unmarshal(%s) = %v, want a RuleError for \"z\" saying zero instant", extra, err)
		}
	}
	// A zero instant that no ttl counts from is only metadata, and an
	// expiry a nanosecond later is an expiry.
	accepted := []string{
		`"createdAt": "0001-01-01T00:00:00Z"`,
		`"updatedAt": "0001-01-01T00:00:00Z"`,
		`"ttl": 60, "createdAt": "0001-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"`,
		`"ttl": 60, "createdAt": "0001-01-01T00:00:01Z"`,
		`"expiresAt": "0001-01-01T00:00:00.000000001Z"`,
	}
	for _, extra := range accepted {
		doc := `{"rules": [` + base + `, ` + extra + `}]}`
		p, err := policy.Decode([]byte(doc))
		if err != nil {
			t.Errorf("Decode(%s) = %v", doc, err)
			continue
		}
		if r := p.Rules[0]; strings.Contains(extra, "expiresAt") && !r.Expired(time.Time{}.Add(time.Nanosecond)) {
			t.Errorf("Decode(%s): rule not expired at its expiry", doc)
		}
	}
	_, err := policy.Decode([]byte(`{"rules": [` + base + `, "expiresAt": "0001-01-01T00:00:00Z"}]}`))
	if want := `rule "z": expiresAt is the zero instant 0001-01-01T00:00:00Z (a Rule's zero ExpiresAt means no expiry)`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestErrorsQuoteAndCut(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("k", 1<<20)
	tests := []struct {
		doc  string
		want string // a part of the error
	}{
		{`{"` + big + `": 1}`, `"kkkk`},
		{`{"a\nallow rule=office": 1}`, `policy document: "a\nallow rule=office": unknown key`},
		{`{"rules": [{"id": "x", "ip": "10.0.0.1", "action": "allow", "a\nb": 1}]}`, `rules[0]."a\nb": unknown key`},
		{`{"rules": [{"id": "` + big + `", "ip": "10.0.0.1", "action": "allow", "x": 1}]}`, `(1048576 bytes)`},
		{`{"rules": [{"id": "a\nb", "ip": "10.0.0.1", "action": "allow", "x": 1}]}`, `rule "a\nb": policy document: rules[0].x: unknown key`},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "` + big + `"}]}`, `invalid action "kkkk`},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": "` + big + `"}]}`, `(1048576 bytes)`},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "ttl": 1` + strings.Repeat("0", 1<<20) + `}]}`, `(1048577 bytes)`},
		{`{"rules": [{"id": "a", "ip": "` + big + `", "action": "allow"}]}`, `(1048576 bytes)`},
		{`{"defaultAction": "` + big + `"}`, `(1048576 bytes)`},
	}
	for _, tt := range tests {
		_, err := policy.Decode([]byte(tt.doc))
		if err == nil {
			t.Errorf("Decode(%.40s...) succeeded", tt.doc)
			continue
		}
		msg := err.Error()
		if len(msg) > 400 || strings.ContainsAny(msg, "\n\r\x00") || !strings.Contains(msg, tt.want) {
			t.Errorf("Decode(%.40s...) error = %.500q (%d bytes), want a short line holding %q", tt.doc, msg, len(msg), tt.want)
		}
	}
	var de *policy.DocError
	if _, err := policy.Decode([]byte(`{"` + big + `": 1}`)); !errors.As(err, &de) || len(de.Path) > 100 {
		t.Errorf("DocError.Path holds %d bytes of a long key", len(de.Path))
	}
}

func TestDecodeBadSettingWithBadRules(t *testing.T) {
	t.Parallel()
	// An unknown setting value is reported with the rules' problems,
	// first, wherever the document gives it.
	rules := `"rules": [{"id": "x", "ip": "10.0.0.5/24", "action": "allow"}, {"id": "x", "ip": "10.0.0.1", "action": "allow"}]`
	want := `policy document: precedence: invalid setting: unknown precedence "first"
policy document: defaultAction: invalid setting: unknown defaultAction "bogus"
rule "x": invalid target: rangeset.ParseRange("10.0.0.5/24"): host bits set (canonical form 10.0.0.0/24)
rule "x": duplicate id`
	for _, doc := range []string{
		`{"precedence": "first", "defaultAction": "bogus", ` + rules + `}`,
		`{"precedence": "first", ` + rules + `, "defaultAction": "bogus"}`,
		`{` + rules + `, "precedence": "first", "defaultAction": "bogus"}`,
	} {
		_, err := policy.Decode([]byte(doc))
		if err == nil || err.Error() != want {
			t.Errorf("Decode(%s) error =\n%v\nwant\n%s", doc, err, want)
		}
		if !docProblem("invalid setting: ")(err) || !ruleProblem("duplicate id")(err) {
			t.Errorf("Decode(%s) error %v does not hold the settings' DocError and the duplicate's RuleError", doc, err)
		}
	}
}

func TestProblemsBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"rules": [`)
	const n = 10000
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id": "x", "ip": "10.0.0.5/24", "action": "allow"}`) // two problems from the second rule on
	}
	b.WriteString(`]}`)
	_, err := policy.Decode([]byte(b.String()))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 101 || lines[100] != "and "+strconv.Itoa(2*n-1-100)+" more problems" {
		t.Errorf("Decode of %d bad rules: %d lines, the last %q", n, len(lines), lines[len(lines)-1])
	}
	if !ruleProblem("invalid target: ")(err) || !ruleProblem("duplicate id")(err) {
		t.Errorf("Decode error %v does not hold the problems shown", err)
	}
	// The error keeps the first 10,000 problems, in the rules' order:
	// those of the first 5,001 rules.
	kept := err.(interface{ Unwrap() []error }).Unwrap()
	named := map[int]bool{}
	for _, e := range kept {
		var re *policy.RuleError
		if errors.As(e, &re) {
			named[re.Index] = true
		}
	}
	if len(kept) != 10000 || len(named) != 5001 || !named[5000] {
		t.Errorf("Decode of %d bad rules: the error keeps %d problems, of %d rules", n, len(kept), len(named))
	}
	// A small document of many bad rules keeps no more, and counts them all.
	_, err = policy.Decode([]byte(`{"rules": [` + strings.Repeat(`{}, `, 99999) + `{}]}`))
	lines = strings.Split(err.Error(), "\n")
	if kept := err.(interface{ Unwrap() []error }).Unwrap(); len(kept) != 10000 || lines[100] != "and 299900 more problems" {
		t.Errorf("Decode of 100000 empty rules: %d problems kept, the last line %q", len(kept), lines[len(lines)-1])
	}
	rules := make([]policy.Rule, n)
	for i := range rules {
		rules[i] = policy.Rule{ID: "r" + strconv.Itoa(i), Action: policy.Allow}
	}
	lines = strings.Split(policy.New(rules...).Validate().Error(), "\n")
	if len(lines) != 101 || lines[100] != "and "+strconv.Itoa(n-100)+" more problems" {
		t.Errorf("Validate of %d bad rules: %d lines, the last %q", n, len(lines), lines[len(lines)-1])
	}
	lines = strings.Split(policy.New(rules[:101]...).Validate().Error(), "\n")
	if len(lines) != 101 || lines[100] != "and 1 more problem" {
		t.Errorf("Validate of 101 bad rules: the last line %q", lines[len(lines)-1])
	}
}

func TestValidateSpeaksGo(t *testing.T) {
	t.Parallel()
	ttl := -time.Second
	err := policy.New(
		policy.Rule{ID: "no-target", Action: policy.Allow},
		policy.Rule{ID: "no-action", Target: rangeset.MustParseRange("10.0.0.1")},
		policy.Rule{ID: "ttl", Target: rangeset.MustParseRange("10.0.0.2"), Action: policy.Deny, TTL: &ttl, ExpiresAt: t0},
	).Validate()
	want := `rule "no-target": invalid target: Target is the zero rangeset.Range
rule "no-action": invalid action: Action is zero (want policy.Allow or policy.Deny)
rule "ttl": both TTL and ExpiresAt
rule "ttl": invalid TTL -1s: negative
rule "ttl": TTL without CreatedAt or UpdatedAt`
	if err == nil || err.Error() != want {
		t.Errorf("Validate() =\n%v\nwant\n%s", err, want)
	}
	for _, msg := range []string{"invalid target: ", "invalid action: ", "both TTL and ExpiresAt", "invalid TTL ", "TTL without CreatedAt or UpdatedAt"} {
		if !ruleProblem(msg)(err) {
			t.Errorf("Validate() holds no RuleError saying %q", msg)
		}
	}
	// A ttl too large for a time.Duration is refused, naming the rule.
	_, err = policy.Decode([]byte(`{"rules": [{"id": "long", "ip": "10.0.0.1", "action": "allow", "createdAt": "2026-01-01T00:00:00Z", "ttl": 9223372037}]}`))
	want = `rule "long": invalid ttl 9223372037: over 9223372036 seconds (about 292 years), the largest Go time.Duration`
	if err == nil || err.Error() != want || !ruleProblem("invalid ttl 9223372037: ")(err) {
		t.Errorf("Decode(ttl 9223372037) = %v, want %s", err, want)
	}
	if p, err := policy.Decode([]byte(`{"rules": [{"id": "long", "ip": "10.0.0.1", "action": "allow", "createdAt": "2026-01-01T00:00:00Z", "ttl": 9223372036}]}`)); err != nil || *p.Rules[0].TTL != 9223372036*time.Second {
		t.Errorf("Decode(ttl 9223372036) = %v, %v", p, err)
	}
	// A TTL that a document cannot write is refused by the encoder too.
	frac := 1500 * time.Millisecond
	if _, err := (policy.Rule{ID: "f", Target: rangeset.MustParseRange("10.0.0.1"), Action: policy.Allow, CreatedAt: t0, TTL: &frac}).MarshalJSON(); err == nil || !strings.Contains(err.Error(), "invalid TTL 1.5s: not a whole number of seconds") {
		t.Errorf("Marshal(TTL 1.5s) = %v, want an invalid TTL", err)
	}
	// A document keeps its own words.
	_, err = policy.Decode([]byte(`{"rules": [{"id": "a", "action": "allow", "ttl": -1}]}`))
	want = `rule "a": invalid target: no ip, or from and to
rule "a": invalid ttl -1: negative
rule "a": ttl without createdAt or updatedAt`
	if err == nil || err.Error() != want {
		t.Errorf("Decode() =\n%v\nwant\n%s", err, want)
	}
}

func TestAllowlist(t *testing.T) {
	t.Parallel()
	p, err := policy.Allowlist("10.0.0.0/8", " 192.168.0.1 - 192.168.0.9", "2001:db8::1", "10.0.0.0-10.255.255.255")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range p.Rules {
		ids = append(ids, r.ID)
		if r.Action != policy.Allow || r.ID != r.Target.String() {
			t.Errorf("rule %+v", r)
		}
	}
	if want := []string{"10.0.0.0/8", "192.168.0.1-192.168.0.9", "2001:db8::1"}; !slices.Equal(ids, want) {
		t.Errorf("Allowlist ids = %q, want %q", ids, want)
	}
	if p.Settings.DefaultAction != policy.DefaultDeny || p.Validate() != nil {
		t.Errorf("Allowlist settings %+v, Validate %v", p.Settings, p.Validate())
	}
	empty, err := policy.Allowlist()
	if err != nil || empty.Settings.DefaultAction != policy.DefaultDeny || len(empty.Rules) != 0 || empty.Validate() != nil {
		t.Errorf("Allowlist() = %+v, %v, want a valid policy that denies everything", empty, err)
	}
	p, err = policy.Allowlist("10.0.0.1", "10.0.0.5/24", "bad\nline")
	want := "policy.Allowlist: rangeset.ParseRange(\"10.0.0.5/24\"): host bits set (canonical form 10.0.0.0/24)\n" +
		`rangeset.ParseRange("bad\nline"): invalid IP address "bad\nline": unable to parse IP`
	if err == nil || err.Error() != want || !errors.Is(err, rangeset.ErrHostBits) || p.Rules != nil {
		t.Errorf("Allowlist(bad) = %v, %q\nwant %q", p.Rules, err, want)
	}
}

func TestDecodeKeepsNoInput(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"rules": [{"id": "a\u00e9", "ip": "10.0.0.0/8", "action": "allow", "comment": "c",
	  "createdAt": "2026-01-01T00:00:00+02:00", "ttl": 5}, {"id": "b", "from": "::1", "to": "::2", "action": "deny"}]}`)
	want, err := policy.Decode(slices.Clone(doc))
	if err != nil {
		t.Fatal(err)
	}
	got, err := policy.Decode(doc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range doc {
		doc[i] = 'x'
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(rangeset.Range{})); diff != "" {
		t.Errorf("the policy changed with its input (-want +got):\n%s", diff)
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}

// TestDecodeMemory bounds what hostile documents make the decoder
// allocate: braces inside a string do not count as rules, and rules
// beyond the estimate, or bad ones, cost no copies of all the rules and
// no error each past the first 10,000 problems.
// Errors give the values the document wrote, not those saturated inside.
func TestErrorsGiveValuesWritten(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ doc, want string }{
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "createdAt": "2026-01-01T00:00:00Z", "ttl": -9223372036854775808}]}`,
			`rule "a": invalid ttl -9223372036854775808: negative`},
		{`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "createdAt": "9999-01-01T00:00:00Z", "ttl": 9223372036}]}`,
			`rule "a": expiry after 9999-12-31T23:59:59Z: 10291-04-11T23:47:16Z`},
	} {
		if _, err := policy.Decode([]byte(tt.doc)); err == nil || err.Error() != tt.want {
			t.Errorf("Decode(%s) error = %v, want %s", tt.doc, err, tt.want)
		}
	}
}

// An instant whose year is outside 0-9999 in its zone, but not in UTC, is
// written in UTC.
func TestMarshalYearInUTC(t *testing.T) {
	t.Parallel()
	at := time.Date(0, 1, 1, 0, 30, 0, 0, time.UTC).In(time.FixedZone("", -3600))
	r := policy.Rule{ID: "a", Target: rangeset.MustParseRange("10.0.0.1"), Action: policy.Allow, CreatedAt: at}
	b, err := r.MarshalJSON()
	if err != nil || !strings.Contains(string(b), `"createdAt":"0000-01-01T00:30:00Z"`) {
		t.Fatalf("MarshalJSON of a rule created at %v = %s, %v", at, b, err)
	}
	var back policy.Rule
	if err := json.Unmarshal(b, &back); err != nil || !back.Equal(r) {
		t.Errorf("json.Unmarshal(%s) = %+v, %v", b, back, err)
	}
}

func TestDecodeMemory(t *testing.T) {
	comment := []byte(`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "comment": "` + strings.Repeat("{", 4<<20) + `"}]}`)
	empty := []byte(`{"rules": [` + strings.Repeat(`{}, `, 99999) + `{}]}`)
	decode := func(b []byte) { _, _ = policy.Decode(b) }
	decodeReader := func(b []byte) { _, _ = policy.DecodeReader(bytes.NewReader(b)) }
	for _, tt := range []struct {
		name   string
		decode func([]byte)
		doc    []byte
		max    uint64
	}{
		{"Decode of a comment of braces", decode, comment, 2 * uint64(len(comment))},
		// The reader doubles its buffer for the long string.
		{"DecodeReader of a comment of braces", decodeReader, comment, 6 * uint64(len(comment))},
		{"Decode of 100000 empty rules", decode, empty, 100000 * 400},
		{"DecodeReader of 100000 empty rules", decodeReader, empty, 100000 * 400},
	} {
		if n := allocated(func() { tt.decode(tt.doc) }); n > tt.max {
			t.Errorf("%s (%d bytes) allocates %d bytes, want at most %d", tt.name, len(tt.doc), n, tt.max)
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"enabled": true, "rules": [`)
	const n = 500
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id": "r%d", "ip": "10.%d.%d.0/24", "action": "deny", "adminOnly": false, "expiresAt": "2030-01-01T00:00:00Z"}`, i, i/256, i%256)
	}
	b.WriteString(`]}`)
	doc := []byte(b.String())
	// A few allocations for the policy, none per rule or token: ids are
	// cut from shared blocks.
	if a := testing.AllocsPerRun(10, func() {
		if _, err := policy.Decode(doc); err != nil {
			t.Fatal(err)
		}
	}); a > 30 {
		t.Errorf("Decode of %d rules allocates %v times", n, a)
	}
}

func TestMarshalErrors(t *testing.T) {
	t.Parallel()
	ok := rule("a", "10.0.0.1", policy.Allow)
	for _, p := range []policy.Policy{
		policy.New(rule("a", "10.0.0.1", 0)),
		policy.New(policy.Rule{ID: "a", Action: policy.Allow}),
		policy.New(func() policy.Rule { r := ok; r.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC); return r }()),
		policy.New(func() policy.Rule {
			r := ok
			r.CreatedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))
			return r
		}()),
		{Rules: []policy.Rule{ok}},
	} {
		if b, err := p.MarshalJSON(); err == nil {
			t.Errorf("MarshalJSON(%+v) = %s, want an error", p, b)
		}
		if _, err := p.WriteTo(io.Discard); err == nil {
			t.Errorf("WriteTo(%+v) = nil, want an error", p)
		}
	}
}

// TestWriteTo writes policies large enough to take many writes: the
// document is json.MarshalIndent's, and a rule's error names its index.
func TestWriteTo(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 2, 1000, 5000} {
		rules := make([]policy.Rule, n)
		for i := range rules {
			rules[i] = rule(fmt.Sprintf("r%d", i), fmt.Sprintf("10.%d.%d.0/24", i/256%256, i%256), policy.Deny)
			rules[i].Comment = strings.Repeat("<é>", i%7)
		}
		p := policy.New(rules...)
		var buf bytes.Buffer
		w := &countingWriter{w: &buf}
		got, err := p.WriteTo(w)
		want, werr := json.MarshalIndent(p, "", "  ")
		if err != nil || werr != nil || !bytes.Equal(buf.Bytes(), append(want, '\n')) || got != int64(buf.Len()) {
			t.Fatalf("%d rules: WriteTo = %d, %v; MarshalIndent: %v; documents equal: %v",
				n, got, err, werr, bytes.Equal(buf.Bytes(), append(want, '\n')))
		}
		// Large documents go out in pieces, none near the document's size.
		if n == 5000 && (w.writes < 4 || w.largest > len(want)/2) {
			t.Errorf("%d rules: %d writes, the largest %d bytes of %d; want pieces", n, w.writes, w.largest, len(want))
		}
	}

	// A bad rule stops the document there, with its index.
	rules := []policy.Rule{rule("a", "10.0.0.1", policy.Allow), rule("b", "10.0.0.2", 0)}
	_, err := policy.New(rules...).WriteTo(io.Discard)
	var re *policy.RuleError
	if !errors.As(err, &re) || re.Index != 1 || re.ID != "b" {
		t.Errorf("WriteTo(rule 1 without an action) = %v, want a RuleError for index 1, id b", err)
	}

	// A failing writer's error is returned.
	errDisk := errors.New("disk full")
	if _, err := policy.New(rules[0]).WriteTo(failingWriter{errDisk}); !errors.Is(err, errDisk) {
		t.Errorf("WriteTo(failing writer) = %v, want %v", err, errDisk)
	}
}

type countingWriter struct {
	w       io.Writer
	writes  int
	largest int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.writes++
	c.largest = max(c.largest, len(b))
	return c.w.Write(b)
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

// TestInstantSecondsOffset: RFC 3339 has no seconds in an offset, so an
// instant in a zone whose offset has them (local mean times of old dates)
// is written in UTC, not with its offset cut to the minute, which would
// move it: a store's other readers would see another expiry.
func TestInstantSecondsOffset(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 3607))
	r := rule("a", "10.0.0.1", policy.Deny)
	r.ExpiresAt, r.CreatedAt = at, at
	doc, err := policy.New(r).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := policy.Decode(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Rules[0]; !got.ExpiresAt.Equal(at) || !got.CreatedAt.Equal(at) {
		t.Errorf("%s read back as expiresAt %v, createdAt %v; want %v", doc, got.ExpiresAt, got.CreatedAt, at)
	}
}
