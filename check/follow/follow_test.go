package follow_test

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

func rule(id, target string, a policy.Action) policy.Rule {
	return policy.Rule{ID: id, Target: rangeset.MustParseRange(target), Action: a}
}

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

// wait is Follower.Wait with a deadline of 10 seconds.
func wait(t *testing.T, f *follow.Follower, rev store.Revision) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := f.Wait(ctx, rev); err != nil {
		t.Fatalf("Wait(%d) = %v (status %+v)", rev, err, f.Status())
	}
}

// nextErr returns the next error reported to OnError, failing after 5
// seconds.
func nextErr(t *testing.T, errs <-chan error) error {
	t.Helper()
	select {
	case err := <-errs:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("no error was reported")
		return nil
	}
}

var probe = check.Request{Addr: netip.MustParseAddr("10.1.2.3")}

func TestFollowMemstore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memstore.New(nil)
	if _, err := follow.Follow(ctx, st, "tenant", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Follow(absent policy) = %v, want ErrNotFound", err)
	}
	rev, err := st.Put(ctx, "tenant", policy.New(rule("office", "10.0.0.0/8", policy.Allow)), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	f, err := follow.Follow(ctx, st, "tenant", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if d := f.Check(probe); !d.Allowed || f.Status().Revision != rev {
		t.Fatalf("Check = %v, status %+v", d, f.Status())
	}
	// An edit through the store is served once Wait returns.
	_, rev2, err := st.CreateRule(ctx, "tenant", rule("lab", "10.1.0.0/16", policy.Deny), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, f, rev2)
	if d := f.Check(probe); d.Rule != "lab" {
		t.Errorf("after Wait(%d): %v, want rule lab", rev2, d)
	}
	if s := f.Status(); s.Revision != rev2 || s.Err != nil || s.CompiledAt.IsZero() {
		t.Errorf("Status() = %+v, want revision %d", s, rev2)
	}
	if n := f.Snapshot().Len(); n != 2 {
		t.Errorf("Snapshot().Len() = %d, want 2", n)
	}
	// Many quick writes: the follower ends on the last one.
	var last store.Revision
	for i := range 50 {
		a := policy.Allow
		if i%2 == 1 {
			a = policy.Deny
		}
		if _, last, err = st.UpdateRule(ctx, "tenant", rule("lab", "10.1.0.0/16", a), store.Any); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, f, last)
	if d := f.Check(probe); d.Allowed || f.Status().Revision != last {
		t.Errorf("after the last write (deny): %v, status %+v", d, f.Status())
	}
}

// TestNoEditMethods pins the fix of the footgun where an edit of a
// following checker was served, then dropped by the next revision: a
// Follower offers no way to edit what it serves.
func TestNoEditMethods(t *testing.T) {
	typ := reflect.TypeOf(&follow.Follower{})
	for i := range typ.NumMethod() {
		switch m := typ.Method(i).Name; m {
		case "Check", "Snapshot", "Status", "Wait", "Close", "Reload":
		default:
			t.Errorf("Follower has a method %s: a follower must not edit the policy it serves", m)
		}
	}
	for _, m := range []string{"Put", "Delete", "Update"} {
		if _, ok := typ.MethodByName(m); ok {
			t.Errorf("Follower has a method %s", m)
		}
	}
}

func TestCheckNoAllocs(t *testing.T) {
	st := memstore.New(nil)
	st.Put(t.Context(), "p", policy.New(rule("office", "10.0.0.0/8", policy.Allow)), store.Any)
	f, err := follow.Follow(t.Context(), st, "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := testing.AllocsPerRun(100, func() { f.Check(probe) }); n != 0 {
		t.Errorf("Follower.Check allocates %v times", n)
	}
}

func TestZeroFollower(t *testing.T) {
	var f follow.Follower
	if d := f.Check(probe); d != (check.Decision{}) {
		t.Errorf("zero Follower: Check = %v, want the zero Decision", d)
	}
	if f.Snapshot() != nil || f.Status() != (follow.Status{}) {
		t.Errorf("zero Follower: Snapshot %v, Status %+v", f.Snapshot(), f.Status())
	}
	if err := f.Wait(t.Context(), 1); !errors.Is(err, check.ErrClosed) {
		t.Errorf("zero Follower: Wait = %v, want ErrClosed", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("zero Follower: Close = %v", err)
	}
}

// fakeStore serves whatever the test sets. Its watch channels are
// unbuffered, so that a notification sent is one the follower received,
// after it had handled the one before.
type fakeStore struct {
	mu       sync.Mutex
	p        policy.Policy
	rev      store.Revision
	loadErr  error
	watchErr error
	ch       chan struct{}
	loads    int
	watches  int
	// closeWatches makes every watch end as soon as it starts.
	closeWatches bool
}

func (f *fakeStore) Load(context.Context, string) (policy.Policy, store.Revision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	if f.loadErr != nil {
		return policy.Policy{}, 0, f.loadErr
	}
	return f.p.Clone(), f.rev, nil
}

func (f *fakeStore) Watch(ctx context.Context, _ string) (<-chan struct{}, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watches++
	if f.watchErr != nil {
		return nil, f.watchErr
	}
	ch := make(chan struct{})
	if f.closeWatches {
		close(ch)
		return ch, nil
	}
	f.ch = ch
	return ch, nil
}

// set changes what Load returns.
func (f *fakeStore) set(p policy.Policy, rev store.Revision, loadErr error) {
	f.mu.Lock()
	f.p, f.rev, f.loadErr = p, rev, loadErr
	f.mu.Unlock()
}

// notify announces a change and returns once the follower received it.
func (f *fakeStore) notify(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	ch := f.ch
	f.mu.Unlock()
	select {
	case ch <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("the follower does not receive notifications")
	}
}

// endWatch closes the watch channel, as a store that lost its connection
// does, and makes the next Watch fail with err.
func (f *fakeStore) endWatch(err error) {
	f.mu.Lock()
	close(f.ch)
	f.ch, f.watchErr = nil, err
	f.mu.Unlock()
}

func (f *fakeStore) counts() (loads, watches int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loads, f.watches
}

func TestFollowKeepsLastGood(t *testing.T) {
	t.Parallel()
	good := policy.New(rule("office", "10.0.0.0/8", policy.Allow))
	fs := &fakeStore{p: good, rev: 5}
	errs := make(chan error, 10)
	f, err := follow.Follow(t.Context(), fs, "p", &follow.Options{OnError: func(err error) { errs <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	fs.set(policy.Policy{}, 0, errors.New("connection refused"))
	fs.notify(t)
	if err := nextErr(t, errs); !strings.Contains(err.Error(), "connection refused") || f.Status().Err == nil || f.Status().ErrSince.IsZero() {
		t.Errorf("unreachable store: OnError %v, status %+v", err, f.Status())
	}
	if d := f.Check(probe); d.Rule != "office" {
		t.Errorf("while unreachable: %v, want the last good snapshot", d)
	}

	// The store comes back but announces nothing: the follower retries on
	// its own.
	fs.set(good, 5, nil)
	eventually(t, "the retry after the store came back", func() bool { return f.Status().Err == nil })
	for len(errs) > 0 { // the retries before it failed too
		<-errs
	}

	fs.set(policy.New(rule("", "10.0.0.0/8", policy.Deny)), 6, nil)
	fs.notify(t)
	var re *policy.RuleError
	if err := nextErr(t, errs); !errors.As(err, &re) || re.Err.Error() != "empty id" || !strings.Contains(err.Error(), "revision 6") {
		t.Errorf("invalid policy: OnError %v", err)
	}
	if d := f.Check(probe); d.Rule != "office" || f.Status().Revision != 5 {
		t.Errorf("after an invalid policy: %v, status %+v", d, f.Status())
	}

	fs.set(policy.New(rule("newer", "10.0.0.0/8", policy.Deny)), 7, nil)
	fs.notify(t)
	wait(t, f, 7)
	if d := f.Check(probe); d.Rule != "newer" || f.Status().Err != nil {
		t.Errorf("after revision 7: %v, status %+v", d, f.Status())
	}
}

// TestRevisionBackwards: a store that answers with a revision not newer
// than the one served but with other content has lost its revisions (a
// file store's revision file restored from a backup); the follower keeps
// what it serves and says so, naming the policy and both revisions.
func TestRevisionBackwards(t *testing.T) {
	t.Parallel()
	served := policy.New(rule("office", "10.0.0.0/8", policy.Allow), rule("printer", "10.9.0.1", policy.Allow))
	fs := &fakeStore{p: served, rev: 5}
	errs := make(chan error, 10)
	f, err := follow.Follow(t.Context(), fs, "acme", &follow.Options{OnError: func(err error) { errs <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	ban := policy.New(rule("office", "10.0.0.0/8", policy.Allow), rule("ban", "10.1.0.0/16", policy.Deny))
	for _, rev := range []store.Revision{3, 5} {
		fs.set(ban, rev, nil)
		fs.notify(t)
		err := nextErr(t, errs)
		for _, want := range []string{`"acme"`, "revision " + strconv.FormatUint(uint64(rev), 10), "revision 5"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("revision %d with other content: OnError %q does not say %s", rev, err, want)
			}
		}
		if s := f.Status(); s.Err == nil || s.Revision != 5 {
			t.Errorf("revision %d with other content: status %+v, want the error at revision 5", rev, s)
		}
		if d := f.Check(probe); d.Rule != "office" {
			t.Errorf("revision %d with other content was published: %v", rev, d)
		}
	}
	lower := served
	lower.Settings.Enabled = false
	fs.set(lower, 4, nil)
	fs.notify(t)
	if err := nextErr(t, errs); !strings.Contains(err.Error(), "revision 4") {
		t.Errorf("other settings: OnError %v", err)
	}

	// The same content at a lower revision, its rules in another order:
	// a replica lagging behind, ignored silently.
	same := policy.New(served.Rules[1], served.Rules[0])
	fs.set(same, 4, nil)
	fs.notify(t)
	fs.notify(t) // a barrier: the reload of revision 4 is over
	select {
	case err := <-errs:
		t.Errorf("a lagging replica was reported: %v", err)
	default:
	}
	if s := f.Status(); s.Err != nil || s.Revision != 5 {
		t.Errorf("after a lagging replica: status %+v", s)
	}

	// Following resumes above the revision served.
	fs.set(ban, 6, nil)
	fs.notify(t)
	wait(t, f, 6)
	if d := f.Check(probe); d.Rule != "ban" {
		t.Errorf("revision 6: %v, want rule ban", d)
	}
}

// TestOutage: a follower that cannot watch or load says so at once (not
// after a poll interval, which is an hour here), keeps serving, and
// recovers on its own.
func TestOutage(t *testing.T) {
	t.Parallel()
	good := policy.New(rule("office", "10.0.0.0/8", policy.Allow))
	fs := &fakeStore{p: good, rev: 1}
	errs := make(chan error, 100)
	f, err := follow.Follow(t.Context(), fs, "p", &follow.Options{PollInterval: time.Hour, OnError: func(err error) { errs <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	down := errors.New("connection refused")
	start := time.Now()
	fs.set(good, 1, down)
	fs.endWatch(down)
	if err := nextErr(t, errs); !strings.Contains(err.Error(), "ended the watch") {
		t.Errorf("the watch ended: OnError %v", err)
	}
	if s := f.Status(); s.Err == nil || s.ErrSince.IsZero() {
		t.Errorf("the watch ended: status %+v, want an error", s)
	}
	// The retry watches again and loads: both fail, both are reported.
	for _, want := range []string{"loading \"p\": connection refused", "watching \"p\": connection refused"} {
		if err := nextErr(t, errs); !strings.Contains(err.Error(), want) {
			t.Errorf("during the outage: OnError %v, want %s", err, want)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the outage was reported after %v", d)
	}
	if d := f.Check(probe); d.Rule != "office" {
		t.Errorf("during the outage: %v, want the last good snapshot", d)
	}

	// Recovery: the store is back, with a change made during the outage.
	fs.mu.Lock()
	fs.p, fs.rev, fs.loadErr, fs.watchErr = policy.New(rule("lab", "10.1.0.0/16", policy.Deny)), 2, nil, nil
	fs.mu.Unlock()
	wait(t, f, 2)
	eventually(t, "the error to clear", func() bool { return f.Status().Err == nil })
	if d := f.Check(probe); d.Rule != "lab" {
		t.Errorf("after the outage: %v, want rule lab", d)
	}
	if s := f.Status(); !s.ErrSince.IsZero() {
		t.Errorf("after the outage: status %+v", s)
	}
	fs.notify(t) // watching again
}

// TestPollOutage: a polled store that cannot be loaded is reported at the
// next poll, and recovers.
func TestPollOutage(t *testing.T) {
	t.Parallel()
	fs := &fakeStore{p: policy.New(rule("office", "10.0.0.0/8", policy.Allow)), rev: 1}
	errs := make(chan error, 100)
	f, err := follow.Follow(t.Context(), pollStore{fs}, "p", &follow.Options{PollInterval: 10 * time.Millisecond, OnError: func(err error) { errs <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs.set(policy.Policy{}, 0, errors.New("no route to host"))
	if err := nextErr(t, errs); !strings.Contains(err.Error(), "no route to host") || f.Status().Err == nil {
		t.Errorf("polled store down: OnError %v, status %+v", err, f.Status())
	}
	fs.set(policy.New(rule("lab", "10.1.0.0/16", policy.Deny)), 2, nil)
	wait(t, f, 2)
	eventually(t, "the error to clear", func() bool { return f.Status().Err == nil })
}

// TestBackoff: a store down for good is retried at a bounded rate, not in
// a busy loop, and a watch that ends as soon as it starts is not rewatched
// in one either.
func TestBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		down func(fs *fakeStore)
	}{
		{"load and watch fail", func(fs *fakeStore) {
			fs.set(policy.Policy{}, 0, errors.New("down"))
			fs.endWatch(errors.New("down"))
		}},
		{"watch ends at once", func(fs *fakeStore) {
			fs.mu.Lock()
			fs.closeWatches = true
			fs.mu.Unlock()
			fs.endWatch(nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := &fakeStore{p: policy.New(rule("office", "10.0.0.0/8", policy.Allow)), rev: 1}
			const poll = 40 * time.Millisecond
			f, err := follow.Follow(t.Context(), fs, "p", &follow.Options{PollInterval: poll, OnError: func(error) {}})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tc.down(fs)
			const span = 400 * time.Millisecond
			time.Sleep(span)
			_, n := fs.counts()
			// Once capped, each wait is at least half the poll interval.
			if max := int(span/(poll/2)) + 3; n > max || n < 3 {
				t.Errorf("%d watches in %v, want 3 to %d", n, span, max)
			}
			if d := f.Check(probe); d.Rule != "office" {
				t.Errorf("the last good snapshot is lost: %v", d)
			}
		})
	}
}

func TestFollowStartErrors(t *testing.T) {
	t.Parallel()
	fs := &fakeStore{loadErr: errors.New("no route to host")}
	if f, err := follow.Follow(t.Context(), fs, "p", nil); err == nil || f != nil || !strings.Contains(err.Error(), `follow.Follow("p")`) {
		t.Errorf("Follow(unreachable) = %v, %v; want an error and no follower", f, err)
	}
	fs = &fakeStore{watchErr: errors.New("too many connections"), p: policy.New(), rev: 1}
	if _, err := follow.Follow(t.Context(), fs, "p", nil); err == nil || !strings.Contains(err.Error(), "too many connections") {
		t.Errorf("Follow(unwatchable) = %v", err)
	}
	fs = &fakeStore{p: policy.New(rule("a", "10.0.0.1", 0)), rev: 1}
	var re *policy.RuleError
	if _, err := follow.Follow(t.Context(), fs, "p", nil); !errors.As(err, &re) || re.ID != "a" || !strings.HasPrefix(re.Err.Error(), "invalid action: ") {
		t.Errorf("Follow(invalid policy) = %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := follow.Follow(ctx, blockingStore{}, "p", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Follow(a store that does not answer) = %v, want DeadlineExceeded", err)
	}
}

// blockingStore answers no Load until ctx ends.
type blockingStore struct{ release chan struct{} }

func (b blockingStore) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	select {
	case <-b.release:
		return policy.New(), 1, nil
	case <-ctx.Done():
		return policy.Policy{}, 0, ctx.Err()
	}
}

// TestFollowOutlivesContext: ctx bounds the start only.
func TestFollowOutlivesContext(t *testing.T) {
	t.Parallel()
	st := memstore.New(nil)
	st.Put(t.Context(), "p", policy.New(rule("office", "10.0.0.0/8", policy.Allow)), store.Any)
	ctx, cancel := context.WithCancel(t.Context())
	f, err := follow.Follow(ctx, st, "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cancel()
	_, rev, err := st.CreateRule(t.Context(), "p", rule("lab", "10.1.0.0/16", policy.Deny), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, f, rev)
	if f.Check(probe).Rule != "lab" {
		t.Error("the follower stopped with the context of its start")
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memstore.New(nil)
	rev, _ := st.Put(ctx, "p", policy.New(rule("office", "10.0.0.0/8", policy.Allow)), store.Any)
	f, err := follow.Follow(ctx, st, "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Wait(ctx, rev); err != nil {
		t.Errorf("Wait(the revision served) = %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := f.Wait(short, rev+1); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `"p"`) {
		t.Errorf("Wait(a revision never written) = %v, want DeadlineExceeded naming the policy", err)
	}

	// Many waiters, each woken by the write that reaches its revision.
	var wg sync.WaitGroup
	var woken atomic.Int32
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := rev + 1 + store.Revision(i%2)
			if err := f.Wait(ctx, want); err != nil {
				t.Errorf("Wait(%d) = %v", want, err)
				return
			}
			if got := f.Status().Revision; got < want {
				t.Errorf("Wait(%d) returned at revision %d", want, got)
			}
			woken.Add(1)
		}()
	}
	for i := range 2 {
		if _, _, err := st.CreateRule(ctx, "p", rule("r"+strconv.Itoa(i), "10.9.0.0/16", policy.Deny), store.Any); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if woken.Load() != 8 {
		t.Errorf("%d waiters woken, want 8", woken.Load())
	}

	// Close wakes a waiter for a revision that will not come.
	done := make(chan error)
	go func() { done <- f.Wait(ctx, rev+100) }()
	time.Sleep(5 * time.Millisecond)
	f.Close()
	select {
	case err := <-done:
		if !errors.Is(err, check.ErrClosed) {
			t.Errorf("Wait across Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake a waiter")
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// pollStore hides the Watch method of a store.
type pollStore struct{ st store.Store }

func (p pollStore) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	return p.st.Load(ctx, name)
}

func TestFollowPolls(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memstore.New(nil)
	st.Put(ctx, "p", policy.New(rule("office", "10.0.0.0/8", policy.Allow)), store.Any)
	f, err := follow.Follow(ctx, pollStore{st}, "p", &follow.Options{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, rev, _ := st.CreateRule(ctx, "p", rule("lab", "10.1.0.0/16", policy.Deny), store.Any)
	wait(t, f, rev)
	if d := f.Check(probe); d.Rule != "lab" {
		t.Errorf("after the polled change: %v", d)
	}
	f.Close()
	st.DeleteRule(ctx, "p", "lab", store.Any)
	time.Sleep(30 * time.Millisecond)
	if f.Check(probe).Rule != "lab" {
		t.Error("a closed follower kept following")
	}
}

// loadSignal is a store that says when a Load has read the policy.
type loadSignal struct {
	st     store.Store
	loaded chan struct{}
}

func (l loadSignal) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	p, rev, err := l.st.Load(ctx, name)
	select {
	case l.loaded <- struct{}{}:
	default:
	}
	return p, rev, err
}

// TestReloadDuringClose closes a follower while a Reload compiles a large
// new revision: Close overtakes it, and neither panics nor reports an
// error after Close (it used to close the waiters' channel twice).
func TestReloadDuringClose(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rules := make([]policy.Rule, 50_000)
	for i := range rules {
		rules[i] = rule("r"+strconv.Itoa(i), netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String(), policy.Deny)
	}
	for range 3 {
		st := memstore.New(nil)
		st.Put(ctx, "p", policy.New(rules[:1]...), store.Any)
		ls := loadSignal{st, make(chan struct{}, 1)}
		var reported atomic.Int32
		closed := atomic.Bool{}
		f, err := follow.Follow(ctx, ls, "p", &follow.Options{PollInterval: time.Hour, OnError: func(error) {
			if closed.Load() {
				reported.Add(1)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		<-ls.loaded
		st.Put(ctx, "p", policy.New(rules...), store.Any)
		done := make(chan error)
		go func() { done <- f.Reload(ctx) }()
		<-ls.loaded // the Reload compiles now
		time.Sleep(time.Millisecond)
		f.Close()
		closed.Store(true)
		if err := <-done; err != nil && !errors.Is(err, check.ErrClosed) {
			t.Errorf("Reload overtaken by Close = %v, want nil or ErrClosed", err)
		}
		if err := f.Reload(ctx); !errors.Is(err, check.ErrClosed) {
			t.Errorf("Reload after Close = %v, want ErrClosed", err)
		}
		if n := reported.Load(); n != 0 {
			t.Errorf("%d errors reported after Close", n)
		}
	}
}

// TestReloadWaitsForContext: Reload gives up waiting for following when
// its context ends.
func TestReloadWaitsForContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	bs := &stuckStore{release: release}
	f, err := follow.Follow(t.Context(), bs, "p", &follow.Options{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	eventually(t, "a poll blocked in Load", func() bool { return bs.blocked.Load() })
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := f.Reload(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Reload while following is stuck = %v, want DeadlineExceeded", err)
	}
}

// stuckStore answers its first Load, then blocks every later one until
// release is closed.
type stuckStore struct {
	release chan struct{}
	calls   atomic.Int32
	blocked atomic.Bool
}

func (g *stuckStore) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	if g.calls.Add(1) == 1 {
		return policy.New(), 1, nil
	}
	g.blocked.Store(true)
	select {
	case <-g.release:
	case <-ctx.Done():
	}
	return policy.Policy{}, 0, errors.New("released")
}

// TestStoreTimeout: a store that stops answering is reported once
// Options.StoreTimeout has passed, not waited for without end.
func TestStoreTimeout(t *testing.T) {
	t.Parallel()
	st := &silentStore{}
	errs := make(chan error, 16)
	f, err := follow.Follow(t.Context(), st, "p", &follow.Options{PollInterval: 10 * time.Millisecond, StoreTimeout: 30 * time.Millisecond,
		OnError: func(err error) {
			select {
			case errs <- err:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = nextErr(t, errs)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "the store did not answer in time") {
		t.Errorf("a store that stopped answering: %v", err)
	}
	if s := f.Status(); s.Err == nil || s.Revision != 1 {
		t.Errorf("Status = %+v, want revision 1 and the error", s)
	}
}

// silentStore answers its first Load, then none until ctx ends.
type silentStore struct{ calls atomic.Int32 }

func (s *silentStore) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	if s.calls.Add(1) == 1 {
		return policy.New(), 1, nil
	}
	<-ctx.Done()
	return policy.Policy{}, 0, ctx.Err()
}
