package policy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func ExampleDecode() {
	p, err := policy.Decode([]byte(`{
	  "defaultAction": "auto",
	  "rules": [
	    {"id": "office", "ip": "10.0.0.0/8", "action": "allow"},
	    {"id": "vpn", "from": "192.168.0.1", "to": "192.168.0.100", "action": "allow", "adminOnly": true}
	  ]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range p.Rules {
		fmt.Println(r.ID, r.Target, r.Action, r.AdminOnly)
	}
	// Output:
	// office 10.0.0.0/8 allow false
	// vpn 192.168.0.1-192.168.0.100 allow true
}

func ExamplePolicy_Validate() {
	p := policy.New(
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow},
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("10.1.0.0/16"), Action: policy.Deny},
		policy.Rule{ID: "temp", Target: rangeset.MustParseRange("192.0.2.1"), Action: policy.Allow, TTL: new(time.Duration)},
	)
	fmt.Println(p.Validate())
	// Output:
	// rule "office": duplicate id
	// rule "temp": TTL without CreatedAt or UpdatedAt
}

func ExamplePolicy_MarshalJSON() {
	p := policy.New(policy.Rule{ID: "ban", Target: rangeset.MustParseRange("203.0.113.0-203.0.113.255"), Action: policy.Deny})
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(p)
	// Output:
	// {
	//   "enabled": true,
	//   "defaultAction": "auto",
	//   "precedence": "mostSpecific",
	//   "applyToMobile": true,
	//   "rules": [
	//     {
	//       "id": "ban",
	//       "ip": "203.0.113.0/24",
	//       "action": "deny"
	//     }
	//   ]
	// }
}

// WriteTo streams the document a file keeps: the form json.MarshalIndent
// writes, from a few rules at a time.
func ExamplePolicy_WriteTo() {
	p, err := policy.Allowlist("10.0.0.0/8", "2001:db8::/32")
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := p.WriteTo(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {
	//   "enabled": true,
	//   "defaultAction": "deny",
	//   "precedence": "mostSpecific",
	//   "applyToMobile": true,
	//   "rules": [
	//     {
	//       "id": "10.0.0.0/8",
	//       "ip": "10.0.0.0/8",
	//       "action": "allow"
	//     },
	//     {
	//       "id": "2001:db8::/32",
	//       "ip": "2001:db8::/32",
	//       "action": "allow"
	//     }
	//   ]
	// }
}

func ExampleAllowlist() {
	p, err := policy.Allowlist("10.0.0.0/8", "192.168.0.1-192.168.0.100", "2001:db8::/32")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range p.Rules {
		fmt.Println(r.ID, r.Action)
	}
	fmt.Println("default:", p.Settings.DefaultAction)

	_, err = policy.Allowlist("10.0.0.1", "10.0.0.5/24")
	fmt.Println(err)
	// Output:
	// 10.0.0.0/8 allow
	// 192.168.0.1-192.168.0.100 allow
	// 2001:db8::/32 allow
	// default: deny
	// policy.Allowlist: rangeset.ParseRange("10.0.0.5/24"): host bits set (canonical form 10.0.0.0/24)
}

func ExampleDecodeReader() {
	doc := strings.NewReader(`{"rules": [{"id": "office", "ip": "10.0.0.0/8", "action": "allow"}]}`)
	p, err := policy.DecodeReader(doc) // e.g. an *os.File of any size
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(p.Rules), p.Rules[0].ID, p.Rules[0].Target)

	_, err = policy.DecodeReader(strings.NewReader(`{"rules": [{"id": "a", "ip": "10.0.0.1", "action": "allow", "expiresAt": "0001-01-01T00:00:00Z"}]}`))
	fmt.Println(err)
	// Output:
	// 1 office 10.0.0.0/8
	// rule "a": expiresAt is the zero instant 0001-01-01T00:00:00Z (a Rule's zero ExpiresAt means no expiry)
}

func ExamplePolicy_Validate_settings() {
	p := policy.Policy{Rules: []policy.Rule{
		{ID: "office", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow},
	}}
	fmt.Println(p.Validate())
	// Output:
	// invalid setting: Settings.DefaultAction is unset (DefaultAction(0)): build the policy with policy.New, or start from policy.DefaultSettings()
}

func ExampleRule_Expiry() {
	ttl := 90 * time.Minute
	r := policy.Rule{
		ID: "contractor", Target: rangeset.MustParseRange("198.51.100.7"), Action: policy.Allow,
		CreatedAt: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC), TTL: &ttl,
	}
	exp, ok := r.Expiry()
	fmt.Println(exp, ok)
	fmt.Println(r.Expired(time.Date(2026, 1, 1, 10, 29, 59, 0, time.UTC)), r.Expired(exp))
	b, _ := r.MarshalJSON()
	fmt.Println(string(b))
	// Output:
	// 2026-01-01 10:30:00 +0000 UTC true
	// false true
	// {"id":"contractor","ip":"198.51.100.7","action":"allow","createdAt":"2026-01-01T09:00:00Z","ttl":5400}
}
