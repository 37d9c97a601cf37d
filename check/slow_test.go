package check_test

import (
	"net/netip"
	"slices"
	"time"

	"github.com/ipgate/ipgate/check/internal/checktest"
	"github.com/ipgate/ipgate/policy"
)

// decideSlow is SEMANTICS §4 transcribed literally (checktest.DecideSlow).
var decideSlow = checktest.DecideSlow

// prefixCount returns how many prefixes cover p's targets: a compile
// without check.LargeTables uses a bart.Table when they are more than
// check.FastMax.
func prefixCount(p policy.Policy) int {
	n := 0
	for _, r := range p.Rules {
		for range r.Target.Prefixes() {
			n++
		}
	}
	return n
}

// randomPolicy is the random policies of every package's tests.
var randomPolicy = checktest.RandomPolicyAt

// probes returns checktest's probes in plain, IPv4-mapped and zoned
// spellings, plus the invalid address.
func probes(p policy.Policy) []netip.Addr {
	out := []netip.Addr{{}}
	for _, a := range checktest.Probes(p) {
		out = append(out, a)
		if a.Is4() {
			out = append(out, netip.AddrFrom16(a.As16()))
		} else {
			out = append(out, a.WithZone("eth0"))
		}
	}
	return out
}

// instants returns t0, every expiry, the instants around it, and one
// before t0.
func instants(p policy.Policy, t0 time.Time) []time.Time {
	out := []time.Time{t0, t0.Add(-time.Hour), t0.Add(time.Hour)}
	for _, r := range p.Rules {
		if e, ok := r.Expiry(); ok {
			out = append(out, e.Add(-time.Nanosecond), e, e.Add(time.Nanosecond))
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}
