package rangeset

import (
	"encoding/binary"
	"iter"
	"math/big"
	"net/netip"

	"go4.org/netipx"
)

// Range is an inclusive range of IP addresses of one family, from From to
// To. It is a small comparable value: use it as a map key and compare it
// with ==.
//
// The zero Range is invalid; so is any Range that [RangeFrom] refused. Every
// valid Range has ends of the same family, From <= To, no zone, and no
// IPv4-mapped IPv6 address in its canonical text (see [Range.String]): an
// IPv6 range may cover part of ::ffff:0:0/96, but never starts there, and
// ends there only when it is exactly one CIDR prefix.
type Range struct {
	from, to netip.Addr
}

// RangeFrom returns the range from from to to, inclusive. It returns the
// zero (invalid) Range when either end is invalid, the ends are of different
// families, from is above to, either end has a zone, or the canonical text
// would hold an IPv4-mapped address (see [Range]).
func RangeFrom(from, to netip.Addr) Range {
	if !from.IsValid() || !to.IsValid() || from.Zone() != "" || to.Zone() != "" ||
		from.BitLen() != to.BitLen() || from.Compare(to) > 0 || from.Is4In6() {
		return Range{}
	}
	r := Range{from: from, to: to}
	if _, ok := r.Prefix(); to.Is4In6() && !ok {
		return Range{}
	}
	return r
}

// PrefixRange returns the range of addresses in p, with p's host bits
// masked off as [netip.Prefix.Masked] does: 10.0.0.5/24 gives
// 10.0.0.0-10.0.0.255, the range of 10.0.0.0/24. It returns the zero Range
// when p is invalid or written in IPv4-mapped form. (The text parsers are
// stricter: [ParseRange] refuses host bits, naming the canonical prefix.)
func PrefixRange(p netip.Prefix) Range {
	p = p.Masked()
	if !p.IsValid() || p.Addr().Is4In6() {
		return Range{}
	}
	// A prefix is valid as a Range unless it starts in ::ffff:0:0/96 (see
	// RangeFrom): it is exactly one prefix, and netip.Prefix has no zone.
	return Range{from: p.Addr(), to: netipx.PrefixLastIP(p)}
}

// Family returns the range of every address of one family: 0.0.0.0/0
// when is4, else ::/0.
func Family(is4 bool) Range {
	if is4 {
		return PrefixRange(netip.PrefixFrom(netip.IPv4Unspecified(), 0))
	}
	return PrefixRange(netip.PrefixFrom(netip.IPv6Unspecified(), 0))
}

// From returns the first address of r.
func (r Range) From() netip.Addr { return r.from }

// To returns the last address of r.
func (r Range) To() netip.Addr { return r.to }

// IsValid reports whether r is a valid range (see [Range]).
func (r Range) IsValid() bool { return r.from.IsValid() }

// Is4 reports whether r is a valid IPv4 range.
func (r Range) Is4() bool { return r.from.Is4() }

// Is6 reports whether r is a valid IPv6 range.
func (r Range) Is6() bool { return r.from.Is6() }

// Contains reports whether a lies in r. The address is compared as given:
// an IPv4-mapped or zoned address is not in an IPv4 range or a zone-less
// IPv6 one. Canonicalize query addresses with [ParseAddr] first (or
// Unmap().WithZone("")). The zero Range contains nothing.
// It does not allocate.
func (r Range) Contains(a netip.Addr) bool {
	return r.IsValid() && a.BitLen() == r.from.BitLen() && a.Zone() == "" &&
		r.from.Compare(a) <= 0 && a.Compare(r.to) <= 0
}

// ContainsRange reports whether every address of o lies in r. It reports
// false when either range is invalid.
func (r Range) ContainsRange(o Range) bool {
	return o.IsValid() && r.Contains(o.from) && r.Contains(o.to)
}

// Overlaps reports whether r and o have an address in common.
func (r Range) Overlaps(o Range) bool {
	return r.IsValid() && o.IsValid() && r.from.BitLen() == o.from.BitLen() &&
		r.from.Compare(o.to) <= 0 && o.from.Compare(r.to) <= 0
}

// Size returns the number of addresses in r, exactly. The zero Range has
// the zero Size.
func (r Range) Size() Size {
	if !r.IsValid() {
		return Size{}
	}
	fh, fl := u128(r.from)
	th, tl := u128(r.to)
	lo := tl - fl
	hi := th - fh
	if tl < fl {
		hi--
	}
	return Size{hi: hi, lo: lo, valid: true}
}

func u128(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// Prefix returns r as a single CIDR prefix, and reports whether r is
// exactly one prefix.
func (r Range) Prefix() (netip.Prefix, bool) {
	if !r.IsValid() {
		return netip.Prefix{}, false
	}
	return netipx.IPRangeFrom(r.from, r.to).Prefix()
}

// Prefixes returns the fewest CIDR prefixes that together hold exactly the
// addresses of r, in address order. The zero Range yields nothing.
func (r Range) Prefixes() iter.Seq[netip.Prefix] {
	return func(yield func(netip.Prefix) bool) {
		if !r.IsValid() {
			return
		}
		ipr := netipx.IPRangeFrom(r.from, r.to)
		if p, ok := ipr.Prefix(); ok {
			yield(p) // most ranges: no slice to build
			return
		}
		for _, p := range ipr.Prefixes() {
			if !yield(p) {
				return
			}
		}
	}
}

// Compare returns an integer comparing r and o by their first address, then
// by their last: -1 when r sorts before o, 0 when they are equal, +1 when
// it sorts after. IPv4 ranges sort before IPv6 ranges; the zero Range sorts
// first.
func (r Range) Compare(o Range) int {
	if c := r.from.Compare(o.from); c != 0 {
		return c
	}
	return r.to.Compare(o.to)
}

// String returns the canonical text of r (SEMANTICS §2): a single address
// as the address, a range that is exactly one CIDR prefix as the prefix,
// anything else as "from-to" with no spaces. IPv6 prints as net/netip
// prints it. The zero Range prints as "invalid Range".
func (r Range) String() string {
	switch {
	case !r.IsValid():
		return "invalid Range"
	case r.from == r.to:
		return r.from.String()
	}
	if p, ok := r.Prefix(); ok {
		return p.String()
	}
	return r.from.String() + "-" + r.to.String()
}

// MarshalText implements [encoding.TextMarshaler] with the text of
// [Range.String]. The zero Range marshals to empty text, as the zero
// netip.Addr does.
func (r Range) MarshalText() ([]byte, error) {
	if !r.IsValid() {
		return []byte{}, nil
	}
	return []byte(r.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler] with [ParseRange].
// Empty text gives the zero Range, mirroring MarshalText; every other text
// that ParseRange rejects is an error.
func (r *Range) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*r = Range{}
		return nil
	}
	p, err := ParseRange(string(text))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// Size is the exact number of addresses in a [Range], from 1 to 2^128. It
// is a comparable value; compare sizes with [Size.Compare]. The zero Size
// is the size of the zero Range and sorts below every other.
type Size struct {
	hi, lo uint64 // the count minus one
	valid  bool
}

// Compare returns -1, 0 or +1 as s is less than, equal to or greater than o.
// It does not allocate.
func (s Size) Compare(o Size) int {
	switch {
	case s.valid != o.valid:
		if s.valid {
			return 1
		}
		return -1
	case s.hi != o.hi:
		if s.hi < o.hi {
			return -1
		}
		return 1
	case s.lo != o.lo:
		if s.lo < o.lo {
			return -1
		}
		return 1
	}
	return 0
}

// bigInt returns s as a new big.Int.
func (s Size) bigInt() *big.Int {
	if !s.valid {
		return new(big.Int)
	}
	n := new(big.Int).SetUint64(s.hi)
	n.Lsh(n, 64)
	n.Or(n, new(big.Int).SetUint64(s.lo))
	return n.Add(n, big.NewInt(1))
}

// String returns s in decimal.
func (s Size) String() string { return s.bigInt().String() }
