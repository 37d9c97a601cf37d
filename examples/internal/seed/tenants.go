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

// ErrTenantLimit reports a tenant past the bound of a Tenants.
var ErrTenantLimit = errors.New("the server's limit of tenants is reached")

// Tenants follows the policies of a store, one per tenant, with a
// [follow.Group], and creates a tenant's policy the first time the server
// is asked about it, as the seed products do. Callers authenticate the
// request before naming a tenant, so that no anonymous request creates
// one. It is safe for concurrent use.
type Tenants struct {
	st      store.Editor
	initial func() policy.Policy
	g       *follow.Group
	max     int

	mu    sync.Mutex // serializes creation (Put cannot say "only if absent") and guards names
	names map[string]bool
}

// NewTenants returns Tenants over st; initial gives a new policy its first
// content; opts configure the group (nil means its defaults), and its
// MaxPolicies bounds the tenants: past it, Get fails with ErrTenantLimit
// before touching the store.
func NewTenants(st store.Editor, initial func() policy.Policy, opts *follow.Options) *Tenants {
	max := 1000
	if opts != nil && opts.MaxPolicies > 0 {
		max = opts.MaxPolicies
	}
	return &Tenants{st: st, initial: initial, g: follow.NewGroup(st, opts), max: max, names: map[string]bool{}}
}

// Get returns the follower of the named policy, creating the policy when
// the store does not hold it.
func (t *Tenants) Get(ctx context.Context, name string) (*follow.Follower, error) {
	t.mu.Lock()
	if !t.names[name] {
		if len(t.names) >= t.max {
			t.mu.Unlock()
			return nil, ErrTenantLimit
		}
		t.names[name] = true
	}
	t.mu.Unlock()
	f, err := t.g.Get(ctx, name)
	if !errors.Is(err, store.ErrNotFound) {
		return f, err
	}
	t.mu.Lock()
	_, _, err = t.st.Load(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		_, err = t.st.Put(ctx, name, t.initial(), store.Any)
	}
	t.mu.Unlock()
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
