package check_test

import (
	"slices"
	"sync"
	"time"

	"github.com/ipgate/ipgate/check"
)

// fakeClock is an injected clock: time moves only by Set, which runs the
// timers that fall due, in order, before it returns.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) options() *check.Options {
	return &check.Options{Now: c.Now, AfterFunc: c.AfterFunc}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Set moves the clock to t and runs every timer due by then.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
	for {
		c.mu.Lock()
		c.timers = slices.DeleteFunc(c.timers, func(x *fakeTimer) bool { return x.stopped })
		i := slices.IndexFunc(c.timers, func(x *fakeTimer) bool { return !x.at.After(t) })
		if i < 0 {
			c.mu.Unlock()
			return
		}
		due := c.timers[i]
		due.stopped = true
		c.mu.Unlock()
		due.f()
	}
}

// pending reports how many timers are armed.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(slices.DeleteFunc(c.timers, func(x *fakeTimer) bool { return x.stopped }))
}
