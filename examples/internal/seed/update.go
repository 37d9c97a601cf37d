package seed

import (
	"context"
	"errors"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
)

// maxUpdateTries bounds how often Update starts again: each try that
// loses means another write landed, so only a storm of writes to one
// policy exhausts it.
const maxUpdateTries = 16

// Update reads the named policy and hands it, with its revision, to
// write, which writes what it derives from it conditionally on that
// revision. When another write came between the read and the write (the
// store answers store.ErrConflict), Update starts again from a fresh
// read, so that two concurrent changes to different parts of a policy
// (one setting each, say) both land rather than the later undoing the
// earlier. It returns write's revision, or its error.
func Update(ctx context.Context, st store.Editor, name string, write func(p policy.Policy, rev store.Revision) (store.Revision, error)) (store.Revision, error) {
	for try := 1; ; try++ {
		p, rev, err := st.Load(ctx, name)
		if err != nil {
			return 0, err
		}
		nrev, err := write(p, rev)
		if errors.Is(err, store.ErrConflict) && try < maxUpdateTries {
			continue
		}
		return nrev, err
	}
}
