package seed

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
)

// Tenants follows the policies of a store, one per tenant, with a
// [follow.Group], and creates a tenant's policy the first time the server
// is asked about it, as the seed products do. It is safe for concurrent
// use.
type Tenants struct {
	st      store.Editor
	initial func() policy.Policy
	g       *follow.Group
	create  sync.Mutex // one creation at a time: Put cannot say "only if absent"
}

// NewTenants returns Tenants over st; initial gives a new policy its first
// content; opts configure the group (nil means its defaults, including its
// bound on the number of tenants).
func NewTenants(st store.Editor, initial func() policy.Policy, opts *follow.GroupOptions) *Tenants {
	return &Tenants{st: st, initial: initial, g: follow.NewGroup(st, opts)}
}

// Get returns the follower of the named policy, creating the policy when
// the store does not hold it. Past the group's bound it fails before
// creating anything.
func (t *Tenants) Get(ctx context.Context, name string) (*follow.Follower, error) {
	f, err := t.g.Get(ctx, name)
	if !errors.Is(err, store.ErrNotFound) {
		return f, err
	}
	t.create.Lock()
	_, _, err = t.st.Load(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		_, err = t.st.Put(ctx, name, t.initial(), store.Any)
	}
	t.create.Unlock()
	if err != nil {
		return nil, err
	}
	return t.g.Get(ctx, name)
}

// Settle waits, at most two seconds, until the named policy's follower
// serves revision rev, so that a request right after a write sees it.
func (t *Tenants) Settle(ctx context.Context, name string, rev store.Revision) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if f, err := t.Get(ctx, name); err == nil {
		f.Wait(ctx, rev)
	}
}

// Close stops every follower.
func (t *Tenants) Close() { t.g.Close() }
