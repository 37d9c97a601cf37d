// Package bench is ipgate's benchmark suite: a deterministic workload of
// policies and queries at 1k, 100k and 1M rules, and the same lookups done
// by ipgate and by the libraries people use instead. It is a module of its
// own, so that importers of ipgate never pull the peers in.
//
//	cd examples/bench && ./run.sh   # writes BENCHMARKS.md
package bench

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// Workload is a policy and the queries to ask it.
type Workload struct {
	Policy  policy.Policy
	Queries []netip.Addr // 2^20 of them, 80% IPv4
	At      time.Time    // the instant the policy is compiled at
}

// At is the compile instant of every workload.
var At = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// v4Bits is the length mix of IPv4 prefixes in a BGP table: mostly /24,
// then /22, /23, /21, /20, and a tail of shorter ones.
var v4Bits = []struct{ bits, weight int }{
	{24, 58}, {22, 11}, {23, 10}, {21, 6}, {20, 5}, {19, 3}, {18, 2}, {16, 2}, {17, 1}, {15, 1}, {14, 1},
}

// Options shape a workload beyond its size.
type Options struct {
	// PrefixOnly leaves out ranges, admin-only and expiring rules, and
	// duplicate targets: a workload every longest-prefix-match peer can
	// express exactly.
	PrefixOnly bool
	// OneAction makes every rule a deny that binds everyone forever: a
	// pure denylist.
	OneAction bool
	// Expiring gives about 2% of the rules an expiry that is still to
	// come, so that every request with a zero instant is decided at the
	// clock's reading: the cost of exact expiry.
	Expiring bool
}

// Generate returns the workload of n rules for seed: IPv4 prefixes with
// the length mix of a BGP table, about a quarter IPv4 hosts, about 15% IPv6
// (/32 to /64, some /128), about 5% from-to ranges that are not prefixes;
// about 30% of rules nested inside an earlier wider one, most of those
// with the opposite action; some admin-only rules, and with
// Options.Expiring some expiring ones.
func Generate(n int, seed uint64, o Options) Workload {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	p := policy.New()
	seen := map[rangeset.Range]bool{}
	var wide []int // indices of rules that can hold a nested one
	for len(p.Rules) < n {
		i := len(p.Rules)
		r := policy.Rule{ID: fmt.Sprintf("r%07d", i), Action: policy.Allow}
		if rng.IntN(2) == 0 {
			r.Action = policy.Deny
		}
		switch k := rng.IntN(100); {
		case k < 30 && len(wide) > 0:
			outer := p.Rules[wide[rng.IntN(len(wide))]]
			r.Target = nestedIn(rng, outer.Target)
			if rng.IntN(4) != 0 { // most nested rules say the opposite
				r.Action = policy.Allow + policy.Deny - outer.Action
			}
		case k < 45:
			r.Target = v6Prefix(rng)
		case k < 50 && !o.PrefixOnly:
			r.Target = v4Range(rng)
		case k < 75:
			a := randV4(rng)
			r.Target = rangeset.RangeFrom(a, a)
		default:
			r.Target = v4Prefix(rng)
		}
		if !r.Target.IsValid() || seen[r.Target] && o.PrefixOnly {
			continue
		}
		if !o.PrefixOnly && !o.OneAction {
			if rng.IntN(50) == 0 {
				r.AdminOnly = true
			}
			if rng.IntN(50) == 0 {
				// A century on: the expiry is pending at any instant the
				// suite runs, so a request with a zero instant reads the
				// clock. Drawn either way, so that both workloads have the
				// same rules.
				exp := At.AddDate(100, 0, 0).Add(time.Duration(1+rng.IntN(1000)) * time.Hour)
				if o.Expiring {
					r.ExpiresAt = exp
				}
			}
		}
		if o.OneAction {
			r.Action = policy.Deny
		}
		seen[r.Target] = true
		if s := r.Target.Size(); s.Compare(rangeset.MustParseRange("10.0.0.0/30").Size()) > 0 {
			wide = append(wide, i)
		}
		p.Rules = append(p.Rules, r)
	}
	w := Workload{Policy: p, At: At, Queries: make([]netip.Addr, 1<<20)}
	for i := range w.Queries {
		if i%2 == 0 {
			w.Queries[i] = inside(rng, p.Rules[rng.IntN(len(p.Rules))].Target)
			continue
		}
		if rng.IntN(10) < 8 {
			w.Queries[i] = randV4(rng)
		} else {
			w.Queries[i] = randV6(rng)
		}
	}
	return w
}

func randV4(rng *rand.Rand) netip.Addr {
	v := rng.Uint32()
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// randV6 draws from 2000::/4, where the IPv6 rules are.
func randV6(rng *rand.Rand) netip.Addr {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	b[0] = 0x20 | b[0]&0x0f
	if rng.IntN(2) == 0 {
		b[0], b[1] = 0x20, 0x01
	}
	return netip.AddrFrom16(b)
}

func v4Prefix(rng *rand.Rand) rangeset.Range {
	w := rng.IntN(100)
	bits := 24
	for _, b := range v4Bits {
		if w < b.weight {
			bits = b.bits
			break
		}
		w -= b.weight
	}
	return rangeset.PrefixRange(netip.PrefixFrom(randV4(rng), bits).Masked())
}

func v6Prefix(rng *rand.Rand) rangeset.Range {
	bits := 32 + rng.IntN(33)
	if rng.IntN(10) == 0 {
		bits = 128
	}
	return rangeset.PrefixRange(netip.PrefixFrom(randV6(rng), bits).Masked())
}

func v4Range(rng *rand.Rand) rangeset.Range {
	from := randV4(rng)
	to := from
	for range 3 + rng.IntN(500) {
		if n := to.Next(); n.IsValid() {
			to = n
		}
	}
	r := rangeset.RangeFrom(from, to)
	if _, ok := r.Prefix(); ok {
		return rangeset.Range{} // a prefix after all: draw again
	}
	return r
}

// nestedIn returns a prefix inside r (a prefix or a range).
func nestedIn(rng *rand.Rand, r rangeset.Range) rangeset.Range {
	a := inside(rng, r)
	bits := a.BitLen()
	if p, ok := r.Prefix(); ok && p.Bits() < bits {
		bits = p.Bits() + 1 + rng.IntN(bits-p.Bits())
	}
	n := rangeset.PrefixRange(netip.PrefixFrom(a, bits).Masked())
	if !r.ContainsRange(n) {
		return rangeset.RangeFrom(a, a)
	}
	return n
}

// inside returns a random address of r.
func inside(rng *rand.Rand, r rangeset.Range) netip.Addr {
	p, ok := r.Prefix()
	if !ok {
		a := r.From()
		for range rng.IntN(3) {
			if n := a.Next(); r.Contains(n) {
				a = n
			}
		}
		return a
	}
	b := p.Addr().As16()
	host := p.Addr().BitLen() - p.Bits()
	off := 16 - p.Addr().BitLen()/8
	for i := 15; i >= off && host > 0; i-- {
		m := byte(0xff)
		if host < 8 {
			m = byte(1<<host - 1)
		}
		b[i] |= byte(rng.Uint32()) & m
		host -= 8
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		a = a.Unmap()
	}
	return a
}
