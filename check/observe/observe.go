package observe

import (
	"cmp"
	"iter"
	"maps"
	"math"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/rangeset"
)

// decide is d(r), and the zero Decision, which denies, for a nil d.
func decide(d func(check.Request) check.Decision, r check.Request) check.Decision {
	if d == nil {
		return check.Decision{}
	}
	return d(r)
}

// Shadow decides every request with a live decider and decides it again
// with a candidate snapshot, counting the requests on which the two
// decisions differ (in outcome, rule or reason), per pair of decisions,
// with a sample of their addresses. Only the live decider decides.
//
// Its cost per request is one candidate [check.Snapshot.Check] beside the
// live decision. A request decided differently adds a map lookup and an
// atomic count and, while its change still has room in its sample, a
// sampling step it skips rather than wait for another request's. Counts
// are exact. Memory grows with the number of distinct pairs of decisions
// seen, each with its bounded sample.
//
// A Shadow is safe for concurrent use. It starts no goroutine and needs no
// closing: to start counting afresh, make a new one. The zero Shadow has
// no live decider and no candidate: it denies every request with the zero
// Decision and counts nothing.
type Shadow struct {
	live      func(check.Request) check.Decision
	candidate *check.Snapshot
	samples   int
	changes   sync.Map // [2]check.Decision{live, candidate} -> *change
}

// ShadowChange is one pair of decisions that differ, and the requests they
// were made on.
type ShadowChange struct {
	// Live is the decision served, Candidate the one the candidate would
	// have made instead.
	Live, Candidate check.Decision
	// Count is the number of requests decided so.
	Count int64
	// Sample holds the first distinct addresses of those requests, in
	// canonical form (see [rangeset.Canonical]), up to the samples [NewShadow] was given;
	// under concurrent traffic a few may be passed over.
	Sample []netip.Addr
}

type change struct {
	n      atomic.Int64
	full   atomic.Bool // len(sample) has reached the Shadow's samples
	mu     sync.Mutex  // guards sample
	sample []netip.Addr
}

// NewShadow returns a Shadow serving live's decisions and counting where
// candidate's differ, each change with a sample of up to samples distinct
// addresses, the first seen (none when samples is zero or less). A nil
// live or candidate decides the zero Decision, which denies. A request
// with a zero At is decided by each at its own reading of now, as
// [check.Request] says.
func NewShadow(live func(check.Request) check.Decision, candidate *check.Snapshot, samples int) *Shadow {
	return &Shadow{live: live, candidate: candidate, samples: max(samples, 0)}
}

// Check returns the live decision on r, and counts r when the candidate
// decides it differently.
func (sh *Shadow) Check(r check.Request) check.Decision {
	d := decide(sh.live, r)
	var c check.Decision
	if sh.candidate != nil {
		c = sh.candidate.Check(r)
	}
	if c == d {
		return d
	}
	k := [2]check.Decision{d, c}
	v, ok := sh.changes.Load(k)
	if !ok {
		v, _ = sh.changes.LoadOrStore(k, new(change))
	}
	ch := v.(*change)
	ch.n.Add(1) // before sampling, so that a Count is never below its sample's length
	if !ch.full.Load() && ch.mu.TryLock() {
		// TryLock: a sample is a sample, and the live request must not
		// queue behind other requests for it.
		ch.add(rangeset.Canonical(r.Addr), sh.samples)
		ch.mu.Unlock()
	}
	return d
}

// add adds a to the sample unless it is there already or the sample holds
// n addresses. The caller holds ch.mu.
func (ch *change) add(a netip.Addr, n int) {
	if len(ch.sample) < n && !slices.Contains(ch.sample, a) {
		ch.sample = append(ch.sample, a)
	}
	if len(ch.sample) >= n {
		ch.full.Store(true)
	}
}

// Changes returns copies of the changes counted so far, the most frequent
// first; at equal counts, ordered by the live rule, the candidate rule, then
// the decisions' outcomes and reasons. Under concurrent traffic each count
// is read at its own moment.
func (sh *Shadow) Changes() []ShadowChange {
	var out []ShadowChange
	sh.changes.Range(func(k, v any) bool {
		ds, ch := k.([2]check.Decision), v.(*change)
		c := ShadowChange{Live: ds[0], Candidate: ds[1]}
		ch.mu.Lock()
		c.Sample = slices.Clone(ch.sample)
		ch.mu.Unlock()
		// Read after the sample, so that it covers it; 0 is a change
		// created and not yet counted.
		c.Count = ch.n.Load()
		if c.Count > 0 {
			out = append(out, c)
		}
		return true
	})
	slices.SortFunc(out, func(a, b ShadowChange) int {
		return cmp.Or(
			cmp.Compare(b.Count, a.Count),
			cmp.Compare(a.Live.Rule, b.Live.Rule),
			cmp.Compare(a.Candidate.Rule, b.Candidate.Rule),
			compareDecision(a.Live, b.Live),
			compareDecision(a.Candidate, b.Candidate),
		)
	})
	return out
}

func compareDecision(a, b check.Decision) int {
	return cmp.Or(cmp.Compare(a.Reason, b.Reason), boolCompare(a.Allowed, b.Allowed))
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// Hits serves a decider's decisions and counts, per rule, the requests
// the rule decided, with the latest instant it decided one, for pruning
// rules nobody hits. Requests decided by no rule (a default, a disabled
// policy, an exemption, an invalid address) are not counted.
//
// A hit is stamped with the request's At or, for a zero At, with a
// reading of the clock at most [HitsOptions.Resolution] old: reading the
// clock can cost more than the decision, so it is read at most once per
// Resolution, by the request that finds the last reading too old, which
// also arms a timer (HitsOptions.AfterFunc) to mark the reading old again
// Resolution later. Its cost per request decided by a rule is then a
// lookup by rule id in a map read without a lock (a rule first seen lately
// takes a mutex until it is merged in), an atomic count and an atomic load
// or two. Memory grows with the number of distinct rule ids that decided a
// request.
//
// A Hits is safe for concurrent use. It starts no goroutine when made and
// needs no closing: while requests come, at most one timer is pending,
// which expires within Resolution (keeping the Hits reachable until then)
// and runs a function that returns at once; while none come, nothing runs.
// The zero Hits has no decider: it denies every request with the zero
// Decision and counts nothing.
type Hits struct {
	d          func(check.Request) check.Decision
	now        func() time.Time
	afterFunc  func(time.Duration, func()) func() bool
	resolution time.Duration

	stats   statMap
	reading atomic.Int64 // the last clock reading, in Unix microseconds
	fresh   atomic.Bool  // reading is less than resolution old; a timer clears it
}

// HitsOptions configure [Hits]. A nil *HitsOptions, and a zero field, mean
// the defaults.
type HitsOptions struct {
	// Now reads the clock, for requests with a zero At; nil means time.Now.
	Now func() time.Time
	// AfterFunc runs f in its own goroutine once d has passed and returns
	// a function that cancels it, as in [check.Options]; nil means
	// time.AfterFunc. Tests inject a fake clock through Now and AfterFunc.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Resolution bounds how old the clock reading a hit is stamped with may
	// be; zero or less means one second.
	Resolution time.Duration
}

type hitStat struct {
	n    atomic.Int64
	last atomic.Int64 // Unix microseconds; set before n is first counted
}

// Hit is the count of one rule.
type Hit struct {
	// Rule is the rule's id.
	Rule string
	// Count is the number of requests the rule decided.
	Count int64
	// Last is the latest instant the rule decided a request at, to the
	// microsecond, in UTC.
	Last time.Time
}

// NewHits returns a Hits serving d's decisions and counting the rules
// that made them. A nil d decides the zero Decision, which denies.
func NewHits(d func(check.Request) check.Decision, opts *HitsOptions) *Hits {
	h := &Hits{d: d, now: time.Now, resolution: time.Second,
		afterFunc: func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }}
	if opts != nil {
		if opts.Now != nil {
			h.now = opts.Now
		}
		if opts.AfterFunc != nil {
			h.afterFunc = opts.AfterFunc
		}
		if opts.Resolution > 0 {
			h.resolution = opts.Resolution
		}
	}
	return h
}

// Check returns d's decision on r, and counts the rule that made it.
func (h *Hits) Check(r check.Request) check.Decision {
	d := decide(h.d, r)
	if d.Rule == "" {
		return d
	}
	st := h.stats.get(d.Rule)
	t := h.instant(r.At)
	for {
		// The latest instant, not the last written: instants given in
		// requests need not come in order. Mostly a load: stamps repeat.
		last := st.last.Load()
		if last >= t || st.last.CompareAndSwap(last, t) {
			break
		}
	}
	st.n.Add(1)
	return d
}

// instant returns the Unix microseconds to stamp a hit at instant at with.
func (h *Hits) instant(at time.Time) int64 {
	if !at.IsZero() {
		return at.UnixMicro()
	}
	if h.fresh.Load() {
		return h.reading.Load()
	}
	// The reading is stored before it is marked fresh, so that whoever
	// sees it fresh sees it. Requests racing here each read the clock,
	// the latest reading is kept (one taken before a preemption must not
	// replace a later one), and only the one that marks it fresh arms the
	// timer.
	t := h.now().UnixMicro()
	for last := h.reading.Load(); last < t && !h.reading.CompareAndSwap(last, t); last = h.reading.Load() {
	}
	if h.fresh.CompareAndSwap(false, true) {
		h.afterFunc(h.resolution, func() { h.fresh.Store(false) })
	}
	return t
}

// Hits returns the counts so far, one per rule that decided a request, by
// rule id. Rules that decided none are left out: compare with
// [check.Snapshot.Rules] to find them.
func (h *Hits) Hits() []Hit {
	var out []Hit
	for id, st := range h.stats.all() {
		if n := st.n.Load(); n > 0 {
			out = append(out, Hit{Rule: id, Count: n, Last: time.UnixMicro(st.last.Load()).UTC()})
		}
	}
	slices.SortFunc(out, func(a, b Hit) int { return cmp.Compare(a.Rule, b.Rule) })
	return out
}

// statMap maps rule ids to their counts: a plain map read without a lock
// (cheaper to look up than a sync.Map), and the ids seen since it was
// built in a second map under a mutex, merged into a new read map once
// lookups there have cost about as much as the copy. Rules are added
// rarely and looked up on every hit.
type statMap struct {
	read   atomic.Pointer[map[string]*hitStat] // never written once stored
	mu     sync.Mutex
	dirty  map[string]*hitStat // ids not in read
	misses int                 // lookups that took mu since read was built
}

func (m *statMap) get(id string) *hitStat {
	if r := m.read.Load(); r != nil {
		if st := (*r)[id]; st != nil {
			return st
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.read.Load()
	if r != nil {
		if st := (*r)[id]; st != nil { // merged meanwhile
			return st
		}
	}
	st := m.dirty[id]
	if st == nil {
		st = new(hitStat)
		st.last.Store(math.MinInt64)
		if m.dirty == nil {
			m.dirty = map[string]*hitStat{}
		}
		m.dirty[id] = st
	}
	// Merging copies every id: wait until as many lookups have taken the
	// lock, so that each costs a constant on average.
	var old map[string]*hitStat
	if r != nil {
		old = *r
	}
	if m.misses++; m.misses >= len(old)+len(m.dirty) {
		merged := make(map[string]*hitStat, len(old)+len(m.dirty))
		maps.Copy(merged, old)
		maps.Copy(merged, m.dirty)
		m.read.Store(&merged)
		m.dirty, m.misses = nil, 0
	}
	return st
}

// all returns every id and its counts.
func (m *statMap) all() iter.Seq2[string, *hitStat] {
	return func(yield func(string, *hitStat) bool) {
		m.mu.Lock()
		dirty := maps.Clone(m.dirty)
		r := m.read.Load()
		m.mu.Unlock()
		if r != nil {
			for id, st := range *r {
				if !yield(id, st) {
					return
				}
			}
		}
		for id, st := range dirty {
			if !yield(id, st) {
				return
			}
		}
	}
}
