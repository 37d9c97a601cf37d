package lint_test

import (
	"net/netip"
	"slices"
	"time"

	"github.com/ipgate/ipgate/check/internal/checktest"
	"github.com/ipgate/ipgate/policy"
)

// The random policies and probes every sub-package of check tests with.
var (
	t0           = checktest.T0
	randomPolicy = checktest.RandomPolicy
	probes       = checktest.Probes
	rule         = checktest.Rule
)

// instants returns t0, every expiry and the instants around it.
func instants(p policy.Policy) []time.Time {
	out := []time.Time{t0, t0.Add(time.Hour)}
	for _, r := range p.Rules {
		if e, ok := r.Expiry(); ok {
			out = append(out, e.Add(-time.Nanosecond), e, e.Add(time.Nanosecond))
		}
	}
	return out
}

// decideSlow is SEMANTICS §4 transcribed literally (as in package check's
// tests), for enabled policies and subjects that are not mobile.
func decideSlow(p policy.Policy, addr netip.Addr, admin bool, at time.Time) (id string, byRule bool) {
	var matching []policy.Rule
	for _, r := range p.Rules {
		if (!r.AdminOnly || admin) && !r.Expired(at) && r.Target.Contains(addr) {
			matching = append(matching, r)
		}
	}
	if p.Settings.Precedence == policy.DenyOverrides && slices.ContainsFunc(matching, func(r policy.Rule) bool { return r.Action == policy.Deny }) {
		matching = slices.DeleteFunc(matching, func(r policy.Rule) bool { return r.Action != policy.Deny })
	}
	var win *policy.Rule
	for i := range matching {
		m := &matching[i]
		if win == nil {
			win = m
			continue
		}
		switch c := m.Target.Size().Compare(win.Target.Size()); {
		case c < 0:
			win = m
		case c > 0:
		case m.Action != win.Action:
			if m.Action == policy.Deny {
				win = m
			}
		case m.ID < win.ID:
			win = m
		}
	}
	if win == nil {
		return "", false
	}
	return win.ID, true
}
