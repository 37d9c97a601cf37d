// Package memstore is an in-memory [store.Editor] and [store.Watcher]: the
// embedded default, for tests, examples and single-process services. It
// keeps nothing across restarts.
//
// Revisions only grow: every commit gets the revision after the highest
// the policy ever had, a policy deleted and created again included, so
// that a reader never sees different content under a revision it has
// already served.
package memstore
