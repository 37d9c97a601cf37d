// Command quickstart puts a policy into the embedded in-memory store, has a
// follower serve it, and checks a few addresses, printing each decision
// with its rule and reason; then it edits the policy through the store and
// waits until the follower serves the edit.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

func main() {
	now := time.Now()
	p := policy.New(
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow},
		policy.Rule{ID: "guest-wifi", Target: rangeset.MustParseRange("10.1.0.0/16"), Action: policy.Deny},
		policy.Rule{ID: "printer", Target: rangeset.MustParseRange("10.1.2.3"), Action: policy.Allow},
		policy.Rule{ID: "vpn", Target: rangeset.MustParseRange("192.168.0.1-192.168.0.100"), Action: policy.Allow},
		policy.Rule{ID: "admin-desk", Target: rangeset.MustParseRange("2001:db8::/48"), Action: policy.Allow, AdminOnly: true},
		policy.Rule{ID: "contractor", Target: rangeset.MustParseRange("198.51.100.7"), Action: policy.Allow,
			ExpiresAt: now.Add(time.Hour)},
	)
	ctx := context.Background()
	st := memstore.New(nil)
	if _, err := st.Put(ctx, "acme", p, store.Any); err != nil {
		log.Fatal(err)
	}
	f, err := follow.Follow(ctx, st, "acme", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	fmt.Println("policy:", len(p.Rules), "rules; default action", p.Settings.DefaultAction, "(an allowlist: unlisted addresses are denied)")
	for _, q := range []struct {
		ip    string
		admin bool
		at    time.Time
	}{
		{ip: "10.20.30.40"},
		{ip: "10.1.9.9"},
		{ip: "10.1.2.3"},
		{ip: "::ffff:192.168.0.50"},
		{ip: "2001:db8::1"},
		{ip: "2001:db8::1", admin: true},
		{ip: "198.51.100.7"},
		{ip: "198.51.100.7", at: now.Add(2 * time.Hour)},
		{ip: "203.0.113.9"},
	} {
		addr, err := rangeset.ParseAddr(q.ip)
		if err != nil {
			log.Fatal(err)
		}
		d := f.Check(check.Request{Addr: addr, Admin: q.admin, At: q.at})
		who := "user "
		if q.admin {
			who = "admin"
		}
		when := "now"
		if !q.at.IsZero() {
			when = "in " + q.at.Sub(now).Round(time.Minute).String()
		}
		fmt.Printf("%-20s %s %-9s -> %-5v rule=%-13s reason=%v\n", q.ip, who, when, allow(d.Allowed), rangeset.Quote(d.Rule), d.Reason)
	}

	// An admin bans the printer through the store; the follower serves the
	// ban once Wait returns.
	ban := policy.Rule{ID: "printer", Target: rangeset.MustParseRange("10.1.2.3"), Action: policy.Deny, Comment: "compromised"}
	_, rev, err := st.UpdateRule(ctx, "acme", ban, store.Any)
	if err != nil {
		log.Fatal(err)
	}
	if err := f.Wait(ctx, rev); err != nil {
		log.Fatal(err)
	}
	d := f.Check(check.Request{Addr: netip.MustParseAddr("10.1.2.3")})
	fmt.Printf("after the store's revision %d: 10.1.2.3 -> %v\n", rev, d)
}

func allow(ok bool) string {
	if ok {
		return "allow"
	}
	return "deny"
}
