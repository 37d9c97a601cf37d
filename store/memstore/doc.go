// Package memstore is an in-memory store: [New] returns a [store.Editor]
// that also implements [store.Watcher] and [store.Feed], so that callers
// may type-assert it to either. It is the embedded default, for tests,
// examples and single-process services. It keeps nothing across restarts.
// It is safe for concurrent use; every value it returns or takes is a
// copy.
//
// Revisions only grow: a commit to a policy gets the revision after its
// last, and a policy created (again, too) starts above the highest
// revision of every policy deleted before, so that a reader never sees
// different content under a revision it has already served, and the
// store remembers nothing of a deleted policy.
//
// # Costs
//
// Writers pay for what they change. A single-rule create, update, patch
// or delete costs O(log n) for a policy of n rules: the rules are kept in
// a persistent trie, so a write copies only the path to the rule it
// changes, and a per-policy index of rule ids answers the unique-id check;
// only the changed rule is validated (the settings and the other rules
// are valid already). A delete leaves an empty slot, compacted in O(n)
// once more than half the slots are empty, so O(1) per delete on average.
// GetRule costs O(log n) too, and SetSettings O(1). A Guard needs the
// whole policies before and after, so with one every write costs O(n).
// Put, DeleteRules and ListRules cost O(n), as they must see every rule
// (ListRules adds the sort of the matching ones); so does Load, which
// copies the policy outside the lock from a consistent snapshot, so that
// writers never wait for readers. Writers wait for each other, readers
// for no write: a slow write (a large Put, a Guard compiling the policy)
// holds up the other writers only.
//
// # Change feed
//
// Every commit records its changes in the same critical section (a Put
// as the difference from the policy it replaced, a change of more rules
// than the retention as a gap); each policy keeps its latest
// Options.Retention changes, each with a copy of the rule it puts.
package memstore
