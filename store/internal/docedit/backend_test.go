package docedit_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/docedit"
)

// mapBackend is a [docedit.Backend] in a map. (Setting forget makes its
// revisions restart, as a store that lost its revision record would: the
// editor then refuses the commit.)
type mapBackend struct {
	mu     sync.Mutex
	docs   map[string]policy.Policy
	revs   map[string]store.Revision
	forget bool
}

func newMapBackend() *mapBackend {
	return &mapBackend{docs: map[string]policy.Policy{}, revs: map[string]store.Revision{}}
}

func (m *mapBackend) Load(_ context.Context, name string) (policy.Policy, store.Revision, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.docs[name]
	if !ok {
		return policy.Policy{}, 0, store.ErrNotFound
	}
	return p.Clone(), m.revs[name], nil
}

func (m *mapBackend) Swap(_ context.Context, name string, cur store.Revision, p *policy.Policy) (store.Revision, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.docs[name]; !ok && cur != 0 || ok && m.revs[name] != cur {
		return m.revs[name], &store.ConflictError{Name: name, Expected: cur, Current: m.revs[name]}
	}
	if p == nil {
		delete(m.docs, name)
		return 0, nil
	}
	next := m.revs[name] + 1
	if m.forget {
		next = 1
	}
	m.docs[name], m.revs[name] = p.Clone(), next
	return next, nil
}

// A store of whole documents implements Load and Swap; NewDocEditor makes
// every Editor method out of them.
func ExampleNew() {
	ctx := context.Background()
	e := docedit.New(newMapBackend(), nil)
	r := policy.Rule{ID: "bad-net", Target: rangeset.MustParseRange("192.0.2.0/24"), Action: policy.Deny}
	_, rev, _ := e.CreateRule(ctx, "site-1", r, store.Any)
	_, _, err := e.CreateRule(ctx, "site-1", r, rev)
	fmt.Println(rev, err)
	// Output:
	// 1 store: rule id already exists: "bad-net"
}
