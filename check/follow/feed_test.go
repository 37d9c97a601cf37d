package follow_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

// fakeFeed is a fakeStore with a change feed that records what it is
// asked.
type fakeFeed struct {
	*fakeStore
	fmu     sync.Mutex
	log     []store.Change
	keptAt  store.Revision // Changes after a revision below it is ErrGap
	err     error          // returned by Changes when set
	afters  []store.Revision
	applied int            // changes returned
	once    []store.Change // returned first by the next Changes
}

func newFakeFeed(p policy.Policy, rev store.Revision) *fakeFeed {
	return &fakeFeed{fakeStore: &fakeStore{p: p, rev: rev}}
}

func (f *fakeFeed) Changes(_ context.Context, _ string, after store.Revision) ([]store.Change, store.Revision, error) {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	f.afters = append(f.afters, after)
	if f.err != nil {
		return nil, 0, f.err
	}
	if after < f.keptAt {
		return nil, 0, store.ErrGap
	}
	out := f.once
	f.once = nil
	for _, c := range f.log {
		if c.Revision > after {
			out = append(out, c)
		}
	}
	f.applied += len(out)
	f.mu.Lock()
	defer f.mu.Unlock()
	return out, max(f.rev, after), nil
}

// commit makes p the policy at the next revision, recorded as changes,
// and returns that revision.
func (f *fakeFeed) commit(p policy.Policy, changes ...store.Change) store.Revision {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	f.mu.Lock()
	f.rev++
	f.p = p
	rev := f.rev
	f.mu.Unlock()
	for _, c := range changes {
		c.Revision = rev
		f.log = append(f.log, c)
	}
	return rev
}

func (f *fakeFeed) asked() (afters []store.Revision, applied int) {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	return slices.Clone(f.afters), f.applied
}

func put(r policy.Rule) store.Change { return store.Change{Rule: &r} }

func loads(f *fakeFeed) int { n, _ := f.counts(); return n }

// TestFeedApplied: a follower of a Feed applies the changes of each
// revision and never loads the whole policy again.
func TestFeedApplied(t *testing.T) {
	t.Parallel()
	office := rule("office", "10.0.0.0/8", policy.Allow)
	lab := rule("lab", "10.1.0.0/16", policy.Deny)
	fd := newFakeFeed(policy.New(office), 1)
	f, err := follow.Follow(t.Context(), fd, "p", &follow.Options{OnError: func(err error) { t.Errorf("OnError(%v)", err) }})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	rev := fd.commit(policy.New(office, lab), put(lab))
	fd.notify(t)
	wait(t, f, rev)
	if d := f.Check(probe); d.Rule != "lab" {
		t.Errorf("after a put: %v, want rule lab", d)
	}
	rev = fd.commit(policy.New(office), store.Change{Deleted: "lab"})
	fd.notify(t)
	wait(t, f, rev)
	if d := f.Check(probe); d.Rule != "office" {
		t.Errorf("after a delete: %v, want rule office", d)
	}
	// One revision of several changes is applied whole.
	printer := rule("printer", "10.1.2.3", policy.Deny)
	off := policy.DefaultSettings()
	off.Enabled = false
	want := policy.New(printer)
	want.Settings = off
	rev = fd.commit(want, put(printer), store.Change{Deleted: "office"}, store.Change{Settings: &off})
	fd.notify(t)
	wait(t, f, rev)
	snap := f.Snapshot()
	if got := slices.Collect(snap.Rules()); len(got) != 1 || !got[0].Equal(printer) || snap.Settings() != off {
		t.Errorf("after a revision of three changes: rules %v, settings %+v", got, snap.Settings())
	}
	// A revision that changed no rule is served without a change.
	rev = fd.commit(want)
	fd.notify(t)
	wait(t, f, rev)
	// Two revisions announced by one notification.
	on := policy.DefaultSettings()
	fd.commit(policy.Policy{Settings: on, Rules: want.Rules}, store.Change{Settings: &on})
	rev = fd.commit(policy.Policy{Settings: on, Rules: []policy.Rule{printer, office}}, put(office))
	fd.notify(t)
	wait(t, f, rev)
	if d := f.Check(probe); d.Rule != "printer" || f.Snapshot().Len() != 2 || !f.Snapshot().Settings().Enabled {
		t.Errorf("after two revisions: %v, %d rules", d, f.Snapshot().Len())
	}
	if n := loads(fd); n != 1 {
		t.Errorf("%d loads, want the one at the start", n)
	}
	afters, _ := fd.asked()
	if wantAfters := []store.Revision{1, 2, 3, 4, 5}; !slices.Equal(afters, wantAfters) {
		t.Errorf("Changes asked after %v, want %v", afters, wantAfters)
	}

	// Already current: a notification with nothing new changes nothing.
	before := f.Snapshot()
	fd.notify(t)
	fd.notify(t) // a barrier: the first one was handled
	if _, applied := fd.asked(); f.Snapshot() != before || f.Status().Revision != rev || applied != 7 || loads(fd) != 1 {
		t.Errorf("already current: snapshot replaced %v, status %+v, %d changes returned, %d loads", f.Snapshot() != before, f.Status(), applied, loads(fd))
	}

	// Reload loads the whole policy on demand.
	if err := f.Reload(t.Context()); err != nil || loads(fd) != 2 || f.Snapshot() != before {
		t.Errorf("Reload = %v, %d loads, snapshot replaced %v", err, loads(fd), f.Snapshot() != before)
	}
}

// TestFeedFallsBack: a gap in the feed, a change that cannot be applied
// and a revision that went back are each followed by a load of the whole
// policy.
func TestFeedFallsBack(t *testing.T) {
	t.Parallel()
	office := rule("office", "10.0.0.0/8", policy.Allow)
	lab := rule("lab", "10.1.0.0/16", policy.Deny)
	for _, tc := range []struct {
		name string
		edit func(fd *fakeFeed) store.Revision
	}{
		{"gap", func(fd *fakeFeed) store.Revision {
			rev := fd.commit(policy.New(office, lab)) // the change is not kept
			fd.fmu.Lock()
			fd.keptAt = rev
			fd.fmu.Unlock()
			return rev
		}},
		{"delete of an unknown id", func(fd *fakeFeed) store.Revision {
			return fd.commit(policy.New(office, lab), store.Change{Deleted: "nope"})
		}},
		{"invalid rule", func(fd *fakeFeed) store.Revision {
			return fd.commit(policy.New(office, lab), put(rule("", "10.1.0.0/16", policy.Deny)))
		}},
		{"change of a revision served", func(fd *fakeFeed) store.Revision {
			fd.fmu.Lock()
			fd.once = []store.Change{{Revision: 1, Rule: &lab}}
			fd.fmu.Unlock()
			return fd.commit(policy.New(office, lab), put(lab))
		}},
		{"change past the revision returned", func(fd *fakeFeed) store.Revision {
			rev := fd.commit(policy.New(office, lab), put(lab))
			fd.fmu.Lock()
			fd.once = []store.Change{{Revision: rev + 1, Rule: &lab}}
			fd.fmu.Unlock()
			return rev
		}},
		{"empty change", func(fd *fakeFeed) store.Revision {
			return fd.commit(policy.New(office, lab), store.Change{}, put(lab))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fd := newFakeFeed(policy.New(office), 1)
			f, err := follow.Follow(t.Context(), fd, "p", &follow.Options{OnError: func(err error) { t.Errorf("OnError(%v)", err) }})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rev := tc.edit(fd)
			fd.notify(t)
			wait(t, f, rev)
			if d := f.Check(probe); d.Rule != "lab" || loads(fd) != 2 {
				t.Errorf("%v after %d loads, want rule lab after 2", d, loads(fd))
			}
			// Then the feed is followed again.
			rev = fd.commit(policy.New(office), store.Change{Deleted: "lab"})
			fd.notify(t)
			wait(t, f, rev)
			if d := f.Check(probe); d.Rule != "office" || loads(fd) != 2 {
				t.Errorf("%v after %d loads, want rule office after 2", d, loads(fd))
			}
		})
	}
}

// TestFeedErrors: a feed that fails is reported and retried, the last good
// snapshot serving; a policy made invalid by a change is reported, then
// loaded whole until it is valid again.
func TestFeedErrors(t *testing.T) {
	t.Parallel()
	office := rule("office", "10.0.0.0/8", policy.Allow)
	lab := rule("lab", "10.1.0.0/16", policy.Deny)
	fd := newFakeFeed(policy.New(office), 1)
	errs := make(chan error, 100)
	f, err := follow.Follow(t.Context(), fd, "acme", &follow.Options{OnError: func(err error) { errs <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd.fmu.Lock()
	fd.err = errors.New("connection reset")
	fd.fmu.Unlock()
	rev := fd.commit(policy.New(office, lab), put(lab))
	fd.notify(t)
	if err := nextErr(t, errs); !strings.Contains(err.Error(), `changes of "acme" after revision 1: connection reset`) {
		t.Errorf("feed down: OnError %v", err)
	}
	if s := f.Status(); s.Err == nil || s.Revision != 1 || f.Check(probe).Rule != "office" {
		t.Errorf("feed down: status %+v, %v", s, f.Check(probe))
	}
	fd.fmu.Lock()
	fd.err = nil
	fd.fmu.Unlock()
	wait(t, f, rev) // retried on its own
	eventually(t, "the error to clear", func() bool { return f.Status().Err == nil })
	if d := f.Check(probe); d.Rule != "lab" || loads(fd) != 1 {
		t.Errorf("after the feed came back: %v, %d loads", d, loads(fd))
	}
	for len(errs) > 0 {
		<-errs
	}
	// An invalid rule, invalid whole too: refused, reported once, and the
	// next change is loaded whole.
	bad := rule("", "10.2.0.0/16", policy.Deny)
	fd.commit(policy.New(office, lab, bad), put(bad))
	fd.notify(t)
	var re *policy.RuleError
	if err := nextErr(t, errs); !errors.As(err, &re) || re.Err.Error() != "empty id" {
		t.Errorf("invalid rule: OnError %v", err)
	}
	if s := f.Status(); s.Revision != rev || f.Check(probe).Rule != "lab" {
		t.Errorf("after an invalid rule: status %+v", s)
	}
	rev = fd.commit(policy.New(office), store.Change{Deleted: ""}, store.Change{Deleted: "lab"})
	fd.notify(t)
	wait(t, f, rev)
	if d := f.Check(probe); d.Rule != "office" || f.Status().Err != nil || loads(fd) != 3 {
		t.Errorf("after the fix: %v, status %+v, %d loads", d, f.Status(), loads(fd))
	}
	select {
	case err := <-errs:
		t.Errorf("after the fix: OnError %v", err)
	default:
	}
}

// TestReload: Reload loads the whole policy of any store, serves a newer
// one, and returns the error it meets, the last good snapshot serving.
func TestReload(t *testing.T) {
	t.Parallel()
	fs := &fakeStore{p: policy.New(rule("office", "10.0.0.0/8", policy.Allow)), rev: 1}
	errs := make(chan error, 10)
	f, err := follow.Follow(t.Context(), fs, "p", &follow.Options{OnError: func(err error) { errs <- err }})
	if err != nil {
		t.Fatal(err)
	}
	fs.set(policy.New(rule("lab", "10.1.0.0/16", policy.Deny)), 2, nil)
	if err := f.Reload(t.Context()); err != nil || f.Status().Revision != 2 || f.Check(probe).Rule != "lab" {
		t.Errorf("Reload = %v, status %+v, %v", err, f.Status(), f.Check(probe))
	}
	fs.set(policy.Policy{}, 0, errors.New("connection refused"))
	if err := f.Reload(t.Context()); err == nil || !strings.Contains(err.Error(), "connection refused") || f.Check(probe).Rule != "lab" {
		t.Errorf("Reload of a store down = %v, %v", err, f.Check(probe))
	}
	if err := nextErr(t, errs); !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("OnError %v", err)
	}
	f.Close()
	fs.set(policy.New(rule("office", "10.0.0.0/8", policy.Allow)), 3, nil)
	if err := f.Reload(t.Context()); !errors.Is(err, check.ErrClosed) || f.Status().Revision != 2 {
		t.Errorf("Reload after Close = %v, status %+v", err, f.Status())
	}
	var zero follow.Follower
	if err := zero.Reload(t.Context()); !errors.Is(err, check.ErrClosed) {
		t.Errorf("zero Follower: Reload = %v", err)
	}
}

// memStore is what memstore.New returns: an Editor that is also a
// Watcher and a Feed.
type memStore interface {
	store.Editor
	store.Watcher
	store.Feed
}

// loadCounter counts the loads of a memstore, whose feed it keeps.
type loadCounter struct {
	memStore
	mu    sync.Mutex
	loads int
}

func (s *loadCounter) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	s.mu.Lock()
	s.loads++
	s.mu.Unlock()
	return s.memStore.Load(ctx, name)
}

// TestFeedMemstore: following a memstore applies its feed: rule writes of
// every kind are served without a load after the start.
func TestFeedMemstore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := &loadCounter{memStore: memstore.New(nil).(memStore)}
	var _ store.Feed = st
	if _, err := st.Put(ctx, "p", policy.New(rule("office", "10.0.0.0/8", policy.Allow)), store.Any); err != nil {
		t.Fatal(err)
	}
	f, err := follow.Follow(ctx, st, "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, rev, err := st.CreateRule(ctx, "p", rule("lab", "10.1.0.0/16", policy.Deny), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, f, rev)
	if d := f.Check(probe); d.Rule != "lab" {
		t.Errorf("after CreateRule: %v", d)
	}
	if rev, err = st.DeleteRule(ctx, "p", "lab", store.Any); err != nil {
		t.Fatal(err)
	}
	wait(t, f, rev)
	off := policy.DefaultSettings()
	off.Enabled = false
	if rev, err = st.SetSettings(ctx, "p", off, store.Any); err != nil {
		t.Fatal(err)
	}
	wait(t, f, rev)
	if d := f.Check(probe); d.Rule != "" || f.Snapshot().Settings().Enabled {
		t.Errorf("after SetSettings (disabled): %v", d)
	}
	if rev, err = st.Put(ctx, "p", policy.New(rule("a", "10.1.2.3", policy.Deny), rule("b", "10.0.0.0/8", policy.Allow)), store.Any); err != nil {
		t.Fatal(err)
	}
	wait(t, f, rev)
	if d := f.Check(probe); d.Rule != "a" || f.Snapshot().Len() != 2 {
		t.Errorf("after Put: %v, %d rules", d, f.Snapshot().Len())
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.loads != 1 {
		t.Errorf("%d loads, want the one at the start", st.loads)
	}
}
