package seedtest

import (
	"context"
	"net/http"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
)

// Intruder is a store in which another writer cuts in on a request: a
// Load made with the context of a request from [Intruder.Arm] runs the
// intrusion after it has read, before the request can write what it
// read. Loads with other contexts (a follower's, say) are left alone,
// so the interleaving is the same in every run.
type Intruder struct {
	EditWatcher
}

// EditWatcher is a store that can be edited and watched, as each of
// ipgate's stores can: a follower of an Intruder is told of changes.
type EditWatcher interface {
	store.Editor
	store.Watcher
}

type intrusion struct{ f *func() }

// Arm returns r marked so that the first Load made with its context runs
// f once it has read.
func (s Intruder) Arm(r *http.Request, f func()) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), intrusion{}, intrusion{&f}))
}

// Load is the wrapped store's Load, then the intrusion if ctx is armed and
// the intrusion has not run yet.
func (s Intruder) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	p, rev, err := s.EditWatcher.Load(ctx, name)
	if in, ok := ctx.Value(intrusion{}).(intrusion); ok && *in.f != nil {
		f := *in.f
		*in.f = nil
		f()
	}
	return p, rev, err
}
