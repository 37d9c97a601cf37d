package rangeset

import (
	"net/netip"
	"strconv"
)

// maxQuoted is how many bytes of one input [Quote] keeps.
const maxQuoted = 64

// Quote returns s as a double-quoted Go string literal for errors and
// output that echo user text (targets, rule ids, keys): control
// characters and invalid UTF-8 are escaped, so the text cannot forge a
// line, and an s longer than 64 bytes is cut, with its length given, as
// in "aaaa"... (1000 bytes).
func Quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:maxQuoted]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// Canonical returns a as a query address is decided (SEMANTICS §1): an
// IPv4-mapped IPv6 address as its IPv4 address, without a zone. It does
// not allocate.
func Canonical(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }
