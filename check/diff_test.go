package check_test

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
)

// changedAt finds the change covering a for the subject, if any.
func changedAt(changes []check.Change, a netip.Addr, admin, mobile bool) (check.Change, bool) {
	for _, c := range changes {
		if c.Admin == admin && c.Mobile == mobile && c.Range.Contains(a) {
			return c, true
		}
	}
	return check.Change{}, false
}

// TestDiffBruteForce compares Diff and Expiring with decisions taken one
// address at a time, at every boundary of two random policies and around it.
func TestDiffBruteForce(t *testing.T) {
	t.Parallel()
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 11))
		p1 := randomPolicy(rng, rng.IntN(10), fuzzT0)
		p2 := p1.Clone()
		for e := range 1 + rng.IntN(3) { // a few edits
			switch {
			case len(p2.Rules) > 0 && rng.IntN(2) == 0:
				p2.Rules[rng.IntN(len(p2.Rules))].Action = policy.Action(1 + rng.IntN(2))
			default:
				r := randomPolicy(rng, 1, fuzzT0).Rules[0]
				r.ID = "new" + strconv.Itoa(e)
				p2.Rules = append(p2.Rules, r)
			}
		}
		s1, err1 := check.Compile(p1, fuzzT0)
		s2, err2 := check.Compile(p2, fuzzT0)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		at := fuzzT0.Add(time.Duration(rng.IntN(4)) * time.Minute)
		changes := check.Diff(s1, s2, at)
		later := fuzzT0.Add(10 * time.Minute)
		expiring := s1.Expiring(at, later)
		for i, c := range changes {
			if c.Old == c.New || !c.Range.IsValid() {
				t.Fatalf("seed %d: change %d is no change: %+v", seed, i, c)
			}
		}
		for _, a := range append(probes(p1), probes(p2)...) {
			a = a.Unmap().WithZone("")
			if !a.IsValid() {
				continue
			}
			for _, admin := range []bool{false, true} {
				for _, mobile := range []bool{false, true} {
					req := check.Request{Addr: a, Admin: admin, Mobile: mobile, At: at}
					d1, d2 := s1.Check(req), s2.Check(req)
					c, ok := changedAt(changes, a, admin, mobile)
					if ok != (d1 != d2) || ok && (c.Old != d1 || c.New != d2) {
						t.Fatalf("seed %d: at %v admin=%v mobile=%v: %v -> %v, Diff says %+v (found %v)", seed, a, admin, mobile, d1, d2, c, ok)
					}
					req.At = later
					d3 := s1.Check(req)
					c, ok = changedAt(expiring, a, admin, mobile)
					if ok != (d1 != d3) || ok && (c.Old != d1 || c.New != d3) {
						t.Fatalf("seed %d: Expiring at %v: %v -> %v, says %+v (found %v)", seed, a, d1, d3, c, ok)
					}
				}
			}
		}
	}
}

func BenchmarkDiff(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	p := benchPolicy(100_000, rng)
	q := p.Clone()
	for i := range 100 {
		q.Rules[i*997].Action = policy.Allow + policy.Deny - q.Rules[i*997].Action
	}
	s1, _ := check.Compile(p, fuzzT0)
	s2, _ := check.Compile(q, fuzzT0)
	b.ResetTimer()
	for b.Loop() {
		if len(check.Diff(s1, s2, fuzzT0)) == 0 {
			b.Fatal("no changes found")
		}
	}
}
