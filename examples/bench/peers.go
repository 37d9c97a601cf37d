package bench

import (
	"cmp"
	"net"
	"net/netip"
	"slices"

	"github.com/gaissmai/bart"
	"github.com/yl2chen/cidranger"
	"go4.org/netipx"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// The peers answer "is this address allowed?" for a workload they can
// express: prefix rules decided by the longest match. Each falls back to
// the policy's default outcome on a miss.

// defaultAllowed is the auto default: an allowlist denies the rest.
func defaultAllowed(p policy.Policy) bool {
	return !slices.ContainsFunc(p.Rules, func(r policy.Rule) bool { return r.Action == policy.Allow })
}

func prefixes(p policy.Policy) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(p.Rules))
	for _, r := range p.Rules {
		for pfx := range r.Target.Prefixes() {
			out = append(out, pfx)
		}
	}
	return out
}

// BartTable is a bare bart.Table holding each rule's prefixes with its
// action: the floor for a longest-prefix-match decision.
type BartTable struct {
	T    bart.Table[bool]
	Dflt bool
}

// NewBartTable builds a BartTable.
func NewBartTable(p policy.Policy) *BartTable {
	b := &BartTable{Dflt: defaultAllowed(p)}
	for _, r := range p.Rules {
		for pfx := range r.Target.Prefixes() {
			b.T.Insert(pfx, r.Action == policy.Allow)
		}
	}
	return b
}

// Allowed reports the longest match's action, or the default.
func (b *BartTable) Allowed(a netip.Addr) bool {
	if v, ok := b.T.Lookup(a); ok {
		return v
	}
	return b.Dflt
}

// BartLite is a bart.Lite membership table: for a one-action policy.
type BartLite struct {
	L     bart.Lite
	Allow bool // the action of every rule
}

// NewBartLite builds a BartLite from a policy whose rules share one action.
func NewBartLite(p policy.Policy) *BartLite {
	b := &BartLite{Allow: len(p.Rules) > 0 && p.Rules[0].Action == policy.Allow}
	for _, pfx := range prefixes(p) {
		b.L.Insert(pfx)
	}
	return b
}

// Allowed reports membership as the policy's one action.
func (b *BartLite) Allowed(a netip.Addr) bool { return b.L.Lookup(a) == b.Allow }

// IPSet is a netipx.IPSet of the allowed addresses (or of the denied ones,
// for a denylist), built from the widest prefixes to the narrowest, so
// that the narrowest wins as in a longest match. Prefixes of one size are
// disjoint, so each size is added, then removed, as one batch: the builder
// normalizes once per batch instead of once per prefix.
type IPSet struct {
	S    *netipx.IPSet
	Dflt bool
}

// NewIPSet builds an IPSet.
func NewIPSet(p policy.Policy) *IPSet {
	s := &IPSet{Dflt: defaultAllowed(p)}
	type entry struct {
		pfx    netip.Prefix
		member bool
	}
	var all []entry
	for _, r := range p.Rules {
		for pfx := range r.Target.Prefixes() {
			all = append(all, entry{pfx, (r.Action == policy.Allow) != s.Dflt})
		}
	}
	size := func(e entry) int { return e.pfx.Addr().BitLen() - e.pfx.Bits() }
	slices.SortStableFunc(all, func(a, b entry) int { return cmp.Compare(size(b), size(a)) })
	var bld netipx.IPSetBuilder
	for lo := 0; lo < len(all); {
		hi := lo
		for hi < len(all) && size(all[hi]) == size(all[lo]) {
			hi++
		}
		for _, e := range all[lo:hi] {
			if e.member {
				bld.AddPrefix(e.pfx)
			}
		}
		for _, e := range all[lo:hi] {
			if !e.member {
				bld.RemovePrefix(e.pfx)
			}
		}
		lo = hi
	}
	s.S, _ = bld.IPSet()
	return s
}

// Allowed reports membership, flipped for a denylist.
func (s *IPSet) Allowed(a netip.Addr) bool { return s.S.Contains(a) != s.Dflt }

// Ranger is a yl2chen/cidranger path-compressed trie.
type Ranger struct {
	R    cidranger.Ranger
	Dflt bool
}

type rangerEntry struct {
	net   net.IPNet
	bits  int
	allow bool
}

func (e *rangerEntry) Network() net.IPNet { return e.net }

// NewRanger builds a Ranger.
func NewRanger(p policy.Policy) *Ranger {
	r := &Ranger{R: cidranger.NewPCTrieRanger(), Dflt: defaultAllowed(p)}
	for _, rule := range p.Rules {
		for pfx := range rule.Target.Prefixes() {
			n := net.IPNet{IP: pfx.Addr().AsSlice(), Mask: net.CIDRMask(pfx.Bits(), pfx.Addr().BitLen())}
			r.R.Insert(&rangerEntry{net: n, bits: pfx.Bits(), allow: rule.Action == policy.Allow})
		}
	}
	return r
}

// Allowed asks for every containing network and takes the longest.
func (r *Ranger) Allowed(a netip.Addr) bool {
	entries, err := r.R.ContainingNetworks(net.IP(a.AsSlice()))
	if err != nil || len(entries) == 0 {
		return r.Dflt
	}
	best := slices.MaxFunc(entries, func(x, y cidranger.RangerEntry) int {
		return cmp.Compare(x.(*rangerEntry).bits, y.(*rangerEntry).bits)
	})
	return best.(*rangerEntry).allow
}

// Linear scans every rule for each query, as SEMANTICS §4 reads.
type Linear struct {
	rules []linearRule
	Dflt  bool
}

type linearRule struct {
	r     rangeset.Range
	size  rangeset.Size
	allow bool
}

// NewLinear builds a Linear.
func NewLinear(p policy.Policy) *Linear {
	l := &Linear{Dflt: defaultAllowed(p)}
	for _, r := range p.Rules {
		l.rules = append(l.rules, linearRule{r.Target, r.Target.Size(), r.Action == policy.Allow})
	}
	return l
}

// Allowed returns the narrowest matching rule's action, deny first at
// equal size.
func (l *Linear) Allowed(a netip.Addr) bool {
	var best *linearRule
	for i := range l.rules {
		r := &l.rules[i]
		if !r.r.Contains(a) {
			continue
		}
		if best == nil {
			best = r
			continue
		}
		if c := r.size.Compare(best.size); c < 0 || c == 0 && !r.allow {
			best = r
		}
	}
	if best == nil {
		return l.Dflt
	}
	return best.allow
}
