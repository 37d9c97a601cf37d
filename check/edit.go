package check

import (
	"cmp"
	"container/heap"
	"net/netip"
	"slices"
	"time"

	"github.com/ipgate/ipgate/policy"
)

// rulesState is what a Checker keeps beside its snapshot to change it in
// place of a recompile: the rules by id, the expiries still to come, and
// the next arrival number. Only writers touch it, under the Checker's mutex.
type rulesState struct {
	byID map[string]*ruleInfo
	exps expiryHeap
	seq  uint64
	// An edit's writes to its snapshot's table so far, and whether it has
	// copied the table and writes in place; early is copyEarly's.
	writes       int
	owned, early bool
}

func newRulesState(s *Snapshot, infos []ruleInfo, opts *Options) *rulesState {
	st := &rulesState{byID: make(map[string]*ruleInfo, len(infos)), seq: uint64(len(infos)), early: opts.copyEarly}
	for i := range infos {
		r := &infos[i]
		st.byID[r.id] = r
		if r.exp.After(s.at) && r.exp != never {
			st.exps = append(st.exps, r)
		}
	}
	heap.Init(&st.exps)
	return st
}

// expiryHeap orders rules by expiry, soonest first. Entries of rules since
// removed or replaced stay until they reach the top, and are skipped there.
type expiryHeap []*ruleInfo

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].exp.Before(h[j].exp) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(*ruleInfo)) }
func (h *expiryHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	*h = old[:len(old)-1]
	return r
}

// current reports whether r is still a rule of the state.
func (st *rulesState) current(r *ruleInfo) bool { return st.byID[r.id] == r }

// edit derives from old a snapshot for instant t0 with the rules in del
// removed and those in add added, and with the rules expired by t0
// re-ranked, writing just the prefixes these rules cover and those beneath
// them (see write). old is not changed.
func (st *rulesState) edit(old *Snapshot, t0 time.Time, settings policy.Settings, del []*ruleInfo, add []policy.Rule) *Snapshot {
	s := &Snapshot{table: old.table, nodes: old.nodes, at: t0, settings: settings, allows: old.allows, expires: old.expires,
		rules: old.rules}
	st.writes, st.owned = 0, false
	var dirty []netip.Prefix
	for _, r := range del {
		delete(st.byID, r.id)
		s.count(r, -1)
		s.rules--
		for pfx := range r.target().Prefixes() {
			lf, _ := s.table.Get(pfx)
			st.setRules(s, old, pfx, slices.DeleteFunc(slices.Clone(s.nodes.at(lf.node()).rules), func(x *ruleInfo) bool { return x == r }))
			dirty = append(dirty, pfx)
		}
	}
	deny := settings.DenyOverrides
	for i := range add {
		nr := &add[i]
		r := newRuleInfo(nr, st.seq)
		st.seq++
		st.byID[nr.ID] = r
		s.count(r, +1)
		s.rules++
		if r.exp.After(t0) && r.exp != never {
			heap.Push(&st.exps, r)
		}
		for pfx := range nr.Target.Prefixes() {
			var rules []*ruleInfo
			if lf, ok := s.table.Get(pfx); ok {
				rules = s.nodes.at(lf.node()).rules
			}
			i, _ := slices.BinarySearchFunc(rules, r, func(x, y *ruleInfo) int {
				if better(deny, x, y) {
					return -1
				}
				return 1
			})
			st.setRules(s, old, pfx, slices.Insert(slices.Clone(rules), i, r))
			dirty = append(dirty, pfx)
		}
	}
	// Rules expired by t0 change the winners beneath their prefixes.
	s.next = never
	for len(st.exps) > 0 {
		r := st.exps[0]
		if !st.current(r) {
			heap.Pop(&st.exps)
			continue
		}
		if r.exp.After(t0) {
			s.next = r.exp
			break
		}
		heap.Pop(&st.exps)
		for pfx := range r.target().Prefixes() {
			dirty = append(dirty, pfx)
		}
	}
	s.setDefaults()
	// Outer prefixes first, so that inner ones are reached with their new
	// inherited winners; each is done once.
	slices.SortFunc(dirty, func(a, b netip.Prefix) int {
		if c := cmp.Compare(a.Bits(), b.Bits()); c != 0 {
			return c
		}
		return a.Addr().Compare(b.Addr())
	})
	for _, pfx := range slices.Compact(dirty) {
		st.rerank(s, pfx)
	}
	return s
}

// setRules gives pfx a new set of rules. It keeps the winners pfx had in
// the snapshot the edit started from (for a new prefix, those its
// addresses had there) until rerank recomputes them, so that rerank sees
// what changed beneath it. A prefix left with no rules is removed: its
// addresses then fall to the prefix containing it.
func (st *rulesState) setRules(s, base *Snapshot, pfx netip.Prefix, rules []*ruleInfo) {
	if len(rules) == 0 {
		st.write(s, pfx, nil)
		return
	}
	win := base.inherited(pfx)
	if lf, ok := base.table.Get(pfx); ok {
		win = base.nodes.at(lf.node()).win
	}
	lf := s.nodes.add(node{rules: rules, win: win})
	st.write(s, pfx, &lf)
}

// An edit writes through bart's copy-on-write operations, each copying the
// path to its prefix, until it has written more than one prefix in
// ownAfter of the table, and more than ownMin; it then copies the whole
// table once and writes the rest in place. An edit that changes the
// winners of most prefixes (a deny over all addresses where denies
// override, say) then costs about a compile, not a path per prefix, while
// in a small table a few dozen paths cost less than the copy.
const (
	ownAfter = 128
	ownMin   = 64
)

// write gives pfx the leaf lf in s's table, or removes pfx for a nil lf.
func (st *rulesState) write(s *Snapshot, pfx netip.Prefix, lf *leaf) {
	limit := max(s.table.Size()/ownAfter, ownMin)
	if st.early {
		limit = 2
	}
	if st.writes++; !st.owned && st.writes > limit {
		s.table, st.owned = s.table.clone(), true
	}
	switch {
	case st.owned && lf == nil:
		s.table.Delete(pfx)
	case st.owned:
		s.table.Insert(pfx, *lf)
	case lf == nil:
		s.table = s.table.DeletePersist(pfx)
	default:
		s.table = s.table.InsertPersist(pfx, *lf)
	}
}

// rerank recomputes the winners of pfx and of the prefixes beneath it,
// skipping every subtree whose root keeps its winners.
func (st *rulesState) rerank(s *Snapshot, pfx netip.Prefix) {
	var below []netip.Prefix
	for p := range s.table.Subnets(pfx) {
		below = append(below, p)
	}
	for i := 0; i < len(below); {
		p := below[i]
		lf, _ := s.table.Get(p)
		n := s.nodes.at(lf.node())
		win := s.winners(n.rules, s.inherited(p))
		if win == n.win {
			// Nothing beneath p inherits anything new through it.
			for i++; i < len(below) && contains(p, below[i]); i++ {
			}
			continue
		}
		lf = s.nodes.add(node{rules: n.rules, win: win})
		st.write(s, p, &lf)
		i++
	}
}

// inherited returns the winners of the nearest inserted prefix strictly
// containing p.
func (s *Snapshot) inherited(p netip.Prefix) [2]*ruleInfo {
	if p.Bits() == 0 {
		return [2]*ruleInfo{}
	}
	if _, lf, ok := s.table.LookupPrefixLPM(netip.PrefixFrom(p.Addr(), p.Bits()-1).Masked()); ok {
		return s.nodes.at(lf.node()).win
	}
	return [2]*ruleInfo{}
}
