package lint

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// Kind names a kind of warning.
type Kind string

// The warnings. None makes a policy invalid.
const (
	// NeverWins: for no subject, address or instant does the rule win:
	// narrower or equal rules decide wherever it applies.
	NeverWins Kind = "never-wins"
	// Duplicate: another rule has the same target, action, subjects and expiry.
	Duplicate Kind = "duplicate"
	// Covered: a broader rule with the same action, for at least the same
	// subjects and as long, contains the rule's target, and no rule of the
	// other action lies between them.
	Covered Kind = "covered"
	// BroadAllow: an allow rule wider than [Options] allow.
	BroadAllow Kind = "broad-allow"
	// Expired: the rule has expired at the instant linted.
	Expired Kind = "expired"
	// FragileAllowlist: the default action is auto and the allowlist rests
	// on few allow rules: deleting them turns it into allow-all.
	FragileAllowlist Kind = "fragile-allowlist"
)

// Warning is one finding of [Policy].
type Warning struct {
	// Kind is what was found.
	Kind Kind
	// Rules are the ids of the rules it is about, the rule warned about first.
	Rules []string
	// Message says it in a sentence, rule ids quoted with [rangeset.Quote].
	Message string
}

// String returns "kind: message".
func (w Warning) String() string { return string(w.Kind) + ": " + w.Message }

// Options configure [Policy]. A nil *Options means the defaults.
type Options struct {
	// MaxAllow4 and MaxAllow6 are the widest allow rules not warned about,
	// as prefix lengths; zero means /8 for IPv4 and /32 for IPv6.
	MaxAllow4, MaxAllow6 int
}

// Policy returns warnings about p at instant t0, in the order of p's
// rules: expired rules, broad allows, duplicates and covered rules, then
// rules that never win (for any subject, address of their target, or
// instant from t0 on), then a fragile allowlist. A disabled policy is
// linted as if it were enabled, since the warnings are about its rules. An
// invalid policy is an error, as in [check.Compile]. Its cost grows with
// the rules times the pieces of their targets (see
// [check.Snapshot.Pieces]), each piece explained once.
func Policy(p policy.Policy, t0 time.Time, opts *Options) ([]Warning, error) {
	q := p
	q.Settings.Enabled = true
	s, err := check.Compile(q, t0)
	if err != nil {
		return nil, err
	}
	o := Options{MaxAllow4: 8, MaxAllow6: 32}
	if opts != nil {
		if opts.MaxAllow4 > 0 {
			o.MaxAllow4 = opts.MaxAllow4
		}
		if opts.MaxAllow6 > 0 {
			o.MaxAllow6 = opts.MaxAllow6
		}
	}
	l := &linter{s: s, t0: t0, narrow: map[netip.Addr][2]rangeset.Size{}}
	for _, r := range p.Rules {
		if e, ok := r.Expiry(); ok && e.After(t0) {
			l.expiries = append(l.expiries, e)
		}
	}
	var ws []Warning
	warn := func(k Kind, ids []string, msg string) {
		ws = append(ws, Warning{Kind: k, Rules: ids, Message: msg})
	}
	maxSize := [2]rangeset.Size{
		rangeset.PrefixRange(netip.PrefixFrom(netip.IPv4Unspecified(), o.MaxAllow4)).Size(),
		rangeset.PrefixRange(netip.PrefixFrom(netip.IPv6Unspecified(), o.MaxAllow6)).Size(),
	}
	type key struct {
		target    rangeset.Range
		action    policy.Action
		adminOnly bool
		exp       time.Time
	}
	seen := map[key]string{}
	var allows []string
	covered := l.covered(p.Rules)
	for i, r := range p.Rules {
		q := rangeset.Quote(r.ID)
		exp := expiry(r)
		if !t0.Before(exp) {
			warn(Expired, []string{r.ID}, "rule "+q+" expired at "+exp.Format(time.RFC3339))
		}
		fam := 0
		if r.Target.Is6() {
			fam = 1
		}
		if r.Action == policy.Allow {
			allows = append(allows, r.ID)
			if r.Target.Size().Compare(maxSize[fam]) > 0 {
				warn(BroadAllow, []string{r.ID}, "rule "+q+" allows "+r.Target.String()+", wider than /"+strconv.Itoa([]int{o.MaxAllow4, o.MaxAllow6}[fam]))
			}
		}
		k := key{r.Target, r.Action, r.AdminOnly, exp.UTC()}
		if first, ok := seen[k]; ok {
			warn(Duplicate, []string{r.ID, first}, "rule "+q+" duplicates rule "+rangeset.Quote(first))
		} else {
			seen[k] = r.ID
		}
		if out := covered[i]; out != "" {
			warn(Covered, []string{r.ID, out}, "rule "+q+" is covered by the broader rule "+rangeset.Quote(out)+" of the same action, with no rule of the other action between them")
		}
	}
	for _, r := range p.Rules {
		if !r.Expired(t0) && !l.everWins(r) {
			warn(NeverWins, []string{r.ID}, "rule "+rangeset.Quote(r.ID)+" never wins: narrower or equal rules decide every address it holds, for every subject it binds")
		}
	}
	if p.Settings.DefaultAction == policy.DefaultAuto && len(allows) > 0 && len(allows) <= 2 {
		quoted := make([]string, len(allows))
		for i, id := range allows {
			quoted[i] = rangeset.Quote(id)
		}
		warn(FragileAllowlist, allows, "the allowlist rests on "+strconv.Itoa(len(allows))+" allow rule(s) ["+strings.Join(quoted, " ")+
			"] under defaultAction auto: deleting them allows every address; set defaultAction to deny to pin it")
	}
	return ws, nil
}

// never stands for no expiry: later than every valid one.
var never = policy.MaxExpiry.Add(time.Second)

func expiry(r policy.Rule) time.Time {
	if e, ok := r.Expiry(); ok {
		return e
	}
	return never
}

// linter holds what the analyses of one policy share.
type linter struct {
	s        *check.Snapshot
	t0       time.Time
	expiries []time.Time // of the rules that expire after t0
	// narrow holds, by the first address of a piece, the size of the
	// narrowest rule of each action containing it (the zero Size: none),
	// so that each piece is explained once however many rules hold it.
	narrow map[netip.Addr][2]rangeset.Size
}

// near returns the rules that contain an address of piece p: every rule
// containing one address of a piece contains all of it.
func (l *linter) near(p rangeset.Range) []check.Match {
	return l.s.Explain(check.Request{Addr: p.From(), Admin: true, At: l.t0}).Matches
}

// covered returns, for each rule, the id of the rule that covers it (see
// coveredBy), "" for none. Rules whose targets start at one address are
// looked at together: the rules containing that address are listed once
// for all of them.
func (l *linter) covered(rules []policy.Rule) []string {
	out := make([]string, len(rules))
	order := make([]int, len(rules))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return rules[a].Target.From().Compare(rules[b].Target.From()) })
	for lo := 0; lo < len(order); {
		from := rules[order[lo]].Target.From()
		hi := lo + 1
		for hi < len(order) && rules[order[hi]].Target.From() == from {
			hi++
		}
		// A rule containing a whole target contains its first address.
		near := l.s.Explain(check.Request{Addr: from, Admin: true, At: l.t0}).Matches
		if _, ok := l.narrow[from]; !ok {
			l.narrow[from] = narrowestOf(near) // the first piece of each target here
		}
		sizes := make([]rangeset.Size, len(near))
		for k, m := range near {
			sizes[k] = m.Rule.Target.Size()
		}
		for _, i := range order[lo:hi] {
			out[i] = l.coveredBy(rules[i], near, sizes)
		}
		lo = hi
	}
	return out
}

// coveredBy returns the id of a strictly broader rule with in's action
// that contains in's whole target, binds at least its subjects and lives
// at least as long, such that no rule of the other action overlapping in
// is as narrow as it: removing in would leave its addresses to the broader
// rule. It returns "" when there is none. near are the rules containing
// the first address of in's target, and sizes their sizes.
func (l *linter) coveredBy(in policy.Rule, near []check.Match, sizes []rangeset.Size) string {
	size, exp := in.Target.Size(), expiry(in)
	var outs []int // indices into near
	for k, m := range near {
		out := m.Rule
		if out.ID != in.ID && out.Action == in.Action && sizes[k].Compare(size) > 0 &&
			out.Target.ContainsRange(in.Target) && (!out.AdminOnly || in.AdminOnly) && !expiry(out).Before(exp) {
			outs = append(outs, k)
		}
	}
	if len(outs) == 0 {
		return ""
	}
	// The narrowest rule of the other action overlapping the target.
	otherAction := 0
	if in.Action == policy.Allow {
		otherAction = 1
	}
	var other rangeset.Size // the zero Size: none
	for p := range l.s.Pieces(in.Target) {
		if x := l.narrowest(p)[otherAction]; x != (rangeset.Size{}) && (other == rangeset.Size{} || x.Compare(other) < 0) {
			other = x
		}
	}
	for _, k := range outs {
		if other == (rangeset.Size{}) || other.Compare(sizes[k]) > 0 {
			return near[k].Rule.ID
		}
	}
	return ""
}

// narrowest returns the sizes of the narrowest allow rule and the
// narrowest deny rule containing piece p, in that order.
func (l *linter) narrowest(p rangeset.Range) [2]rangeset.Size {
	v, ok := l.narrow[p.From()]
	if !ok {
		v = narrowestOf(l.near(p))
		l.narrow[p.From()] = v
	}
	return v
}

// narrowestOf returns the sizes of the narrowest allow rule and the
// narrowest deny rule among ms, in that order.
func narrowestOf(ms []check.Match) [2]rangeset.Size {
	var v [2]rangeset.Size
	for _, m := range ms {
		i := 0
		if m.Rule.Action == policy.Deny {
			i = 1
		}
		if x := m.Rule.Target.Size(); v[i] == (rangeset.Size{}) || x.Compare(v[i]) < 0 {
			v[i] = x
		}
	}
	return v
}

// everWins reports whether r wins somewhere: for some subject it binds,
// some instant from t0 on, and some address of its target. Decisions are
// constant over a piece, at an instant, and change only when a rule that
// contains the piece expires, so it decides each piece at t0 and at those
// expiries before r's own.
func (l *linter) everWins(r policy.Rule) bool {
	admins := []bool{false, true}
	if r.AdminOnly {
		admins = []bool{true}
	}
	wins := func(a netip.Addr, t time.Time) bool {
		for _, admin := range admins {
			if l.s.Check(check.Request{Addr: a, Admin: admin, At: t}).Rule == r.ID {
				return true
			}
		}
		return false
	}
	for p := range l.s.Pieces(r.Target) {
		if wins(p.From(), l.t0) {
			return true
		}
	}
	exp := expiry(r)
	if !slices.ContainsFunc(l.expiries, func(e time.Time) bool { return e.Before(exp) }) {
		return false // no other instant to look at
	}
	for p := range l.s.Pieces(r.Target) {
		for _, m := range l.near(p) {
			if e := expiry(m.Rule); e.After(l.t0) && e.Before(exp) && wins(p.From(), e) {
				return true
			}
		}
	}
	return false
}
