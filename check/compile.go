package check

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"
	"github.com/ipgate/ipgate/policy"
)

// never stands for "no next change": later than every valid expiry.
var never = policy.MaxExpiry.Add(time.Second)

// Snapshot is a compiled policy: an immutable lookup table that decides
// requests. It is safe for concurrent use by any number of goroutines.
//
// Each rule's target is inserted into a bart table as its prefix cover. Each
// inserted prefix carries, for each subject class (admin or not), the winner
// among the rules live at the compile instant that contain the whole prefix.
// Every rule that contains an address contains the longest inserted prefix
// matching it, so one longest-prefix lookup decides. For an instant outside
// the compiled window, the lookup walks the chain of inserted prefixes that
// contain the address and re-ranks their rules at that instant, so a
// decision is never stale.
type Snapshot struct {
	pol      policy.Policy // as given, for Policy and Rules
	at, next time.Time     // compile instant; first expiry after it, or never
	enabled  bool
	exempt   bool    // mobile subjects are exempt
	dflt     [2]bool // default outcome per subject class
	table    bart.Table[leaf]
	nodes    []node
	owners   []int32    // rule indices, grouped by node
	rules    []ruleInfo // sorted by precedence: a smaller index wins
	// passed is set by a Checker once the next change has arrived and before
	// the recompiled snapshot replaces this one: requests with a zero At are
	// then decided at that instant rather than at the compile instant.
	passed atomic.Bool
}

// leaf is the value stored in the table for an inserted prefix.
type leaf struct {
	win  [2]int32 // winning rule per subject class at the compile instant; -1 for none
	node int32
}

// node is an inserted prefix: the rules whose cover holds exactly it, and
// the nearest inserted prefix containing it.
type node struct {
	parent int32 // -1 at the top
	lo, hi int32 // owners[lo:hi]
}

type ruleInfo struct {
	id        string
	exp       time.Time // never when the rule does not expire
	allow     bool
	adminOnly bool
}

// live reports whether the rule applies to the subject class and is not
// expired at t.
func (r *ruleInfo) live(class int, t time.Time) bool {
	return (class == 1 || !r.adminOnly) && t.Before(r.exp)
}

// ErrZeroInstant reports a compile instant that is the zero time.Time,
// which is almost always a forgotten time.Now().
var ErrZeroInstant = errors.New("check.Compile: zero compile instant")

// Compile validates p and compiles it for decisions from instant t0 on. An
// invalid policy does not compile: the error is [policy.Policy.Validate]'s,
// naming every offending rule. The snapshot keeps its own copy of p.
func Compile(p policy.Policy, t0 time.Time) (*Snapshot, error) {
	if t0.IsZero() {
		return nil, ErrZeroInstant
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("check.Compile: %w", err)
	}
	s := &Snapshot{
		pol:     p.Clone(),
		at:      t0,
		next:    never,
		enabled: p.Settings.Enabled,
		exempt:  !p.Settings.ApplyToMobile,
	}
	order := rankOrder(p)
	s.rules = make([]ruleInfo, len(order))
	hasAllow := [2]bool{}
	for rank, i := range order {
		r := p.Rules[i]
		exp, ok := r.Expiry()
		if !ok {
			exp = never
		}
		if exp.After(t0) && exp.Before(s.next) {
			s.next = exp
		}
		s.rules[rank] = ruleInfo{id: r.ID, exp: exp, allow: r.Action == policy.Allow, adminOnly: r.AdminOnly}
		if r.Action == policy.Allow {
			hasAllow[1] = true
			hasAllow[0] = hasAllow[0] || !r.AdminOnly
		}
	}
	for c := range s.dflt {
		switch p.Settings.DefaultAction {
		case policy.DefaultAllow:
			s.dflt[c] = true
		case policy.DefaultAuto:
			s.dflt[c] = !hasAllow[c]
		}
	}
	s.build(order, p)
	return s, nil
}

// rankOrder returns the indices of p's rules sorted by precedence, the
// winner first.
func rankOrder(p policy.Policy) []int {
	order := make([]int, len(p.Rules))
	for i := range order {
		order[i] = i
	}
	denyFirst := p.Settings.Precedence == policy.DenyOverrides
	slices.SortFunc(order, func(i, j int) int {
		a, b := &p.Rules[i], &p.Rules[j]
		deny := cmp.Compare(b.Action, a.Action) // Deny > Allow: deny sorts first
		if denyFirst && deny != 0 {
			return deny
		}
		if c := a.Target.Size().Compare(b.Target.Size()); c != 0 {
			return c
		}
		if deny != 0 {
			return deny
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return order
}

// build inserts every rule's prefix cover and computes each prefix's
// winners, walking the prefixes in address order with a stack of the
// prefixes that contain the current one.
func (s *Snapshot) build(order []int, p policy.Policy) {
	type owned struct {
		pfx  netip.Prefix
		rule int32
	}
	var all []owned
	for rank, i := range order {
		for pfx := range p.Rules[i].Target.Prefixes() {
			all = append(all, owned{pfx, int32(rank)})
		}
	}
	slices.SortFunc(all, func(a, b owned) int {
		if c := a.pfx.Addr().Compare(b.pfx.Addr()); c != 0 {
			return c
		}
		if c := cmp.Compare(a.pfx.Bits(), b.pfx.Bits()); c != 0 {
			return c
		}
		return cmp.Compare(a.rule, b.rule)
	})
	s.owners = make([]int32, len(all))
	type frame struct {
		pfx netip.Prefix
		lf  leaf
	}
	var stack []frame
	for lo := 0; lo < len(all); {
		pfx := all[lo].pfx
		hi := lo
		for hi < len(all) && all[hi].pfx == pfx {
			s.owners[hi] = all[hi].rule
			hi++
		}
		for len(stack) > 0 && !contains(stack[len(stack)-1].pfx, pfx) {
			stack = stack[:len(stack)-1]
		}
		lf := leaf{win: [2]int32{-1, -1}, node: int32(len(s.nodes))}
		n := node{parent: -1, lo: int32(lo), hi: int32(hi)}
		if len(stack) > 0 {
			top := stack[len(stack)-1].lf
			n.parent, lf.win = top.node, top.win
		}
		for c := range lf.win {
			// Owners are sorted by rank, so the first live one is the best.
			for _, o := range s.owners[lo:hi] {
				if s.rules[o].live(c, s.at) {
					if lf.win[c] < 0 || o < lf.win[c] {
						lf.win[c] = o
					}
					break
				}
			}
		}
		s.nodes = append(s.nodes, n)
		s.table.Insert(pfx, lf)
		stack = append(stack, frame{pfx, lf})
		lo = hi
	}
}

// contains reports whether prefix o lies within prefix p.
func contains(p, o netip.Prefix) bool {
	return p.Bits() <= o.Bits() && p.Contains(o.Addr())
}

// Check decides r as SEMANTICS §4 says, at the instant r.At; a zero r.At
// means the snapshot's own instant ([Snapshot.At]), or, once a [Checker]
// has seen the snapshot's next change arrive, that change's instant. Requests at instants
// from At up to [Snapshot.NextChange] are answered by one lookup; any other
// instant, earlier or later, is answered exactly too, by re-ranking the
// rules that contain the address at that instant.
//
// Check does not allocate, takes no lock and reads no clock.
func (s *Snapshot) Check(r Request) Decision {
	if !s.enabled {
		return Decision{Allowed: true, Reason: ReasonDisabled}
	}
	if r.Mobile && s.exempt {
		return Decision{Allowed: true, Reason: ReasonExempt}
	}
	if !r.Addr.IsValid() {
		return Decision{Reason: ReasonInvalid}
	}
	class := 0
	if r.Admin {
		class = 1
	}
	lf, ok := s.table.Lookup(r.Addr.Unmap().WithZone(""))
	if !ok {
		return Decision{Allowed: s.dflt[class], Reason: ReasonDefault}
	}
	win, at := lf.win[class], r.At
	if at.IsZero() && s.passed.Load() {
		at = s.next
	}
	if !at.IsZero() && (at.Before(s.at) || !at.Before(s.next)) {
		win = s.winnerAt(lf.node, class, at)
	}
	if win < 0 {
		return Decision{Allowed: s.dflt[class], Reason: ReasonDefault}
	}
	ri := &s.rules[win]
	return Decision{Allowed: ri.allow, Rule: ri.id, Reason: ReasonRule}
}

// winnerAt returns the best rule live at t for the class among the owners
// of node n and of every node containing it, or -1.
func (s *Snapshot) winnerAt(n int32, class int, t time.Time) int32 {
	best := int32(-1)
	for ; n >= 0; n = s.nodes[n].parent {
		nd := &s.nodes[n]
		for _, o := range s.owners[nd.lo:nd.hi] {
			if (best < 0 || o < best) && s.rules[o].live(class, t) {
				best = o
				break // owners are sorted by rank
			}
		}
	}
	return best
}

// At returns the instant the snapshot was compiled for.
func (s *Snapshot) At() time.Time { return s.at }

// NextChange returns the first instant after [Snapshot.At] at which a rule
// expires, and so a decision may change, and reports whether there is one.
func (s *Snapshot) NextChange() (time.Time, bool) {
	return s.next, s.next != never
}

// Policy returns a copy of the policy the snapshot was compiled from.
func (s *Snapshot) Policy() policy.Policy { return s.pol.Clone() }

// Rules returns the snapshot's rules, each a copy, in the policy's order.
func (s *Snapshot) Rules() iter.Seq[policy.Rule] {
	return func(yield func(policy.Rule) bool) {
		for _, r := range s.pol.Rules {
			if !yield(r.Clone()) {
				return
			}
		}
	}
}
