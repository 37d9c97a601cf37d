package lint

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// The kinds of warning, as [Warning.Kind] gives them.
const (
	kindNeverWins        = "never-wins"
	kindDuplicate        = "duplicate"
	kindCovered          = "covered"
	kindBroadAllow       = "broad-allow"
	kindExpired          = "expired"
	kindFragileAllowlist = "fragile-allowlist"
)

// Warning is one finding of [Policy].
type Warning struct {
	// Kind is what was found, one of these (none makes a policy invalid):
	//   - "never-wins": for no subject, address or instant does the rule
	//     win: narrower or equal rules decide wherever it applies.
	//   - "duplicate": another rule has the same target, action, subjects
	//     and expiry.
	//   - "covered": a broader rule with the same action, for at least the
	//     same subjects and as long, contains the rule's target, and no
	//     rule of the other action lies between them. The warning names the
	//     narrowest such rule (then the smallest id).
	//   - "broad-allow": an allow rule wider than [Options] allow.
	//   - "expired": the rule has expired at the instant linted.
	//   - "fragile-allowlist": the default action is auto and the allowlist
	//     rests on few allow rules: deleting them turns it into allow-all.
	Kind string
	// Rules are the ids of the rules it is about, the rule warned about first.
	Rules []string
	// Message says it in a sentence, rule ids quoted with [rangeset.Quote].
	Message string
}

// String returns "kind: message".
func (w Warning) String() string { return w.Kind + ": " + w.Message }

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
// the pieces of the whole policy (see [check.Snapshot.Pieces]), each
// decided once, and with how deeply the rules' targets nest.
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
	l := newLinter(s, p.Rules, t0)
	var ws []Warning
	warn := func(k string, ids []string, msg string) {
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
	covered := l.covered()
	for i, r := range p.Rules {
		q := rangeset.Quote(r.ID)
		exp := expiry(r)
		if !t0.Before(exp) {
			warn(kindExpired, []string{r.ID}, "rule "+q+" expired at "+exp.Format(time.RFC3339))
		}
		fam := 0
		if r.Target.Is6() {
			fam = 1
		}
		if r.Action == policy.Allow {
			allows = append(allows, r.ID)
			if r.Target.Size().Compare(maxSize[fam]) > 0 {
				warn(kindBroadAllow, []string{r.ID}, "rule "+q+" allows "+r.Target.String()+", wider than /"+strconv.Itoa([]int{o.MaxAllow4, o.MaxAllow6}[fam]))
			}
		}
		k := key{r.Target, r.Action, r.AdminOnly, exp.UTC()}
		if first, ok := seen[k]; ok {
			warn(kindDuplicate, []string{r.ID, first}, "rule "+q+" duplicates rule "+rangeset.Quote(first))
		} else {
			seen[k] = r.ID
		}
		if out := covered[i]; out != "" {
			warn(kindCovered, []string{r.ID, out}, "rule "+q+" is covered by the broader rule "+rangeset.Quote(out)+" of the same action, with no rule of the other action between them")
		}
	}
	for i, r := range p.Rules {
		if !r.Expired(t0) && !l.everWins(i) {
			warn(kindNeverWins, []string{r.ID}, "rule "+rangeset.Quote(r.ID)+" never wins: narrower or equal rules decide every address it holds, for every subject it binds")
		}
	}
	if p.Settings.DefaultAction == policy.DefaultAuto && len(allows) > 0 && len(allows) <= 2 {
		quoted := make([]string, len(allows))
		for i, id := range allows {
			quoted[i] = rangeset.Quote(id)
		}
		warn(kindFragileAllowlist, allows, "the allowlist rests on "+strconv.Itoa(len(allows))+" allow rule(s) ["+strings.Join(quoted, " ")+
			"] under defaultAction auto: deleting them allows every address; set defaultAction to deny to pin it")
	}
	return ws, nil
}

// never stands for no expiry: 10000-01-01T00:00:00Z, later than every
// valid one and where [policy.Rule.Expiry] saturates.
var never = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)

func expiry(r policy.Rule) time.Time {
	if e, ok := r.Expiry(); ok {
		return e
	}
	return never
}

// none is the rank of no rule: above every rule's.
const none = math.MaxUint32

// linter holds what the analyses of one policy share.
type linter struct {
	s     *check.Snapshot
	t0    time.Time
	rules []policy.Rule
	index map[string]int // of the rules, by id
	// rank orders the rules' targets by size: equal sizes, equal ranks.
	rank []uint32
	// pieces are the pieces of both families, in address order; every
	// rule's target is a run of them.
	pieces []rangeset.Range
	// narrow[a] holds, for each piece, the rank of the narrowest rule of
	// action a (0 allow, 1 deny) containing it, or none.
	narrow [2]minTree
	// won holds the rules found to win a piece, for some subject at some
	// instant: at t0 for every piece, later for the pieces followed.
	won []bool
	// later holds the pieces not yet followed past t0 whose decision
	// changes then: a winner at t0 expires.
	later []bool
}

func newLinter(s *check.Snapshot, rules []policy.Rule, t0 time.Time) *linter {
	l := &linter{s: s, t0: t0, rules: rules}
	for _, is4 := range []bool{true, false} {
		l.pieces = slices.AppendSeq(l.pieces, s.Pieces(rangeset.Family(is4)))
	}
	l.paint(l.rankBySize())
	l.decide()
	return l
}

// rankBySize sets the rules' ranks and returns their indices, narrowest
// first.
func (l *linter) rankBySize() []int {
	rules := l.rules
	bySize := make([]int, len(rules))
	for i := range bySize {
		bySize[i] = i
	}
	slices.SortFunc(bySize, func(a, b int) int { return rules[a].Target.Size().Compare(rules[b].Target.Size()) })
	l.rank = make([]uint32, len(rules))
	for k, i := range bySize {
		if k > 0 && rules[i].Target.Size() == rules[bySize[k-1]].Target.Size() {
			l.rank[i] = l.rank[bySize[k-1]]
		} else {
			l.rank[i] = uint32(k)
		}
	}
	return bySize
}

// paint gives each piece the rank of the narrowest rule of each action
// containing it. The rules come narrowest first and each piece is painted
// once: next[k] leads past the painted pieces from k (path halving).
func (l *linter) paint(bySize []int) {
	n := len(l.pieces)
	for a := range l.narrow {
		narrow, next := make([]uint32, n), make([]int, n+1)
		for k := range next {
			next[k] = k
		}
		for k := range narrow {
			narrow[k] = none
		}
		find := func(k int) int {
			for next[k] != k {
				next[k] = next[next[k]]
				k = next[k]
			}
			return k
		}
		for _, i := range bySize {
			if action(l.rules[i]) != a {
				continue
			}
			lo, hi := l.span(l.rules[i].Target)
			for k := find(lo); k < hi; k = find(k) {
				narrow[k], next[k] = l.rank[i], k+1
			}
		}
		l.narrow[a] = newMinTree(narrow)
	}
}

// decide marks the rules that win a piece at t0, for either subject, and
// the pieces whose decision changes later.
func (l *linter) decide() {
	l.index = make(map[string]int, len(l.rules))
	for i, r := range l.rules {
		l.index[r.ID] = i
	}
	l.won, l.later = make([]bool, len(l.rules)), make([]bool, len(l.pieces))
	for k, p := range l.pieces {
		for _, admin := range []bool{false, true} {
			d := l.s.Check(check.Request{Addr: p.From(), Admin: admin, At: l.t0})
			if d.Reason != check.ReasonRule {
				continue
			}
			w := l.index[d.Rule]
			l.won[w] = true
			if _, ok := l.rules[w].Expiry(); ok {
				l.later[k] = true
			}
		}
	}
}

// action returns 0 for an allow rule and 1 for a deny rule.
func action(r policy.Rule) int {
	if r.Action == policy.Deny {
		return 1
	}
	return 0
}

// span returns the indices of the pieces of t: pieces[lo:hi].
func (l *linter) span(t rangeset.Range) (lo, hi int) {
	at := func(a netip.Addr) int {
		return sort.Search(len(l.pieces), func(k int) bool { return l.pieces[k].From().Compare(a) > 0 })
	}
	return at(t.From()) - 1, at(t.To())
}

// covered returns, for each rule, the id of the narrowest (then smallest
// id) strictly broader rule with its action that contains its whole
// target, binds at least its subjects and lives at least as long, provided
// no rule of the other action overlapping the target is as narrow: removing
// the rule would leave its addresses to the broader one. It returns "" for
// a rule with none.
//
// It sweeps the rules in the order of their first addresses, keeping the
// rules that hold the current one ordered by rank and id, so that the
// first qualifying rule beyond a rule's own rank is its answer.
func (l *linter) covered() []string {
	rules := l.rules
	out := make([]string, len(rules))
	order := make([]int, len(rules))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return rules[a].Target.From().Compare(rules[b].Target.From()) })
	byRank := func(a, b int) int {
		if c := cmp.Compare(l.rank[a], l.rank[b]); c != 0 {
			return c
		}
		return strings.Compare(rules[a].ID, rules[b].ID)
	}
	var open []int // rules holding the current address, by rank and id
	for lo := 0; lo < len(order); {
		from := rules[order[lo]].Target.From()
		hi := lo + 1
		for hi < len(order) && rules[order[hi]].Target.From() == from {
			hi++
		}
		open = slices.DeleteFunc(open, func(i int) bool { return rules[i].Target.To().Less(from) })
		for _, i := range order[lo:hi] {
			k, _ := slices.BinarySearchFunc(open, i, byRank)
			open = slices.Insert(open, k, i)
		}
		for _, i := range order[lo:hi] {
			in := rules[i]
			k, _ := slices.BinarySearchFunc(open, l.rank[i]+1, func(j int, r uint32) int { return cmp.Compare(l.rank[j], r) })
			c := slices.IndexFunc(open[k:], func(j int) bool {
				o := rules[j]
				return o.Action == in.Action && !o.Target.To().Less(in.Target.To()) &&
					(!o.AdminOnly || in.AdminOnly) && !expiry(o).Before(expiry(in))
			})
			if c < 0 {
				continue
			}
			c = open[k+c] // the narrowest rule that may cover in
			if first, last := l.span(in.Target); l.narrow[1-action(in)].min(first, last) > l.rank[c] {
				out[i] = rules[c].ID
			}
		}
		lo = hi
	}
	return out
}

// everWins reports whether rule i wins somewhere: for some subject it
// binds, some instant from t0 on, and some address of its target. At an
// instant, decisions are constant over a piece, and a piece's decision
// changes only when its winner expires (rules expire, none begins). So
// beyond the pieces won at t0 it follows through time the pieces of the
// target whose winners expire (see follow), each piece once for all rules.
func (l *linter) everWins(i int) bool {
	lo, hi := l.span(l.rules[i].Target)
	for k := lo; k < hi && !l.won[i]; k++ {
		if l.later[k] {
			l.later[k] = false
			l.follow(l.pieces[k])
		}
	}
	return l.won[i]
}

// follow marks every rule that wins piece p at some instant from t0 on,
// for either subject. Rules expire and none begins, so at an instant the
// winner is the first rule in the order of precedence that has not
// expired: a rule wins at some instant exactly when it outlives every
// rule before it.
func (l *linter) follow(p rangeset.Range) {
	// The winner first, and before it in precedence only expired rules,
	// which outlive none.
	ms := l.s.Explain(check.Request{Addr: p.From(), Admin: true, At: l.t0}).Matches
	for _, admin := range []bool{false, true} {
		last := l.t0 // the latest expiry before, in the order of precedence
		for _, m := range ms {
			if m.Rule.AdminOnly && !admin {
				continue
			}
			if e := expiry(m.Rule); e.After(last) {
				l.won[l.index[m.Rule.ID]] = true
				last = e
			}
		}
	}
}

// minTree answers the least value in a run of a slice (a segment tree):
// its second half is the slice, each node below the least of its two
// children.
type minTree []uint32

func newMinTree(v []uint32) minTree {
	t := make(minTree, 2*len(v))
	copy(t[len(v):], v)
	for k := len(v) - 1; k > 0; k-- {
		t[k] = min(t[2*k], t[2*k+1])
	}
	return t
}

// min returns the least of v[lo:hi], or none when the run is empty.
func (t minTree) min(lo, hi int) uint32 {
	m := uint32(none)
	for lo, hi = lo+len(t)/2, hi+len(t)/2; lo < hi; lo, hi = lo/2, hi/2 {
		if lo%2 == 1 {
			m = min(m, t[lo])
			lo++
		}
		if hi%2 == 1 {
			hi--
			m = min(m, t[hi])
		}
	}
	return m
}
