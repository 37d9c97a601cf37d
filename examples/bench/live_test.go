package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// BenchmarkLiveUpdate changes one rule at a time in a live Checker (add,
// change, remove, in turn) and reports the median and 99th percentile of
// one change, readers reading throughout.
func BenchmarkLiveUpdate(b *testing.B) {
	for _, size := range sizes {
		b.Run("rules="+size.name, func(b *testing.B) {
			skipLarge(b, size.n)
			w := work(size.n, Options{})
			c, err := check.NewChecker(w.Policy, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() { // a reader that never pauses
				defer close(done)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
						sink = c.Check(check.Request{Addr: w.Queries[i&mask]}).Allowed
					}
				}
			}()
			rng := rand.New(rand.NewPCG(1, 2))
			var d []time.Duration
			added := 0
			for i := 0; b.Loop(); i++ {
				var op func() error
				switch i % 3 {
				case 0: // add a /24 or a host
					r := policy.Rule{ID: fmt.Sprint("live", added), Action: policy.Deny,
						Target: rangeset.PrefixRange(netip.PrefixFrom(randV4(rng), 24).Masked())}
					if rng.IntN(2) == 0 {
						a := randV4(rng)
						r.Target = rangeset.RangeFrom(a, a)
					}
					added++
					op = func() error { return c.Put(r) }
				case 1: // change an existing rule's action
					r := w.Policy.Rules[rng.IntN(len(w.Policy.Rules))]
					r.Action = policy.Allow + policy.Deny - r.Action
					op = func() error { return c.Put(r) }
				default: // remove one of the added rules
					id := fmt.Sprint("live", rng.IntN(added))
					op = func() error {
						if err := c.Delete(id); err != nil && !errors.Is(err, check.ErrUnknownRule) {
							return err
						}
						return nil
					}
				}
				start := time.Now()
				if err := op(); err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(start))
			}
			close(stop)
			<-done
			slices.Sort(d)
			b.ReportMetric(float64(d[len(d)/2].Nanoseconds())/1000, "p50-µs")
			b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds())/1000, "p99-µs")
		})
	}
}

// BenchmarkLiveBroad adds a deny rule over every IPv4 address to a live
// Checker whose policy's denies override its allows, and removes it again,
// in turn: each changes the winner of every IPv4 prefix an allow rule won.
func BenchmarkLiveBroad(b *testing.B) {
	for _, size := range sizes {
		b.Run("rules="+size.name, func(b *testing.B) {
			skipLarge(b, size.n)
			p := work(size.n, Options{}).Policy.Clone()
			p.Settings.DenyOverrides = true
			c, err := check.NewChecker(p, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			r := policy.Rule{ID: "nobody", Target: rangeset.PrefixRange(netip.MustParsePrefix("0.0.0.0/0")), Action: policy.Deny}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				op := func() error { return c.Put(r) }
				if i%2 == 1 {
					op = func() error { return c.Delete(r.ID) }
				}
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
