// Package memstore is an in-memory [store.Editor] and [store.Watcher]: the
// embedded default, for tests, examples and single-process services. It
// keeps nothing across restarts.
package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
)

// Options configure a [Store]. A nil *Options means the defaults.
type Options struct {
	// Now sets CreatedAt and UpdatedAt; nil means time.Now.
	Now func() time.Time
	// Guard refuses writes; see store.DocEditor.Guard.
	Guard func(old, new policy.Policy) error
}

// Store keeps policies in memory. It is safe for concurrent use; every
// value it returns or takes is a copy.
type Store struct {
	store.DocEditor
	mem *mem
}

// New returns an empty store.
func New(opts *Options) *Store {
	m := &mem{policies: map[string]entry{}, watchers: map[string]map[chan struct{}]bool{}}
	s := &Store{DocEditor: store.DocEditor{Backend: m}, mem: m}
	if opts != nil {
		s.Now, s.Guard = opts.Now, opts.Guard
	}
	return s
}

// Watch returns a channel that receives a value after every committed
// change of the named policy; see [store.Watcher].
func (s *Store) Watch(ctx context.Context, name string) (<-chan struct{}, error) {
	return s.mem.watch(ctx, name), nil
}

type entry struct {
	p   policy.Policy
	rev store.Revision
}

type mem struct {
	mu       sync.Mutex
	policies map[string]entry
	// last holds the last revision of deleted policies, so that a policy
	// created again never reuses a revision a reader has seen.
	last     map[string]store.Revision
	watchers map[string]map[chan struct{}]bool
}

func (m *mem) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	if err := ctx.Err(); err != nil {
		return policy.Policy{}, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.policies[name]
	if !ok {
		return policy.Policy{}, 0, store.ErrNotFound
	}
	return e.p.Clone(), e.rev, nil
}

func (m *mem) Swap(ctx context.Context, name string, cur store.Revision, p *policy.Policy) (store.Revision, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.policies[name]
	if e.rev != cur {
		return e.rev, &store.ConflictError{Name: name, Expected: cur, Current: e.rev}
	}
	if p == nil {
		if !ok {
			return 0, store.ErrNotFound
		}
		if m.last == nil {
			m.last = map[string]store.Revision{}
		}
		m.last[name] = e.rev
		delete(m.policies, name)
	} else {
		rev := max(e.rev, m.last[name]) + 1
		m.policies[name] = entry{p: p.Clone(), rev: rev}
	}
	for ch := range m.watchers[name] {
		select {
		case ch <- struct{}{}:
		default: // a notification is pending: bursts coalesce
		}
	}
	return m.policies[name].rev, nil
}

func (m *mem) watch(ctx context.Context, name string) <-chan struct{} {
	ch := make(chan struct{}, 1)
	m.mu.Lock()
	if m.watchers[name] == nil {
		m.watchers[name] = map[chan struct{}]bool{}
	}
	m.watchers[name][ch] = true
	m.mu.Unlock()
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		delete(m.watchers[name], ch)
		close(ch)
		m.mu.Unlock()
	}()
	return ch
}
