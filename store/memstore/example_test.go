package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

func Example() {
	ctx := context.Background()
	st := memstore.New(nil)
	_, rev, _ := st.CreateRule(ctx, "site-1", policy.Rule{ID: "bad-net", Target: rangeset.MustParseRange("92.255.220.0/24"), Action: policy.Deny}, store.Any)
	_, rev, _ = st.CreateRule(ctx, "site-1", policy.Rule{ID: "bad-host", Target: rangeset.MustParseRange("92.255.221.10"), Action: policy.Deny}, rev)

	// A second admin still holding revision 1 is refused.
	_, _, err := st.CreateRule(ctx, "site-1", policy.Rule{ID: "x", Target: rangeset.MustParseRange("10.0.0.1"), Action: policy.Allow}, 1)
	fmt.Println(errors.Is(err, store.ErrConflict), err)

	// Voximplant's DelAuthorizedAccountIP with contains_ip.
	n, _, _ := st.DeleteRules(ctx, "site-1", store.Query{Contains: netip.MustParseAddr("92.255.220.7")}, store.Any)
	rules, total, _ := st.ListRules(ctx, "site-1", store.Query{})
	fmt.Println(n, total, rules[0].ID)
	// Output:
	// true store: policy "site-1" is at revision 2, not 1
	// 1 1 bad-host
}

// The store is also a [store.Feed]: a follower applies the changes after
// the revision it holds instead of loading the whole policy; when they are
// no longer kept it loads.
func ExampleNew_changes() {
	ctx := context.Background()
	st := memstore.New(nil)
	_, rev, _ := st.CreateRule(ctx, "site-1", policy.Rule{ID: "office", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow}, store.Any)
	held := rev // what the follower loaded

	st.CreateRule(ctx, "site-1", policy.Rule{ID: "bad-net", Target: rangeset.MustParseRange("92.255.220.0/24"), Action: policy.Deny}, store.Any)
	st.DeleteRule(ctx, "site-1", "office", store.Any)

	changes, now, err := st.(store.Feed).Changes(ctx, "site-1", held)
	if err != nil { // store.ErrGap: load the whole policy instead
		fmt.Println(err)
		return
	}
	for _, c := range changes {
		if c.Rule != nil {
			fmt.Println(c.Revision, "put", c.Rule.ID)
		} else if c.Deleted != "" {
			fmt.Println(c.Revision, "delete", c.Deleted)
		}
	}
	fmt.Println("now at", now)
	// Output:
	// 2 put bad-net
	// 3 delete office
	// now at 3
}
