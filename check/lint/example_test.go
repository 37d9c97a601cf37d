package lint_test

import (
	"fmt"
	"time"

	"github.com/ipgate/ipgate/check/lint"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func ExamplePolicy() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := policy.New(
		policy.Rule{ID: "corp", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow},
		policy.Rule{ID: "lab", Target: rangeset.MustParseRange("10.1.0.0/16"), Action: policy.Allow},
		policy.Rule{ID: "guest-net", Target: rangeset.MustParseRange("10.2.0.0/16"), Action: policy.Deny},
		policy.Rule{ID: "guest-lo", Target: rangeset.MustParseRange("10.2.0.0/17"), Action: policy.Allow},
		policy.Rule{ID: "guest-hi", Target: rangeset.MustParseRange("10.2.128.0/17"), Action: policy.Allow},
	)
	p.Settings.DefaultAction = policy.DefaultDeny
	ws, err := lint.Policy(p, now, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range ws {
		fmt.Println(w)
	}
	// Output:
	// covered: rule "lab" is covered by the broader rule "corp" of the same action, with no rule of the other action between them
	// never-wins: rule "guest-net" never wins: narrower or equal rules decide every address it holds, for every subject it binds
}
