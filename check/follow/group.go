package follow

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

// defaultMaxPolicies is documented at Options.MaxPolicies.
const defaultMaxPolicies = 1000

// Group follows many named policies of one store, one [Follower] each,
// for a process that serves many tenants. It is safe for concurrent use.
// It never creates a policy: a name the store does not hold is an error
// of [Group.Get], as it is of [Follow].
//
// Make one with [NewGroup]; the zero Group follows nothing.
type Group struct {
	st   store.Store
	opts Options

	ctx    context.Context // ended by Close, to abort the starts under way
	cancel context.CancelFunc
	starts sync.WaitGroup // the starts under way

	epoch    time.Time  // for the monotonic instants of entry.used
	sweeping sync.Mutex // held by a sweep of idle followers, and waited for by Close

	mu     sync.Mutex // guards the fields below and entry.used
	m      map[string]*entry
	closed bool
	sweep  *time.Timer // the next sweep, nil when none is due
}

// entry is one policy of a Group, being started until ready is closed.
// An entry in Group.m that is ready has a follower: a failed start is
// removed.
type entry struct {
	ready chan struct{}
	f     *Follower
	err   error
	retry bool          // the start failed because its caller's context ended, or Close
	used  time.Duration // since Group.epoch, when last asked for
}

// NewGroup returns a group following policies of st on demand. It starts
// no goroutine: each follower starts its own, on the first [Group.Get] of
// its name, and [Group.Close] stops them all.
func NewGroup(st store.Store, opts *Options) *Group {
	g := &Group{st: st, m: map[string]*entry{}, epoch: time.Now()}
	if opts != nil {
		g.opts = *opts
	}
	if g.opts.MaxPolicies <= 0 {
		g.opts.MaxPolicies = defaultMaxPolicies
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	return g
}

// Get returns the follower of the named policy, starting it with [Follow]
// on the first call for that name; concurrent calls for one name share one
// start and one follower. ctx bounds the start, or the wait for another
// call's start. A failed start is not remembered: the next Get tries
// again. Past Options.MaxPolicies names, Get fails with an error
// naming the limit; after [Group.Close], with an error wrapping
// [check.ErrClosed].
func (g *Group) Get(ctx context.Context, name string) (*Follower, error) {
	if g.st == nil {
		return nil, fmt.Errorf("follow: Group.Get(%s): the Group was not made by NewGroup", rangeset.Quote(name))
	}
	for {
		g.mu.Lock()
		if g.closed {
			g.mu.Unlock()
			return nil, fmt.Errorf("follow: Group.Get(%s): %w", rangeset.Quote(name), errGroupClosed)
		}
		e := g.m[name]
		if e == nil {
			if len(g.m) >= g.opts.MaxPolicies {
				g.mu.Unlock()
				return nil, fmt.Errorf("follow: Group.Get(%s): the group already follows its limit of %d policies", rangeset.Quote(name), g.opts.MaxPolicies)
			}
			e = &entry{ready: make(chan struct{})}
			g.m[name] = e
			g.starts.Add(1)
			g.armSweep()
			g.mu.Unlock()
			return g.start(ctx, name, e)
		}
		select {
		case <-e.ready:
			// Marked used under g.mu, so that no sweep closes it now.
			e.used = time.Since(g.epoch)
			g.mu.Unlock()
			return e.f, nil
		default:
		}
		g.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("follow: Group.Get(%s): %w", rangeset.Quote(name), ctx.Err())
		}
		if e.f == nil && !e.retry {
			return nil, e.err
		}
		// Started: look again, to mark it used. Or the start ended with
		// its caller's context, not ours, or with Close: look again.
	}
}

// Start starts following the named policies that the group does not
// follow yet, several at a time, and waits until they are served, so that
// the first requests of those tenants do not wait for their start: it is
// [Group.Get] for each name, and a failed start is not remembered either.
// It returns the errors of the starts that failed, joined; each names its
// policy.
func (g *Group) Start(ctx context.Context, names []string) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan string)
	// Starts wait mostly for the store: a few per processor keep a
	// remote one busy without a goroutine per name.
	for range min(len(names), 4*runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range next {
				if _, err := g.Get(ctx, name); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i, name := range names {
		select {
		case next <- name:
		case <-ctx.Done():
			mu.Lock()
			errs = append(errs, fmt.Errorf("follow: Group.Start: %d of %d names not started: %w", len(names)-i, len(names), ctx.Err()))
			mu.Unlock()
			break feed
		}
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// armSweep arms the sweep of idle followers, if the group evicts them and
// none is due. g.mu is held.
func (g *Group) armSweep() {
	if g.opts.IdleAfter > 0 && g.sweep == nil && !g.closed {
		g.sweep = time.AfterFunc(g.opts.IdleAfter/2, g.sweepIdle)
	}
}

// sweepIdle closes and forgets the followers not asked for in
// Options.IdleAfter, and arms the next sweep while some remain.
func (g *Group) sweepIdle() {
	g.sweeping.Lock()
	defer g.sweeping.Unlock()
	var idle []*Follower
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	now := time.Since(g.epoch)
	for name, e := range g.m {
		select {
		case <-e.ready:
			if now-e.used >= g.opts.IdleAfter {
				delete(g.m, name)
				idle = append(idle, e.f)
			}
		default: // starting
		}
	}
	g.sweep = nil
	if len(g.m) > 0 {
		g.armSweep()
	}
	g.mu.Unlock()
	for _, f := range idle {
		f.Close()
	}
}

// start runs Follow for the new entry e and publishes the result.
func (g *Group) start(ctx context.Context, name string, e *entry) (*Follower, error) {
	defer g.starts.Done()
	// Close aborts the start as well as ctx does.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(g.ctx, cancel)
	defer stop()
	f, err := Follow(ctx, g.st, name, &g.opts)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		if f != nil {
			f.Close()
		}
		f, err = nil, fmt.Errorf("follow: Group.Get(%s): %w", rangeset.Quote(name), errGroupClosed)
	}
	if err != nil {
		delete(g.m, name)
		e.err, e.retry = err, ctx.Err() != nil
	}
	e.f, e.used = f, time.Since(g.epoch)
	close(e.ready)
	return f, err
}

// errGroupClosed is wrapped by Group.Get after Group.Close.
var errGroupClosed = fmt.Errorf("the group is closed: %w", check.ErrClosed)

// Close stops every follower of the group, and the starts under way, and
// waits until they have stopped. The followers keep answering Check with
// their last snapshots. Later Gets fail. It stops the sweep of idle
// followers too, waiting for one under way. Close is idempotent and
// returns the followers' errors, joined.
func (g *Group) Close() error {
	if g.st == nil {
		return nil
	}
	g.mu.Lock()
	g.closed = true
	if g.sweep != nil {
		g.sweep.Stop()
		g.sweep = nil
	}
	var fs []*Follower
	for _, e := range g.m {
		select {
		case <-e.ready:
			if e.f != nil {
				fs = append(fs, e.f)
			}
		default: // the start sees closed, and closes its follower
		}
	}
	g.mu.Unlock()
	g.cancel()
	g.starts.Wait()
	g.sweeping.Lock()
	//lint:ignore SA2001 the lock is taken only to wait for a sweep under way, which closes what it took
	g.sweeping.Unlock()
	var errs []error
	for _, f := range fs {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
