package check_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
)

var fuzzT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// FuzzCompile checks compiled decisions against decideSlow on random
// policies: at the compile instant, at every expiry and just before and
// after it, before the compile instant, and through a live Checker whose
// clock moves across the expiries. Both kinds of table are checked: the
// bart.Fast of small policies and the bart.Table of large ones.
func FuzzCompile(f *testing.F) {
	for seed := range uint64(16) {
		f.Add(seed, uint8(seed*3))
	}
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		p := randomPolicy(rng, int(n%24), fuzzT0)
		addrs := probes(p)
		ats := instants(p, fuzzT0)
		for _, compile := range []func(policy.Policy, time.Time) (*check.Snapshot, error){check.Compile, check.CompileLarge} {
			s, err := compile(p, fuzzT0)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			checkSnapshot(t, s, p, addrs, ats)
		}
		// The live path: a checker whose clock moves forward, asked with a
		// zero At, must follow every expiry.
		clock := newFakeClock(fuzzT0)
		opts := clock.options()
		if seed%2 == 1 {
			opts = check.LargeTables(opts)
		}
		c, err := check.NewChecker(p, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A policy of a few ranges can have more prefixes than a bart.Fast
		// takes.
		large := seed%2 == 1 || prefixCount(p) > check.FastMax
		if got := c.Snapshot().UsesLargeTable(); got != large {
			t.Fatalf("seed %d: large table %v, want %v (%d prefixes)", seed, got, large, prefixCount(p))
		}
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

// checkSnapshot checks s against decideSlow on p for every address and
// instant, every subject, through Check, Explain and Allowed.
func checkSnapshot(t *testing.T, s *check.Snapshot, p policy.Policy, addrs []netip.Addr, ats []time.Time) {
	t.Helper()
	for _, at := range ats {
		for _, a := range addrs {
			for _, admin := range []bool{false, true} {
				for _, mobile := range []bool{false, true} {
					req := check.Request{Addr: a, Admin: admin, Mobile: mobile, At: at}
					want := decideSlow(p, req)
					if got := s.Check(req); got != want {
						t.Fatalf("Check(%v admin=%v mobile=%v at %s) = %v, want %v\npolicy: %+v",
							a, admin, mobile, at.Format(time.RFC3339Nano), got, want, p)
					}
					checkExplain(t, s, req, want)
				}
			}
		}
	}
	// A zero At is now, whatever the compile instant: no expired rule
	// decides it. now is read around the call; a rule expiring between the
	// two readings would make them differ, and then the check is skipped.
	for _, a := range addrs {
		for _, admin := range []bool{false, true} {
			req := check.Request{Addr: a, Admin: admin}
			before := decideSlow(p, check.Request{Addr: a, Admin: admin, At: time.Now()})
			got := s.Check(req)
			after := decideSlow(p, check.Request{Addr: a, Admin: admin, At: time.Now()})
			if before == after && got != before {
				t.Fatalf("Check(%v admin=%v, zero At) = %v, want %v as at now", a, admin, got, before)
			}
		}
	}
}

// checkExplain requires Explain to agree with Check: the same decision,
// the winner first and only when a rule decided, and every match
// containing the address.
func checkExplain(t *testing.T, s *check.Snapshot, req check.Request, want check.Decision) {
	t.Helper()
	e := s.Explain(req)
	if e.Decision != want {
		t.Fatalf("Explain(%v).Decision = %v, want %v", req.Addr, e.Decision, want)
	}
	winners := 0
	for i, m := range e.Matches {
		if !m.Rule.Target.Contains(req.Addr.Unmap().WithZone("")) {
			t.Fatalf("Explain(%v) lists %s, which does not contain it", req.Addr, m.Rule.Target)
		}
		if m.Status == check.StatusWinner {
			winners++
			if i != 0 || m.Rule.ID != want.Rule {
				t.Fatalf("Explain(%v): winner %s at %d, decision %v", req.Addr, m.Rule.ID, i, want)
			}
		}
		if m.Status == check.StatusBeaten && m.By != want.Rule {
			t.Fatalf("Explain(%v): %s beaten by %s, decision %v", req.Addr, m.Rule.ID, m.By, want)
		}
	}
	if ruled := want.Reason == check.ReasonRule; ruled != (winners == 1) {
		t.Fatalf("Explain(%v) has %d winners for decision %v:\n%v", req.Addr, winners, want, e)
	}
}
