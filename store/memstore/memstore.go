package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/docedit"
	"github.com/ipgate/ipgate/store/internal/fanout"
)

// Options configure a [Store]. A nil *Options means the defaults.
type Options struct {
	// Now sets CreatedAt and UpdatedAt; nil means time.Now.
	Now func() time.Time
	// Guard, when not nil, sees every write as the policy before and after
	// it and refuses it with an error, nothing stored (check/lockout.Guard).
	Guard func(old, new policy.Policy) error
}

// docEditor names the embedded editor without exporting it.
type docEditor = docedit.Editor

// Store keeps policies in memory. It implements [store.Editor] with the
// methods of [docedit.Editor], and [store.Watcher]. It is safe for
// concurrent use; every value it returns or takes is a copy. Make one
// with [New].
type Store struct {
	*docEditor
	mem *mem
}

var (
	_ store.Editor  = (*Store)(nil)
	_ store.Watcher = (*Store)(nil)
)

// New returns an empty store.
func New(opts *Options) *Store {
	m := &mem{policies: map[string]entry{}, last: map[string]store.Revision{}}
	var do docedit.Options
	if opts != nil {
		do = docedit.Options{Now: opts.Now, Guard: opts.Guard}
	}
	return &Store{docEditor: docedit.New(m, &do), mem: m}
}

// Watch returns a channel that receives a value after every committed
// change of the named policy; see [store.Watcher]. It starts a goroutine
// that ends, closing the channel, when ctx is done.
func (s *Store) Watch(ctx context.Context, name string) (<-chan struct{}, error) {
	return s.mem.hub.Watch(ctx, name)
}

type entry struct {
	p   policy.Policy
	rev store.Revision
}

type mem struct {
	hub fanout.Hub

	mu       sync.Mutex
	policies map[string]entry
	// last holds the highest revision each name ever had, deleted
	// policies included, so that no revision is given twice.
	last map[string]store.Revision
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
	var rev store.Revision
	if p == nil {
		if !ok {
			return 0, store.ErrNotFound
		}
		delete(m.policies, name)
	} else {
		rev = max(e.rev, m.last[name]) + 1
		m.policies[name] = entry{p: p.Clone(), rev: rev}
		m.last[name] = rev
	}
	m.hub.Notify(name)
	return rev, nil
}
