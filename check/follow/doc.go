// Package follow serves the decisions of policies kept in a store, in step
// with the store.
//
// A [Follower] follows one named policy: [Follow] loads and compiles it,
// then brings it up to date on every change the store announces (or that
// polling finds), while [Follower.Check] keeps answering without locks
// from the last snapshot. With a [store.Feed] it applies the changes
// committed since the revision it serves, each rule put or deleted as one
// copy-on-write edit of the checker, so that a change costs the same
// whatever the size of the policy; it loads the whole policy again only
// after a gap in the feed, a change it cannot apply, or on
// [Follower.Reload]. Other stores are loaded whole on each change. A follower has no way to edit the policy: every edit goes
// through the store (a [store.Editor]), so that no edit can be lost to the
// next revision, and [Follower.Wait] lets the writer wait until its
// revision is served.
//
// Following fails closed: an unreachable store, an invalid policy or a
// revision that went back never replaces the last good snapshot; the
// error is reported at once in [Follower.Status] and to Options.OnError
// (a store that stops answering, once Options.StoreTimeout has passed),
// and the follower retries with a jittered exponential backoff.
//
// A [Group] follows many named policies of one store, one follower per
// name started on first use or by [Group.Start], up to a bound, and
// closes those left idle if asked (Options.IdleAfter): the shape of
// a multi-tenant server, with a policy per tenant. Each follower holds a
// goroutine, a watch of the store, and its compiled snapshot, whose size
// grows with its rules from a floor set by the checker's node store;
// examples/bench/FLEET.md measures the memory per tenant.
package follow
