package check

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipgate/ipgate/store"
)

// Status is what a following checker reports about itself.
type Status struct {
	// Revision is the store revision of the policy being served.
	Revision store.Revision
	// CompiledAt is the instant the served snapshot was compiled for.
	CompiledAt time.Time
	// Err is the last error met since the last successful reload, nil when
	// there was none; ErrSince is when the errors began.
	Err      error
	ErrSince time.Time
}

type follower struct {
	st      store.Store
	name    string
	onError func(error)
	poll    time.Duration
	cancel  context.CancelFunc
	done    chan struct{}

	now func() time.Time

	mu    sync.Mutex // guards the fields below
	rev   store.Revision
	err   error
	errAt time.Time
}

// Follow returns a [Checker] that follows the named policy of st: it loads
// and compiles it now, then recompiles on every change, watching when st is
// a [store.Watcher] and polling otherwise. It never publishes an older
// revision after a newer one. When the store is unreachable or holds an
// invalid policy, the last good snapshot keeps serving, and the error goes
// to Options.OnError and [Checker.Status].
//
// A store that cannot be loaded now, or an invalid policy, is an error:
// Follow never returns a checker that allows everything for want of a
// policy. Following stops when ctx is done or the checker is closed.
func Follow(ctx context.Context, st store.Store, name string, opts *Options) (*Checker, error) {
	f := &follower{st: st, name: name, poll: 5 * time.Second, done: make(chan struct{}), now: opts.now()}
	if opts != nil {
		f.onError = opts.OnError
		if opts.PollInterval > 0 {
			f.poll = opts.PollInterval
		}
	}
	ctx, f.cancel = context.WithCancel(ctx)
	// Watch before the first load, so that no change slips in between.
	var changes <-chan struct{}
	if w, ok := st.(store.Watcher); ok {
		ch, err := w.Watch(ctx, name)
		if err != nil {
			f.cancel()
			return nil, fmt.Errorf("check.Follow(%q): watch: %w", name, err)
		}
		changes = ch
	}
	p, rev, err := st.Load(ctx, name)
	if err != nil {
		f.cancel()
		return nil, fmt.Errorf("check.Follow(%q): %w", name, err)
	}
	c := &Checker{now: f.now, afterFunc: opts.afterFunc(), follow: f}
	if err := c.Update(p); err != nil {
		f.cancel()
		return nil, fmt.Errorf("check.Follow(%q) at revision %d: %w", name, rev, err)
	}
	f.rev = rev
	go f.run(ctx, c, changes)
	return c, nil
}

// Status reports the revision served and the last error of a checker made
// by [Follow]. For any other checker it reports only CompiledAt.
func (c *Checker) Status() Status {
	st := Status{CompiledAt: c.Snapshot().At()}
	if f := c.follow; f != nil {
		f.mu.Lock()
		st.Revision, st.Err, st.ErrSince = f.rev, f.err, f.errAt
		f.mu.Unlock()
	}
	return st
}

func (f *follower) run(ctx context.Context, c *Checker, changes <-chan struct{}) {
	defer close(f.done)
	var tick <-chan time.Time
	if changes == nil {
		t := time.NewTicker(f.poll)
		defer t.Stop()
		tick = t.C
	}
	// After a failed reload, retry with a backoff from 50ms up to the poll
	// interval: a change announced while the store was unreachable must
	// not wait for the next one.
	var retry <-chan time.Time
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-retry:
		case _, ok := <-changes:
			if !ok {
				changes = f.rewatch(ctx)
				if changes == nil {
					return
				}
			}
		}
		if f.reload(ctx, c) {
			retry, backoff = nil, 50*time.Millisecond
		} else {
			retry = time.After(backoff)
			backoff = min(2*backoff, f.poll)
		}
	}
}

// rewatch watches again after a watch ended, until it works or ctx is done.
func (f *follower) rewatch(ctx context.Context) <-chan struct{} {
	w := f.st.(store.Watcher)
	for {
		if ctx.Err() != nil {
			return nil
		}
		ch, err := w.Watch(ctx, f.name)
		if err == nil {
			return ch
		}
		f.fail(fmt.Errorf("check: watching %q: %w", f.name, err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.poll):
		}
	}
}

// reload loads the policy and publishes it when it is newer and valid. It
// reports whether the store answered with a policy it could serve or
// ignore.
func (f *follower) reload(ctx context.Context, c *Checker) bool {
	p, rev, err := f.st.Load(ctx, f.name)
	if ctx.Err() != nil {
		return true
	}
	f.mu.Lock()
	served := f.rev
	f.mu.Unlock()
	switch {
	case err != nil:
		f.fail(fmt.Errorf("check: loading %q: %w", f.name, err))
		return false
	case rev <= served:
		// Nothing new, or an older revision from a lagging replica.
		f.settle()
	default:
		if err := c.Update(p); err != nil {
			if !errors.Is(err, ErrClosed) {
				f.fail(fmt.Errorf("check: policy %q at revision %d: %w", f.name, rev, err))
			}
			return true // an invalid policy stays invalid until the next change
		}
		f.mu.Lock()
		f.rev = rev
		f.mu.Unlock()
		f.settle()
	}
	return true
}

// fail records err, keeping the instant the errors began, and reports it.
func (f *follower) fail(err error) {
	now := f.now()
	f.mu.Lock()
	if f.err == nil {
		f.errAt = now
	}
	f.err = err
	f.mu.Unlock()
	if f.onError != nil {
		f.onError(err)
	}
}

// settle clears the error after a successful reload.
func (f *follower) settle() {
	f.mu.Lock()
	f.err, f.errAt = nil, time.Time{}
	f.mu.Unlock()
}
