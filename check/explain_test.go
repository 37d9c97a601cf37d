package check_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
)

func TestExplainStatuses(t *testing.T) {
	t.Parallel()
	gone := rule("gone", "10.1.2.0/24", policy.Allow)
	gone.ExpiresAt = fuzzT0.Add(-time.Minute)
	admin := rule("admin", "10.1.2.3", policy.Allow)
	admin.AdminOnly = true
	p := policy.New(
		rule("corp", "10.0.0.0/8", policy.Allow),
		rule("b-allow", "10.1.0.0/16", policy.Allow),
		rule("a-deny", "10.1.0.0-10.1.255.255", policy.Deny),
		rule("c-deny", "10.1.0.0/16", policy.Deny),
		gone, admin,
	)
	s, err := check.Compile(p, fuzzT0)
	if err != nil {
		t.Fatal(err)
	}
	e := s.Explain(check.Request{Addr: netip.MustParseAddr("10.1.2.3"), At: fuzzT0})
	want := []struct{ id, status, by, why string }{
		{"a-deny", "winner", "", ""},
		{"admin", "not applicable", "", ""},
		{"gone", "expired", "", ""},
		{"c-deny", "beaten", "a-deny", "smaller id"},
		{"b-allow", "beaten", "a-deny", "deny at equal size"},
		{"corp", "beaten", "a-deny", "narrower"},
	}
	if e.Decision.Rule != "a-deny" || len(e.Matches) != len(want) || !e.At.Equal(fuzzT0) {
		t.Fatalf("Explain = %v", e)
	}
	for i, w := range want {
		m := e.Matches[i]
		if m.Rule.ID != w.id || m.Status.String() != w.status || m.By != w.by || m.Why != w.why {
			t.Errorf("match %d = %s %v by %q (%q), want %+v", i, m.Rule.ID, m.Status, m.By, m.Why, w)
		}
	}
	if m := e.Matches[2]; !m.Since.Equal(gone.ExpiresAt) {
		t.Errorf("expired since %v, want %v", m.Since, gone.ExpiresAt)
	}
	p.Settings.DenyOverrides = true
	s, _ = check.Compile(p, fuzzT0)
	e = s.Explain(check.Request{Addr: netip.MustParseAddr("10.1.2.3"), Admin: true, At: fuzzT0})
	for _, m := range e.Matches {
		if m.Rule.ID == "admin" && (m.Status != check.StatusBeaten || m.Why != "deny overrides allow") {
			t.Errorf("under denyOverrides, admin = %+v", m)
		}
	}
}
