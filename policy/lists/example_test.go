package lists_test

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/policy/lists"
	"github.com/ipgate/ipgate/rangeset"
)

func ExampleRead() {
	drop := `; Spamhaus DROP List 2026/01/01 - (c) 2026 The Spamhaus Project SLU
; Last-Modified: Thu, 01 Jan 2026 00:00:00 GMT
1.10.16.0/20 ; SBL256894
2.56.192.0/22 ; SBL459831
`
	rules, err := lists.Read(strings.NewReader(drop), "spamhaus", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rules {
		fmt.Println(r.ID, r.Action, r.Comment)
	}
	// Output:
	// spamhaus:1.10.16.0/20 deny spamhaus: SBL256894
	// spamhaus:2.56.192.0/22 deny spamhaus: SBL459831
}

// An office allowlist, plus GitHub's webhook senders.
func ExampleRead_github() {
	p := policy.New(policy.Rule{ID: "office", Target: rangeset.MustParseRange("192.0.2.0/24"), Action: policy.Allow})
	meta := `{"hooks": ["192.30.252.0/22", "2a0a:a440::/29"], "web": ["140.82.112.0/20"]}`
	hooks, err := lists.Read(strings.NewReader(meta), "github", &lists.Options{Keys: []string{"hooks"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	p.Rules = append(p.Rules, hooks...)
	s, err := check.Compile(p, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range []string{"192.30.253.1", "140.82.112.1"} {
		fmt.Println(a, s.Check(check.Request{Addr: netip.MustParseAddr(a)}))
	}
	// A second import under the same tag clashes.
	p.Rules = append(p.Rules, hooks[:1]...)
	_, err = check.Compile(p, time.Now())
	fmt.Println(err)
	// Output:
	// 192.30.253.1 allow (rule "github:192.30.252.0/22")
	// 140.82.112.1 deny (default)
	// check.Compile: rule "github:192.30.252.0/22": duplicate id
}

func ExampleRead_aws() {
	doc := `{"syncToken": "1767225600", "prefixes": [
  {"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "AMAZON", "network_border_group": "ap-northeast-2"},
  {"ip_prefix": "52.94.76.0/22", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}],
 "ipv6_prefixes": [
  {"ipv6_prefix": "2600:1f18::/33", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}]}`
	rules, err := lists.Read(strings.NewReader(doc), "aws", &lists.Options{Regions: []string{"us-east-1"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rules {
		fmt.Println(r.ID, r.Comment)
	}
	// Output:
	// aws:52.94.76.0/22 aws: EC2 us-east-1
	// aws:2600:1f18::/33 aws: EC2 us-east-1
}
