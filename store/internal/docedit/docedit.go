// Package docedit implements every [store.Editor] write on a store of whole
// policy documents, as one read-modify-write: the memory and file stores
// are built on it, and the PostgreSQL store for its whole-policy writes.
package docedit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

// Backend is a store of whole policy documents: what [Editor] needs to
// implement every [store.Editor] write as one read-modify-write.
type Backend interface {
	store.Store
	// Swap stores p as the named policy, or deletes the policy when p is
	// nil, provided its current revision is still cur (0: absent). It
	// returns the new revision, above every revision the policy ever had
	// (a policy deleted and created again reuses none), or a
	// [*store.ConflictError] with nothing stored. Swap may keep p: the
	// editor never uses it again after a successful Swap.
	Swap(ctx context.Context, name string, cur store.Revision, p *policy.Policy) (store.Revision, error)
}

// A SharedLoader is a [Backend] that can also return its current policy
// without copying it. The editor's reads that return only a part of the
// policy (a rule, a page of rules) load it so, and copy that part alone.
type SharedLoader interface {
	// LoadShared is Load without the copy: the policy returned is shared,
	// and must not be modified.
	LoadShared(ctx context.Context, name string) (policy.Policy, store.Revision, error)
}

// A Damaged backend can tell the revision of a policy whose document
// exists but cannot be read (Load's error wraps [store.ErrInvalid]), so
// that an unconditional Put replaces it and an unconditional Delete
// removes it: the store's own API can mend what a hand edit broke.
type Damaged interface {
	DamagedRevision(ctx context.Context, name string) (store.Revision, error)
}

// load is Load for a write; when whole says the write replaces or
// removes the whole policy, a damaged one loads as empty at its revision.
func (e *Editor) load(ctx context.Context, name string, expected store.Revision, whole bool) (policy.Policy, store.Revision, error) {
	p, rev, err := e.b.Load(ctx, name)
	if d, ok := e.b.(Damaged); ok && whole && expected == store.Any && errors.Is(err, store.ErrInvalid) {
		if rev, derr := d.DamagedRevision(ctx, name); derr == nil {
			return policy.New(), rev, nil
		}
	}
	return p, rev, err
}

// view returns the named policy for reading only: shared when the backend
// is a [SharedLoader], a copy otherwise.
func (e *Editor) view(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	if s, ok := e.b.(SharedLoader); ok {
		return s.LoadShared(ctx, name)
	}
	return e.b.Load(ctx, name)
}

// Editor implements [store.Editor] on a [Backend]: each write loads the
// policy, checks the expected revision, applies the change to a copy,
// validates the whole policy and swaps it in. An unconditional write that
// loses a race to another writer is retried; a conditional one is refused.
// A Backend whose Swap commits a revision not above the one it replaced
// is reported as an error, never passed on: revisions only grow.
// It is safe for concurrent use when its Backend is. Make one with
// [New]; the zero Editor has no backend and panics.
type Editor struct {
	b     Backend
	now   func() time.Time
	guard func(old, new policy.Policy) error
}

// Options configure an [Editor]. A nil *Options means the defaults.
type Options struct {
	// Now is the clock that sets CreatedAt and UpdatedAt; nil means time.Now.
	Now func() time.Time
	// Guard, when not nil, sees every write as the policy before and after
	// it, and refuses it with an error, nothing stored: a lockout guard
	// (package check/lockout) keeps the admin's own address allowed.
	Guard func(old, new policy.Policy) error
}

// New returns an editor writing through b.
func New(b Backend, opts *Options) *Editor {
	e := &Editor{b: b, now: time.Now}
	if opts != nil {
		e.guard = opts.Guard
		if opts.Now != nil {
			e.now = opts.Now
		}
	}
	return e
}

// errNoChange ends an edit that changes nothing: nothing is committed.
var errNoChange = errors.New("no change")

// Load returns the named policy and its revision.
func (e *Editor) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	return e.b.Load(ctx, name)
}

// swap calls the backend and refuses a revision that does not grow.
func (e *Editor) swap(ctx context.Context, name string, cur store.Revision, p *policy.Policy) (store.Revision, error) {
	next, err := e.b.Swap(ctx, name, cur, p)
	if err == nil && p != nil && next <= cur {
		return next, fmt.Errorf("store: policy %s: the backend committed revision %d after %d: revisions must grow", rangeset.Quote(name), next, cur)
	}
	return next, err
}

// scope is what an edit may start from.
type scope uint8

const (
	existing scope = iota // the policy must exist
	created               // an absent policy starts empty, with default settings
	replaced              // as created, and the change replaces the whole policy (see load)
)

// edit runs one read-modify-write of the named policy.
func (e *Editor) edit(ctx context.Context, name string, expected store.Revision, sc scope,
	change func(p *policy.Policy, now time.Time) error) (store.Revision, error) {
	for {
		p, rev, err := e.load(ctx, name, expected, sc == replaced)
		if errors.Is(err, store.ErrNotFound) && sc != existing {
			p, rev, err = policy.New(), 0, nil
		}
		if err != nil {
			return 0, err
		}
		if expected != store.Any && expected != rev {
			return rev, &store.ConflictError{Name: name, Expected: expected, Current: rev}
		}
		var old policy.Policy
		if e.guard != nil {
			old = p.Clone()
		}
		switch err := change(&p, e.now()); {
		case errors.Is(err, errNoChange):
			return rev, nil
		case err != nil:
			return rev, err
		}
		if err := p.Validate(); err != nil {
			return rev, fmt.Errorf("%w %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
		}
		if e.guard != nil {
			if err := e.guard(old, p); err != nil {
				return rev, fmt.Errorf("%w %s: %w", store.ErrRefused, rangeset.Quote(name), err)
			}
		}
		next, err := e.swap(ctx, name, rev, &p)
		if errors.Is(err, store.ErrConflict) && expected == store.Any {
			continue
		}
		return next, err
	}
}

// Put replaces the whole policy. A rule whose id the old policy has keeps
// its CreatedAt, and its UpdatedAt too when nothing else changed; a
// changed rule gets UpdatedAt now; a new rule gets both now.
func (e *Editor) Put(ctx context.Context, name string, np policy.Policy, expected store.Revision) (store.Revision, error) {
	return e.edit(ctx, name, expected, replaced, func(p *policy.Policy, now time.Time) error {
		old := make(map[string]policy.Rule, len(p.Rules))
		for _, r := range p.Rules {
			old[r.ID] = r
		}
		*p = Stamp(np, now, func(id string) (policy.Rule, bool) { r, ok := old[id]; return r, ok })
		return nil
	})
}

// Delete removes the named policy.
func (e *Editor) Delete(ctx context.Context, name string, expected store.Revision) error {
	for {
		_, rev, err := e.load(ctx, name, expected, true)
		if err != nil {
			return err
		}
		if expected != store.Any && expected != rev {
			return &store.ConflictError{Name: name, Expected: expected, Current: rev}
		}
		_, err = e.swap(ctx, name, rev, nil)
		if errors.Is(err, store.ErrConflict) && expected == store.Any {
			continue
		}
		return err
	}
}

// SetSettings replaces the policy's settings.
func (e *Editor) SetSettings(ctx context.Context, name string, s policy.Settings, expected store.Revision) (store.Revision, error) {
	return e.edit(ctx, name, expected, created, func(p *policy.Policy, _ time.Time) error {
		p.Settings = s
		return nil
	})
}

func find(p *policy.Policy, id string) (int, error) {
	i := slices.IndexFunc(p.Rules, func(r policy.Rule) bool { return r.ID == id })
	if i < 0 {
		return -1, fmt.Errorf("%w: %s", store.ErrRuleNotFound, rangeset.Quote(id))
	}
	return i, nil
}

// CreateRule adds r with CreatedAt and UpdatedAt set to now.
func (e *Editor) CreateRule(ctx context.Context, name string, r policy.Rule, expected store.Revision) (policy.Rule, store.Revision, error) {
	r = r.Clone()
	rev, err := e.edit(ctx, name, expected, created, func(p *policy.Policy, now time.Time) error {
		if _, err := find(p, r.ID); err == nil {
			return fmt.Errorf("%w: %s", store.ErrRuleExists, rangeset.Quote(r.ID))
		}
		r.CreatedAt, r.UpdatedAt = now, now
		p.Rules = append(p.Rules, r)
		return nil
	})
	return r.Clone(), rev, err
}

// GetRule returns the rule with the given id.
func (e *Editor) GetRule(ctx context.Context, name, id string) (policy.Rule, store.Revision, error) {
	p, rev, err := e.view(ctx, name)
	if err != nil {
		return policy.Rule{}, 0, err
	}
	i, err := find(&p, id)
	if err != nil {
		return policy.Rule{}, rev, err
	}
	return p.Rules[i].Clone(), rev, nil
}

// UpdateRule replaces the rule with r's id; CreatedAt is kept and
// UpdatedAt set to now.
func (e *Editor) UpdateRule(ctx context.Context, name string, r policy.Rule, expected store.Revision) (policy.Rule, store.Revision, error) {
	return e.modify(ctx, name, r.ID, expected, func(policy.Rule) policy.Rule { return r.Clone() })
}

// PatchRule sets the fields of patch on the rule; UpdatedAt is set to now.
func (e *Editor) PatchRule(ctx context.Context, name, id string, patch store.Patch, expected store.Revision) (policy.Rule, store.Revision, error) {
	return e.modify(ctx, name, id, expected, patch.Apply)
}

func (e *Editor) modify(ctx context.Context, name, id string, expected store.Revision, change func(policy.Rule) policy.Rule) (policy.Rule, store.Revision, error) {
	var out policy.Rule
	rev, err := e.edit(ctx, name, expected, existing, func(p *policy.Policy, now time.Time) error {
		i, err := find(p, id)
		if err != nil {
			return err
		}
		old := p.Rules[i]
		r := change(old.Clone())
		r.ID, r.CreatedAt, r.UpdatedAt = id, old.CreatedAt, now
		p.Rules[i], out = r, r.Clone()
		return nil
	})
	return out, rev, err
}

// DeleteRule removes the rule with the given id.
func (e *Editor) DeleteRule(ctx context.Context, name, id string, expected store.Revision) (store.Revision, error) {
	return e.edit(ctx, name, expected, existing, func(p *policy.Policy, _ time.Time) error {
		i, err := find(p, id)
		if err != nil {
			return err
		}
		p.Rules = slices.Delete(p.Rules, i, i+1)
		return nil
	})
}

// DeleteRules removes every rule that q matches and returns the count. A
// query that matches nothing commits nothing.
func (e *Editor) DeleteRules(ctx context.Context, name string, q store.Query, expected store.Revision) (int, store.Revision, error) {
	n := 0
	rev, err := e.edit(ctx, name, expected, existing, func(p *policy.Policy, _ time.Time) error {
		before := len(p.Rules)
		p.Rules = slices.DeleteFunc(p.Rules, q.Match)
		if n = before - len(p.Rules); n == 0 {
			return errNoChange
		}
		return nil
	})
	return n, rev, err
}

// ListRules returns the page of rules that q selects and the total before
// paging.
func (e *Editor) ListRules(ctx context.Context, name string, q store.Query) ([]policy.Rule, int, error) {
	p, _, err := e.view(ctx, name) // Apply copies only the page
	if err != nil {
		return nil, 0, err
	}
	return q.Apply(p.Rules)
}
