// Package follow serves the decisions of policies kept in a store, in step
// with the store.
//
// A [Follower] follows one named policy: [Follow] loads and compiles it,
// then recompiles it on every change the store announces (or that polling
// finds), while [Follower.Check] keeps answering without locks from the
// last snapshot. A follower has no way to edit the policy: every edit goes
// through the store (a [store.Editor]), so that no edit can be lost to the
// next revision, and [Follower.Wait] lets the writer wait until its
// revision is served.
//
// Following fails closed: an unreachable store, an invalid policy or a
// revision that went back never replaces the last good snapshot; the
// error is reported at once in [Follower.Status] and to Options.OnError,
// and the follower retries with a jittered exponential backoff.
//
// A [Group] follows many named policies of one store, one follower per
// name started on first use, up to a bound: the shape of a multi-tenant
// server, with a policy per tenant.
package follow
