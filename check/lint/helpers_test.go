package lint_test

import (
	"net/netip"
	"time"

	"github.com/ipgate/ipgate/check"
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

// decideSlow is checktest.DecideSlow for an enabled policy and a subject
// that is not mobile: the winning rule's id, and whether a rule won.
func decideSlow(p policy.Policy, addr netip.Addr, admin bool, at time.Time) (id string, byRule bool) {
	p.Settings.Enabled = true
	d := checktest.DecideSlow(p, check.Request{Addr: addr, Admin: admin, At: at})
	return d.Rule, d.Reason == check.ReasonRule
}
