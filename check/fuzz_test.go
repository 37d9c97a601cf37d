package check_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
)

var fuzzT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// FuzzCompile checks compiled decisions against decideSlow on random
// policies: at the compile instant, at every expiry and just before and
// after it, before the compile instant, and through a live Checker whose
// clock moves across the expiries.
func FuzzCompile(f *testing.F) {
	for seed := range uint64(16) {
		f.Add(seed, uint8(seed*3))
	}
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		p := randomPolicy(rng, int(n%24), fuzzT0)
		s, err := check.Compile(p, fuzzT0)
		if err != nil {
			t.Fatalf("Compile: %v", err)
		}
		addrs := probes(p)
		ats := instants(p, fuzzT0)
		for _, at := range ats {
			for _, a := range addrs {
				for _, admin := range []bool{false, true} {
					for _, mobile := range []bool{false, true} {
						req := check.Request{Addr: a, Admin: admin, Mobile: mobile, At: at}
						want := decideSlow(p, req)
						if got := s.Check(req); got != want {
							t.Fatalf("seed %d n %d: Check(%v admin=%v mobile=%v at %s) = %v, want %v\npolicy: %+v",
								seed, n, a, admin, mobile, at.Format(time.RFC3339Nano), got, want, p)
						}
						if at.Equal(fuzzT0) {
							req.At = time.Time{}
							if got := s.Check(req); got != want {
								t.Fatalf("Check(%v, zero At) = %v, want %v as at the compile instant", a, got, want)
							}
						}
					}
				}
			}
		}
		// The live path: a checker whose clock moves forward, asked with a
		// zero At, must follow every expiry.
		clock := newFakeClock(fuzzT0)
		c, err := check.NewChecker(p, clock.options())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, at := range ats {
			if at.Before(fuzzT0) {
				continue
			}
			clock.Set(at)
			for _, a := range addrs {
				for _, admin := range []bool{false, true} {
					want := decideSlow(p, check.Request{Addr: a, Admin: admin, At: at})
					if got := c.Check(check.Request{Addr: a, Admin: admin}); got != want {
						t.Fatalf("seed %d n %d: live Check(%v admin=%v) with the clock at %s = %v, want %v",
							seed, n, a, admin, at.Format(time.RFC3339Nano), got, want)
					}
				}
			}
		}
	})
}
