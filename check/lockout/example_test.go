package lockout_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/lockout"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

func ExampleGuard() {
	ctx := context.Background()
	guard := lockout.Guard([]lockout.Keep{
		{Range: rangeset.MustParseRange("203.0.113.5"), Admin: true}, // the admin's own address
	}, nil)
	st := memstore.New(&memstore.Options{Guard: guard})
	_, err := st.Put(ctx, "office", policy.New(
		policy.Rule{ID: "admins", Target: rangeset.MustParseRange("203.0.113.0/24"), Action: policy.Allow},
	), store.Any)
	fmt.Println(err)
	// A ban that would catch the admin is refused.
	_, _, err = st.CreateRule(ctx, "office", policy.Rule{ID: "ban",
		Target: rangeset.MustParseRange("203.0.113.0/28"), Action: policy.Deny}, store.Any)
	fmt.Println(err)
	// Output:
	// <nil>
	// store: write refused by the guard "office": lockout.Guard: 203.0.113.5 (admin=true mobile=false, kept as 203.0.113.5) would be denied by rule "ban"
}

func ExampleDenies() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _ := check.Compile(policy.New(
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("192.0.2.0/24"), Action: policy.Allow},
		policy.Rule{ID: "printer", Target: rangeset.MustParseRange("192.0.2.77"), Action: policy.Deny},
	), now)
	a, d, denied := lockout.Denies(s, lockout.Keep{Range: rangeset.MustParseRange("192.0.2.0/24")}, now)
	fmt.Println(a, d, denied)
	// Output:
	// 192.0.2.77 deny (rule "printer") true
}
