package check_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

// eventually polls cond until it holds or 10 seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

var probe = check.Request{Addr: netip.MustParseAddr("10.1.2.3")}

func TestFollowMemstore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memstore.New(nil)
	if _, err := check.Follow(ctx, st, "tenant", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Follow(absent policy) = %v, want ErrNotFound", err)
	}
	rev, err := st.Put(ctx, "tenant", policy.New(rule("office", "10.0.0.0/8", policy.Allow)), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	c, err := check.Follow(ctx, st, "tenant", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d := c.Check(probe); !d.Allowed || c.Status().Revision != rev {
		t.Fatalf("Check = %v, status %+v", d, c.Status())
	}
	_, rev2, err := st.CreateRule(ctx, "tenant", rule("lab", "10.1.0.0/16", policy.Deny), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new rule", func() bool { return c.Check(probe).Rule == "lab" })
	if s := c.Status(); s.Revision != rev2 || s.Err != nil {
		t.Errorf("Status() = %+v, want revision %d", s, rev2)
	}
	// Many quick writes: the checker ends on the last one.
	for i := range 50 {
		a := policy.Allow
		if i%2 == 1 {
			a = policy.Deny
		}
		if _, _, err := st.UpdateRule(ctx, "tenant", rule("lab", "10.1.0.0/16", a), store.Any); err != nil {
			t.Fatal(err)
		}
	}
	_, last, _ := st.Load(ctx, "tenant")
	eventually(t, "the last revision", func() bool { return c.Status().Revision == last })
	if d := c.Check(probe); d.Allowed {
		t.Errorf("after the last write (deny): %v", d)
	}
}

// fakeStore serves whatever the test sets, and notifies on demand.
type fakeStore struct {
	mu  sync.Mutex
	p   policy.Policy
	rev store.Revision
	err error
	ch  chan struct{}
}

func (f *fakeStore) Load(context.Context, string) (policy.Policy, store.Revision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.p.Clone(), f.rev, f.err
}

func (f *fakeStore) Watch(context.Context, string) (<-chan struct{}, error) { return f.ch, nil }

func (f *fakeStore) set(p policy.Policy, rev store.Revision, err error) {
	f.mu.Lock()
	f.p, f.rev, f.err = p, rev, err
	f.mu.Unlock()
	f.ch <- struct{}{}
}

func TestFollowKeepsLastGood(t *testing.T) {
	t.Parallel()
	good := policy.New(rule("office", "10.0.0.0/8", policy.Allow))
	fs := &fakeStore{p: good, rev: 5, ch: make(chan struct{})}
	errs := make(chan error, 10)
	c, err := check.Follow(t.Context(), fs, "p", &check.Options{OnError: func(err error) { errs <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	fs.set(policy.Policy{}, 0, errors.New("connection refused"))
	if err := <-errs; err == nil || c.Status().Err == nil || c.Status().ErrSince.IsZero() {
		t.Errorf("unreachable store: OnError %v, status %+v", err, c.Status())
	}
	if d := c.Check(probe); d.Rule != "office" {
		t.Errorf("while unreachable: %v, want the last good snapshot", d)
	}

	// The store comes back with a new revision but announces nothing: the
	// follower retries on its own.
	fs.mu.Lock()
	fs.p, fs.rev, fs.err = good, 5, nil
	fs.mu.Unlock()
	eventually(t, "the retry after the store came back", func() bool { return c.Status().Err == nil })

	fs.set(policy.New(rule("", "10.0.0.0/8", policy.Deny)), 6, nil)
	if err := <-errs; !errors.Is(err, policy.ErrEmptyID) {
		t.Errorf("invalid policy: OnError %v", err)
	}
	if d := c.Check(probe); d.Rule != "office" || c.Status().Revision != 5 {
		t.Errorf("after an invalid policy: %v, status %+v", d, c.Status())
	}

	fs.set(policy.New(rule("older", "10.0.0.0/8", policy.Deny)), 4, nil)
	fs.set(policy.New(rule("newer", "10.0.0.0/8", policy.Deny)), 7, nil)
	eventually(t, "revision 7", func() bool { return c.Status().Revision == 7 })
	if d := c.Check(probe); d.Rule != "newer" || c.Status().Err != nil {
		t.Errorf("after revision 7: %v, status %+v", d, c.Status())
	}
	fs.set(policy.New(rule("older", "10.0.0.0/8", policy.Deny)), 6, nil)
	fs.set(policy.New(rule("newer", "10.0.0.0/8", policy.Deny)), 7, nil) // a barrier: the older one was handled
	if d := c.Check(probe); d.Rule != "newer" || c.Status().Revision != 7 {
		t.Errorf("an older revision was published: %v, status %+v", d, c.Status())
	}
}

func TestFollowStartErrors(t *testing.T) {
	t.Parallel()
	fs := &fakeStore{err: errors.New("no route to host"), ch: make(chan struct{})}
	if c, err := check.Follow(t.Context(), fs, "p", nil); err == nil || c != nil {
		t.Errorf("Follow(unreachable) = %v, %v; want an error and no checker", c, err)
	}
	fs.err = nil
	fs.p, fs.rev = policy.New(rule("a", "10.0.0.1", 0)), 1
	if _, err := check.Follow(t.Context(), fs, "p", nil); !errors.Is(err, policy.ErrAction) {
		t.Errorf("Follow(invalid policy) = %v", err)
	}
}

// pollStore hides the Watch method of a memstore.
type pollStore struct{ st *memstore.Store }

func (p pollStore) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	return p.st.Load(ctx, name)
}

func TestFollowPolls(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memstore.New(nil)
	st.Put(ctx, "p", policy.New(rule("office", "10.0.0.0/8", policy.Allow)), store.Any)
	c, err := check.Follow(ctx, pollStore{st}, "p", &check.Options{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st.CreateRule(ctx, "p", rule("lab", "10.1.0.0/16", policy.Deny), store.Any)
	eventually(t, "the polled change", func() bool { return c.Check(probe).Rule == "lab" })
	c.Close()
	st.DeleteRule(ctx, "p", "lab", store.Any)
	time.Sleep(30 * time.Millisecond)
	if c.Check(probe).Rule != "lab" {
		t.Error("a closed checker kept following")
	}
}
