package check_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/ipgate/ipgate/check/internal/checktest"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// decideSlow is SEMANTICS §4 transcribed literally (checktest.DecideSlow).
var decideSlow = checktest.DecideSlow

// anchors are the corners of small address universes, so that random
// targets overlap, nest and touch the edges of both families and the
// IPv4-mapped block.
var anchors = []netip.Addr{
	netip.MustParseAddr("0.0.0.0"),
	netip.MustParseAddr("10.0.0.0"),
	netip.MustParseAddr("255.255.255.224"),
	netip.MustParseAddr("::"),
	netip.MustParseAddr("::fffe:ffff:fff0"),
	netip.MustParseAddr("2001:db8::"),
	netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffe0"),
}

func randAddr(rng *rand.Rand) netip.Addr {
	a := anchors[rng.IntN(len(anchors))]
	for range rng.IntN(32) {
		a = a.Next()
		if !a.IsValid() {
			return anchors[0]
		}
	}
	return a
}

func randTarget(rng *rand.Rand) rangeset.Range {
	for {
		a := randAddr(rng)
		var r rangeset.Range
		if rng.IntN(2) == 0 {
			bits := a.BitLen() - rng.IntN(6)
			if rng.IntN(8) == 0 {
				bits = rng.IntN(a.BitLen() + 1)
			}
			r = rangeset.PrefixRange(netip.PrefixFrom(a, bits).Masked())
		} else {
			b := randAddr(rng)
			if b.Less(a) {
				a, b = b, a
			}
			r = rangeset.RangeFrom(a, b)
		}
		if r.IsValid() {
			return r
		}
	}
}

// randomPolicy returns a valid random policy compiled at t0.
func randomPolicy(rng *rand.Rand, n int, t0 time.Time) policy.Policy {
	p := policy.Policy{Settings: policy.Settings{
		Enabled:       rng.IntN(10) != 0,
		DefaultAction: policy.DefaultAction(1 + rng.IntN(3)),
		Precedence:    policy.Precedence(1 + rng.IntN(2)),
		ApplyToMobile: rng.IntN(4) != 0,
	}}
	for i := range n {
		r := policy.Rule{
			ID:        fmt.Sprintf("r%02d", (i*7+rng.IntN(5))%100+i*100), // unique, not in index order
			Target:    randTarget(rng),
			Action:    policy.Action(1 + rng.IntN(2)),
			AdminOnly: rng.IntN(4) == 0,
		}
		switch rng.IntN(6) {
		case 0, 1:
			r.ExpiresAt = t0.Add(time.Duration(rng.IntN(8)-2) * time.Minute)
		case 2:
			ttl := time.Duration(rng.IntN(5)*30) * time.Second
			r.TTL = &ttl
			r.CreatedAt = t0.Add(-time.Minute)
			if rng.IntN(2) == 0 {
				r.UpdatedAt = t0
			}
		}
		if i > 0 && rng.IntN(8) == 0 {
			r.Target = p.Rules[rng.IntN(i)].Target // an equal target: ties
		}
		p.Rules = append(p.Rules, r)
	}
	return p
}

// probes returns query addresses around every rule's ends and the anchors,
// in plain, IPv4-mapped and zoned spellings, plus the invalid address.
func probes(p policy.Policy) []netip.Addr {
	out := []netip.Addr{{}}
	add := func(a netip.Addr) {
		if !a.IsValid() {
			return
		}
		out = append(out, a)
		if a.Is4() {
			out = append(out, netip.AddrFrom16(a.As16()))
		} else {
			out = append(out, a.WithZone("eth0"))
		}
	}
	for _, a := range anchors {
		add(a)
		add(a.Prev())
	}
	for _, r := range p.Rules {
		for _, a := range []netip.Addr{r.Target.From(), r.Target.To()} {
			add(a)
			add(a.Prev())
			add(a.Next())
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
