package check

import (
	"iter"
	"net/netip"
	"slices"

	"github.com/ipgate/ipgate/rangeset"
)

// The ends of ::ffff:0:0/96: no request is decided as one of its
// addresses, since Check decides an IPv4-mapped address as IPv4.
var (
	mappedFrom = netip.MustParseAddr("::ffff:0:0")
	mappedNext = netip.MustParseAddr("::1:0:0:0")
)

// Pieces cuts r where a decision of s may change and yields the pieces in
// address order: every request for an address of one piece, for the same
// subject at the same instant, is decided alike, whatever the instant. The
// part of r inside ::ffff:0:0/96 is left out, since [Snapshot.Check]
// decides an IPv4-mapped address as IPv4: the pieces of an IPv6 range that
// spans that block skip it. An invalid r yields nothing.
//
// It is the primitive that exact analyses build on (diffs, expiry listings,
// lockout checks, lint, the import of ordered lists): decide one address
// per piece and the whole range is decided. It allocates in proportion to
// the number of prefixes of s that lie in r.
func (s *Snapshot) Pieces(r rangeset.Range) iter.Seq[rangeset.Range] {
	s = s.orZero()
	return func(yield func(rangeset.Range) bool) {
		if !r.IsValid() {
			return
		}
		// Starts of pieces: r's start, every start of an inserted prefix
		// inside r and the address after every end, and the block's ends.
		starts := []netip.Addr{r.From()}
		add := func(a netip.Addr) {
			if a.IsValid() && r.Contains(a) {
				starts = append(starts, a)
			}
		}
		add(mappedFrom)
		add(mappedNext)
		if s.table != (table{}) {
			for cover := range r.Prefixes() {
				add(cover.Addr())
				for p := range s.table.Subnets(cover) {
					pr := rangeset.PrefixRange(p)
					add(pr.From())
					add(pr.To().Next())
				}
			}
		}
		slices.SortFunc(starts, netip.Addr.Compare)
		starts = slices.Compact(starts)
		for k, from := range starts {
			if from.Is4In6() {
				continue
			}
			to := r.To()
			if k+1 < len(starts) {
				to = starts[k+1].Prev()
			}
			if !yield(rangeset.RangeFrom(from, to)) {
				return
			}
		}
	}
}
