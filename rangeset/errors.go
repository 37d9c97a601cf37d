package rangeset

import (
	"errors"
)

// The errors wrapped by [*ParseError]. Two are exported, for errors.Is,
// as the two problems a caller acts on: [ErrEmpty], an empty input, and
// [ErrHostBits], a prefix with host bits set, whose message names the
// canonical form. The rest are unexported; the ParseError's message says
// which it is (e.g. "invalid IP address", "invalid prefix length").
var (
	// ErrEmpty reports an empty input (after trimming, for rule targets).
	ErrEmpty = errors.New("empty input")
	// errAddr reports text that is not an IP address in the strict form
	// net/netip accepts (no leading zeros, hex or octal forms, wildcards or
	// short IPv4 forms).
	errAddr = errors.New("invalid IP address")
	// errPrefixLen reports a missing, malformed or out-of-range prefix length.
	errPrefixLen = errors.New("invalid prefix length")
	// ErrHostBits reports a CIDR whose address has bits set past its prefix
	// length. The wrapping error names the canonical prefix.
	ErrHostBits = errors.New("host bits set")
	// errReversed reports a range whose start is above its end.
	errReversed = errors.New("range start is above its end")
	// errFamily reports a range whose ends are of different address families.
	errFamily = errors.New("range ends are of different address families")
	// errZone reports an IPv6 zone in a rule target.
	errZone = errors.New("zone not allowed in a rule target")
	// errMapped reports an IPv4-mapped IPv6 address in a rule target; write
	// the IPv4 address instead.
	errMapped = errors.New("IPv4-mapped IPv6 address not allowed in a rule target (write the IPv4 address)")
)

// ParseError reports text that a parser of this package rejected.
type ParseError struct {
	// Func is the parser that rejected the input, e.g. "rangeset.ParseRange".
	Func string
	// Input is the text as given.
	Input string
	// Err says what is wrong. It is or wraps [ErrEmpty] for an empty
	// input and [ErrHostBits] for a prefix with host bits set; any other
	// problem only its text tells.
	Err error
}

// Error returns the message in the form
// `rangeset.ParseRange("10.0.0.5/24"): host bits set (canonical form 10.0.0.0/24)`.
// An input longer than 64 bytes is cut, and its length is given.
func (e *ParseError) Error() string {
	return e.Func + "(" + Quote(e.Input) + "): " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *ParseError) Unwrap() error { return e.Err }
