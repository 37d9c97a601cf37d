package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// Revision numbers the committed states of one policy. It grows with every
// committed change; 0 means the policy does not exist.
type Revision uint64

// Any is the expected revision that makes a write unconditional.
const Any Revision = 0

// Sentinel errors. Test for them with errors.Is.
var (
	// ErrNotFound reports a policy that does not exist.
	ErrNotFound = errors.New("store: policy not found")
	// ErrRuleNotFound reports a rule id that the policy does not have.
	ErrRuleNotFound = errors.New("store: rule not found")
	// ErrRuleExists reports a created rule whose id the policy already has.
	ErrRuleExists = errors.New("store: rule id already exists")
	// ErrConflict reports a conditional write refused because the policy
	// moved on; see [ConflictError].
	ErrConflict = errors.New("store: revision conflict")
	// ErrInvalid reports a write that would make the policy invalid (the
	// policy's validation errors are wrapped too), a policy name the store
	// cannot hold, or a query that cannot be run: a [Query.SortBy] that is
	// not a sort key.
	ErrInvalid = errors.New("store: invalid policy")
	// ErrRefused reports a write that the store's guard refused (the Guard
	// option of each store, such as package check/lockout's); the guard's
	// error is wrapped too.
	ErrRefused = errors.New("store: write refused by the guard")
)

// ConflictError reports a conditional write whose expected revision is not
// the policy's current one. Nothing was written.
type ConflictError struct {
	Name     string   // the policy
	Expected Revision // the revision the caller read
	Current  Revision // the revision the store holds
}

// Error returns a message naming the policy and both revisions.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("store: policy %s is at revision %d, not %d", rangeset.Quote(e.Name), e.Current, e.Expected)
}

// Is reports whether target is [ErrConflict].
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Store is what a checker follows: the policies by name.
type Store interface {
	// Load returns the named policy and its revision, or [ErrNotFound].
	// The policy is the caller's: it shares no memory with the store.
	Load(ctx context.Context, name string) (policy.Policy, Revision, error)
}

// Watcher is a [Store] that announces changes. A checker polls a store
// that is not one.
type Watcher interface {
	Store
	// Watch returns a channel that receives a value after every committed
	// change of the named policy, then reloads with Load. Notifications
	// carry no data; bursts coalesce into one, and none is lost: a change
	// committed after Watch returns is always followed by a value. The
	// channel is closed when ctx is done.
	Watch(ctx context.Context, name string) (<-chan struct{}, error)
}

// Editor is a [Store] that can be written. Every write takes the revision
// the caller read, or [Any]: when the policy has moved on, the write is
// refused with a [*ConflictError] and nothing changes. Every write is
// validated as a whole policy first: a change that would make the policy
// invalid is refused with an error wrapping [ErrInvalid] and naming the
// rule, and nothing is stored. Stores set CreatedAt and UpdatedAt from
// their clock. Each write returns the revision it committed. What a read
// returns, rules and pages of rules, is the caller's, as Load's is.
type Editor interface {
	Store
	// Put replaces the whole policy (settings and every rule) in one
	// transaction, creating it when absent.
	Put(ctx context.Context, name string, p policy.Policy, expected Revision) (Revision, error)
	// Delete removes the named policy.
	Delete(ctx context.Context, name string, expected Revision) error
	// SetSettings replaces the policy's settings, creating an empty policy
	// when absent.
	SetSettings(ctx context.Context, name string, s policy.Settings, expected Revision) (Revision, error)
	// CreateRule adds r; its id must be new.
	CreateRule(ctx context.Context, name string, r policy.Rule, expected Revision) (policy.Rule, Revision, error)
	// GetRule returns the rule with the given id.
	GetRule(ctx context.Context, name, id string) (policy.Rule, Revision, error)
	// UpdateRule replaces the rule with r's id, keeping its CreatedAt.
	UpdateRule(ctx context.Context, name string, r policy.Rule, expected Revision) (policy.Rule, Revision, error)
	// PatchRule changes the fields that patch sets.
	PatchRule(ctx context.Context, name, id string, patch Patch, expected Revision) (policy.Rule, Revision, error)
	// DeleteRule removes the rule with the given id.
	DeleteRule(ctx context.Context, name, id string, expected Revision) (Revision, error)
	// DeleteRules removes every rule that q's filters match (its sort and
	// paging are ignored) and returns how many it removed.
	DeleteRules(ctx context.Context, name string, q Query, expected Revision) (int, Revision, error)
	// ListRules returns one page of the rules that q matches, in q's order,
	// and the number of matching rules before paging. An unknown q.SortBy
	// is an error wrapping [ErrInvalid], with no rules, as [Query.Apply]
	// gives it.
	ListRules(ctx context.Context, name string, q Query) (rules []policy.Rule, total int, err error)
}

// Change is one change a committed revision made to a policy: a rule put
// (created or replaced), a rule deleted, or new settings. Exactly one of
// Rule, Deleted and Settings is set.
type Change struct {
	Revision Revision         // the revision that committed it
	Rule     *policy.Rule     // the rule as stored, when put
	Deleted  string           // the id of the rule removed, when deleted
	Settings *policy.Settings // the new settings, when set
}

// ErrGap reports that the changes asked for are no longer kept (older than
// the store's retention, or the policy was deleted and created again):
// load the whole policy instead.
var ErrGap = errors.New("store: changes no longer kept")

// Feed is a Store that records the changes of every committed revision, in
// the same transaction as the change, so that a follower applies them
// instead of loading the whole policy. A whole-policy Put is recorded as
// the per-rule difference from the previous content (and a settings change
// when they differ); a revision that changed nothing at rule level may
// record nothing and still advance the revision returned.
type Feed interface {
	Store
	// Changes returns, in order, the changes committed after revision
	// after, and the revision they bring the policy to (after itself when
	// there is none). It returns ErrGap when they are no longer kept, and
	// ErrNotFound when the policy does not exist.
	Changes(ctx context.Context, name string, after Revision) ([]Change, Revision, error)
}
