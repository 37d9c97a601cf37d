package lint_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// The helpers below are those of package check's tests: random policies
// over small universes, and the addresses where their decisions may change.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// anchors are the corners of small address universes, so that random
// targets overlap, nest and touch the edges of both families and the
// IPv4-mapped block.
var anchors = []netip.Addr{
	netip.MustParseAddr("0.0.0.0"),
	netip.MustParseAddr("10.0.0.0"),
	netip.MustParseAddr("255.255.255.224"),
	netip.MustParseAddr("::"),
	netip.MustParseAddr("::fffe:ffff:fff0"),
	netip.MustParseAddr("::ffff:ffff:fff0"),
	netip.MustParseAddr("2001:db8::"),
	netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffe0"),
}

func randAddr(rng *rand.Rand) netip.Addr {
	a := anchors[rng.IntN(len(anchors))]
	for range rng.IntN(32) {
		if a = a.Next(); !a.IsValid() {
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

// randomPolicy returns a valid random policy for instants around t0.
func randomPolicy(rng *rand.Rand, n int) policy.Policy {
	p := policy.Policy{Settings: policy.Settings{
		Enabled:       rng.IntN(10) != 0,
		DefaultAction: policy.DefaultAction(1 + rng.IntN(3)),
		Precedence:    policy.Precedence(1 + rng.IntN(2)),
		ApplyToMobile: rng.IntN(4) != 0,
	}}
	for i := range n {
		r := policy.Rule{
			ID:        fmt.Sprintf("r%02d", (i*7+rng.IntN(5))%100+i*100),
			Target:    randTarget(rng),
			Action:    policy.Action(1 + rng.IntN(2)),
			AdminOnly: rng.IntN(4) == 0,
		}
		if rng.IntN(3) == 0 {
			r.ExpiresAt = t0.Add(time.Duration(rng.IntN(8)-2) * time.Minute)
		}
		if i > 0 && rng.IntN(8) == 0 {
			r.Target = p.Rules[rng.IntN(i)].Target // an equal target: ties
		}
		p.Rules = append(p.Rules, r)
	}
	return p
}

// probes returns addresses around every rule's ends and the anchors.
func probes(p policy.Policy) []netip.Addr {
	var out []netip.Addr
	add := func(as ...netip.Addr) {
		for _, a := range as {
			if a.IsValid() {
				out = append(out, a)
			}
		}
	}
	for _, a := range anchors {
		add(a, a.Prev())
	}
	add(netip.MustParseAddr("::fffe:ffff:ffff"), netip.MustParseAddr("::1:0:0:0"))
	for _, r := range p.Rules {
		for _, a := range []netip.Addr{r.Target.From(), r.Target.To()} {
			add(a, a.Prev(), a.Next())
		}
	}
	return out
}

func rule(id, target string, a policy.Action) policy.Rule {
	return policy.Rule{ID: id, Target: rangeset.MustParseRange(target), Action: a}
}

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
