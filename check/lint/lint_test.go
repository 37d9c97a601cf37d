package lint_test

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check/lint"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func kinds(ws []lint.Warning, id string) []string {
	var out []string
	for _, w := range ws {
		if slices.Contains(w.Rules, id) {
			out = append(out, w.Kind)
		}
	}
	return out
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	old := rule("old", "192.0.2.9", policy.Allow)
	old.ExpiresAt = t0.Add(-time.Hour)
	p := policy.New(
		rule("corp", "10.0.0.0/8", policy.Allow),
		rule("lab", "10.1.0.0/16", policy.Allow),      // covered by corp
		rule("lab-copy", "10.1.0.0/16", policy.Allow), // duplicate of lab
		rule("hidden", "10.2.0.0/16", policy.Deny),
		rule("h1", "10.2.0.0/17", policy.Allow), // h1 and h2 hide "hidden"
		rule("h2", "10.2.128.0/17", policy.Allow),
		rule("world", "0.0.0.0/1", policy.Allow), // wider than /8
		rule("later", "10.3.0.0/16", policy.Deny),
		rule("later-hole", "10.3.0.0/16", policy.Allow), // loses to the deny until it expires
		old,
	)
	p.Rules[8].ExpiresAt = t0.Add(time.Hour)
	p.Rules[7].ExpiresAt = t0.Add(time.Minute) // "later" expires first: "later-hole" wins then
	p.Settings.Enabled = false                 // linted all the same
	ws, err := lint.Policy(p, t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][]string{
		"lab":        {"duplicate", "covered"},
		"lab-copy":   {"duplicate", "covered", "never-wins"},
		"hidden":     {"never-wins"},
		"world":      {"broad-allow"},
		"old":        {"expired"},
		"h1":         nil, // inside a deny: removing it would change decisions
		"later-hole": nil, // it wins once "later" has expired
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
	ws, _ = lint.Policy(policy.New(rule("only", "10.0.0.0/8", policy.Allow)), t0, &lint.Options{MaxAllow4: 4})
	if k := kinds(ws, "only"); !slices.Equal(k, []string{"fragile-allowlist"}) {
		t.Errorf("one-rule allowlist: %v", ws)
	}
	if _, err := lint.Policy(policy.New(rule("", "10.0.0.0/8", policy.Allow)), t0, nil); err == nil {
		t.Error("Policy of an invalid policy succeeded")
	}
	ws, _ = lint.Policy(policy.New(rule("wide6", "2001::/16", policy.Allow), rule("ok6", "2001:db8::/32", policy.Deny)), t0, nil)
	if k := kinds(ws, "wide6"); !slices.Contains(k, "broad-allow") {
		t.Errorf("a /16 IPv6 allow: %v, want broad-allow", ws)
	}
}

// TestMessagesQuoted pins the text of each warning, with ids that hold
// control characters quoted so that they cannot forge a line.
func TestMessagesQuoted(t *testing.T) {
	t.Parallel()
	bad := "x\nallow rule=office"
	old := rule(bad, "192.0.2.9", policy.Allow)
	old.ExpiresAt = t0.Add(-time.Hour)
	ws, err := lint.Policy(policy.New(old, rule("wide", "0.0.0.0/4", policy.Allow)), t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.String())
	}
	want := []string{
		`expired: rule "x\nallow rule=office" expired at 2025-12-31T23:00:00Z`,
		`broad-allow: rule "wide" allows 0.0.0.0/4, wider than /8`,
		`fragile-allowlist: the allowlist rests on 2 allow rule(s) ["x\nallow rule=office" "wide"] under defaultAction auto: deleting them allows every address; set defaultAction to deny to pin it`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings\n%q\nwant\n%q", got, want)
	}
	ws, _ = lint.Policy(policy.New(rule(bad, "10.0.0.0/16", policy.Allow), rule("a", "10.0.0.0/8", policy.Allow),
		rule(bad+"2", "10.0.0.0/16", policy.Allow), rule("b", "10.0.0.0/24", policy.Deny)), t0, nil)
	got = got[:0]
	for _, w := range ws {
		got = append(got, w.String())
	}
	want = []string{
		`duplicate: rule "x\nallow rule=office2" duplicates rule "x\nallow rule=office"`,
		`never-wins: rule "x\nallow rule=office2" never wins: narrower or equal rules decide every address it holds, for every subject it binds`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings\n%q\nwant\n%q", got, want)
	}
}

// TestBruteForce checks the never-wins warning against decideSlow at every
// probe, subject and instant of random policies, and the covered warning
// against its definition (coveredSlow).
func TestBruteForce(t *testing.T) {
	t.Parallel()
	seeds := uint64(1000)
	if testing.Short() {
		seeds = 100
	}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 5))
		p := randomPolicy(rng, rng.IntN(16))
		ws, err := lint.Policy(p, t0, nil)
		if err != nil {
			t.Fatal(err)
		}
		wins := map[string]bool{}
		for _, at := range instants(p) {
			if at.Before(t0) {
				continue
			}
			for _, a := range probes(p) {
				if a.Is4In6() {
					continue // decided as IPv4
				}
				for _, admin := range []bool{false, true} {
					if id, ok := decideSlow(p, a, admin, at); ok {
						wins[id] = true
					}
				}
			}
		}
		covered := map[string]string{}
		for _, w := range ws {
			if w.Kind == "covered" {
				covered[w.Rules[0]] = w.Rules[1]
			}
		}
		for _, r := range p.Rules {
			if want := coveredSlow(p, r); covered[r.ID] != want {
				t.Fatalf("seed %d: rule %s %s %s: covered by %q, want %q\n%+v", seed, r.ID, r.Target, r.Action, covered[r.ID], want, p)
			}
			if r.Expired(t0) {
				continue
			}
			if warned := slices.Contains(kinds(ws, r.ID), "never-wins"); warned == wins[r.ID] {
				t.Fatalf("seed %d: rule %s %s: never-wins warning %v, but wins somewhere: %v\n%+v", seed, r.ID, r.Target, warned, wins[r.ID], p)
			}
		}
	}
}

// TestDeepNesting checks both warnings as TestBruteForce does, on ranges
// nested hundreds deep, of random actions, subjects and expiries: the
// shape whose sweeps keep the most rules open at once.
func TestDeepNesting(t *testing.T) {
	t.Parallel()
	n := 150
	if testing.Short() {
		n = 50
	}
	rng := rand.New(rand.NewPCG(1, 9))
	var rules []policy.Rule
	action := policy.Allow
	for i := range n {
		if rng.IntN(6) == 0 { // runs of one action, so that some rules are covered
			action = map[policy.Action]policy.Action{policy.Allow: policy.Deny, policy.Deny: policy.Allow}[action]
		}
		a, z := 3*i, 3*(2*n-i)
		r := policy.Rule{ID: "r" + strconv.Itoa(rng.IntN(1000)) + "-" + strconv.Itoa(i), Action: action, AdminOnly: rng.IntN(4) == 0,
			Target: rangeset.RangeFrom(netip.AddrFrom4([4]byte{10, 0, byte(a >> 8), byte(a)}), netip.AddrFrom4([4]byte{10, 0, byte(z >> 8), byte(z)}))}
		if rng.IntN(16) == 0 {
			r.ExpiresAt = t0.Add(time.Duration(1+rng.IntN(3)) * time.Minute)
		}
		if i > 0 && rng.IntN(4) == 0 {
			r.Target = rules[rng.IntN(i)].Target // an equal target: ties
		}
		rules = append(rules, r)
	}
	p := policy.New(rules...)
	ws, err := lint.Policy(p, t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	covered, never := map[string]string{}, map[string]bool{}
	for _, w := range ws {
		switch w.Kind {
		case "covered":
			covered[w.Rules[0]] = w.Rules[1]
		case "never-wins":
			never[w.Rules[0]] = true
		}
	}
	wins := map[string]bool{}
	for _, at := range instants(p) {
		for _, a := range probes(p) {
			for _, admin := range []bool{false, true} {
				if id, ok := decideSlow(p, a, admin, at); ok {
					wins[id] = true
				}
			}
		}
	}
	var nCovered int
	for _, r := range p.Rules {
		want := coveredSlow(p, r)
		if covered[r.ID] != want {
			t.Errorf("rule %s %s %s: covered by %q, want %q", r.ID, r.Target, r.Action, covered[r.ID], want)
		}
		if want != "" {
			nCovered++
		}
		if never[r.ID] == wins[r.ID] {
			t.Errorf("rule %s %s: never-wins warning %v, but wins somewhere: %v", r.ID, r.Target, never[r.ID], wins[r.ID])
		}
	}
	if nCovered == 0 || len(never) == 0 {
		t.Errorf("%d covered and %d never-winning rules: the shape tests neither", nCovered, len(never))
	}
}

// coveredSlow returns the rule that covers in, as a "covered" warning defines
// it, over every pair and triple of p's rules: the narrowest (then smallest
// id) strictly broader rule of in's action that contains its target, binds
// at least its subjects and lives as long, such that every rule of the
// other action overlapping the target is broader than it.
func coveredSlow(p policy.Policy, in policy.Rule) string {
	expiry := func(r policy.Rule) time.Time {
		if e, ok := r.Expiry(); ok {
			return e
		}
		return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // a second past the latest expiry, 9999-12-31T23:59:59Z
	}
	size := in.Target.Size()
	var best *policy.Rule
	for i, out := range p.Rules {
		if out.ID == in.ID || out.Action != in.Action || out.Target.Size().Compare(size) <= 0 ||
			!out.Target.ContainsRange(in.Target) || (out.AdminOnly && !in.AdminOnly) || expiry(out).Before(expiry(in)) {
			continue
		}
		between := slices.ContainsFunc(p.Rules, func(o policy.Rule) bool {
			return o.Action != in.Action && o.Target.Overlaps(in.Target) && o.Target.Size().Compare(out.Target.Size()) <= 0
		})
		if between {
			continue
		}
		if c := 0; best != nil {
			if c = out.Target.Size().Compare(best.Target.Size()); c > 0 || c == 0 && out.ID > best.ID {
				continue
			}
		}
		best = &p.Rules[i]
	}
	if best == nil {
		return ""
	}
	return best.ID
}

// BenchmarkPolicy lints the shapes that made the covered-rule analysis
// cubic (nested ranges) and quadratic (many rules on one address), and
// those where many rules win only once others expire.
func BenchmarkPolicy(b *testing.B) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	nested := func(n int) policy.Policy {
		var rules []policy.Rule
		for i := range n {
			a, z := i, 2*n-i
			rules = append(rules, policy.Rule{ID: "r" + strconv.Itoa(i), Action: policy.Allow,
				Target: rangeset.RangeFrom(netip.AddrFrom4([4]byte{10, 0, byte(a >> 8), byte(a)}), netip.AddrFrom4([4]byte{10, 0, byte(z >> 8), byte(z)}))})
		}
		return policy.New(rules...)
	}
	same := func(n int) policy.Policy {
		var rules []policy.Rule
		for i := range n {
			r := policy.Rule{ID: "r" + strconv.Itoa(i), Action: policy.Allow, Target: rangeset.MustParseRange("10.0.0.1")}
			if i%2 == 1 {
				r.Action = policy.Deny
			}
			rules = append(rules, r)
		}
		return policy.New(rules...)
	}
	twice := func(p policy.Policy) policy.Policy { // each rule and a copy, which wins none at t0
		for _, r := range slices.Clone(p.Rules) {
			r.ID += "-copy"
			p.Rules = append(p.Rules, r)
		}
		return p
	}
	under := func(p policy.Policy) policy.Policy { // a broad rule and its copy over every rule
		for _, id := range []string{"wide", "wide-copy"} {
			p.Rules = append(p.Rules, policy.Rule{ID: id, Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow})
		}
		return p
	}
	expiring := func(p policy.Policy) policy.Policy { // later rules expire sooner
		for i := range p.Rules {
			p.Rules[i].ExpiresAt = t0.Add(time.Duration(len(p.Rules)-i) * time.Minute)
		}
		return p
	}
	for _, c := range []struct {
		name string
		p    policy.Policy
	}{{"shape=nested/rules=200", nested(200)}, {"shape=nested/rules=2000", nested(2000)}, {"shape=one-address/rules=2000", same(2000)},
		{"shape=one-address-expiring/rules=500", expiring(same(500))},
		{"shape=nested-twice-expiring/rules=1000", expiring(twice(nested(500)))},
		{"shape=nested-under-twice/rules=2002", under(nested(2000))}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := lint.Policy(c.p, t0, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCoveredAtLatestExpiry: a rule with no expiry outlasts one expiring at
// the latest instant a rule may, 9999-12-31T23:59:59Z, so it covers that
// rule and is not covered by it: lint's stand-in for "never" lies past
// every expiry policy accepts.
func TestCoveredAtLatestExpiry(t *testing.T) {
	t.Parallel()
	latest := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	for _, tt := range []struct {
		name              string
		broadExp, narrExp time.Time
		covered           bool
	}{
		{"broad never expires", time.Time{}, latest, true},
		{"narrow never expires", latest, time.Time{}, false},
	} {
		broad := policy.Rule{ID: "broad", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow, ExpiresAt: tt.broadExp}
		narrow := policy.Rule{ID: "narrow", Target: rangeset.MustParseRange("10.1.0.0/16"), Action: policy.Allow, ExpiresAt: tt.narrExp}
		p := policy.New(broad, narrow)
		if err := p.Validate(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		ws, err := lint.Policy(p, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(kinds(ws, "narrow"), "covered"); got != tt.covered {
			t.Errorf("%s: narrow covered = %v, want %v (%v)", tt.name, got, tt.covered, ws)
		}
	}
}
