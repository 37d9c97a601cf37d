package check_test

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
)

func TestShadow(t *testing.T) {
	t.Parallel()
	live := policy.New(rule("corp", "10.0.0.0/8", policy.Allow), rule("lab", "10.1.0.0/16", policy.Deny))
	cand := policy.New(rule("corp", "10.0.0.0/8", policy.Allow), rule("lab", "10.1.0.0/17", policy.Deny))
	ls, _ := check.Compile(live, fuzzT0)
	sh, err := check.NewShadow(ls, cand, fuzzT0, 3)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := check.Compile(cand, fuzzT0)
	want := 0
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for range 2000 {
				req := check.Request{Addr: netip.AddrFrom4([4]byte{10, 1, byte(rng.IntN(256)), 1})}
				d := sh.Check(req)
				if d != ls.Check(req) {
					t.Error("the shadow decided instead of the live policy")
				}
				if d != cs.Check(req) {
					mu.Lock()
					want++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	changes := sh.Changes()
	if len(changes) != 1 {
		t.Fatalf("Changes() = %+v, want one pair", changes)
	}
	c := changes[0]
	if c.LiveRule != "lab" || c.CandidateRule != "corp" || c.Count != int64(want) || want == 0 || len(c.Sample) != 3 {
		t.Errorf("change = %+v, want lab -> corp counted %d times with 3 samples", c, want)
	}
	for _, a := range c.Sample {
		if !a.IsValid() || a.As4()[2] < 128 {
			t.Errorf("sample %v is not an address whose decision changes", a)
		}
	}
}

func TestHits(t *testing.T) {
	t.Parallel()
	s, _ := check.Compile(policy.New(rule("corp", "10.0.0.0/8", policy.Allow), rule("lab", "10.1.0.0/16", policy.Deny)), fuzzT0)
	h := check.NewHits(s, func() time.Time { return fuzzT0 })
	defer h.Close()
	for i := range 30 {
		h.Check(check.Request{Addr: netip.AddrFrom4([4]byte{10, byte(i % 3), 0, 1})})
	}
	h.Check(check.Request{Addr: netip.MustParseAddr("192.0.2.1")}) // the default: no rule
	got := h.Hits()
	if len(got) != 2 || got[0].Rule != "corp" || got[0].Count != 20 || got[1].Rule != "lab" || got[1].Count != 10 ||
		!got[0].LastHit.Equal(fuzzT0) {
		t.Errorf("Hits() = %+v", got)
	}
}

// BenchmarkObservers states the cost of Shadow and Hits beside a bare
// Checker.Check, on the same requests.
func BenchmarkObservers(b *testing.B) {
	rng := rand.New(rand.NewPCG(100, 42))
	p := benchPolicy(100_000, rng)
	reqs := benchRequests(p, rng)
	c, _ := check.NewChecker(p, nil)
	defer c.Close()
	q := p.Clone()
	q.Rules[0].Action = policy.Allow + policy.Deny - q.Rules[0].Action
	sh, _ := check.NewShadow(c, q, time.Now(), 8)
	h := check.NewHits(c, nil)
	defer h.Close()
	for _, impl := range []struct {
		name string
		d    check.Decider
	}{{"checker", c}, {"shadow", sh}, {"hits", h}} {
		b.Run("rules=100k/impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				impl.d.Check(reqs[i&1023])
			}
		})
	}
}
