package check_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
)

// FuzzEdits applies random edits to a live Checker, one at a time (Put,
// Delete, small Updates, the clock crossing expiries), and after each one
// requires its decisions to equal a fresh Compile's of the same policy and
// decideSlow's, at the clock's instant and at instants around the expiries.
func FuzzEdits(f *testing.F) {
	for seed := range uint64(8) {
		f.Add(seed, uint8(10+seed))
	}
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		rng := rand.New(rand.NewPCG(seed, seed+1))
		want := randomPolicy(rng, int(n%16), fuzzT0)
		want.Settings.Enabled = true
		want.Settings.ApplyToMobile = true
		// Odd seeds edit bart.Table, even ones bart.Fast.
		large := seed%2 == 1
		clock := newFakeClock(fuzzT0)
		compile, opts := check.Compile, clock.options()
		if large {
			compile, opts = check.CompileLarge, check.LargeTables(opts)
		}
		// Seeds 2 and 3 modulo 4 copy the table in an edit after two
		// writes; the others only as a large policy's edits do, after a
		// share of its prefixes, which these small policies seldom reach.
		if seed%4 >= 2 {
			opts = check.CopyEarly(opts)
		}
		c, err := check.NewChecker(want, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		next := 1000
		most := prefixCount(want)
		for step := range 30 {
			var what string
			switch k := rng.IntN(10); {
			case k < 4 || len(want.Rules) == 0: // add or replace one rule
				r := randomPolicy(rng, 1, clock.Now()).Rules[0]
				if len(want.Rules) > 0 && rng.IntN(2) == 0 {
					r.ID = want.Rules[rng.IntN(len(want.Rules))].ID
				} else {
					r.ID = fmt.Sprint("n", next)
					next++
				}
				if err := c.Put(r); err != nil {
					t.Fatal(err)
				}
				if i := slices.IndexFunc(want.Rules, func(x policy.Rule) bool { return x.ID == r.ID }); i >= 0 {
					want.Rules[i] = r
				} else {
					want.Rules = append(want.Rules, r)
				}
				what = "Put " + r.ID + " " + r.Target.String() + " " + r.Action.String()
			case k < 6:
				i := rng.IntN(len(want.Rules))
				what = "Delete " + want.Rules[i].ID
				if err := c.Delete(want.Rules[i].ID); err != nil {
					t.Fatal(err)
				}
				want.Rules = slices.Delete(want.Rules, i, i+1)
			case k < 8: // an Update that changes a few rules
				q := want.Clone()
				for range 1 + rng.IntN(2) {
					q.Rules[rng.IntN(len(q.Rules))].Action = policy.Action(1 + rng.IntN(2))
				}
				q.Settings.DefaultAction = policy.DefaultAction(1 + rng.IntN(3))
				if err := c.Update(q); err != nil {
					t.Fatal(err)
				}
				want, what = q, "Update"
			default: // time passes
				clock.Set(clock.Now().Add(time.Duration(rng.IntN(90)) * time.Second))
				what = "clock " + clock.Now().Format(time.TimeOnly)
			}
			now := clock.Now()
			// Odd seeds use a bart.Table throughout. Even ones use a
			// bart.Fast until the policy has more prefixes than it takes;
			// from then on a compile may have chosen either.
			most = max(most, prefixCount(want))
			if got := c.Snapshot().UsesLargeTable(); large && !got || !large && got && most <= check.FastMax {
				t.Fatalf("step %d (%s): large table %v; odd seed %v, at most %d prefixes so far", step, what, got, large, most)
			}
			fresh, err := compile(want, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range probes(want) {
				for _, admin := range []bool{false, true} {
					req := check.Request{Addr: a, Admin: admin}
					wantD := decideSlow(want, check.Request{Addr: a, Admin: admin, At: now})
					if got := c.Check(req); got != wantD {
						t.Fatalf("seed %d step %d (%s): live Check(%v admin=%v) = %v, want %v\nrules: %v", seed, step, what, a, admin, got, wantD, rulesText(want))
					}
					if got := fresh.Check(check.Request{Addr: a, Admin: admin, At: now}); got != wantD {
						t.Fatalf("seed %d step %d: fresh Compile disagrees with decideSlow: %v vs %v", seed, step, got, wantD)
					}
					if step%6 != 5 {
						continue // every instant, every sixth step: an input stays under a second
					}
					for _, at := range instants(want, now) {
						req.At = at
						if got, w := c.Check(req), decideSlow(want, req); got != w {
							t.Fatalf("seed %d step %d (%s): Check(%v admin=%v at %s) = %v, want %v", seed, step, what, a, admin, at, got, w)
						}
					}
				}
			}
			if got := c.Snapshot().Len(); got != len(want.Rules) {
				t.Fatalf("step %d (%s): snapshot has %d rules, want %d", step, what, got, len(want.Rules))
			}
		}
		var ids, wantIDs []string
		for r := range c.Snapshot().Rules() {
			ids = append(ids, r.ID)
		}
		for _, r := range want.Rules {
			wantIDs = append(wantIDs, r.ID)
		}
		slices.Sort(ids)
		slices.Sort(wantIDs)
		if !slices.Equal(ids, wantIDs) {
			t.Fatalf("Rules() = %v, want %v", ids, wantIDs)
		}
	})
}

func rulesText(p policy.Policy) string {
	precedence := "mostSpecific"
	if p.Settings.DenyOverrides {
		precedence = "denyOverrides"
	}
	s := fmt.Sprintf("%v %v default %v\n", precedence, p.Settings.Enabled, p.Settings.DefaultAction)
	for _, r := range p.Rules {
		e, _ := r.Expiry()
		s += fmt.Sprintf("  %s %s %s admin=%v exp=%s\n", r.ID, r.Target, r.Action, r.AdminOnly, e.Format(time.TimeOnly))
	}
	return s
}

// TestAllowedOneAction runs one-action policies, where a membership table
// answers Allowed, through random edits that keep them one-action and then
// break it, against decideSlow.
func TestAllowedOneAction(t *testing.T) {
	t.Parallel()
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		a := policy.Action(1 + seed%2)
		oneAction := func(p policy.Policy) policy.Policy {
			for i := range p.Rules {
				p.Rules[i].Action, p.Rules[i].AdminOnly = a, false
				p.Rules[i].ExpiresAt, p.Rules[i].TTL = time.Time{}, nil
			}
			return p
		}
		want := oneAction(randomPolicy(rng, 1+rng.IntN(12), fuzzT0))
		want.Settings.Enabled = true
		c, err := check.NewChecker(want, newFakeClock(fuzzT0).options())
		if err != nil {
			t.Fatal(err)
		}
		for step := range 12 {
			switch {
			case step == 10: // another action: the membership table goes
				r := oneAction(randomPolicy(rng, 1, fuzzT0)).Rules[0]
				r.ID, r.Action = "other", policy.Allow+policy.Deny-a
				c.Put(r)
				want.Rules = append(want.Rules, r)
			case step%3 == 2 && len(want.Rules) > 0:
				i := rng.IntN(len(want.Rules))
				c.Delete(want.Rules[i].ID)
				want.Rules = slices.Delete(want.Rules, i, i+1)
			default:
				r := oneAction(randomPolicy(rng, 1, fuzzT0)).Rules[0]
				r.ID = fmt.Sprint("s", step)
				c.Put(r)
				want.Rules = append(want.Rules, r)
			}
			for _, addr := range probes(want) {
				for _, mobile := range []bool{false, true} {
					req := check.Request{Addr: addr, Mobile: mobile}
					if got, w := c.Check(req).Allowed, decideSlow(want, check.Request{Addr: addr, Mobile: mobile, At: fuzzT0}).Allowed; got != w {
						t.Fatalf("seed %d step %d: Allowed(%v mobile=%v) = %v, want %v\n%s", seed, step, addr, mobile, got, w, rulesText(want))
					}
				}
			}
		}
		c.Close()
	}
}

// A long run of edits does not grow the node store without bound: the
// checker compiles afresh once most stored nodes are replaced ones, and
// decides as before.
func TestEditsReclaimNodes(t *testing.T) {
	t.Parallel()
	c, err := check.NewChecker(policy.New(rule("a", "10.0.0.0/8", policy.Allow), rule("b", "10.1.0.0/16", policy.Deny)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	most := 0
	for i := range 5000 {
		action := policy.Allow
		if i%2 == 1 {
			action = policy.Deny
		}
		if err := c.Put(rule("x", "10.1.2.0-10.1.3.7", action)); err != nil {
			t.Fatal(err)
		}
		most = max(most, c.Snapshot().Nodes())
		if d := c.Check(check.Request{Addr: netip.MustParseAddr("10.1.3.1")}); d.Rule != "x" || d.Allowed != (action == policy.Allow) {
			t.Fatalf("edit %d: %v, want %v by x", i, d, action)
		}
	}
	if most > 2*1024 {
		t.Errorf("the node store reached %d nodes for a policy of 3 rules", most)
	}
}
