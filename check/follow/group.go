package follow

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

// defaultMaxPolicies is documented at GroupOptions.MaxPolicies.
const defaultMaxPolicies = 1000

// GroupOptions configure a [Group]. A nil *GroupOptions, and a zero field,
// mean the defaults.
type GroupOptions struct {
	// Options configure each follower. OnError is called by each, with
	// errors that name the policy, so calls for different policies may
	// come at once.
	Options
	// MaxPolicies bounds the number of policies followed, so that names
	// taken from requests cannot make a process follow without end; zero
	// means 1000.
	MaxPolicies int
}

// Group follows many named policies of one store, one [Follower] each,
// for a process that serves many tenants. It is safe for concurrent use.
// It never creates a policy: a name the store does not hold is an error
// of [Group.Get], as it is of [Follow].
//
// Make one with [NewGroup]; the zero Group follows nothing.
type Group struct {
	st   store.Store
	opts GroupOptions

	ctx    context.Context // ended by Close, to abort the starts under way
	cancel context.CancelFunc
	starts sync.WaitGroup // the starts under way

	mu     sync.Mutex // guards the fields below
	m      map[string]*entry
	closed bool
}

// entry is one policy of a Group, being started until ready is closed.
type entry struct {
	ready chan struct{}
	f     *Follower
	err   error
	retry bool // the start failed because its caller's context ended, or Close
}

// NewGroup returns a group following policies of st on demand. It starts
// no goroutine: each follower starts its own, on the first [Group.Get] of
// its name, and [Group.Close] stops them all.
func NewGroup(st store.Store, opts *GroupOptions) *Group {
	g := &Group{st: st, m: map[string]*entry{}}
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
// again. Past GroupOptions.MaxPolicies names, Get fails with an error
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
			g.mu.Unlock()
			return g.start(ctx, name, e)
		}
		g.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("follow: Group.Get(%s): %w", rangeset.Quote(name), ctx.Err())
		}
		if e.f != nil {
			return e.f, nil
		}
		if !e.retry {
			return nil, e.err
		}
		// The start ended with its caller's context, not ours, or with
		// Close: look again.
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
	f, err := Follow(ctx, g.st, name, &g.opts.Options)
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
	e.f = f
	close(e.ready)
	return f, err
}

// errGroupClosed is wrapped by Group.Get after Group.Close.
var errGroupClosed = fmt.Errorf("the group is closed: %w", check.ErrClosed)

// Close stops every follower of the group, and the starts under way, and
// waits until they have stopped. The followers keep answering Check with
// their last snapshots. Later Gets fail. Close is idempotent and returns
// the followers' errors, joined.
func (g *Group) Close() error {
	if g.st == nil {
		return nil
	}
	g.mu.Lock()
	g.closed = true
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
	var errs []error
	for _, f := range fs {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
