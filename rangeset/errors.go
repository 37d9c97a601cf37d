package rangeset

import (
	"errors"
)

// Sentinel errors wrapped by [*ParseError]. Test for them with errors.Is.
var (
	// ErrEmpty reports an empty input (after trimming, for rule targets).
	ErrEmpty = errors.New("empty input")
	// ErrAddr reports text that is not an IP address in the strict form
	// net/netip accepts (no leading zeros, hex or octal forms, wildcards or
	// short IPv4 forms).
	ErrAddr = errors.New("invalid IP address")
	// ErrPrefixLen reports a missing, malformed or out-of-range prefix length.
	ErrPrefixLen = errors.New("invalid prefix length")
	// ErrHostBits reports a CIDR whose address has bits set past its prefix
	// length. The wrapping error names the canonical prefix.
	ErrHostBits = errors.New("host bits set")
	// ErrReversed reports a range whose start is above its end.
	ErrReversed = errors.New("range start is above its end")
	// ErrFamily reports a range whose ends are of different address families.
	ErrFamily = errors.New("range ends are of different address families")
	// ErrZone reports an IPv6 zone in a rule target.
	ErrZone = errors.New("zone not allowed in a rule target")
	// ErrMapped reports an IPv4-mapped IPv6 address in a rule target; write
	// the IPv4 address instead.
	ErrMapped = errors.New("IPv4-mapped IPv6 address not allowed in a rule target (write the IPv4 address)")
)

// ParseError reports text that a parser of this package rejected.
type ParseError struct {
	// Func is the parser that rejected the input, e.g. "rangeset.ParseRange".
	Func string
	// Input is the text as given.
	Input string
	// Err says what is wrong; it wraps one of the sentinel errors.
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
