package check

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipgate/ipgate/policy"
)

// Options configure a [Checker]. A nil *Options means the defaults.
type Options struct {
	// Now reads the clock; nil means time.Now. It is the only clock the
	// checker reads: policies are compiled at Now, and the expiry timer
	// counts from it.
	Now func() time.Time
	// AfterFunc runs f in its own goroutine once d has passed, and returns a
	// function that cancels it, reporting whether it did; nil means
	// time.AfterFunc. Tests inject a fake clock through Now and AfterFunc.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// OnError, when not nil, is called by a following checker (see
	// [Follow]) with every error it meets while the last good snapshot keeps
	// serving: an unreachable store, an invalid policy. It must not block.
	OnError func(error)
	// PollInterval is how often a following checker reloads a store that
	// is not a store.Watcher, and how long it waits before watching again
	// after a watch ended; zero means 5 seconds.
	PollInterval time.Duration
}

func (o *Options) now() func() time.Time {
	if o == nil || o.Now == nil {
		return time.Now
	}
	return o.Now
}

func (o *Options) afterFunc() func(time.Duration, func()) func() bool {
	if o == nil || o.AfterFunc == nil {
		return func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	return o.AfterFunc
}

// ErrClosed is returned by [Checker.Update] after [Checker.Close].
var ErrClosed = errors.New("check: checker is closed")

// Checker serves decisions from the current [Snapshot] of a policy while
// new ones are swapped in. It is safe for concurrent use: [Checker.Check]
// is lock-free (one atomic load, then [Snapshot.Check]), and writers share
// a mutex. When the snapshot's next expiry passes, a timer recompiles the
// policy at the new instant and swaps it in, so that live traffic sees
// expiry on time.
type Checker struct {
	cur       atomic.Pointer[Snapshot]
	mu        sync.Mutex // held by writers: Update, the expiry timer, Close
	now       func() time.Time
	afterFunc func(time.Duration, func()) func() bool
	stop      func() bool // cancels the pending expiry timer, if any
	closed    bool
	follow    *follower // nil unless made by Follow
}

// NewChecker compiles p at the clock's current instant and returns a
// checker serving it. An invalid policy is an error, as in [Compile].
func NewChecker(p policy.Policy, opts *Options) (*Checker, error) {
	c := &Checker{now: opts.now(), afterFunc: opts.afterFunc()}
	if err := c.Update(p); err != nil {
		return nil, err
	}
	return c, nil
}

// Check decides r with the current snapshot; see [Snapshot.Check]. A zero
// r.At is decided at the current snapshot's instant, which the expiry timer
// keeps up to date. It does not allocate and takes no lock.
func (c *Checker) Check(r Request) Decision {
	return c.cur.Load().Check(r)
}

// Snapshot returns the snapshot currently served.
func (c *Checker) Snapshot() *Snapshot { return c.cur.Load() }

// Update compiles p at the clock's current instant and swaps it in. An
// invalid policy is refused with its error, and the last good snapshot
// keeps serving.
func (c *Checker) Update(p policy.Policy) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	s, err := Compile(p, c.now())
	if err != nil {
		return err
	}
	c.publish(s)
	return nil
}

// publish swaps s in and arms the timer for its next change. c.mu is held.
func (c *Checker) publish(s *Snapshot) {
	c.cur.Store(s)
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
	if next, ok := s.NextChange(); ok {
		c.stop = c.afterFunc(next.Sub(c.now()), func() { c.expire(s) })
	}
}

// expire recompiles the policy of s once its next change has passed,
// unless s has been replaced meanwhile.
func (c *Checker) expire(s *Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.cur.Load() != s {
		return
	}
	now := c.now()
	next, _ := s.NextChange()
	if !now.IsZero() && now.Before(next) {
		// The timer fired early (the wall clock was moved): wait again.
		c.stop = c.afterFunc(next.Sub(now), func() { c.expire(s) })
		return
	}
	// Until the recompiled snapshot is in, requests with a zero At are
	// decided at the change's instant, so that no expired rule outlives its
	// expiry by the time a compile takes.
	s.passed.Store(true)
	// The policy compiled before, so only a zero instant from an injected
	// clock can fail here; s then keeps serving, exact at any instant.
	if ns, err := Compile(s.pol, now); err == nil {
		c.publish(ns)
	}
}

// Close stops the checker's timer and, for a checker made by [Follow], its
// following. The checker keeps answering Check with
// its last snapshot; Update fails with [ErrClosed].
func (c *Checker) Close() error {
	c.mu.Lock()
	c.closed = true
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
	c.mu.Unlock()
	if f := c.follow; f != nil {
		f.cancel()
		<-f.done
	}
	return nil
}
