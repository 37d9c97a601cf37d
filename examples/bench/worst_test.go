package bench

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// worst returns n rules of the shape that inflates a prefix cover most:
// "ranges" are IPv6 ranges whose cover holds about 250 prefixes each;
// "nesting" are chains of 25 nested IPv4 prefixes, /8 to /32, with
// alternating actions.
func worst(kind string, n int) policy.Policy {
	rng := rand.New(rand.NewPCG(9, 9))
	p := policy.New()
	for i := 0; len(p.Rules) < n; i++ {
		switch kind {
		case "ranges":
			var a [16]byte
			a[0], a[1], a[2], a[3] = 0x20, 0x01, byte(i>>8), byte(i)
			from, to := a, a
			from[15], to[4] = 1, 0xff
			for j := 5; j < 16; j++ {
				to[j] = 0xff
			}
			to[15] = 0xfe
			p.Rules = append(p.Rules, policy.Rule{ID: fmt.Sprint("r", i), Action: policy.Deny,
				Target: rangeset.RangeFrom(netip.AddrFrom16(from), netip.AddrFrom16(to))})
		default:
			base := randV4(rng)
			for bits := 8; bits <= 32 && len(p.Rules) < n; bits++ {
				p.Rules = append(p.Rules, policy.Rule{ID: fmt.Sprintf("r%d-%d", i, bits), Action: policy.Action(1 + bits%2),
					Target: rangeset.PrefixRange(netip.PrefixFrom(base, bits).Masked())})
			}
		}
	}
	return p
}

// BenchmarkCompileWorst measures compile time and retained heap on the
// worst shapes, per rule and per inserted prefix: the bound is per prefix.
func BenchmarkCompileWorst(b *testing.B) {
	for _, kind := range []string{"ranges", "nesting"} {
		p := worst(kind, 10_000)
		prefixes := len(prefixes(p))
		for _, impl := range []struct {
			name  string
			build func() any
		}{
			{"ipgate", func() any { s, _ := check.Compile(p, At); return s }},
			{"bart", func() any { return NewBartTable(p) }},
		} {
			b.Run(fmt.Sprintf("kind=%s/rules=10k/impl=%s", kind, impl.name), func(b *testing.B) {
				heap := heapOf(impl.build)
				for b.Loop() {
					impl.build()
				}
				b.ReportMetric(float64(heap)/float64(len(p.Rules)), "heap-B/rule")
				b.ReportMetric(float64(heap)/float64(prefixes), "heap-B/prefix")
				b.ReportMetric(float64(prefixes)/float64(len(p.Rules)), "prefixes/rule")
			})
		}
	}
}
