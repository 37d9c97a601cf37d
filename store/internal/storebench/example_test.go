package storebench_test

import (
	"context"
	"fmt"

	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/storebench"
	"github.com/ipgate/ipgate/store/memstore"
)

// Large makes the policies the benchmarks write; here one goes through a
// store and back.
func ExampleLarge() {
	ctx := context.Background()
	s := memstore.New(nil)
	if _, err := s.Put(ctx, "big", storebench.Large(1000), store.Any); err != nil {
		fmt.Println(err)
		return
	}
	p, rev, err := s.Load(ctx, "big")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("revision", rev, "rules", len(p.Rules))
	for _, r := range p.Rules[:4] {
		fmt.Println(r.ID, r.Target, r.Action)
	}
	// Output:
	// revision 1 rules 1000
	// r0 1.0.0.0/24 allow
	// r1 203.0.0.1 deny
	// r2 10.0.2.1-10.0.2.77 allow
	// r3 2001:db8:0:3::/64 deny
}
