package store_test

import (
	"errors"
	"fmt"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

func ExampleQuery_Apply() {
	rules := []policy.Rule{
		{ID: "b", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow},
		{ID: "a", Target: rangeset.MustParseRange("192.0.2.0/24"), Action: policy.Deny},
		{ID: "c", Target: rangeset.MustParseRange("2001:db8::/32"), Action: policy.Allow},
	}
	page, total, err := store.Query{Action: policy.Allow, SortBy: "ip", Descending: true, Limit: 1}.Apply(rules)
	fmt.Println(page[0].ID, page[0].Target, total, err)
	_, _, err = store.Query{SortBy: "target"}.Apply(rules)
	fmt.Println(err, errors.Is(err, store.ErrInvalid))
	// Output:
	// c 2001:db8::/32 2 <nil>
	// store: cannot sort rules by "target": want createdAt, updatedAt, expiresAt, ttl, action or ip true
}
