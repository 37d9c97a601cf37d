// Package seed holds what the seed-product examples share: the store they
// run on (the file store by default, PostgreSQL when asked) and the
// followers of its policies, one per tenant.
package seed

import (
	"context"
	"flag"
	"os"

	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/filestore"
	"github.com/ipgate/ipgate/store/postgres"
)

// localDSN is the PostgreSQL server that an empty -postgres uses when
// $IPGATE_POSTGRES_DSN is not set.
const localDSN = "postgres://postgres@127.0.0.1:5432/test"

// Flags are the command-line flags that choose the store.
type Flags struct {
	dir, pg *string
}

// Register adds -dir and -postgres to fs, with dir as the default directory.
func Register(fs *flag.FlagSet, dir string) Flags {
	return Flags{
		dir: fs.String("dir", dir, "directory of the file store"),
		pg:  fs.String("postgres", "-", "use PostgreSQL with this DSN ('' for $IPGATE_POSTGRES_DSN, else "+localDSN+")"),
	}
}

// Open opens the chosen store; close releases it.
func (f Flags) Open(ctx context.Context) (st store.Editor, close func(), err error) {
	if dsn := *f.pg; dsn != "-" {
		if dsn == "" {
			dsn = os.Getenv("IPGATE_POSTGRES_DSN")
		}
		if dsn == "" {
			dsn = localDSN
		}
		s, err := postgres.Open(ctx, &postgres.Options{DSN: dsn})
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	s, err := filestore.Open(*f.dir, nil)
	if err != nil {
		return nil, nil, err
	}
	return s, func() {}, nil
}
