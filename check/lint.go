package check

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// WarningKind names a kind of lint warning.
type WarningKind string

// The lint warnings. None makes a policy invalid.
const (
	// NeverWins: for no subject, address or instant does the rule win:
	// narrower or equal rules cover it wherever it applies.
	NeverWins WarningKind = "never-wins"
	// Duplicate: another rule has the same target, action, subjects and expiry.
	Duplicate WarningKind = "duplicate"
	// Covered: a broader rule with the same action, for at least the same
	// subjects and as long, contains the rule's target.
	Covered WarningKind = "covered"
	// BroadAllow: an allow rule wider than LintOptions allows.
	BroadAllow WarningKind = "broad-allow"
	// Expired: the rule has expired at the instant linted.
	Expired WarningKind = "expired"
	// FragileAllowlist: the default action is auto and the allowlist rests
	// on few allow rules: deleting them turns it into allow-all.
	FragileAllowlist WarningKind = "fragile-allowlist"
)

// Warning is one finding of [Lint], naming the rules it is about.
type Warning struct {
	Kind    WarningKind
	Rules   []string
	Message string
}

// String returns "kind: message".
func (w Warning) String() string { return string(w.Kind) + ": " + w.Message }

// LintOptions configure [Lint]. A nil *LintOptions means the defaults.
type LintOptions struct {
	// MaxAllow4 and MaxAllow6 are the widest allow rules not warned about,
	// as prefix lengths; zero means /8 for IPv4 and /32 for IPv6.
	MaxAllow4, MaxAllow6 int
}

// Lint returns warnings about p as compiled at t0: rules that can never
// win for any subject, exact duplicates, rules covered by a broader one of
// the same action, allow rules broader than the options allow, rules
// already expired, and an auto allowlist that deleting its last allow
// rules would turn into allow-all. An invalid policy is an error, as in
// [Compile].
func Lint(p policy.Policy, t0 time.Time, opts *LintOptions) ([]Warning, error) {
	s, infos, err := compile(p, t0, false)
	if err != nil {
		return nil, err
	}
	o := LintOptions{MaxAllow4: 8, MaxAllow6: 32}
	if opts != nil {
		if opts.MaxAllow4 > 0 {
			o.MaxAllow4 = opts.MaxAllow4
		}
		if opts.MaxAllow6 > 0 {
			o.MaxAllow6 = opts.MaxAllow6
		}
	}
	var ws []Warning
	warn := func(k WarningKind, ids []string, format string, args ...any) {
		ws = append(ws, Warning{Kind: k, Rules: ids, Message: fmt.Sprintf(format, args...)})
	}
	maxSize := [2]rangeset.Size{
		rangeset.PrefixRange(netip.PrefixFrom(netip.IPv4Unspecified(), o.MaxAllow4)).Size(),
		rangeset.PrefixRange(netip.PrefixFrom(netip.IPv6Unspecified(), o.MaxAllow6)).Size(),
	}
	allows := 0
	type key struct {
		target    rangeset.Range
		action    policy.Action
		adminOnly bool
		exp       time.Time
	}
	seen := map[key]string{}
	for i, r := range p.Rules {
		ri := &infos[i]
		if !t0.Before(ri.exp) {
			warn(Expired, []string{r.ID}, "rule %q expired at %s", r.ID, ri.exp.Format(time.RFC3339))
		}
		fam := 0
		if r.Target.Is6() {
			fam = 1
		}
		if r.Action == policy.Allow {
			allows++
			if r.Target.Size().Compare(maxSize[fam]) > 0 {
				warn(BroadAllow, []string{r.ID}, "rule %q allows %s, wider than /%d", r.ID, r.Target, []int{o.MaxAllow4, o.MaxAllow6}[fam])
			}
		}
		k := key{r.Target, r.Action, r.AdminOnly, ri.exp.UTC()}
		if first, ok := seen[k]; ok {
			warn(Duplicate, []string{r.ID, first}, "rule %q duplicates rule %q", r.ID, first)
		} else {
			seen[k] = r.ID
		}
		if out := s.coveredBy(ri); out != nil {
			warn(Covered, []string{r.ID, out.rule.ID}, "rule %q is covered by the broader rule %q of the same action, with no rule of the other action between them", r.ID, out.rule.ID)
		}
	}
	for i, r := range p.Rules {
		if ri := &infos[i]; t0.Before(ri.exp) && !s.everWins(ri) {
			warn(NeverWins, []string{r.ID}, "rule %q never wins: narrower or equal rules decide every address it holds, for every subject it binds", r.ID)
		}
	}
	if p.Settings.DefaultAction == policy.DefaultAuto && allows > 0 && allows <= 2 {
		var ids []string
		for _, r := range p.Rules {
			if r.Action == policy.Allow {
				ids = append(ids, r.ID)
			}
		}
		warn(FragileAllowlist, ids, "the allowlist rests on %d allow rule(s) %q under defaultAction auto: deleting them allows every address; set defaultAction to deny to pin it", allows, ids)
	}
	return ws, nil
}

// coveredBy returns a strictly broader rule with in's action that contains
// in's whole target, binds at least its subjects and lives at least as
// long, such that no rule of the other action overlapping in is as narrow
// as it: removing in would leave its addresses to the broader rule. It
// returns nil when there is none.
func (s *Snapshot) coveredBy(in *ruleInfo) *ruleInfo {
	var near []*ruleInfo // every rule overlapping in's target
	for cover := range in.rule.Target.Prefixes() {
		near = append(near, s.rulesContaining(cover)...)
		for _, lf := range s.table.Subnets(cover) {
			near = append(near, lf.n.rules...)
		}
	}
	for _, out := range near {
		if out == in || out.allow != in.allow || out.size.Compare(in.size) <= 0 ||
			!out.rule.Target.ContainsRange(in.rule.Target) || out.adminOnly && !in.adminOnly || out.exp.Before(in.exp) {
			continue
		}
		between := slices.ContainsFunc(near, func(x *ruleInfo) bool {
			return x.allow != in.allow && x.size.Compare(out.size) <= 0 && x.rule.Target.Overlaps(in.rule.Target)
		})
		if !between {
			return out
		}
	}
	return nil
}

// everWins reports whether r wins somewhere: for some subject it binds,
// some instant from the snapshot's on, and some address of its target.
// Decisions are constant over the part of each inserted prefix that no
// deeper prefix takes, so those parts are the places to look, at the
// snapshot's instant and at each expiry of a rule that takes part there.
func (s *Snapshot) everWins(r *ruleInfo) bool {
	classes := []int{0, 1}
	if r.adminOnly {
		classes = []int{1}
	}
	for cover := range r.rule.Target.Prefixes() {
		var below []netip.Prefix
		for p := range s.table.Subnets(cover) {
			below = append(below, p)
		}
		for i, p := range below {
			if !ownsAddresses(p, below[i+1:]) {
				continue
			}
			rules := s.rulesContaining(p)
			instants := []time.Time{s.at}
			for _, x := range rules {
				if x.exp.After(s.at) && x.exp.Before(r.exp) {
					instants = append(instants, x.exp)
				}
			}
			for _, t := range instants {
				for _, c := range classes {
					if s.best(rules, c, t) == r {
						return true
					}
				}
			}
		}
	}
	return false
}

// ownsAddresses reports whether some address of p lies in none of the
// prefixes after it in address order that p contains.
func ownsAddresses(p netip.Prefix, after []netip.Prefix) bool {
	next := p.Addr()
	for _, q := range after {
		if !contains(p, q) {
			break
		}
		if q.Addr().Compare(next) > 0 {
			return true // a gap before q
		}
		end := rangeset.PrefixRange(q).To()
		if end.Compare(next) >= 0 {
			if next = end.Next(); !next.IsValid() || !p.Contains(next) {
				return false // covered to p's end
			}
		}
	}
	return true
}

// rulesContaining returns the rules of every inserted prefix containing p.
func (s *Snapshot) rulesContaining(p netip.Prefix) []*ruleInfo {
	var rules []*ruleInfo
	for _, lf := range s.table.Supernets(p) {
		rules = append(rules, lf.n.rules...)
	}
	return rules
}

// best returns the winner among rules for the class at t, or nil.
func (s *Snapshot) best(rules []*ruleInfo, class int, t time.Time) *ruleInfo {
	var b *ruleInfo
	for _, x := range rules {
		if x.live(class, t) && better(s.denyFirst(), x, b) {
			b = x
		}
	}
	return b
}
