package ordered

import (
	"container/heap"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/internal/pieces"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// Entry is one entry of an ordered first-match list: the first entry
// whose target contains an address decides it.
type Entry struct {
	// ID names the entry; the rules made from it are named after it.
	// Several entries may share an ID.
	ID string
	// Target is the addresses the entry matches.
	Target rangeset.Range
	// Action is what it does with them.
	Action policy.Action
}

// compileAt is the instant the entries are compiled at: they never expire,
// so any instant will do.
var compileAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Policy converts an ordered first-match list into an order-free policy
// with exactly the same decisions on every address, under
// [policy.DefaultSettings] with the default action dflt for the addresses
// no entry contains. Each piece of the address space where the list
// decides alike goes to the first entry that contains it, and adjacent
// pieces of one entry are merged into one range, so the rules do not
// overlap and no precedence can change what the list said. A rule is
// named after its entry: the entry's ID for its first range, then "ID.2",
// "ID.3" (skipping the IDs of other entries) when the entry survives in
// several ranges. Entries that no address reaches make no rule; when those
// are all the list's allow entries, an auto dflt becomes deny, as the
// list's allow entries made it.
//
// An entry with an empty ID, an invalid target or an invalid action is an
// error naming the entry by its index and ID, and so is an invalid dflt.
// It takes time in proportion to the number of pieces times the logarithm
// of the number of entries.
func Policy(list []Entry, dflt policy.DefaultAction) (policy.Policy, error) {
	const fn = "ordered.Policy"
	if !dflt.IsValid() {
		return policy.Policy{}, errors.New(fn + ": invalid default action " + dflt.String())
	}
	in := policy.Policy{Settings: policy.DefaultSettings()}
	reserved := map[string]bool{}
	for i, e := range list {
		what := ""
		switch {
		case e.ID == "":
			what = "empty id"
		case !e.Target.IsValid():
			what = "invalid target"
		case !e.Action.IsValid():
			what = "invalid action " + e.Action.String()
		}
		if what != "" {
			return policy.Policy{}, errors.New(fn + ": entry " + strconv.Itoa(i) + " (" + rangeset.Quote(e.ID) + "): " + what)
		}
		reserved[e.ID] = true
		// Ids made unique: the snapshot serves only to cut the address space.
		in.Rules = append(in.Rules, policy.Rule{ID: strconv.Itoa(i), Target: e.Target, Action: e.Action})
	}
	s, err := check.Compile(in, compileAt)
	if err != nil {
		return policy.Policy{}, errors.New(fn + ": " + err.Error())
	}
	out := policy.Policy{Settings: policy.DefaultSettings()}
	out.Settings.DefaultAction = dflt
	count := map[string]int{} // entry id -> how many ranges it has named
	used := map[string]bool{}
	name := func(id string) string {
		for n := count[id] + 1; ; n++ {
			cand := id
			if n > 1 {
				cand += "." + strconv.Itoa(n)
			}
			if !used[cand] && (n == 1 || !reserved[cand]) {
				count[id], used[cand] = n, true
				return cand
			}
		}
	}
	// The entries by first address: a sweep over the pieces, in address
	// order, keeps those that contain the current piece in a heap whose top
	// is the first of them in the list.
	byFrom := make([]int, len(list))
	for i := range byFrom {
		byFrom[i] = i
	}
	slices.SortStableFunc(byFrom, func(a, b int) int { return list[a].Target.Compare(list[b].Target) })
	v6 := slices.IndexFunc(byFrom, func(i int) bool { return list[i].Target.Is6() }) // IPv4 sorts first
	if v6 < 0 {
		v6 = len(byFrom)
	}
	for _, is4 := range []bool{true, false} {
		fam := byFrom[v6:]
		if is4 {
			fam = byFrom[:v6]
		}
		owner, from, to := -1, netip.Addr{}, netip.Addr{}
		flush := func() {
			if owner >= 0 {
				e := list[owner]
				out.Rules = append(out.Rules, policy.Rule{ID: name(e.ID), Target: rangeset.RangeFrom(from, to), Action: e.Action})
			}
		}
		var live firstHeap
		for p := range s.Pieces(rangeset.Family(is4)) {
			// A piece lies wholly inside or outside each target: the entries
			// that start at or before it and end at or after it contain it.
			for len(fam) > 0 && list[fam[0]].Target.From().Compare(p.From()) <= 0 {
				heap.Push(&live, fam[0])
				fam = fam[1:]
			}
			for len(live) > 0 && list[live[0]].Target.To().Less(p.From()) {
				heap.Pop(&live)
			}
			first := -1
			if len(live) > 0 {
				first = live[0]
			}
			if first == owner && pieces.Adjacent(to, p.From()) {
				to = p.To()
				continue
			}
			flush()
			owner, from, to = first, p.From(), p.To()
		}
		flush()
	}
	// Under auto the list is an allowlist when it has an allow entry, even
	// one that no address reaches; the policy, without its rule, would not be.
	if dflt == policy.DefaultAuto && slices.ContainsFunc(list, func(e Entry) bool { return e.Action == policy.Allow }) &&
		!slices.ContainsFunc(out.Rules, func(r policy.Rule) bool { return r.Action == policy.Allow }) {
		out.Settings.DefaultAction = policy.DefaultDeny
	}
	if err := out.Validate(); err != nil {
		return policy.Policy{}, errors.New(fn + ": " + err.Error())
	}
	return out, nil
}

// firstHeap is a min-heap of entry indices.
type firstHeap []int

func (h firstHeap) Len() int           { return len(h) }
func (h firstHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h firstHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *firstHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *firstHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
