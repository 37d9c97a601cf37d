package check_test

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func ExampleCompile() {
	p := policy.New(
		policy.Rule{ID: "corp", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow},
		policy.Rule{ID: "guest-net", Target: rangeset.MustParseRange("10.1.0.0/16"), Action: policy.Deny},
		policy.Rule{ID: "printer", Target: rangeset.MustParseRange("10.1.2.3"), Action: policy.Allow},
	)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snap, err := check.Compile(p, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ip := range []string{"10.200.0.1", "10.1.9.9", "10.1.2.3", "::ffff:10.1.2.3", "192.0.2.1"} {
		fmt.Println(ip, snap.Check(check.Request{Addr: netip.MustParseAddr(ip), At: now}))
	}
	// Output:
	// 10.200.0.1 allow (rule "corp")
	// 10.1.9.9 deny (rule "guest-net")
	// 10.1.2.3 allow (rule "printer")
	// ::ffff:10.1.2.3 allow (rule "printer")
	// 192.0.2.1 deny (default)
}

func ExampleSnapshot_Check() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := policy.New(policy.Rule{ID: "contractor", Target: rangeset.MustParseRange("198.51.100.7"),
		Action: policy.Allow, ExpiresAt: now.Add(time.Hour)})
	snap, _ := check.Compile(p, now)
	addr := netip.MustParseAddr("198.51.100.7")
	fmt.Println(snap.Check(check.Request{Addr: addr, At: now}))
	// Past the expiry the decision changes, even on this old snapshot: an
	// allowlist stays an allowlist.
	fmt.Println(snap.Check(check.Request{Addr: addr, At: now.Add(time.Hour)}))
	// Output:
	// allow (rule "contractor")
	// deny (default)
}

func ExampleChecker() {
	c, err := check.NewChecker(policy.New(
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("192.168.0.1-192.168.0.100"), Action: policy.Allow},
	), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	req := check.Request{Addr: netip.MustParseAddr("192.168.0.50")}
	fmt.Println(c.Check(req))

	// An invalid update is refused; the last good snapshot keeps serving.
	err = c.Update(policy.New(policy.Rule{ID: "office", Action: policy.Deny}))
	fmt.Println(err)
	fmt.Println(c.Check(req))
	// Output:
	// allow (rule "office")
	// check.Compile: rule "office": invalid target: Target is the zero rangeset.Range
	// allow (rule "office")
}

// Readers check concurrently while a writer swaps policies in; run it with
// -race.
func ExampleChecker_concurrent() {
	allow := policy.New(policy.Rule{ID: "open", Target: rangeset.MustParseRange("0.0.0.0/0"), Action: policy.Allow})
	deny := policy.New(policy.Rule{ID: "closed", Target: rangeset.MustParseRange("0.0.0.0/0"), Action: policy.Deny})
	c, _ := check.NewChecker(allow, nil)
	defer c.Close()

	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				d := c.Check(check.Request{Addr: netip.MustParseAddr("203.0.113.9")})
				if d.Allowed != (d.Rule == "open") {
					panic("torn decision")
				}
			}
		}()
	}
	for i := range 100 {
		_ = c.Update([]policy.Policy{deny, allow}[i%2])
	}
	wg.Wait()
	fmt.Println(c.Check(check.Request{Addr: netip.MustParseAddr("203.0.113.9")}))
	// Output:
	// allow (rule "open")
}
