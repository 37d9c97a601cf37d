// Package pieces holds what the packages that walk the pieces of
// check.Snapshot.Pieces share about them.
package pieces

import "net/netip"

// The first address of ::ffff:0:0/96, and the first after it. Pieces skip
// that block, which no request is decided as (SEMANTICS §1), though a rule
// may span it.
var (
	mappedFrom = netip.MustParseAddr("::ffff:0:0")
	mappedNext = netip.MustParseAddr("::1:0:0:0")
)

// Adjacent reports whether a piece starting at next follows one ending at
// last with no address between them that a request can be decided as:
// next is last's successor, or last ends just before ::ffff:0:0/96 and
// next starts just after it.
func Adjacent(last, next netip.Addr) bool {
	return last.IsValid() && (last.Next() == next || last.Next() == mappedFrom && next == mappedNext)
}
