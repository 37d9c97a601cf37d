package observe_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/observe"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func rule(id, target string, a policy.Action) policy.Rule {
	return policy.Rule{ID: id, Target: rangeset.MustParseRange(target), Action: a}
}

func compile(t testing.TB, rules ...policy.Rule) *check.Snapshot {
	t.Helper()
	s, err := check.Compile(policy.New(rules...), t0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	corp   = rule("corp", "10.0.0.0/8", policy.Allow)
	lab16  = rule("lab", "10.1.0.0/16", policy.Deny)
	lab17  = rule("lab", "10.1.0.0/17", policy.Deny)
	allow  = check.Decision{Allowed: true, Rule: "corp", Reason: check.ReasonRule}
	deny   = check.Decision{Rule: "lab", Reason: check.ReasonRule}
	addrIn = func(c byte) netip.Addr { return netip.AddrFrom4([4]byte{10, 1, c, 1}) }
)

func TestShadowConcurrent(t *testing.T) {
	t.Parallel()
	live, cand := compile(t, corp, lab16), compile(t, corp, lab17)
	sh := observe.NewShadow(live.Check, cand, 3)
	var want atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for range 2000 {
				req := check.Request{Addr: addrIn(byte(rng.IntN(256)))}
				d := sh.Check(req)
				if d != live.Check(req) {
					t.Errorf("Shadow.Check(%v) = %v, want the live decision %v", req.Addr, d, live.Check(req))
				}
				if d != cand.Check(req) {
					want.Add(1)
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
	if c.Live != deny || c.Candidate != allow || c.Count != want.Load() || want.Load() == 0 {
		t.Errorf("change = %v -> %v counted %d times, want %v -> %v counted %d times",
			c.Live, c.Candidate, c.Count, deny, allow, want.Load())
	}
	if len(c.Sample) == 0 || len(c.Sample) > 3 {
		t.Errorf("sample = %v, want 1 to 3 addresses", c.Sample)
	}
	for i, a := range c.Sample {
		if !a.Is4() || a.As4()[2] < 128 || slices.Contains(c.Sample[:i], a) {
			t.Errorf("sample %v: %v is not a distinct address whose decision changes", c.Sample, a)
		}
	}
}

func TestShadowSamples(t *testing.T) {
	t.Parallel()
	live, cand := compile(t, corp, lab16), compile(t, corp, lab17)
	// Repeats, a mapped and a zoned spelling of one address: the sample
	// keeps distinct canonical addresses, in the order first seen.
	addrs := []netip.Addr{addrIn(200), addrIn(200), netip.MustParseAddr("::ffff:10.1.200.1"), addrIn(201),
		addrIn(7) /* decided alike */, addrIn(202), addrIn(203), addrIn(204)}
	tests := []struct {
		name    string
		samples int
		want    []netip.Addr
	}{
		{"eight", 8, []netip.Addr{addrIn(200), addrIn(201), addrIn(202), addrIn(203), addrIn(204)}},
		{"two", 2, []netip.Addr{addrIn(200), addrIn(201)}},
		{"zero", 0, nil},
		{"negative", -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh := observe.NewShadow(live.Check, cand, tt.samples)
			for _, a := range addrs {
				sh.Check(check.Request{Addr: a})
			}
			want := []observe.ShadowChange{{Live: deny, Candidate: allow, Count: 7, Sample: tt.want}}
			if diff := cmp.Diff(want, sh.Changes(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("Changes() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		sh := observe.NewShadow(live.Check, cand, 8)
		for c := range 20 {
			sh.Check(check.Request{Addr: addrIn(128 + byte(c))})
		}
		if got := sh.Changes()[0]; got.Count != 20 || len(got.Sample) != 8 {
			t.Errorf("after 20 distinct addresses: Count %d, %d samples; want 20 and 8", got.Count, len(got.Sample))
		}
	})
}

func TestShadowChangesSorted(t *testing.T) {
	t.Parallel()
	live := compile(t, rule("a", "192.0.2.0/24", policy.Allow), rule("b", "198.51.100.0/24", policy.Allow),
		rule("c", "203.0.113.0/24", policy.Allow))
	cand := compile(t, rule("a", "192.0.2.0/24", policy.Deny), rule("b", "198.51.100.0/24", policy.Deny),
		rule("x", "203.0.113.0/24", policy.Allow))
	sh := observe.NewShadow(live.Check, cand, 0)
	for _, a := range []string{"203.0.113.1", "198.51.100.1", "192.0.2.1", "203.0.113.1", "198.51.100.1",
		"192.0.2.1", "198.51.100.1", "203.0.113.1", "198.51.100.1", "192.0.2.1", "198.51.100.1"} {
		sh.Check(check.Request{Addr: netip.MustParseAddr(a)})
	}
	ra := func(id string, allowed bool) check.Decision {
		return check.Decision{Allowed: allowed, Rule: id, Reason: check.ReasonRule}
	}
	// a and c tie at 3: the live rule id breaks the tie.
	want := []observe.ShadowChange{
		{Live: ra("b", true), Candidate: ra("b", false), Count: 5},
		{Live: ra("a", true), Candidate: ra("a", false), Count: 3},
		{Live: ra("c", true), Candidate: ra("x", true), Count: 3},
	}
	if diff := cmp.Diff(want, sh.Changes(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Changes() mismatch (-want +got):\n%s", diff)
	}
}

func TestShadowCopies(t *testing.T) {
	t.Parallel()
	sh := observe.NewShadow(compile(t, corp, lab16).Check, compile(t, corp, lab17), 8)
	sh.Check(check.Request{Addr: addrIn(200)})
	got := sh.Changes()
	got[0].Sample[0] = netip.IPv6Unspecified()
	got[0].Count = 99
	if again := sh.Changes(); again[0].Sample[0] != addrIn(200) || again[0].Count != 1 {
		t.Errorf("Changes() after editing its result = %+v: it shares memory", again)
	}
}

func TestShadowNil(t *testing.T) {
	t.Parallel()
	req := check.Request{Addr: addrIn(1)}
	var zero observe.Shadow
	if d := zero.Check(req); d != (check.Decision{}) || len(zero.Changes()) != 0 {
		t.Errorf("zero Shadow: Check = %v, Changes = %v; want the zero Decision and none", d, zero.Changes())
	}
	live := compile(t, corp)
	sh := observe.NewShadow(live.Check, nil, 8) // a nil candidate denies with the zero Decision
	if d := sh.Check(req); d != allow {
		t.Errorf("Check = %v, want the live %v", d, allow)
	}
	want := []observe.ShadowChange{{Live: allow, Count: 1, Sample: []netip.Addr{addrIn(1)}}}
	if diff := cmp.Diff(want, sh.Changes(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("Changes() mismatch (-want +got):\n%s", diff)
	}
}

func TestHits(t *testing.T) {
	t.Parallel()
	s := compile(t, corp, lab16)
	h := observe.NewHits(s.Check, &observe.HitsOptions{Now: func() time.Time { return t0 }})
	for i := range 30 {
		h.Check(check.Request{Addr: netip.AddrFrom4([4]byte{10, byte(i % 3), 0, 1})})
	}
	h.Check(check.Request{Addr: netip.MustParseAddr("192.0.2.1")}) // the default: no rule
	h.Check(check.Request{})                                       // invalid: no rule
	// Instants given in requests stamp the hit; the latest one is kept.
	h.Check(check.Request{Addr: addrIn(1), At: t0.Add(time.Hour)})
	h.Check(check.Request{Addr: addrIn(1), At: t0.Add(time.Minute)})
	h.Check(check.Request{Addr: addrIn(1), At: t0.Add(-time.Hour)}) // before the compile instant: still decided
	want := []observe.Hit{{Rule: "corp", Count: 20, Last: t0}, {Rule: "lab", Count: 13, Last: t0.Add(time.Hour)}}
	if diff := cmp.Diff(want, h.Hits()); diff != "" {
		t.Errorf("Hits() mismatch (-want +got):\n%s", diff)
	}
	var zero observe.Hits
	if d := zero.Check(check.Request{Addr: addrIn(1)}); d != (check.Decision{}) || len(zero.Hits()) != 0 {
		t.Errorf("zero Hits: Check = %v, Hits = %v; want the zero Decision and none", d, zero.Hits())
	}
}

// fakeClock is a clock whose timers run only when advanced.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	reads  int
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timers = append(c.timers, fakeTimer{c.now.Add(d), f})
	return func() bool { panic("Hits stops no timer") }
}

// advance moves the clock on by d and runs the timers due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	c.timers = slices.DeleteFunc(c.timers, func(t fakeTimer) bool {
		if !t.at.After(c.now) {
			due = append(due, t.f)
			return true
		}
		return false
	})
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

func (c *fakeClock) state() (reads, pending int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads, len(c.timers)
}

func TestHitsClock(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: t0}
	h := observe.NewHits(compile(t, corp).Check, &observe.HitsOptions{Now: clk.Now, AfterFunc: clk.AfterFunc,
		Resolution: 10 * time.Second})
	hit := func() time.Time {
		t.Helper()
		h.Check(check.Request{Addr: addrIn(1)})
		return h.Hits()[0].Last
	}
	steps := []struct {
		advance     time.Duration
		wantLast    time.Time
		reads, pend int
	}{
		{0, t0, 1, 1},                                 // the first hit reads the clock and arms a timer
		{4 * time.Second, t0, 1, 1},                   // within the resolution: the reading is reused
		{5 * time.Second, t0, 1, 1},                   // still
		{time.Second, t0.Add(10 * time.Second), 2, 1}, // the timer ran: the next hit reads again
		{time.Hour, t0.Add(time.Hour + 10*time.Second), 3, 1},
	}
	for i, st := range steps {
		clk.advance(st.advance)
		last := hit()
		reads, pend := clk.state()
		if !last.Equal(st.wantLast) || reads != st.reads || pend != st.pend {
			t.Errorf("step %d: Last %v, %d clock reads, %d timers pending; want %v, %d, %d",
				i, last, reads, pend, st.wantLast, st.reads, st.pend)
		}
	}
	// Requests with an instant stamp it and read no clock.
	h.Check(check.Request{Addr: addrIn(1), At: t0.Add(48 * time.Hour)})
	if reads, _ := clk.state(); reads != 3 || !h.Hits()[0].Last.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("a request with At: %d clock reads, Last %v; want 3 and its At", reads, h.Hits()[0].Last)
	}
	// Idle: the timer runs and none is armed again until a hit comes.
	clk.advance(time.Hour)
	if _, pend := clk.state(); pend != 0 {
		t.Errorf("idle: %d timers pending, want 0", pend)
	}
}

// TestHitsStaleReading: a request that read the clock and was then
// preempted, while another read it later and marked the reading fresh,
// must not put its older reading in place for the hits that follow.
func TestHitsStaleReading(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	later := make(chan struct{})
	now := func() time.Time {
		if calls.Add(1) == 1 {
			<-later // read t0, then wait while another request reads later
			return t0
		}
		return t0.Add(10 * time.Second)
	}
	h := observe.NewHits(compile(t, corp, lab16).Check, &observe.HitsOptions{Now: now, Resolution: time.Minute,
		AfterFunc: func(time.Duration, func()) func() bool { return func() bool { return true } }})
	outsideLab := netip.MustParseAddr("10.2.0.1")
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Check(check.Request{Addr: outsideLab})
	}()
	for calls.Load() == 0 {
		runtime.Gosched()
	}
	h.Check(check.Request{Addr: outsideLab}) // reads t0+10s, marks it fresh
	close(later)
	<-done
	h.Check(check.Request{Addr: addrIn(3)}) // another rule, within the fresh reading
	hits := h.Hits()
	if len(hits) != 2 || hits[1].Rule != "lab" || !hits[1].Last.Equal(t0.Add(10*time.Second)) {
		t.Errorf("hits %+v; want lab's Last at t0+10s, the latest reading", hits)
	}
}

func TestHitsConcurrent(t *testing.T) {
	t.Parallel()
	const nrules, workers, passes = 1000, 4, 3
	var rules []policy.Rule
	for i := range nrules {
		rules = append(rules, rule(fmt.Sprint("r", i), fmt.Sprintf("10.%d.%d.0/24", i/256, i%256), policy.Allow))
	}
	h := observe.NewHits(compile(t, rules...).Check, &observe.HitsOptions{Resolution: time.Millisecond})
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker meets the rules in an order of its own, so that
			// new rules keep coming while others are counted.
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for p := range passes {
				for k, i := range rng.Perm(nrules) {
					r := check.Request{Addr: netip.AddrFrom4([4]byte{10, byte(i / 256), byte(i % 256), byte(g)})}
					if (p+k)%2 == 0 && p < passes-1 { // instants long before the clock's readings
						r.At = time.Date(2000, 1, 1, 0, 0, k, 0, time.UTC)
					}
					h.Check(r)
					if k%250 == 0 {
						h.Hits() // readers beside writers
					}
				}
			}
		}()
	}
	wg.Wait()
	got := h.Hits()
	if len(got) != nrules {
		t.Fatalf("Hits() = %d rules, want %d", len(got), nrules)
	}
	start := time.Now()
	for _, hit := range got {
		// Every rule is hit workers*passes times, the latest at a recent
		// reading of the clock.
		if hit.Count != workers*passes || hit.Last.After(start) || hit.Last.Before(start.Add(-time.Minute)) {
			t.Errorf("%+v: want %d hits, the last within a minute before %v", hit, workers*passes, start)
		}
	}
}

// TestNoGoroutine pins the lifetime: making an observer starts no
// goroutine, and neither does using one.
func TestNoGoroutine(t *testing.T) { // not parallel: it counts goroutines
	s := compile(t, corp)
	before := runtime.NumGoroutine()
	h := observe.NewHits(s.Check, nil)
	sh := observe.NewShadow(h.Check, s, 8)
	for range 100 {
		sh.Check(check.Request{Addr: addrIn(1)})
	}
	// A timer of another test may run for an instant: only a goroutine
	// that stays counts.
	n := runtime.NumGoroutine()
	for i := 0; n > before && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	if n > before {
		t.Errorf("NumGoroutine() = %d after making and using a Hits and a Shadow, want at most %d as before", n, before)
	}
	if got := h.Hits(); len(got) != 1 || got[0].Count != 100 {
		t.Errorf("Hits() = %+v, want corp hit 100 times", got)
	}
}

// BenchmarkHits states the cost of Hits (and of Shadow, with a candidate
// that flips 1% of the rules) beside a bare Snapshot.Check on the same
// requests.
func BenchmarkHits(b *testing.B) {
	rng := rand.New(rand.NewPCG(100, 42))
	p := policy.New()
	for i := range 100_000 {
		a := netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), 0})
		bits := []int{24, 24, 22, 20, 16}[rng.IntN(5)]
		p.Rules = append(p.Rules, policy.Rule{ID: fmt.Sprint("r", i),
			Target: rangeset.PrefixRange(netip.PrefixFrom(a, bits).Masked()), Action: policy.Action(1 + rng.IntN(2))})
	}
	s, err := check.Compile(p, t0)
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([]check.Request, 1024) // half inside a rule
	for i := range reqs {
		a := netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), 1})
		if i%2 == 0 {
			a = p.Rules[rng.IntN(len(p.Rules))].Target.From()
		}
		reqs[i] = check.Request{Addr: a}
	}
	q := p.Clone()
	for i := range q.Rules[:1000] {
		q.Rules[i].Action = policy.Allow + policy.Deny - q.Rules[i].Action
	}
	cand, err := check.Compile(q, t0)
	if err != nil {
		b.Fatal(err)
	}
	hits, shadow := observe.NewHits(s.Check, nil), observe.NewShadow(s.Check, cand, 8)
	// hits+now reads the clock on every hit besides: what stamping each hit
	// with its own reading would cost.
	hitsNow := observe.NewHits(func(r check.Request) check.Decision {
		d := s.Check(r)
		if d.Rule != "" {
			_ = time.Now()
		}
		return d
	}, nil)
	for range 4 { // the rule ids and changes are seen before timing
		for _, r := range reqs {
			hits.Check(r)
			hitsNow.Check(r)
			shadow.Check(r)
		}
	}
	for _, impl := range []struct {
		name string
		f    func(check.Request) check.Decision
	}{
		{"snapshot", s.Check},
		{"hits", hits.Check},
		{"hits+now", hitsNow.Check},
		{"shadow", shadow.Check},
	} {
		b.Run("rules=100k/impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				impl.f(reqs[i&1023])
			}
		})
		b.Run("rules=100k/impl="+impl.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					impl.f(reqs[i&1023])
				}
			})
		})
	}
}

// TestNoAllocs pins that observing allocates nothing per request once a
// rule or a change has been seen.
func TestNoAllocs(t *testing.T) {
	live, cand := compile(t, corp, lab16), compile(t, corp, lab17)
	sh := observe.NewShadow(live.Check, cand, 1)
	clk := &fakeClock{now: t0}
	h := observe.NewHits(sh.Check, &observe.HitsOptions{Now: clk.Now, AfterFunc: clk.AfterFunc})
	changed, alike := check.Request{Addr: addrIn(200)}, check.Request{Addr: addrIn(2)}
	h.Check(changed)
	h.Check(alike)
	for _, r := range []check.Request{changed, alike, {Addr: addrIn(201), At: t0}} {
		if n := testing.AllocsPerRun(100, func() { h.Check(r) }); n != 0 {
			t.Errorf("Hits over Shadow: Check(%v) allocates %v times, want 0", r.Addr, n)
		}
	}
}
