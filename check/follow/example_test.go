package follow_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/filestore"
	"github.com/ipgate/ipgate/store/memstore"
	"github.com/ipgate/ipgate/store/postgres"
)

// Following a file store: edits go through the store, and Wait tells when
// the follower serves them.
func ExampleFollow() {
	dir, err := os.MkdirTemp("", "ipgate-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := filestore.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	office := policy.Rule{ID: "office", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow}
	rev, err := st.Put(ctx, "acme", policy.New(office), store.Any)
	if err != nil {
		log.Fatal(err)
	}

	f, err := follow.Follow(ctx, st, "acme", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	req := check.Request{Addr: netip.MustParseAddr("10.1.2.3")}
	fmt.Println(f.Check(req))

	// An admin bans the guest network; the next request is decided with it.
	guests := policy.Rule{ID: "guest-wifi", Target: rangeset.MustParseRange("10.1.0.0/16"), Action: policy.Deny}
	if _, rev, err = st.CreateRule(ctx, "acme", guests, rev); err != nil {
		log.Fatal(err)
	}
	if err := f.Wait(ctx, rev); err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Check(req), "at revision", f.Status().Revision)
	// Output:
	// allow (rule "office")
	// deny (rule "guest-wifi") at revision 2
}

// Following a PostgreSQL store. This example needs a server, so it is not
// run by go test.
func ExampleFollow_postgres() {
	dsn := os.Getenv("IPGATE_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test"
	}
	ctx := context.Background()
	st, closePool, err := postgres.Open(ctx, &postgres.Options{DSN: dsn})
	if err != nil {
		log.Fatal(err)
	}
	defer closePool()
	f, err := follow.Follow(ctx, st, "acme", &follow.Options{
		// An outage is reported at once, while the last good snapshot
		// keeps serving.
		OnError: func(err error) { log.Print(err) },
	})
	if err != nil {
		log.Fatal(err) // for example, store.ErrNotFound
	}
	defer f.Close()
	fmt.Println(f.Check(check.Request{Addr: netip.MustParseAddr("10.1.2.3")}))
	s := f.Status()
	fmt.Println("revision", s.Revision, "compiled at", s.CompiledAt, "error", s.Err)
}

// A multi-tenant server follows one policy per tenant, each on first use.
// The group never creates a policy: the server does, when a tenant signs
// up.
func ExampleGroup() {
	ctx := context.Background()
	st := memstore.New(nil)
	for tenant, office := range map[string]string{"tenant-1": "10.0.0.0/8", "tenant-2": "192.0.2.0/24"} {
		rule := policy.Rule{ID: "office", Target: rangeset.MustParseRange(office), Action: policy.Allow}
		if _, err := st.Put(ctx, tenant, policy.New(rule), store.Any); err != nil {
			log.Fatal(err)
		}
	}
	g := follow.NewGroup(st, &follow.Options{MaxPolicies: 2})
	defer g.Close()

	req := check.Request{Addr: netip.MustParseAddr("10.1.2.3")}
	for _, tenant := range []string{"tenant-1", "tenant-2", "tenant-1"} {
		f, err := g.Get(ctx, tenant)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(tenant, f.Check(req))
	}
	_, err := g.Get(ctx, "tenant-3")
	fmt.Println(err)
	// Output:
	// tenant-1 allow (rule "office")
	// tenant-2 deny (default)
	// tenant-1 allow (rule "office")
	// follow: Group.Get("tenant-3"): the group already follows its limit of 2 policies
}
