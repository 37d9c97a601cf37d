package check_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// benchPolicy returns n rules: mostly IPv4 prefixes of BGP-like lengths,
// some hosts, some IPv6 prefixes and some from-to ranges, each allow or
// deny, a few admin-only.
func benchPolicy(n int, rng *rand.Rand) policy.Policy {
	p := policy.New()
	for i := range n {
		var t rangeset.Range
		switch k := rng.IntN(20); {
		case k < 12:
			bits := []int{24, 24, 24, 22, 23, 21, 20, 16, 19, 18}[rng.IntN(10)]
			t = rangeset.PrefixRange(netip.PrefixFrom(netip.AddrFrom4(randBytes4(rng)), bits).Masked())
		case k < 16:
			a := netip.AddrFrom4(randBytes4(rng))
			t = rangeset.RangeFrom(a, a)
		case k < 19:
			var b [16]byte
			b[0], b[1], b[2], b[3], b[4], b[5] = 0x20, 0x01, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))
			t = rangeset.PrefixRange(netip.PrefixFrom(netip.AddrFrom16(b), 32+rng.IntN(33)).Masked())
		default:
			a := netip.AddrFrom4(randBytes4(rng))
			b := a
			for range 3 + rng.IntN(300) {
				b = b.Next()
			}
			t = rangeset.RangeFrom(a, b)
		}
		if !t.IsValid() {
			a := netip.AddrFrom4(randBytes4(rng))
			t = rangeset.RangeFrom(a, a)
		}
		p.Rules = append(p.Rules, policy.Rule{ID: fmt.Sprint("r", i), Target: t,
			Action: policy.Action(1 + rng.IntN(2)), AdminOnly: rng.IntN(20) == 0})
	}
	return p
}

func randBytes4(rng *rand.Rand) [4]byte {
	v := rng.Uint32()
	return [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// benchRequests returns 1,024 requests, half inside a random rule.
func benchRequests(p policy.Policy, rng *rand.Rand) []check.Request {
	reqs := make([]check.Request, 1024)
	for i := range reqs {
		a := netip.AddrFrom4(randBytes4(rng))
		if i%2 == 0 {
			a = p.Rules[rng.IntN(len(p.Rules))].Target.From()
		}
		reqs[i] = check.Request{Addr: a, Admin: i%7 == 0}
	}
	return reqs
}

func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		rng := rand.New(rand.NewPCG(uint64(n), 42))
		p := benchPolicy(n, rng)
		reqs := benchRequests(p, rng)
		s, err := check.Compile(p, fuzzT0)
		if err != nil {
			b.Fatal(err)
		}
		c, err := check.NewChecker(p, nil)
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("rules=%dk", n/1000)
		for _, impl := range []struct {
			name string
			f    func(check.Request) check.Decision
		}{{"snapshot", s.Check}, {"checker", c.Check}} {
			b.Run(name+"/"+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					impl.f(reqs[i&1023])
				}
			})
			b.Run(name+"/"+impl.name+"/parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for i := 0; pb.Next(); i++ {
						impl.f(reqs[i&1023])
					}
				})
			})
		}
		b.Run(name+"/compile", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := check.Compile(p, fuzzT0); err != nil {
					b.Fatal(err)
				}
			}
		})
		c.Close()
	}
}
