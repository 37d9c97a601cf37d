package check_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
)

func kinds(ws []check.Warning, id string) []check.WarningKind {
	var out []check.WarningKind
	for _, w := range ws {
		if slices.Contains(w.Rules, id) {
			out = append(out, w.Kind)
		}
	}
	return out
}

func TestLint(t *testing.T) {
	t.Parallel()
	old := rule("old", "192.0.2.9", policy.Allow)
	old.ExpiresAt = fuzzT0.Add(-time.Hour)
	p := policy.New(
		rule("corp", "10.0.0.0/8", policy.Allow),
		rule("lab", "10.1.0.0/16", policy.Allow),      // covered by corp
		rule("lab-copy", "10.1.0.0/16", policy.Allow), // duplicate of lab
		rule("hidden", "10.2.0.0/16", policy.Deny),
		rule("h1", "10.2.0.0/17", policy.Allow), // h1 and h2 hide "hidden"
		rule("h2", "10.2.128.0/17", policy.Allow),
		rule("world", "0.0.0.0/1", policy.Allow), // wider than /8
		old,
	)
	ws, err := check.Lint(p, fuzzT0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][]check.WarningKind{
		"lab":      {check.Duplicate, check.Covered},
		"lab-copy": {check.Duplicate, check.Covered, check.NeverWins},
		"hidden":   {check.NeverWins},
		"world":    {check.BroadAllow},
		"old":      {check.Expired},
		"h1":       nil, // inside a deny: removing it would change decisions
	} {
		got := kinds(ws, id)
		for _, k := range want {
			if !slices.Contains(got, k) {
				t.Errorf("rule %s: warnings %v, want %v among them\n%v", id, got, k, ws)
			}
		}
		if want == nil && len(got) > 0 {
			t.Errorf("rule %s: warnings %v, want none", id, got)
		}
	}
	ws, _ = check.Lint(policy.New(rule("only", "10.0.0.0/8", policy.Allow)), fuzzT0, &check.LintOptions{MaxAllow4: 4})
	if k := kinds(ws, "only"); !slices.Equal(k, []check.WarningKind{check.FragileAllowlist}) {
		t.Errorf("one-rule allowlist: %v", ws)
	}
	if _, err := check.Lint(policy.New(rule("", "10.0.0.0/8", policy.Allow)), fuzzT0, nil); err == nil {
		t.Error("Lint of an invalid policy succeeded")
	}
}

// TestLintNeverWinsBruteForce checks the never-wins warning against
// decideSlow at every probe, subject and instant of random policies.
func TestLintNeverWinsBruteForce(t *testing.T) {
	t.Parallel()
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 5))
		p := randomPolicy(rng, rng.IntN(12), fuzzT0)
		p.Settings.Enabled, p.Settings.ApplyToMobile = true, true
		ws, err := check.Lint(p, fuzzT0, nil)
		if err != nil {
			t.Fatal(err)
		}
		wins := map[string]bool{}
		for _, at := range instants(p, fuzzT0) {
			if at.Before(fuzzT0) {
				continue
			}
			for _, a := range probes(p) {
				for _, admin := range []bool{false, true} {
					if d := decideSlow(p, check.Request{Addr: a, Admin: admin, At: at}); d.Reason == check.ReasonRule {
						wins[d.Rule] = true
					}
				}
			}
		}
		for _, r := range p.Rules {
			if r.Expired(fuzzT0) {
				continue
			}
			warned := slices.Contains(kinds(ws, r.ID), check.NeverWins)
			if warned == wins[r.ID] {
				t.Fatalf("seed %d: rule %s %s: never-wins warning %v, but it wins somewhere: %v\n%s", seed, r.ID, r.Target, warned, wins[r.ID], rulesText(p))
			}
		}
	}
}
