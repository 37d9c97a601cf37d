package follow

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

// Options configure a [Follower] or a [Group]. A nil *Options, and a zero
// field, mean the defaults.
type Options struct {
	// Now reads the clock; nil means time.Now. Policies are compiled at
	// Now (see [check.Options]), and Status.ErrSince is read from it.
	Now func() time.Time
	// AfterFunc is passed to [check.Options]: it runs the expiry timer.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// OnError, when not nil, is called with every error met while the
	// last good snapshot keeps serving: a store that cannot be loaded or
	// watched, an invalid policy, a revision that went back. It is called
	// from the follower's goroutine, one call at a time, as soon as the
	// error is met; it must not block, since following waits for it, nor
	// call Close, which waits for following to stop.
	OnError func(error)
	// PollInterval is how often a store that is not a [store.Watcher] is
	// reloaded, and the longest wait between retries after an error;
	// zero means 5 seconds.
	PollInterval time.Duration
	// StoreTimeout bounds each Load, and each read of a store.Feed's
	// changes, that following makes, so that a store that stops answering
	// (a stalled connection) is reported and retried rather than waited
	// for without end; zero means 1 minute.
	StoreTimeout time.Duration

	// The fields below configure a [Group] alone; [Follow] ignores them.
	// In a group, the fields above configure each follower, and OnError is
	// called by each, with errors that name the policy, so calls for
	// different policies may come at once.

	// MaxPolicies bounds the number of policies a group follows, so that
	// names taken from requests cannot make a process follow without end;
	// zero means 1000.
	MaxPolicies int
	// IdleAfter, when positive, closes and forgets the follower of a
	// policy that no Get or Start has asked for in that long, so that a
	// process serving many tenants holds only those in use; the next Get
	// starts it again. Idle followers are looked for every IdleAfter/2 by
	// a timer that the first Get or Start arms and that stops while the
	// group follows nothing, or on Close. Zero means never.
	//
	// A follower closed this way keeps answering with its last snapshot,
	// which no longer follows the store: ask the group for each request
	// rather than keeping a follower.
	IdleAfter time.Duration
}

// Status is what a [Follower] reports about itself.
type Status struct {
	// Revision is the store revision of the policy served.
	Revision store.Revision
	// CompiledAt is the instant the served snapshot was compiled for.
	CompiledAt time.Time
	// Err is the last error met since following last worked, nil when
	// there was none; ErrSince is when the errors began.
	Err      error
	ErrSince time.Time
}

// Follower serves the decisions of one named policy of a store and keeps
// them in step with it. It has no methods that edit the policy: edits go
// through the store, and the follower serves them once they are
// committed (see [Follower.Wait]). It is safe for concurrent use.
//
// The zero Follower serves no policy: it denies every request with the
// zero [check.Decision]. Make one with [Follow].
type Follower struct {
	c       *check.Checker
	st      store.Store
	name    string
	onError func(error)
	now     func() time.Time
	poll    time.Duration
	timeout time.Duration // of each store call following makes
	cancel  context.CancelFunc
	done    chan struct{} // closed when run returns

	// apply, a lock that a waiter can give up on, is held while the
	// checker is brought up to the store, by following or Reload, and
	// guards full.
	apply chan struct{}
	full  bool // the next refresh loads the whole policy

	mu     sync.Mutex // guards the fields below
	rev    store.Revision
	err    error
	errAt  time.Time
	pub    chan struct{} // closed, and replaced, when rev grows or on Close
	closed bool
}

// Follow loads and compiles the named policy of st, then follows it in a
// goroutine of its own until [Follower.Close]: it watches st when it is a
// [store.Watcher] (from before the first load, so that no change slips in
// between) and catches up on each change, or polls it every
// Options.PollInterval otherwise. Catching up with a [store.Feed] applies
// the changes committed since the revision served, at a cost that grows
// with the changes and not with the policy; with any other store it loads
// the whole policy again. ctx bounds the start only, the first
// watch and load, as a dial's context does; once Follow returns, ctx no
// longer matters.
//
// A store that cannot be watched or loaded now, or an invalid policy, is
// an error: Follow never returns a follower that serves no policy.
//
// Later, it never publishes an older revision after a newer one, and on
// any error it keeps serving the last good snapshot and reports the error
// in [Follower.Status] and to Options.OnError at once. It retries a store
// that failed, and watches again after a watch that ended, with an
// exponential backoff, jittered and capped at Options.PollInterval. When
// the store answers with a revision not newer than the one served, the
// contents are compared (a pass over the rules): the same content is the
// same state, or a replica lagging behind, and is ignored, but different
// content means that the store's revisions went back (a revision file
// restored from a backup, say). That revision is refused and reported,
// naming both revisions, and the newer snapshot keeps serving; that fails
// closed in the only way a follower can, since it cannot tell which
// content is right. Following resumes with the next revision above the
// one served.
func Follow(ctx context.Context, st store.Store, name string, opts *Options) (*Follower, error) {
	if opts == nil {
		opts = new(Options)
	}
	f := &Follower{
		st: st, name: name, onError: opts.OnError, now: opts.Now, poll: opts.PollInterval,
		done: make(chan struct{}), pub: make(chan struct{}), apply: make(chan struct{}, 1),
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.poll <= 0 {
		f.poll = 5 * time.Second
	}
	if f.timeout = opts.StoreTimeout; f.timeout <= 0 {
		f.timeout = time.Minute
	}
	// Following outlives ctx, which bounds only the start: run on a
	// context of its own, which ctx cancels until the start is over.
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	fail := func(err error) (*Follower, error) {
		stop()
		cancel()
		return nil, err
	}
	q := rangeset.Quote(name)
	var changes <-chan struct{}
	if w, ok := st.(store.Watcher); ok {
		ch, err := w.Watch(run, name)
		if err != nil {
			return fail(fmt.Errorf("follow.Follow(%s): watch: %w", q, startErr(ctx, err)))
		}
		changes = ch
	}
	p, rev, err := st.Load(run, name)
	if err != nil {
		return fail(fmt.Errorf("follow.Follow(%s): %w", q, startErr(ctx, err)))
	}
	c, err := check.NewChecker(p, &check.Options{Now: opts.Now, AfterFunc: opts.AfterFunc})
	if err != nil {
		return fail(fmt.Errorf("follow.Follow(%s) at revision %d: %w", q, rev, err))
	}
	if !stop() {
		// ctx ended during the start, and run with it.
		c.Close()
		return fail(fmt.Errorf("follow.Follow(%s): %w", q, ctx.Err()))
	}
	f.c, f.rev, f.cancel = c, rev, cancel
	go f.run(run, changes)
	return f, nil
}

// startErr prefers ctx's error to the store's when ctx ended, since the
// store saw only the cancellation of the run context.
func startErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return ctx.Err()
	}
	return err
}

// Check decides r with the snapshot served; see [check.Checker.Check]. It
// does not allocate and takes no lock.
func (f *Follower) Check(r check.Request) check.Decision {
	if f.c == nil {
		return check.Decision{}
	}
	return f.c.Check(r)
}

// Snapshot returns the snapshot served, nil for the zero Follower.
func (f *Follower) Snapshot() *check.Snapshot {
	if f.c == nil {
		return nil
	}
	return f.c.Snapshot()
}

// Status reports the revision served, the instant its snapshot was
// compiled for, and the last error, if following does not work now.
func (f *Follower) Status() Status {
	var s Status
	if snap := f.Snapshot(); snap != nil {
		s.CompiledAt = snap.At()
	}
	f.mu.Lock()
	s.Revision, s.Err, s.ErrSince = f.rev, f.err, f.errAt
	f.mu.Unlock()
	return s
}

// Wait blocks until the follower serves revision rev or a later one, so
// that a request decided after a write sees it: pass it the revision the
// write returned. It returns ctx's error when ctx ends first, and an error
// wrapping [check.ErrClosed] when the follower is closed first.
func (f *Follower) Wait(ctx context.Context, rev store.Revision) error {
	for {
		f.mu.Lock()
		served, pub, closed, lastErr := f.rev, f.pub, f.closed || f.c == nil, f.err
		f.mu.Unlock()
		switch {
		case served >= rev:
			return nil
		case closed:
			return fmt.Errorf("follow: Wait(%d) on %s, serving revision %d: %w", rev, rangeset.Quote(f.name), served, check.ErrClosed)
		}
		select {
		case <-pub:
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("follow: Wait(%d) on %s, serving revision %d (last error: %v): %w", rev, rangeset.Quote(f.name), served, lastErr, ctx.Err())
			}
			return fmt.Errorf("follow: Wait(%d) on %s, serving revision %d: %w", rev, rangeset.Quote(f.name), served, ctx.Err())
		}
	}
}

// Close stops following and waits until the follower's goroutine has
// returned. The follower keeps answering Check with its last snapshot,
// exactly at each request's instant (see [check.Checker.Close]), and a
// pending or later Wait for a revision it does not serve fails. Close is
// idempotent and returns nil.
func (f *Follower) Close() error {
	if f.cancel == nil {
		return nil // the zero Follower
	}
	f.cancel()
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		f.c.Close()
		close(f.pub)
	}
	return nil
}

// run follows until ctx ends. changes is nil when st is not a Watcher.
func (f *Follower) run(ctx context.Context, changes <-chan struct{}) {
	defer close(f.done)
	w, watcher := f.st.(store.Watcher)
	var tick <-chan time.Time
	if !watcher {
		t := time.NewTicker(f.poll)
		defer t.Stop()
		tick = t.C
	}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var retrying bool
	schedule := func(failures int) {
		retry.Reset(f.backoff(failures))
		retrying = true
	}
	// Consecutive failures, for the backoff: loads, and watches that
	// could not start or ended soon after they started.
	var loadFails, watchFails int
	watchedAt := time.Now()
	rewatch := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-retry.C:
			retrying = false
		case _, ok := <-changes:
			if !ok {
				// The store ended the watch: until watching again, no
				// change would be seen, so say so now.
				changes, rewatch = nil, true
				if time.Since(watchedAt) >= f.poll {
					watchFails = 0 // it worked for a while
				}
				watchFails++
				f.fail(fmt.Errorf("follow: watching %s: the store ended the watch", rangeset.Quote(f.name)))
				if !retrying {
					schedule(watchFails)
				}
				continue
			}
		}
		var watchErr error
		if rewatch {
			ch, err := w.Watch(ctx, f.name)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				watchErr = fmt.Errorf("follow: watching %s: %w", rangeset.Quote(f.name), err)
				watchFails++
			} else {
				changes, rewatch, watchedAt = ch, false, time.Now()
			}
		}
		// Refresh even when the watch failed: a change may have been
		// missed, and the store may still answer.
		ok := f.refresh(ctx, !rewatch)
		if ctx.Err() != nil {
			return
		}
		if watchErr != nil {
			f.fail(watchErr)
		}
		if ok {
			loadFails = 0
		} else {
			loadFails++
		}
		if (rewatch || !ok) && !retrying {
			n := loadFails
			if rewatch {
				n = max(n, watchFails)
			}
			schedule(n)
		}
	}
}

// backoff returns the wait before the retry after n consecutive failures
// (n >= 1): 50ms doubled with each failure, capped at the poll interval,
// and jittered down by up to a half, so that many followers of one store
// do not retry in step.
func (f *Follower) backoff(n int) time.Duration {
	d := min(50*time.Millisecond, f.poll)
	for i := 1; i < n && d < f.poll; i++ {
		d *= 2
	}
	d = min(d, f.poll)
	return d/2 + rand.N(d/2+1)
}

// Reload loads the whole policy now, as at the start, and serves it when
// it is newer and valid, instead of waiting for the next change. Following
// never needs it (it loads the whole policy itself after a gap in a
// [store.Feed] or a change it cannot apply); it is for an operator who
// doubts what is served. It returns the error it met, nil when it served
// the policy loaded or already served it; an error is also reported as
// following reports errors.
//
// Reload waits for following to finish what it is doing, or for ctx. On a
// closed follower it returns an error wrapping [check.ErrClosed].
func (f *Follower) Reload(ctx context.Context) error {
	errClosed := fmt.Errorf("follow: Reload of %s: %w", rangeset.Quote(f.name), check.ErrClosed)
	if f.c == nil || f.isClosed() {
		return errClosed
	}
	select {
	case f.apply <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("follow: Reload of %s: %w", rangeset.Quote(f.name), ctx.Err())
	}
	defer func() { <-f.apply }()
	if f.isClosed() {
		return errClosed
	}
	_, err := f.reload(ctx, true)
	return err
}

// isClosed reports whether Close has closed the follower.
func (f *Follower) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// refresh brings the follower up to the store: by applying the changes of
// a store.Feed, or by loading the whole policy. It reports whether the
// store answered, as reload does.
func (f *Follower) refresh(ctx context.Context, clear bool) bool {
	select {
	case f.apply <- struct{}{}:
	case <-ctx.Done():
		return true // stopping: nothing to report
	}
	defer func() { <-f.apply }()
	ctx, cancel := context.WithTimeoutCause(ctx, f.timeout, errSlowStore)
	defer cancel()
	if fd, ok := f.st.(store.Feed); ok && !f.full {
		return f.follow(ctx, fd, clear)
	}
	answered, _ := f.reload(ctx, clear)
	return answered
}

// follow applies the changes fd committed after the revision served, one
// revision at a time, each published once applied, so that the cost of a
// change does not grow with the policy. A revision of one rule put or
// deleted is one copy-on-write edit of the checker, validating only that
// rule (ids stay unique: a put replaces the rule with its id); a revision
// of several changes, or of new settings, is applied with Checker.Update
// of the policy served with the changes made, so that Check never sees
// half a revision. A gap in the feed, a revision that went back, or a
// change that cannot be applied (a delete of an id not served, a rule
// that is invalid) falls back to loading the whole policy, which reports
// what is wrong, if anything still is. f.apply is held.
func (f *Follower) follow(ctx context.Context, fd store.Feed, clear bool) bool {
	f.mu.Lock()
	served := f.rev
	f.mu.Unlock()
	changes, rev, err := fd.Changes(ctx, f.name, served)
	if stopping(ctx) {
		return true
	}
	if errors.Is(err, store.ErrGap) || err == nil && rev < served {
		answered, _ := f.reload(ctx, clear)
		return answered
	}
	if err != nil {
		f.fail(fmt.Errorf("follow: reading the changes of %s after revision %d: %w", rangeset.Quote(f.name), served, slowErr(ctx, err)))
		return false
	}
	for len(changes) > 0 {
		n := 1
		for n < len(changes) && changes[n].Revision == changes[0].Revision {
			n++
		}
		r := changes[0].Revision
		if r <= served || r > rev || f.applyRevision(changes[:n]) != nil {
			answered, _ := f.reload(ctx, clear)
			return answered
		}
		f.publish(r, clear)
		served, changes = r, changes[n:]
	}
	switch {
	case rev > served: // revisions that changed no rule
		f.publish(rev, clear)
	case clear:
		f.settle()
	}
	return true
}

// applyRevision applies the changes of one revision to the checker, all
// or none.
func (f *Follower) applyRevision(cs []store.Change) error {
	if len(cs) == 1 {
		switch c := cs[0]; {
		case c.Rule != nil:
			return f.c.Put(*c.Rule)
		case c.Deleted != "":
			return f.c.Delete(c.Deleted)
		}
	}
	snap := f.c.Snapshot()
	p := policy.Policy{Settings: snap.Settings(), Rules: make([]policy.Rule, 0, snap.Len()+len(cs))}
	for r := range snap.Rules() {
		p.Rules = append(p.Rules, r)
	}
	var at map[string]int // index of p.Rules by id, built when needed
	for _, c := range cs {
		if c.Rule != nil || c.Deleted != "" {
			at = make(map[string]int, len(p.Rules))
			for i, r := range p.Rules {
				at[r.ID] = i
			}
			break
		}
	}
	deleted := false
	for _, c := range cs {
		switch {
		case c.Rule != nil:
			if i, ok := at[c.Rule.ID]; ok {
				p.Rules[i] = *c.Rule
				continue
			}
			at[c.Rule.ID] = len(p.Rules)
			p.Rules = append(p.Rules, *c.Rule)
		case c.Deleted != "":
			i, ok := at[c.Deleted]
			if !ok {
				return fmt.Errorf("%w: %s", check.ErrUnknownRule, rangeset.Quote(c.Deleted))
			}
			delete(at, c.Deleted)
			p.Rules[i].ID, deleted = "", true // removed below
		case c.Settings != nil:
			p.Settings = *c.Settings
		default:
			return errors.New("a change with nothing set")
		}
	}
	if deleted {
		p.Rules = slices.DeleteFunc(p.Rules, func(r policy.Rule) bool { return r.ID == "" })
	}
	return f.c.Update(p)
}

// reload loads the policy and publishes it when it is newer and valid. It
// reports whether the store answered, with a policy served or refused, and
// the error met; clear says whether an answer ends the errors reported so
// far (it does not while the store cannot be watched). f.apply is held.
func (f *Follower) reload(ctx context.Context, clear bool) (bool, error) {
	p, rev, err := f.st.Load(ctx, f.name)
	if stopping(ctx) {
		return true, ctx.Err()
	}
	q := rangeset.Quote(f.name)
	if err != nil {
		err = fmt.Errorf("follow: loading %s: %w", q, slowErr(ctx, err))
		f.fail(err)
		return false, err
	}
	f.full = false
	f.mu.Lock()
	served := f.rev
	f.mu.Unlock()
	if rev <= served {
		if !sameContent(f.c.Snapshot(), p) {
			err = fmt.Errorf("follow: policy %s: the store answered revision %d, not newer than revision %d served, with different content: revisions went back; still serving revision %d", q, rev, served, served)
			f.fail(err)
			return true, err
		}
		if clear {
			f.settle()
		}
		return true, nil
	}
	if err := f.c.Update(p); err != nil {
		// An invalid policy stays invalid until the next change, and is
		// loaded whole again then: a feed would apply the changes after
		// it to the older policy served.
		f.full = true
		err = fmt.Errorf("follow: policy %s at revision %d: %w", q, rev, err)
		f.fail(err)
		return true, err
	}
	f.publish(rev, clear)
	return true, nil
}

// errSlowStore is the cause of the end of a store call's context when the
// store did not answer within Options.StoreTimeout.
var errSlowStore = errors.New("the store did not answer in time")

// stopping reports whether ctx ended for another reason than the store's
// timeout: following stops, or Reload's caller gave up.
func stopping(ctx context.Context) bool {
	return ctx.Err() != nil && context.Cause(ctx) != errSlowStore
}

// slowErr says so when err is the store's answer to its timeout.
func slowErr(ctx context.Context, err error) error {
	if context.Cause(ctx) == errSlowStore {
		return fmt.Errorf("%w: %w", errSlowStore, err)
	}
	return err
}

// sameContent reports whether p has the settings and rules of s, in any
// order.
func sameContent(s *check.Snapshot, p policy.Policy) bool {
	if s.Settings() != p.Settings || s.Len() != len(p.Rules) {
		return false
	}
	// The store usually keeps the order: compare in step first.
	i, inStep := 0, true
	for r := range s.Rules() {
		if i >= len(p.Rules) || !r.Equal(p.Rules[i]) {
			inStep = false
			break
		}
		i++
	}
	if inStep {
		return i == len(p.Rules)
	}
	byID := make(map[string]*policy.Rule, len(p.Rules))
	for i := range p.Rules {
		byID[p.Rules[i].ID] = &p.Rules[i]
	}
	if len(byID) != len(p.Rules) {
		return false // a duplicate id: not the valid policy served
	}
	for r := range s.Rules() {
		if o := byID[r.ID]; o == nil || !r.Equal(*o) {
			return false
		}
	}
	return true
}

// fail records err, keeping the instant the errors began, and reports it;
// a closed follower reports nothing (a Reload that Close overtook).
func (f *Follower) fail(err error) {
	now := f.now()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	if f.err == nil {
		f.errAt = now
	}
	f.err = err
	f.mu.Unlock()
	if f.onError != nil {
		f.onError(err)
	}
}

// publish records rev as served, once its snapshot is, clears the errors
// when clear is set, and wakes the waiters. On a closed follower, whose
// waiters Close woke for good, it does nothing.
func (f *Follower) publish(rev store.Revision, clear bool) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.rev = rev
	if clear {
		f.err, f.errAt = nil, time.Time{}
	}
	close(f.pub)
	f.pub = make(chan struct{})
	f.mu.Unlock()
}

// settle clears the errors: following works again.
func (f *Follower) settle() {
	f.mu.Lock()
	f.err, f.errAt = nil, time.Time{}
	f.mu.Unlock()
}
