package diff_test

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/diff"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// changedAt finds the change covering a for the subject, if any.
func changedAt(changes []diff.Change, a netip.Addr, admin, mobile bool) (diff.Change, bool) {
	for _, c := range changes {
		if c.Admin == admin && c.Mobile == mobile && c.Range.Contains(a) {
			return c, true
		}
	}
	return diff.Change{}, false
}

// wellFormed checks what holds for every list of changes: no change is
// none, none lies in the mapped block, and none is left unmerged with an
// adjacent one of the same subject and decisions.
func wellFormed(t *testing.T, seed uint64, changes []diff.Change) {
	t.Helper()
	mapped := rangeset.PrefixRange(netip.MustParsePrefix("::ffff:0:0/96"))
	for i, c := range changes {
		if c.Old == c.New || !c.Range.IsValid() || c.Range.Overlaps(mapped) {
			t.Fatalf("seed %d: change %d: %+v", seed, i, c)
		}
		for _, d := range changes[i+1:] {
			if d.Admin == c.Admin && d.Mobile == c.Mobile && d.Old == c.Old && d.New == c.New &&
				(c.Range.To().Next() == d.Range.From() || d.Range.To().Next() == c.Range.From()) {
				t.Fatalf("seed %d: adjacent changes %+v and %+v not merged", seed, c, d)
			}
			if d.Admin == c.Admin && d.Mobile == c.Mobile && d.Range.Overlaps(c.Range) {
				t.Fatalf("seed %d: overlapping changes %+v and %+v", seed, c, d)
			}
		}
	}
}

// TestBruteForce compares Snapshots and Expiring with decisions taken one
// address at a time, at every boundary of two random policies and around it.
func TestBruteForce(t *testing.T) {
	t.Parallel()
	seeds := uint64(300)
	if testing.Short() {
		seeds = 60
	}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 11))
		p1 := randomPolicy(rng, rng.IntN(10))
		p2 := p1.Clone()
		for e := range 1 + rng.IntN(3) { // a few edits
			switch {
			case len(p2.Rules) > 0 && rng.IntN(2) == 0:
				p2.Rules[rng.IntN(len(p2.Rules))].Action = policy.Action(1 + rng.IntN(2))
			default:
				r := randomPolicy(rng, 1).Rules[0]
				r.ID = "new" + strconv.Itoa(e)
				p2.Rules = append(p2.Rules, r)
			}
		}
		s1, err1 := check.Compile(p1, t0)
		s2, err2 := check.Compile(p2, t0)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		at := t0.Add(time.Duration(rng.IntN(4)) * time.Minute)
		changes := diff.Snapshots(s1, s2, at)
		later := t0.Add(10 * time.Minute)
		expiring := diff.Expiring(s1, at, later)
		wellFormed(t, seed, changes)
		wellFormed(t, seed, expiring)
		for _, a := range append(probes(p1), probes(p2)...) {
			if a.Is4In6() {
				continue
			}
			for _, admin := range []bool{false, true} {
				for _, mobile := range []bool{false, true} {
					req := check.Request{Addr: a, Admin: admin, Mobile: mobile, At: at}
					d1, d2 := s1.Check(req), s2.Check(req)
					c, ok := changedAt(changes, a, admin, mobile)
					if ok != (d1 != d2) || ok && (c.Old != d1 || c.New != d2) {
						t.Fatalf("seed %d: at %v admin=%v mobile=%v: %v -> %v, Snapshots says %+v (found %v)", seed, a, admin, mobile, d1, d2, c, ok)
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

// TestMappedBlock pins that a change on both sides of ::ffff:0:0/96 is
// two changes, and that nothing inside the block is reported.
func TestMappedBlock(t *testing.T) {
	t.Parallel()
	wide := policy.New(policy.Rule{ID: "wide", Target: rangeset.MustParseRange("::fffe:0:0-::1:0:0:ffff"), Action: policy.Deny})
	s1, _ := check.Compile(policy.New(), t0)
	s2, _ := check.Compile(wide, t0)
	var got []string
	for _, c := range diff.Snapshots(s1, s2, t0) {
		if !c.Admin && !c.Mobile {
			got = append(got, c.Range.String())
		}
	}
	if got, want := strings.Join(got, " "), "::fffe:0:0/96 ::1:0:0:0/112"; got != want {
		t.Errorf("Snapshots = %s, want %s", got, want)
	}
}

func BenchmarkSnapshots(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	p := policy.New()
	for i := range 20_000 {
		var a [4]byte
		v := rng.Uint32()
		a[0], a[1], a[2], a[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
		p.Rules = append(p.Rules, policy.Rule{ID: "r" + strconv.Itoa(i),
			Target: rangeset.PrefixRange(netip.PrefixFrom(netip.AddrFrom4(a), 16+rng.IntN(17)).Masked()),
			Action: policy.Action(1 + rng.IntN(2))})
	}
	q := p.Clone()
	for i := range 100 {
		q.Rules[i*97].Action = policy.Allow + policy.Deny - q.Rules[i*97].Action
	}
	s1, _ := check.Compile(p, t0)
	s2, _ := check.Compile(q, t0)
	for b.Loop() {
		if len(diff.Snapshots(s1, s2, t0)) == 0 {
			b.Fatal("no changes found")
		}
	}
}
