package memstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/docedit"
	"github.com/ipgate/ipgate/store/internal/fanout"
)

// Options configure a store made by [New]. A nil *Options means the
// defaults.
type Options struct {
	// Now sets CreatedAt and UpdatedAt; nil means time.Now.
	Now func() time.Time
	// Guard, when not nil, sees every write as the policy before and after
	// it and refuses it with an error, nothing stored (check/lockout.Guard).
	// It needs both whole policies, so with a Guard every write costs
	// O(rules in the policy).
	Guard func(old, new policy.Policy) error
	// Retention is how many of its latest changes each policy keeps for
	// Changes; older ones are reported as [store.ErrGap]. Zero means 1000.
	Retention int
}

// defaultRetention bounds a policy's change history when
// Options.Retention is zero: a follower more than that many changes behind
// reloads.
const defaultRetention = 1000

// memStore keeps policies in memory; [New] makes one, the zero memStore is
// not usable.
type memStore struct {
	now       func() time.Time
	guard     func(old, new policy.Policy) error
	retention int
	hub       fanout.Hub

	// wmu serializes the writers, for the whole of each write: a slow
	// write (a Put of many rules, a Guard) holds up other writers only.
	// mu guards what readers see (policies, each entry's state, index and
	// hist), changed by writers holding both, briefly.
	wmu      sync.Mutex
	mu       sync.Mutex
	policies map[string]*entry
	// gone is the highest revision of a deleted policy (under wmu): a
	// policy created starts above it, so that a name deleted and created
	// again never repeats a revision, and no name need be remembered.
	gone store.Revision

	// validated counts the rules that writes validated, so that tests can
	// tell a single-rule write from a whole-policy one.
	validated atomic.Int64
}

var (
	_ store.Editor  = (*memStore)(nil)
	_ store.Watcher = (*memStore)(nil)
	_ store.Feed    = (*memStore)(nil)
)

// entry is one policy. Its state is replaced, never modified, so that
// Load copies it out under memStore.mu and reads it without.
type entry struct {
	state
	index map[string]int // rule id -> slot in rules
	hist  *docedit.History
}

// state is a committed revision of a policy.
type state struct {
	settings policy.Settings
	rules    vec
	live     int // the rules in rules, not counting empty slots
	rev      store.Revision
}

func (s state) policy() policy.Policy {
	p := policy.Policy{Settings: s.settings, Rules: make([]policy.Rule, 0, s.live)}
	for leaf := range s.rules.leaves {
		for i := range leaf {
			if r := &leaf[i]; r.ID != "" {
				p.Rules = append(p.Rules, r.Clone())
			}
		}
	}
	return p
}

// New returns an empty store in memory. The [store.Editor] it returns also
// implements [store.Watcher] and [store.Feed]: callers may type-assert it
// to either. It is safe for concurrent use; every value it returns or
// takes is a copy. The package doc gives the costs of each call.
//
// Put stamps the rules: a rule whose id the old policy has keeps its
// CreatedAt, and its UpdatedAt too when nothing else changed; a changed
// rule gets UpdatedAt now; a new rule gets both now. CreateRule sets
// CreatedAt and UpdatedAt to now; UpdateRule keeps CreatedAt and sets
// UpdatedAt to now, as PatchRule does. A DeleteRules whose query matches
// nothing commits nothing.
//
// Each call to Watch starts a goroutine that ends, closing the channel,
// when ctx is done. Changes gives, of each policy, its latest
// Options.Retention changes; a policy deleted and created again keeps none
// from before.
func New(opts *Options) store.Editor {
	s := &memStore{now: time.Now, retention: defaultRetention, policies: map[string]*entry{}}
	if opts != nil {
		s.guard = opts.Guard
		if opts.Now != nil {
			s.now = opts.Now
		}
		if opts.Retention > 0 {
			s.retention = opts.Retention
		}
	}
	return s
}

// Watch returns a channel that receives a value after every committed
// change of the named policy; see [store.Watcher]. It starts a goroutine
// that ends, closing the channel, when ctx is done.
func (s *memStore) Watch(ctx context.Context, name string) (<-chan struct{}, error) {
	return s.hub.Watch(ctx, name)
}

// Load returns a copy of the named policy and its revision. It costs
// O(rules), spent outside the store's lock: writers do not wait for it.
func (s *memStore) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	if err := ctx.Err(); err != nil {
		return policy.Policy{}, 0, err
	}
	s.mu.Lock()
	e, ok := s.policies[name]
	var st state
	if ok {
		st = e.state
	}
	s.mu.Unlock()
	if !ok {
		return policy.Policy{}, 0, store.ErrNotFound
	}
	return st.policy(), st.rev, nil
}

// Changes returns the changes committed after revision after; see
// [store.Feed]. Each policy keeps its latest Options.Retention changes;
// a policy deleted and created again keeps none from before.
func (s *memStore) Changes(ctx context.Context, name string, after store.Revision) ([]store.Change, store.Revision, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.policies[name]
	if !ok {
		return nil, 0, store.ErrNotFound
	}
	ch, err := e.hist.Since(after, e.rev)
	return ch, e.rev, err
}

// begin returns the named policy for a write under s.wmu, after checking
// the expected revision; create says an absent policy starts empty, with
// default settings (not yet in s.policies).
func (s *memStore) begin(ctx context.Context, name string, expected store.Revision, create bool) (*entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, ok := s.policies[name]
	if !ok {
		if !create {
			return nil, store.ErrNotFound
		}
		e = &entry{state: state{settings: policy.DefaultSettings()}, index: map[string]int{}}
	}
	if expected != store.Any && expected != e.rev {
		return nil, &store.ConflictError{Name: name, Expected: expected, Current: e.rev}
	}
	return e, nil
}

// commit publishes next as the policy's new revision, its changes
// recorded, guarded by s.guard; it returns the revision. Called under
// s.wmu; index, when not nil, updates e.index in the same critical section,
// so that no reader sees a revision without its index.
func (s *memStore) commit(name string, e *entry, next state, index func(), changes []store.Change, recorded bool) (store.Revision, error) {
	if s.guard != nil {
		if err := s.guard(e.policy(), next.policy()); err != nil {
			return e.rev, fmt.Errorf("%w %s: %w", store.ErrRefused, rangeset.Quote(name), err)
		}
	}
	next.rev = e.rev + 1
	if e.rev == 0 {
		next.rev = s.gone + 1
	}
	for i := range changes {
		changes[i].Revision = next.rev
	}
	s.mu.Lock()
	if e.hist == nil {
		e.hist = docedit.NewHistory(s.retention)
		e.hist.Reset(next.rev)
	} else {
		e.hist.Add(e.rev, next.rev, changes, recorded)
	}
	e.state = next
	if index != nil {
		index()
	}
	s.policies[name] = e
	s.mu.Unlock()
	s.hub.Notify(name)
	return next.rev, nil
}

// lock takes s.wmu for a write; the write holds it to its end.
func (s *memStore) lock() func() {
	s.wmu.Lock()
	return s.wmu.Unlock
}

func invalid(name string, err error) error {
	return fmt.Errorf("%w %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
}

// validateRule validates r as a policy's only rule: with the policy's
// settings valid and its ids unique (checked on the index), that is what a
// whole-policy validation would find wrong with r. A rule error is given
// position index.
func (s *memStore) validateRule(r policy.Rule, index int) error {
	s.validated.Add(1)
	err := policy.New(r).Validate()
	if err != nil {
		reindex(err, index)
	}
	return err
}

// reindex sets the Index of every *policy.RuleError in err.
func reindex(err error, index int) {
	var re *policy.RuleError
	if errors.As(err, &re) {
		re.Index = index
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			reindex(e, index)
		}
	}
}

func (s *memStore) validatePolicy(p policy.Policy) error {
	s.validated.Add(int64(len(p.Rules)) + 1)
	return p.Validate()
}

// Put replaces the whole policy, in O(rules in it). A rule whose id the
// old policy has keeps its CreatedAt, and its UpdatedAt too when nothing
// else changed; a changed rule gets UpdatedAt now; a new rule gets both
// now. The changes recorded are the difference from the old policy.
func (s *memStore) Put(ctx context.Context, name string, np policy.Policy, expected store.Revision) (store.Revision, error) {
	defer s.lock()()
	e, err := s.begin(ctx, name, expected, true)
	if err != nil {
		return conflictRev(err), err
	}
	old := func(id string) (policy.Rule, bool) {
		if i, ok := e.index[id]; ok {
			return e.rules.get(i), true
		}
		return policy.Rule{}, false
	}
	np = docedit.Stamp(np, s.now(), old)
	if err := s.validatePolicy(np); err != nil {
		return e.rev, invalid(name, err)
	}
	index := indexOf(np.Rules)
	changes, ok := e.diff(np, index, s.retention)
	return s.commit(name, e, state{settings: np.Settings, rules: build(np.Rules), live: len(np.Rules)}, func() { e.index = index }, changes, ok)
}

// diff is [docedit.Diff] from e to np, whose index is given, with e's own
// index: no map of the old policy is built.
func (e *entry) diff(np policy.Policy, index map[string]int, limit int) ([]store.Change, bool) {
	var out []store.Change
	if e.settings != np.Settings {
		s := np.Settings
		out = append(out, store.Change{Settings: &s})
	}
	for r := range e.rules.all {
		if _, ok := index[r.ID]; !ok {
			if len(out) >= limit {
				return nil, false
			}
			out = append(out, store.Change{Deleted: r.ID})
		}
	}
	for i := range np.Rules {
		r := &np.Rules[i]
		if j, ok := e.index[r.ID]; ok && e.rules.get(j).Equal(*r) {
			continue
		}
		if len(out) >= limit {
			return nil, false
		}
		c := r.Clone()
		out = append(out, store.Change{Rule: &c})
	}
	return out, true
}

func conflictRev(err error) store.Revision {
	if ce, ok := err.(*store.ConflictError); ok {
		return ce.Current
	}
	return 0
}

// Delete removes the named policy.
func (s *memStore) Delete(ctx context.Context, name string, expected store.Revision) error {
	defer s.lock()()
	e, err := s.begin(ctx, name, expected, false)
	if err != nil {
		return err
	}
	s.gone = max(s.gone, e.rev)
	s.mu.Lock()
	delete(s.policies, name)
	s.mu.Unlock()
	s.hub.Notify(name)
	return nil
}

// SetSettings replaces the policy's settings, in O(1).
func (s *memStore) SetSettings(ctx context.Context, name string, st policy.Settings, expected store.Revision) (store.Revision, error) {
	defer s.lock()()
	e, err := s.begin(ctx, name, expected, true)
	if err != nil {
		return conflictRev(err), err
	}
	if err := s.validatePolicy(policy.Policy{Settings: st}); err != nil {
		return e.rev, invalid(name, err)
	}
	next := e.state
	next.settings = st
	return s.commit(name, e, next, nil, []store.Change{{Settings: &st}}, true)
}

// CreateRule adds r with CreatedAt and UpdatedAt set to now, in
// O(log rules).
func (s *memStore) CreateRule(ctx context.Context, name string, r policy.Rule, expected store.Revision) (policy.Rule, store.Revision, error) {
	defer s.lock()()
	e, err := s.begin(ctx, name, expected, true)
	if err != nil {
		return r.Clone(), conflictRev(err), err
	}
	r = r.Clone()
	if _, ok := e.index[r.ID]; ok {
		return r, e.rev, fmt.Errorf("%w: %s", store.ErrRuleExists, rangeset.Quote(r.ID))
	}
	now := s.now()
	r.CreatedAt, r.UpdatedAt = now, now
	if err := s.validateRule(r, e.live); err != nil {
		return r, e.rev, invalid(name, err)
	}
	next := e.state
	slot := next.rules.n
	next.rules = next.rules.set(slot, r)
	next.live++
	stored := r.Clone()
	rev, err := s.commit(name, e, next, func() { e.index[r.ID] = slot }, []store.Change{{Rule: &stored}}, true)
	return r.Clone(), rev, err
}

// GetRule returns the rule with the given id, in O(log rules).
func (s *memStore) GetRule(ctx context.Context, name, id string) (policy.Rule, store.Revision, error) {
	if err := ctx.Err(); err != nil {
		return policy.Rule{}, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.policies[name]
	if !ok {
		return policy.Rule{}, 0, store.ErrNotFound
	}
	i, ok := e.index[id]
	if !ok {
		return policy.Rule{}, e.rev, fmt.Errorf("%w: %s", store.ErrRuleNotFound, rangeset.Quote(id))
	}
	return e.rules.get(i).Clone(), e.rev, nil
}

// UpdateRule replaces the rule with r's id, in O(log rules); CreatedAt is
// kept and UpdatedAt set to now.
func (s *memStore) UpdateRule(ctx context.Context, name string, r policy.Rule, expected store.Revision) (policy.Rule, store.Revision, error) {
	r = r.Clone()
	return s.modify(ctx, name, r.ID, expected, func(policy.Rule) policy.Rule { return r })
}

// PatchRule sets the fields of patch on the rule, in O(log rules);
// UpdatedAt is set to now.
func (s *memStore) PatchRule(ctx context.Context, name, id string, patch store.Patch, expected store.Revision) (policy.Rule, store.Revision, error) {
	return s.modify(ctx, name, id, expected, patch.Apply)
}

func (s *memStore) modify(ctx context.Context, name, id string, expected store.Revision, change func(policy.Rule) policy.Rule) (policy.Rule, store.Revision, error) {
	defer s.lock()()
	e, err := s.begin(ctx, name, expected, false)
	if err != nil {
		return policy.Rule{}, conflictRev(err), err
	}
	i, ok := e.index[id]
	if !ok {
		return policy.Rule{}, e.rev, fmt.Errorf("%w: %s", store.ErrRuleNotFound, rangeset.Quote(id))
	}
	old := e.rules.get(i)
	r := change(old.Clone())
	r.ID, r.CreatedAt, r.UpdatedAt = id, old.CreatedAt, s.now()
	// On error too the rule is returned as it would have been, as the
	// whole-document stores do.
	if err := s.validateRule(r, i); err != nil {
		return r.Clone(), e.rev, invalid(name, err)
	}
	next := e.state
	next.rules = next.rules.set(i, r)
	stored := r.Clone()
	rev, err := s.commit(name, e, next, nil, []store.Change{{Rule: &stored}}, true)
	return r.Clone(), rev, err
}

// DeleteRule removes the rule with the given id, in O(log rules)
// amortised: a deleted rule leaves an empty slot, and the slots are
// compacted, in O(rules), once more than half are empty.
func (s *memStore) DeleteRule(ctx context.Context, name, id string, expected store.Revision) (store.Revision, error) {
	defer s.lock()()
	e, err := s.begin(ctx, name, expected, false)
	if err != nil {
		return conflictRev(err), err
	}
	i, ok := e.index[id]
	if !ok {
		return e.rev, fmt.Errorf("%w: %s", store.ErrRuleNotFound, rangeset.Quote(id))
	}
	next := e.state
	next.rules = next.rules.set(i, policy.Rule{})
	next.live--
	// Once most slots are empty, the rules are rebuilt without them, so
	// that space stays O(rules) and each delete pays O(1) for it on
	// average.
	var index map[string]int
	if empty := next.rules.n - next.live; empty >= 2*width && empty > next.live {
		rules := make([]policy.Rule, 0, next.live)
		for r := range next.rules.all {
			rules = append(rules, r)
		}
		next.rules, index = build(rules), indexOf(rules)
	}
	return s.commit(name, e, next, func() {
		if index != nil {
			e.index = index
		} else {
			delete(e.index, id)
		}
	}, []store.Change{{Deleted: id}}, true)
}

func indexOf(rules []policy.Rule) map[string]int {
	index := make(map[string]int, len(rules))
	for i, r := range rules {
		index[r.ID] = i
	}
	return index
}

// DeleteRules removes every rule that q matches and returns the count, in
// O(rules): the filters must see every rule. A query that matches
// nothing commits nothing.
func (s *memStore) DeleteRules(ctx context.Context, name string, q store.Query, expected store.Revision) (int, store.Revision, error) {
	defer s.lock()()
	e, err := s.begin(ctx, name, expected, false)
	if err != nil {
		return 0, conflictRev(err), err
	}
	var keep []policy.Rule
	var changes []store.Change
	for r := range e.rules.all {
		if q.Match(r) {
			changes = append(changes, store.Change{Deleted: r.ID})
		} else {
			keep = append(keep, r)
		}
	}
	if len(changes) == 0 {
		return 0, e.rev, nil
	}
	next := e.state
	next.rules, next.live = build(keep), len(keep)
	ok := len(changes) <= s.retention
	if !ok {
		changes = nil
	}
	n := e.live - len(keep)
	index := indexOf(keep)
	rev, err := s.commit(name, e, next, func() { e.index = index }, changes, ok)
	if err != nil {
		return 0, rev, err
	}
	return n, rev, nil
}

// ListRules returns the page of rules that q selects and the total before
// paging, in O(rules) (and the sort of the matching ones).
func (s *memStore) ListRules(ctx context.Context, name string, q store.Query) ([]policy.Rule, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	e, ok := s.policies[name]
	var st state
	if ok {
		st = e.state
	}
	s.mu.Unlock()
	if !ok {
		return nil, 0, store.ErrNotFound
	}
	// Pointers first, so that the rules are copied once, into a slice of
	// their exact length: growing a slice of rules would copy them several
	// times over.
	var match []*policy.Rule
	for leaf := range st.rules.leaves {
		for i := range leaf {
			if r := &leaf[i]; r.ID != "" && q.Match(*r) {
				match = append(match, r)
			}
		}
	}
	matched := make([]policy.Rule, len(match))
	for i, r := range match {
		matched[i] = *r
	}
	return q.Apply(matched) // Apply copies what it returns
}
