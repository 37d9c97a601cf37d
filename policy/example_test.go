package policy_test

import (
	"encoding/json"
	"fmt"
	"os"

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
		policy.Rule{ID: "temp", Target: rangeset.MustParseRange("192.0.2.1"), Action: policy.Allow, TTL: new(int64)},
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
