package check

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// Options configure a [Checker]. A nil *Options, and a zero field, mean
// the defaults.
type Options struct {
	// Now reads the clock; nil means time.Now. It is the only clock the
	// checker reads: policies are compiled at Now, and the expiry timer
	// counts from it.
	Now func() time.Time
	// AfterFunc runs f in its own goroutine once d has passed, and returns a
	// function that cancels it, reporting whether it did; nil means
	// time.AfterFunc. Tests inject a fake clock through Now and AfterFunc.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)

	largeTables bool // tests: every compile uses a bart.Table, whatever its size
	copyEarly   bool // tests: edits copy the table after two writes, however small it is
}

// ErrClosed is returned by the writes of a [Checker] after [Checker.Close].
var ErrClosed = errors.New("check: checker is closed")

// Checker serves decisions from the current [Snapshot] of a policy while
// new ones are swapped in. It is safe for concurrent use: [Checker.Check]
// is lock-free (one atomic load, then [Snapshot.Check]), and writers share
// a mutex. When the snapshot's next expiry passes, a timer re-ranks the
// expired rules and swaps the result in, so that the lookup keeps
// answering; decisions are exact at the request's instant even when the
// timer is late.
//
// The zero Checker serves no policy: it denies every request with the zero
// [Decision] until the first successful [Checker.Update], and it reads the
// system clock.
type Checker struct {
	cur   atomic.Pointer[Snapshot]
	mu    sync.Mutex // held by writers: Update, Put, Delete, the expiry timer, Close
	opts  Options
	stop  func() bool // cancels the pending expiry timer, if any
	close bool
	state *rulesState
}

// NewChecker compiles p at the clock's current instant and returns a
// checker serving it. An invalid policy is an error, as in [Compile].
func NewChecker(p policy.Policy, opts *Options) (*Checker, error) {
	c := new(Checker)
	if opts != nil {
		c.opts = *opts
	}
	if err := c.Update(p); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Checker) now() time.Time {
	if c.opts.Now == nil {
		return time.Now()
	}
	return c.opts.Now()
}

func (c *Checker) afterFunc(d time.Duration, f func()) func() bool {
	if c.opts.AfterFunc == nil {
		return time.AfterFunc(d, f).Stop
	}
	return c.opts.AfterFunc(d, f)
}

// Check decides r with the current snapshot; see [Snapshot.Check]. A zero
// r.At is the checker's clock reading, which it takes only when the policy
// has a rule that expires. It does not allocate and takes no lock.
//
// It is small enough to be inlined: the snapshots a checker serves read
// its clock themselves.
func (c *Checker) Check(r Request) Decision {
	return c.cur.Load().check(r.Addr, r.Admin, r.Mobile, r.At)
}

// Snapshot returns the snapshot currently served, nil before the first
// successful [Checker.Update].
func (c *Checker) Snapshot() *Snapshot { return c.cur.Load() }

// Update swaps in p, compiled at the clock's current instant. An invalid
// policy is refused with its error, and the last good snapshot keeps
// serving. When p differs from the served policy in a few rules and not in
// precedence (Settings.DenyOverrides), only those rules are changed, with
// bart's copy-on-write operations on the prefixes they touch; otherwise p
// is compiled afresh.
// Either way the result decides as [Compile] of p would.
func (c *Checker) Update(p policy.Policy) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.close {
		return ErrClosed
	}
	now := c.now()
	old := c.cur.Load()
	if old == nil || p.Settings.DenyOverrides != old.settings.DenyOverrides {
		return c.recompile(p, now)
	}
	now = c.notBefore(old)
	if err := p.Validate(); err != nil {
		return fmt.Errorf("check.Compile: %w", err)
	}
	var del []*ruleInfo
	var add []policy.Rule
	ids := make(map[string]bool, len(p.Rules))
	for _, r := range p.Rules {
		ids[r.ID] = true
		if o := c.state.byID[r.ID]; o == nil || !o.policyRule().Equal(r) {
			add = append(add, r)
			if o != nil {
				del = append(del, o)
			}
		}
		if len(add) > 16+len(p.Rules)/8 {
			return c.recompile(p, now)
		}
	}
	for id, o := range c.state.byID {
		if !ids[id] {
			del = append(del, o)
		}
	}
	c.publish(c.state.edit(old, now, p.Settings, del, add))
	return nil
}

func (c *Checker) recompile(p policy.Policy, now time.Time) error {
	s, infos, err := compile(p, now, c.opts.largeTables)
	if err != nil {
		return err
	}
	c.state = newRulesState(s, infos, &c.opts)
	c.publish(s)
	return nil
}

// ErrUnknownRule is returned by [Checker.Delete] for an id the served
// policy does not have.
var ErrUnknownRule = errors.New("check: no rule with this id")

var errNoPolicy = errors.New("check: the checker serves no policy yet: call Update first")

// Put adds r to the served policy, or replaces the rule with r's id, and
// swaps the result in. Only the prefixes r and the rule it replaces cover,
// and those beneath them, are recomputed. An invalid rule is refused with
// its error, and nothing changes.
func (c *Checker) Put(r policy.Rule) error {
	if err := policy.New(r).Validate(); err != nil {
		return fmt.Errorf("check.Put: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.close {
		return ErrClosed
	}
	if c.state == nil {
		return errNoPolicy
	}
	var del []*ruleInfo
	if o := c.state.byID[r.ID]; o != nil {
		del = append(del, o)
	}
	old := c.cur.Load()
	c.publish(c.state.edit(old, c.notBefore(old), old.settings, del, []policy.Rule{r}))
	return nil
}

// notBefore reads the clock, never going back before the instant of s, so
// that no rule expired by then comes back.
func (c *Checker) notBefore(s *Snapshot) time.Time {
	if now := c.now(); now.After(s.at) {
		return now
	}
	return s.at
}

// Delete removes the rule with the given id from the served policy and
// swaps the result in, as [Checker.Put] does.
func (c *Checker) Delete(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.close {
		return ErrClosed
	}
	if c.state == nil {
		return errNoPolicy
	}
	o := c.state.byID[id]
	if o == nil {
		return fmt.Errorf("%w: %s", ErrUnknownRule, rangeset.Quote(id))
	}
	old := c.cur.Load()
	c.publish(c.state.edit(old, c.notBefore(old), old.settings, []*ruleInfo{o}, nil))
	return nil
}

// publish swaps s in and arms the timer for its next change. c.mu is held.
// A snapshot whose node store is mostly nodes that edits replaced is
// compiled afresh first, so that a long run of edits holds no more than
// about twice the memory of a compile.
func (c *Checker) publish(s *Snapshot) {
	if s.nodes.n > 2*s.table.Size()+nodeChunk {
		p := policy.Policy{Settings: s.settings, Rules: make([]policy.Rule, 0, s.rules)}
		for r := range s.Rules() {
			p.Rules = append(p.Rules, r)
		}
		if fresh, infos, err := compile(p, s.at, c.opts.largeTables); err == nil {
			s, c.state = fresh, newRulesState(fresh, infos, &c.opts)
		}
	}
	s.now = c.opts.Now
	c.cur.Store(s)
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
	if next, ok := s.nextChange(); ok {
		c.stop = c.afterFunc(next.Sub(c.now()), func() { c.expire(s) })
	}
}

// expire re-ranks the rules of s that expired once its next change has
// passed, unless s has been replaced meanwhile. Rules expiring at the same
// instant cause one swap. Until it is done, requests are still decided
// exactly (see [Snapshot.Check]), only more slowly.
func (c *Checker) expire(s *Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.close || c.cur.Load() != s {
		return
	}
	now := c.now()
	if next, _ := s.nextChange(); now.Before(next) {
		// The timer fired early (the wall clock was moved): wait again.
		c.stop = c.afterFunc(next.Sub(now), func() { c.expire(s) })
		return
	}
	c.publish(c.state.edit(s, now, s.settings, nil, nil))
}

// Close stops the checker's expiry timer. The checker keeps answering
// Check with its last snapshot, exactly at each request's instant; its
// writes fail with [ErrClosed]. Close always returns nil.
func (c *Checker) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.close = true
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
	return nil
}
