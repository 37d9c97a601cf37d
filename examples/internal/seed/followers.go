package seed

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
)

// Followers keeps one checker following each policy of a store that the
// server has been asked about, creating a policy the first time. It is
// safe for concurrent use.
type Followers struct {
	st      store.Editor
	initial func() policy.Policy
	opts    *check.Options

	mu sync.Mutex
	m  map[string]*check.Checker
}

// NewFollowers returns Followers over st; initial gives a new policy its
// first content; opts configure the checkers.
func NewFollowers(st store.Editor, initial func() policy.Policy, opts *check.Options) *Followers {
	return &Followers{st: st, initial: initial, opts: opts, m: map[string]*check.Checker{}}
}

// Get returns the checker following the named policy, creating the policy
// when it does not exist.
func (f *Followers) Get(ctx context.Context, name string) (*check.Checker, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.m[name]; c != nil {
		return c, nil
	}
	if _, _, err := f.st.Load(ctx, name); errors.Is(err, store.ErrNotFound) {
		if _, err := f.st.Put(ctx, name, f.initial(), store.Any); err != nil {
			return nil, err
		}
	}
	c, err := check.Follow(context.Background(), f.st, name, f.opts)
	if err != nil {
		return nil, err
	}
	f.m[name] = c
	return c, nil
}

// Settle waits, at most two seconds, until the named policy's checker
// serves revision rev, so that a request right after a write sees it.
func (f *Followers) Settle(ctx context.Context, name string, rev store.Revision) {
	c, err := f.Get(ctx, name)
	if err != nil {
		return
	}
	for deadline := time.Now().Add(2 * time.Second); c.Status().Revision < rev && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// Close stops every checker.
func (f *Followers) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.m {
		c.Close()
	}
}
