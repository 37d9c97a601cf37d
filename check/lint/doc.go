// Package lint finds what is probably a mistake in a valid policy: rules
// that never win, duplicates, rules covered by a broader one, allow rules
// wider than intended, expired rules, and an auto allowlist that a few
// deletions would turn into allow-all.
//
// The never-wins and covered findings are exact, not sampled: they decide
// one address per piece of the policy ([check.Snapshot.Pieces]), and follow
// the pieces of a rule that wins none at the instant linted through the
// expiries of the rules that hold them.
package lint
