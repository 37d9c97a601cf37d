package check

import (
	"net/netip"
	"slices"
	"time"

	"github.com/ipgate/ipgate/rangeset"
)

// Change is a range of addresses whose decision differs between two
// snapshots (or two instants), for one subject.
type Change struct {
	Range         rangeset.Range
	Admin, Mobile bool
	Old, New      Decision
}

// Diff returns, exactly, every range of addresses whose decision differs
// between old at instant at and new at the same instant, for each subject
// (admin or not, mobile or not), with both decisions. It is computed on
// ranges, not by sampling: the address space is cut at the ends of every
// prefix either snapshot holds, decisions are constant between cuts, and
// adjacent pieces with the same pair of decisions are merged. Decisions
// that differ only in the rule that made them count as changes too.
func Diff(old, new *Snapshot, at time.Time) []Change {
	return diff(old, at, new, at)
}

// Expiring returns what changes between instants from and to from the
// expiries of the snapshot's rules alone; see [Diff].
func (s *Snapshot) Expiring(from, to time.Time) []Change {
	return diff(s, from, s, to)
}

func diff(a *Snapshot, ta time.Time, b *Snapshot, tb time.Time) []Change {
	var out []Change
	for _, is4 := range []bool{true, false} {
		family := rangeset.Family(is4)
		last := family.To()
		cuts := cutsIn(family, a, b)
		for _, admin := range []bool{false, true} {
			for _, mobile := range []bool{false, true} {
				open := -1 // the change the previous piece extended, if any
				for k, from := range cuts {
					to := last
					if k+1 < len(cuts) {
						to = cuts[k+1].Prev()
					}
					if from.Is4In6() {
						open = -1
						continue
					}
					da := a.Check(Request{Addr: from, Admin: admin, Mobile: mobile, At: ta})
					db := b.Check(Request{Addr: from, Admin: admin, Mobile: mobile, At: tb})
					switch {
					case da == db:
						open = -1
					case open >= 0 && out[open].Old == da && out[open].New == db:
						out[open].Range = rangeset.RangeFrom(out[open].Range.From(), to)
					default:
						out = append(out, Change{Range: rangeset.RangeFrom(from, to), Admin: admin, Mobile: mobile, Old: da, New: db})
						open = len(out) - 1
					}
				}
			}
		}
	}
	return out
}

// cutsIn returns, in order, the addresses of r at which a decision of any
// of the snapshots may change: r's start, the ends of their prefixes, and
// the ends of ::ffff:0:0/96, where no IPv6 query lands. Decisions are
// constant from each cut to the next.
func cutsIn(r rangeset.Range, snaps ...*Snapshot) []netip.Addr {
	cuts := []netip.Addr{r.From()}
	add := func(a netip.Addr) {
		if r.Contains(a) {
			cuts = append(cuts, a)
		}
	}
	add(netip.MustParseAddr("::ffff:0:0"))
	add(netip.MustParseAddr("::1:0:0:0"))
	for _, s := range snaps {
		for p := range s.table.All() {
			pr := rangeset.PrefixRange(p)
			add(pr.From())
			add(pr.To().Next())
		}
	}
	slices.SortFunc(cuts, netip.Addr.Compare)
	return slices.Compact(cuts)
}
