package postgres_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/postgres"
)

// Example needs a server, so it is compiled but not run; the tests run the
// same calls against $IPGATE_POSTGRES_DSN.
func Example() {
	ctx := context.Background()
	st, closePool, err := postgres.Open(ctx, &postgres.Options{DSN: os.Getenv("IPGATE_POSTGRES_DSN")})
	if err != nil {
		fmt.Println(err) // with no DSN: postgres.Open: Options.DSN is empty; ...
		return
	}
	defer closePool()

	// Every instance of the fleet watches (the store is also a
	// store.Watcher); any of them writes.
	ch, err := st.(store.Watcher).Watch(ctx, "tenant-42")
	if err != nil {
		fmt.Println(err)
		return
	}
	ban := policy.Rule{ID: "ban", Target: rangeset.MustParseRange("198.51.100.7"), Action: policy.Deny}
	if _, _, err := st.CreateRule(ctx, "tenant-42", ban, store.Any); err != nil {
		fmt.Println(err)
		return
	}
	<-ch
	p, rev, err := st.Load(ctx, "tenant-42")
	fmt.Println(len(p.Rules), rev, err)
}
