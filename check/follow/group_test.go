package follow_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

// countingStore counts the watches of each policy.
type countingStore struct {
	memStore
	mu      sync.Mutex
	watches map[string]int
}

func (c *countingStore) Watch(ctx context.Context, name string) (<-chan struct{}, error) {
	c.mu.Lock()
	c.watches[name]++
	c.mu.Unlock()
	return c.memStore.Watch(ctx, name)
}

func newTenants(t *testing.T, n int) *countingStore {
	t.Helper()
	st := memstore.New(nil)
	for i := range n {
		if _, err := st.Put(t.Context(), "t"+strconv.Itoa(i), policy.New(rule("office", "10.0.0.0/8", policy.Allow)), store.Any); err != nil {
			t.Fatal(err)
		}
	}
	return &countingStore{memStore: st.(memStore), watches: map[string]int{}}
}

func TestGroupOneFollowerPerName(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := newTenants(t, 2)
	g := follow.NewGroup(st, nil)
	defer g.Close()
	var wg sync.WaitGroup
	got := make([]*follow.Follower, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := g.Get(ctx, "t"+strconv.Itoa(i%2))
			if err != nil {
				t.Errorf("Get = %v", err)
			}
			got[i] = f
		}()
	}
	wg.Wait()
	for i, f := range got {
		if f == nil || f != got[i%2] {
			t.Fatalf("Get #%d returned another follower", i)
		}
	}
	if got[0] == got[1] {
		t.Fatal("two names share a follower")
	}
	st.mu.Lock()
	if st.watches["t0"] != 1 || st.watches["t1"] != 1 {
		t.Errorf("watches %v, want one per name", st.watches)
	}
	st.mu.Unlock()

	// Each follows its own policy.
	_, rev, err := st.CreateRule(ctx, "t1", rule("lab", "10.1.0.0/16", policy.Deny), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, got[1], rev)
	if a, b := got[0].Check(probe).Rule, got[1].Check(probe).Rule; a != "office" || b != "lab" {
		t.Errorf("decisions %q, %q; want office, lab", a, b)
	}
}

func TestGroupLimit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := newTenants(t, 3)
	g := follow.NewGroup(st, &follow.Options{MaxPolicies: 2})
	defer g.Close()
	if _, err := g.Get(ctx, "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(absent) = %v, want ErrNotFound", err)
	}
	for _, name := range []string{"t0", "t1", "t0"} { // the failed start took no place
		if _, err := g.Get(ctx, name); err != nil {
			t.Fatalf("Get(%q) = %v", name, err)
		}
	}
	_, err := g.Get(ctx, "t2")
	if err == nil || !strings.Contains(err.Error(), "limit of 2 policies") || !strings.Contains(err.Error(), `"t2"`) {
		t.Errorf("Get past the limit = %v, want an error naming the limit and the policy", err)
	}
}

func TestGroupDefaultLimit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("follows 1,000 policies")
	}
	ctx := t.Context()
	st := newTenants(t, 1001)
	g := follow.NewGroup(st, nil)
	defer g.Close()
	for i := range 1000 {
		if _, err := g.Get(ctx, "t"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.Get(ctx, "t1000"); err == nil || !strings.Contains(err.Error(), "limit of 1000") {
		t.Errorf("Get of policy 1001 = %v, want the default limit", err)
	}
}

func TestGroupClose(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := newTenants(t, 2)
	g := follow.NewGroup(st, nil)
	f, err := g.Get(ctx, "t0")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := f.Wait(ctx, 100); !errors.Is(err, check.ErrClosed) {
		t.Errorf("Wait on a follower of a closed group = %v, want ErrClosed", err)
	}
	if f.Check(probe).Rule != "office" {
		t.Error("a follower of a closed group stopped answering")
	}
	if _, err := g.Get(ctx, "t1"); !errors.Is(err, check.ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// gatedStore answers Loads once let through, or when their context ends.
type gatedStore struct {
	gate  chan struct{}
	loads atomic.Int32
}

func (g *gatedStore) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	g.loads.Add(1)
	select {
	case <-g.gate:
		return policy.New(rule("office", "10.0.0.0/8", policy.Allow)), 1, nil
	case <-ctx.Done():
		return policy.Policy{}, 0, ctx.Err()
	}
}

// TestGroupStartContexts: a start is bounded by its caller's context, and
// a Get waiting for it is not failed by that context, only by its own.
func TestGroupStartContexts(t *testing.T) {
	t.Parallel()
	st := &gatedStore{gate: make(chan struct{})}
	g := follow.NewGroup(pollStore{st}, nil)
	defer g.Close()
	first, cancel := context.WithCancel(t.Context())
	firstErr := make(chan error)
	go func() {
		_, err := g.Get(first, "p")
		firstErr <- err
	}()
	eventually(t, "the first start", func() bool { return st.loads.Load() == 1 })
	second := make(chan *follow.Follower)
	go func() {
		f, err := g.Get(t.Context(), "p")
		if err != nil {
			t.Errorf("the second Get = %v", err)
		}
		second <- f
	}()
	time.Sleep(5 * time.Millisecond) // the second Get waits for the first start
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Errorf("the first Get = %v, want Canceled", err)
	}
	eventually(t, "the second start", func() bool { return st.loads.Load() == 2 })
	close(st.gate)
	if f := <-second; f == nil || f.Check(probe).Rule != "office" {
		t.Errorf("the second Get returned %v", f)
	}
}

// TestGroupCloseAbortsStarts: Close does not wait for a store that does
// not answer.
func TestGroupCloseAbortsStarts(t *testing.T) {
	t.Parallel()
	st := &gatedStore{gate: make(chan struct{})}
	g := follow.NewGroup(pollStore{st}, nil)
	done := make(chan error)
	go func() {
		_, err := g.Get(t.Context(), "p")
		done <- err
	}()
	eventually(t, "the start", func() bool { return st.loads.Load() == 1 })
	g.Close()
	select {
	case err := <-done:
		if !errors.Is(err, check.ErrClosed) {
			t.Errorf("Get across Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close left a start waiting")
	}
}

func TestZeroGroup(t *testing.T) {
	var g follow.Group
	if _, err := g.Get(t.Context(), "p"); err == nil {
		t.Error("zero Group: Get succeeded")
	}
	if err := g.Close(); err != nil {
		t.Errorf("zero Group: Close = %v", err)
	}
}

// TestGroupStart: Start follows many names at once, each once, and names
// the ones it could not start.
func TestGroupStart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := newTenants(t, 52)
	g := follow.NewGroup(st, &follow.Options{MaxPolicies: 51})
	defer g.Close()
	var names []string
	for i := range 50 {
		names = append(names, "t"+strconv.Itoa(i), "t"+strconv.Itoa(i)) // twice: one start
	}
	if err := g.Start(ctx, names); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	for _, name := range names {
		if n := st.watches[name]; n != 1 {
			t.Errorf("%s watched %d times, want 1", name, n)
		}
	}
	st.mu.Unlock()
	f, err := g.Get(ctx, "t7")
	if err != nil || f.Status().Revision == 0 {
		t.Fatalf("Get after Start = %v, status %+v", err, f.Status())
	}
	err = g.Start(ctx, []string{"t1", "absent"})
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), `"absent"`) {
		t.Errorf("Start of an absent policy = %v", err)
	}
	err = g.Start(ctx, []string{"t50", "t51"})
	if err == nil || !strings.Contains(err.Error(), "limit of 51") || strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("Start past MaxPolicies = %v, want the limit named", err)
	}
	if err := g.Start(ctx, nil); err != nil {
		t.Errorf("Start(nil) = %v", err)
	}
	g2 := follow.NewGroup(st, nil)
	defer g2.Close()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := g2.Start(cctx, names); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a context ended = %v", err)
	}
}

// TestGroupIdle: with IdleAfter, a follower nobody asks for is closed and
// forgotten, one in use is kept, and a later Get starts it again.
func TestGroupIdle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := newTenants(t, 3)
	// Long enough that a loaded machine still asks for t0 in time.
	const idle = 250 * time.Millisecond
	g := follow.NewGroup(st, &follow.Options{IdleAfter: idle, MaxPolicies: 2})
	defer g.Close()
	if err := g.Start(ctx, []string{"t0", "t1"}); err != nil {
		t.Fatal(err)
	}
	busy, _ := g.Get(ctx, "t0")
	unused, _ := g.Get(ctx, "t1")
	// t0 is asked for all along, t1 never again.
	start := time.Now()
	for time.Since(start) < 3*idle {
		if f, err := g.Get(ctx, "t0"); err != nil || f != busy {
			t.Fatalf("Get(t0) while in use = %p, %v; want the same follower %p", f, err, busy)
		}
		time.Sleep(idle / 25)
	}
	if err := unused.Wait(ctx, 1000); !errors.Is(err, check.ErrClosed) {
		t.Errorf("the idle follower was not closed: Wait = %v", err)
	}
	if d := unused.Check(probe); d.Rule != "office" {
		t.Errorf("a closed follower: %v, want its last snapshot", d)
	}
	// Forgotten: its slot is free for another name, and t1 starts again.
	if _, err := g.Get(ctx, "t2"); err != nil {
		t.Errorf("Get(t2) after t1 was evicted = %v", err)
	}
	eventually(t, "t0 and t2 to go idle", func() bool {
		f, err := g.Get(ctx, "t1")
		return err == nil && f != unused
	})
	st.mu.Lock()
	if n := st.watches["t1"]; n != 2 {
		t.Errorf("t1 watched %d times, want 2 (started again)", n)
	}
	st.mu.Unlock()
	if err := busy.Wait(ctx, 1); err != nil {
		t.Errorf("the busy follower: Wait = %v", err)
	}
}

// TestGroupIdleClose: Close stops the sweep; nothing is swept after it.
func TestGroupIdleClose(t *testing.T) {
	t.Parallel()
	st := newTenants(t, 1)
	g := follow.NewGroup(st, &follow.Options{IdleAfter: time.Millisecond})
	for range 20 {
		if _, err := g.Get(t.Context(), "t0"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond / 2)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := g.Get(t.Context(), "t0"); !errors.Is(err, check.ErrClosed) {
		t.Errorf("Get after Close = %v", err)
	}
}
