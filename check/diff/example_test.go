package diff_test

import (
	"fmt"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/diff"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func ExampleSnapshots() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	before := policy.New(
		policy.Rule{ID: "corp", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow},
		policy.Rule{ID: "guest-net", Target: rangeset.MustParseRange("10.1.0.0/16"), Action: policy.Deny},
	)
	after := before.Clone()
	after.Rules[1].Target = rangeset.MustParseRange("10.1.0.0/17") // the guest network shrinks
	old, _ := check.Compile(before, now)
	new, _ := check.Compile(after, now)
	for _, c := range diff.Snapshots(old, new, now) {
		if !c.Mobile {
			fmt.Printf("%s admin=%v: %v -> %v\n", c.Range, c.Admin, c.Old, c.New)
		}
	}
	// Output:
	// 10.1.128.0/17 admin=false: deny (rule "guest-net") -> allow (rule "corp")
	// 10.1.128.0/17 admin=true: deny (rule "guest-net") -> allow (rule "corp")
}

func ExampleExpiring() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := policy.New(
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("192.0.2.0/24"), Action: policy.Allow},
		policy.Rule{ID: "contractor", Target: rangeset.MustParseRange("198.51.100.7"), Action: policy.Allow,
			ExpiresAt: now.Add(24 * time.Hour)},
	)
	s, _ := check.Compile(p, now)
	for _, c := range diff.Expiring(s, now, now.Add(7*24*time.Hour)) {
		if !c.Admin && !c.Mobile {
			fmt.Printf("%s: %v -> %v\n", c.Range, c.Old, c.New)
		}
	}
	// Output:
	// 198.51.100.7: allow (rule "contractor") -> deny (default)
}
