// Package checktest holds what the tests of check's sub-packages share:
// random policies over small address universes that overlap, nest and
// touch the edges of both families and the IPv4-mapped block, and the
// addresses where their decisions may change.
package checktest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// T0 is the instant random policies are built around.
var T0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// anchors are the corners of small address universes, so that random
// targets overlap, nest and touch the edges of both families, the
// IPv4-mapped block, and the blocks HAProxy reads IPv4 addresses out of
// (::/96 and 2002::/16).
var anchors = []netip.Addr{
	netip.MustParseAddr("0.0.0.0"),
	netip.MustParseAddr("10.0.0.0"),
	netip.MustParseAddr("255.255.255.224"),
	netip.MustParseAddr("::"),
	netip.MustParseAddr("::a00:0"),
	netip.MustParseAddr("::fffe:ffff:fff0"),
	netip.MustParseAddr("::ffff:ffff:fff0"),
	netip.MustParseAddr("2002:a00::"),
	netip.MustParseAddr("2001:db8::"),
	netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffe0"),
}

// RandAddr returns an address near one of the universes' corners.
func RandAddr(rng *rand.Rand) netip.Addr {
	a := anchors[rng.IntN(len(anchors))]
	for range rng.IntN(32) {
		if a = a.Next(); !a.IsValid() {
			return anchors[0]
		}
	}
	return a
}

// RandTarget returns a random valid target: an address, a prefix or a
// from-to range near the corners.
func RandTarget(rng *rand.Rand) rangeset.Range {
	for {
		a := RandAddr(rng)
		var r rangeset.Range
		if rng.IntN(2) == 0 {
			bits := a.BitLen() - rng.IntN(6)
			if rng.IntN(8) == 0 {
				bits = rng.IntN(a.BitLen() + 1)
			}
			r = rangeset.PrefixRange(netip.PrefixFrom(a, bits).Masked())
		} else {
			b := RandAddr(rng)
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

// RandomPolicy returns a valid random policy for instants around T0.
func RandomPolicy(rng *rand.Rand, n int) policy.Policy { return RandomPolicyAt(rng, n, T0) }

// RandomPolicyAt returns a valid random policy whose rules expire around
// t0, at an instant or after a TTL, and have ids unique but not in their
// order.
func RandomPolicyAt(rng *rand.Rand, n int, t0 time.Time) policy.Policy {
	p := policy.Policy{Settings: policy.Settings{
		Enabled:       rng.IntN(10) != 0,
		DefaultAction: policy.DefaultAction(1 + rng.IntN(3)),
		DenyOverrides: rng.IntN(2) == 1,
		ApplyToMobile: rng.IntN(4) != 0,
	}}
	for i := range n {
		r := policy.Rule{
			ID:        fmt.Sprintf("r%02d", (i*7+rng.IntN(5))%100+i*100),
			Target:    RandTarget(rng),
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

// Probes returns addresses around every rule's ends and the anchors.
func Probes(p policy.Policy) []netip.Addr {
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

// Rule returns a rule with the given id, target and action.
func Rule(id, target string, a policy.Action) policy.Rule {
	return policy.Rule{ID: id, Target: rangeset.MustParseRange(target), Action: a}
}

// DecideSlow is SEMANTICS §4 transcribed literally, with no index of any
// kind: every rule is looked at for every request. It is the reference the
// engine and the analyses built on it are tested against.
func DecideSlow(p policy.Policy, r check.Request) check.Decision {
	s := p.Settings
	if !s.Enabled {
		return check.Decision{Allowed: true, Reason: check.ReasonDisabled}
	}
	if r.Mobile && !s.ApplyToMobile {
		return check.Decision{Allowed: true, Reason: check.ReasonExempt}
	}
	if !r.Addr.IsValid() {
		return check.Decision{Reason: check.ReasonInvalid}
	}
	addr := rangeset.Canonical(r.Addr)
	var applicable, matching []policy.Rule
	for _, rule := range p.Rules {
		if !rule.AdminOnly || r.Admin {
			applicable = append(applicable, rule)
		}
	}
	for _, rule := range applicable {
		if !rule.Expired(r.At) && rule.Target.Contains(addr) {
			matching = append(matching, rule)
		}
	}
	if s.DenyOverrides {
		if slices.ContainsFunc(matching, func(r policy.Rule) bool { return r.Action == policy.Deny }) {
			matching = slices.DeleteFunc(matching, func(r policy.Rule) bool { return r.Action != policy.Deny })
		}
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
	if win != nil {
		return check.Decision{Allowed: win.Action == policy.Allow, Rule: win.ID, Reason: check.ReasonRule}
	}
	allowed := true
	switch s.DefaultAction {
	case policy.DefaultDeny:
		allowed = false
	case policy.DefaultAuto:
		allowed = !slices.ContainsFunc(applicable, func(r policy.Rule) bool { return r.Action == policy.Allow })
	}
	return check.Decision{Allowed: allowed, Reason: check.ReasonDefault}
}
