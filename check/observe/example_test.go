package observe_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/observe"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// A candidate that shrinks the guest network is tried on live traffic
// before it is rolled out: the live policy keeps deciding.
func ExampleShadow() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	live := policy.New(
		policy.Rule{ID: "corp", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow},
		policy.Rule{ID: "guest-net", Target: rangeset.MustParseRange("10.1.0.0/16"), Action: policy.Deny},
	)
	next := live.Clone()
	next.Rules[1].Target = rangeset.MustParseRange("10.1.0.0/17")
	c, _ := check.NewChecker(live, nil)
	defer c.Close()
	candidate, _ := check.Compile(next, now)

	sh := observe.NewShadow(c.Check, candidate, 2)
	for _, a := range []string{"10.1.200.7", "10.1.2.3", "10.1.130.1", "10.1.200.7", "10.2.0.1"} {
		d := sh.Check(check.Request{Addr: netip.MustParseAddr(a)})
		fmt.Println(a, d)
	}
	for _, ch := range sh.Changes() {
		fmt.Printf("%d requests: %v -> %v, e.g. %v\n", ch.Count, ch.Live, ch.Candidate, ch.Sample)
	}
	// Output:
	// 10.1.200.7 deny (rule "guest-net")
	// 10.1.2.3 deny (rule "guest-net")
	// 10.1.130.1 deny (rule "guest-net")
	// 10.1.200.7 deny (rule "guest-net")
	// 10.2.0.1 allow (rule "corp")
	// 3 requests: deny (rule "guest-net") -> allow (rule "corp"), e.g. [10.1.200.7 10.1.130.1]
}

// Hits finds the rules that nobody hits, to prune them.
func ExampleHits() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := policy.New(
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("192.0.2.0/24"), Action: policy.Allow},
		policy.Rule{ID: "vpn", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow},
		policy.Rule{ID: "old-branch", Target: rangeset.MustParseRange("203.0.113.0/24"), Action: policy.Allow},
	)
	s, _ := check.Compile(p, now)
	h := observe.NewHits(s.Check, nil)
	h.Check(check.Request{Addr: netip.MustParseAddr("192.0.2.10"), At: now})
	h.Check(check.Request{Addr: netip.MustParseAddr("192.0.2.11"), At: now.Add(time.Minute)})
	h.Check(check.Request{Addr: netip.MustParseAddr("198.51.100.1"), At: now.Add(time.Hour)})
	h.Check(check.Request{Addr: netip.MustParseAddr("100.64.0.1"), At: now}) // denied by default: no rule counted

	hit := map[string]bool{}
	for _, x := range h.Hits() {
		fmt.Printf("%s: %d, last at %s\n", x.Rule, x.Count, x.Last.Format(time.RFC3339))
		hit[x.Rule] = true
	}
	for r := range s.Rules() {
		if !hit[r.ID] {
			fmt.Println("never hit:", r.ID)
		}
	}
	// Output:
	// office: 2, last at 2026-01-01T00:01:00Z
	// vpn: 1, last at 2026-01-01T01:00:00Z
	// never hit: old-branch
}
