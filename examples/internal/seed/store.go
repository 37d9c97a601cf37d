// Package seed holds what the seed-product examples share: the store they
// run on (the file store by default, PostgreSQL when asked) and the checkers
// that follow its policies.
package seed

import (
	"context"
	"flag"

	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/filestore"
	"github.com/ipgate/ipgate/store/postgres"
)

// Flags are the command-line flags that choose the store.
type Flags struct {
	dir, pg *string
}

// Register adds -dir and -postgres to fs, with dir as the default directory.
func Register(fs *flag.FlagSet, dir string) Flags {
	return Flags{
		dir: fs.String("dir", dir, "directory of the file store"),
		pg:  fs.String("postgres", "-", "use PostgreSQL with this DSN ('' for $IPGATE_POSTGRES_DSN or the local server)"),
	}
}

// Open opens the chosen store; close releases it.
func (f Flags) Open(ctx context.Context) (st store.Editor, close func(), err error) {
	if *f.pg != "-" {
		s, err := postgres.Open(ctx, &postgres.Options{DSN: *f.pg})
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	}
	s, err := filestore.Open(*f.dir, nil)
	if err != nil {
		return nil, nil, err
	}
	return s, func() {}, nil
}
