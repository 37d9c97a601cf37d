package check

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipgate/ipgate/policy"
)

// Decider decides requests: a [*Checker], a [*Snapshot], or one of the
// wrappers below.
type Decider interface {
	Check(Request) Decision
}

// Shadow decides every request with a live Decider and evaluates a
// candidate policy beside it on the same request, counting, per pair of
// rules, the requests whose decision the candidate would change, with a
// sample of their addresses. Only the live decider decides. It is safe for
// concurrent use.
//
// Its cost is one more [Snapshot.Check] per request, plus a mutex taken
// only for requests whose decision would change.
type Shadow struct {
	live      Decider
	candidate *Snapshot
	samples   int

	mu      sync.Mutex
	changes map[[2]string]*ShadowChange
}

// ShadowChange counts the requests whose decision the candidate changes
// from the live rule's to the candidate rule's ("" for a default).
type ShadowChange struct {
	LiveRule, CandidateRule string
	Live, Candidate         Decision // the latest pair of decisions
	Count                   int64
	Sample                  []netip.Addr // the first addresses, up to the sample size
}

// NewShadow returns a Shadow evaluating candidate beside live, compiled at
// now, keeping up to samples addresses per change (zero means 8).
func NewShadow(live Decider, candidate policy.Policy, now time.Time, samples int) (*Shadow, error) {
	s, err := Compile(candidate, now)
	if err != nil {
		return nil, err
	}
	if samples <= 0 {
		samples = 8
	}
	return &Shadow{live: live, candidate: s, samples: samples, changes: map[[2]string]*ShadowChange{}}, nil
}

// Check returns the live decision, and counts it when the candidate's
// differs.
func (sh *Shadow) Check(r Request) Decision {
	d := sh.live.Check(r)
	c := sh.candidate.Check(r)
	if c == d {
		return d
	}
	sh.mu.Lock()
	k := [2]string{d.Rule, c.Rule}
	ch := sh.changes[k]
	if ch == nil {
		ch = &ShadowChange{LiveRule: d.Rule, CandidateRule: c.Rule}
		sh.changes[k] = ch
	}
	ch.Live, ch.Candidate = d, c
	ch.Count++
	if len(ch.Sample) < sh.samples {
		ch.Sample = append(ch.Sample, r.Addr)
	}
	sh.mu.Unlock()
	return d
}

// Changes returns copies of the counts so far, the most frequent first.
func (sh *Shadow) Changes() []ShadowChange {
	sh.mu.Lock()
	out := make([]ShadowChange, 0, len(sh.changes))
	for _, ch := range sh.changes {
		c := *ch
		c.Sample = slices.Clone(ch.Sample)
		out = append(out, c)
	}
	sh.mu.Unlock()
	slices.SortFunc(out, func(a, b ShadowChange) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.LiveRule+"\x00"+a.CandidateRule, b.LiveRule+"\x00"+b.CandidateRule)
	})
	return out
}

// Hits counts, per rule, the requests a Decider's decisions were made by,
// and when each rule last decided one, for pruning rules nobody hits. It
// is safe for concurrent use; Close stops its clock.
//
// Its cost per request decided by a rule is a map lookup and two atomic
// stores; the clock it stamps with is read once a second by a goroutine of
// its own, not per request, so last-hit times are good to a second.
type Hits struct {
	d     Decider
	stats sync.Map // rule id -> *hitStat
	now   atomic.Int64
	stop  chan struct{}
	once  sync.Once
}

type hitStat struct {
	n    atomic.Int64
	last atomic.Int64 // unix seconds
}

// Hit is the count of one rule.
type Hit struct {
	Rule    string
	Count   int64
	LastHit time.Time
}

// NewHits wraps d. A nil now means time.Now.
func NewHits(d Decider, now func() time.Time) *Hits {
	if now == nil {
		now = time.Now
	}
	h := &Hits{d: d, stop: make(chan struct{})}
	h.now.Store(now().Unix())
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				h.now.Store(now().Unix())
			}
		}
	}()
	return h
}

// Check decides r with the wrapped Decider and counts the rule that decided.
func (h *Hits) Check(r Request) Decision {
	d := h.d.Check(r)
	if d.Rule == "" {
		return d
	}
	v, ok := h.stats.Load(d.Rule)
	if !ok {
		v, _ = h.stats.LoadOrStore(d.Rule, new(hitStat))
	}
	st := v.(*hitStat)
	st.n.Add(1)
	st.last.Store(h.now.Load())
	return d
}

// Hits returns the counts so far, by rule id.
func (h *Hits) Hits() []Hit {
	var out []Hit
	h.stats.Range(func(k, v any) bool {
		st := v.(*hitStat)
		out = append(out, Hit{Rule: k.(string), Count: st.n.Load(), LastHit: time.Unix(st.last.Load(), 0)})
		return true
	})
	slices.SortFunc(out, func(a, b Hit) int { return cmp.Compare(a.Rule, b.Rule) })
	return out
}

// Close stops the clock goroutine. Counting goes on with the last reading.
func (h *Hits) Close() { h.once.Do(func() { close(h.stop) }) }
