package export_test

import (
	"fmt"
	"os"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/export"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func ExampleWrite() {
	p := policy.New(
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("192.0.2.0/24"), Action: policy.Allow},
		policy.Rule{ID: "printer", Target: rangeset.MustParseRange("192.0.2.128/25"), Action: policy.Deny},
		policy.Rule{ID: "vpn", Target: rangeset.MustParseRange("2001:db8::/32"), Action: policy.Allow, AdminOnly: true},
	)
	s, err := check.Compile(p, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := export.Write(os.Stdout, s, "nginx", &export.Options{Admin: true, At: s.At()}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// # ipgate export: nginx access directives, for a subject admin, not mobile, at 2026-01-01T00:00:00Z.
	// allow 192.0.2.0/25;
	// allow 2001:db8::/32;
	// deny all;
}

func ExampleWrite_haproxy() {
	p := policy.New(policy.Rule{ID: "drop", Target: rangeset.MustParseRange("1.10.16.0/20"), Action: policy.Deny},
		policy.Rule{ID: "drop6", Target: rangeset.MustParseRange("2001:678:738::/48"), Action: policy.Deny})
	s, err := check.Compile(p, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}
	// The denied addresses, for
	//   acl ipgate_deny src -n -f /etc/haproxy/ipgate-deny.acl
	//   http-request deny if ipgate_deny
	if err := export.Write(os.Stdout, s, "haproxy", &export.Options{Denied: true, At: s.At()}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// # ipgate export: HAProxy ACL of the addresses with the action deny, for a subject neither admin nor mobile, at 2026-01-01T00:00:00Z.
	// ::ffff:1.10.16.0/116
	// 2001:678:738::/48
}

func ExampleWrite_nftables() {
	expires := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	p := policy.New(
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("192.0.2.0/24"), Action: policy.Allow},
		policy.Rule{ID: "contractor", Target: rangeset.MustParseRange("198.51.100.7"), Action: policy.Allow, ExpiresAt: expires},
	)
	s, err := check.Compile(p, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := export.Write(os.Stdout, s, "nftables", &export.Options{At: s.At()}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// # ipgate export: nftables sets of the addresses with the action allow, for a subject neither admin nor mobile, at 2026-01-01T00:00:00Z.
	// # A rule expires at 2026-01-01T12:00:00Z: export again by then.
	// set ipgate_allow {
	// 	type ipv4_addr
	// 	flags interval
	// 	elements = {
	// 		192.0.2.0/24,
	// 		198.51.100.7
	// 	}
	// }
	// set ipgate_allow6 {
	// 	type ipv6_addr
	// 	flags interval
	// }
}
