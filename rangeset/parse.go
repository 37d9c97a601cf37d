package rangeset

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParseRange parses a rule target (SEMANTICS §2): a single address
// ("203.0.113.7", "2001:db8::1"), a CIDR prefix ("10.0.0.0/8") or an
// inclusive range ("10.0.0.1-10.0.0.9", ASCII spaces around the dash
// allowed, and no other white space).
// Leading and trailing ASCII space, tab, CR and LF are trimmed; nothing else
// is repaired. Every other input is an error of type [*ParseError], among
// them: leading zeros, hex, octal, short or wildcard IPv4 forms; a CIDR with
// host bits set (the error names the canonical prefix); a prefix length out
// of range; a range that runs backwards or mixes families; a zone or an
// IPv4-mapped IPv6 address anywhere; an empty input.
func ParseRange(s string) (Range, error) {
	const fn = "rangeset.ParseRange"
	t := trim(s)
	if t == "" {
		return Range{}, &ParseError{Func: fn, Input: s, Err: ErrEmpty}
	}
	// A dash right after the slash is a signed prefix length ("/-8"), not
	// the dash of a range: no range end ends in a slash.
	if from, to, ok := strings.Cut(t, "-"); ok && !strings.HasSuffix(strings.TrimRight(from, " "), "/") {
		r, err := parseEnds(strings.TrimRight(from, " "), strings.TrimLeft(to, " "))
		if err != nil {
			return Range{}, &ParseError{Func: fn, Input: s, Err: err}
		}
		return r, nil
	}
	if addr, bits, ok := strings.Cut(t, "/"); ok {
		r, err := parsePrefix(addr, bits)
		if err != nil {
			return Range{}, &ParseError{Func: fn, Input: s, Err: err}
		}
		return r, nil
	}
	a, err := parseTargetAddr(t)
	if err != nil {
		return Range{}, &ParseError{Func: fn, Input: s, Err: err}
	}
	return Range{from: a, to: a}, nil
}

// ParseFromTo parses the two ends of a from/to rule target, each a single
// address, trimmed as [ParseRange] trims. It fails as ParseRange fails on
// "from-to"; the error's Input is the two ends joined by a dash.
func ParseFromTo(from, to string) (Range, error) {
	r, err := parseEnds(trim(from), trim(to))
	if err != nil {
		return Range{}, &ParseError{Func: "rangeset.ParseFromTo", Input: from + "-" + to, Err: err}
	}
	return r, nil
}

// MustParseRange calls [ParseRange] and panics on error. It is meant for
// tests and examples with hard-coded strings.
func MustParseRange(s string) Range {
	r, err := ParseRange(s)
	if err != nil {
		panic(err)
	}
	return r
}

// ParseAddr parses a query address (SEMANTICS §1): the client address a
// request comes from. Unlike a rule target it may carry a zone, which is
// dropped, and it may be IPv4-mapped IPv6, which is returned as the IPv4
// address. Nothing is trimmed. Every input that net/netip.ParseAddr rejects
// is an error of type [*ParseError] saying "invalid IP address" (or
// wrapping [ErrEmpty]).
func ParseAddr(s string) (netip.Addr, error) {
	const fn = "rangeset.ParseAddr"
	if s == "" {
		return netip.Addr{}, &ParseError{Func: fn, Input: s, Err: ErrEmpty}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, &ParseError{Func: fn, Input: s, Err: addrError(s, err)}
	}
	return Canonical(a), nil
}

// trim removes the white space SEMANTICS §2 allows around a target.
func trim(s string) string { return strings.Trim(s, " \t\r\n") }

func parseEnds(from, to string) (Range, error) {
	f, err := parseTargetAddr(from)
	if err != nil {
		return Range{}, err
	}
	t, err := parseTargetAddr(to)
	if err != nil {
		return Range{}, err
	}
	switch {
	case f.BitLen() != t.BitLen():
		return Range{}, errFamily
	case f.Compare(t) > 0:
		return Range{}, errReversed
	}
	return Range{from: f, to: t}, nil
}

func parsePrefix(addr, bits string) (Range, error) {
	a, err := parseTargetAddr(addr)
	if err != nil {
		return Range{}, err
	}
	n, ok := atoi(bits)
	if !ok || n > a.BitLen() {
		return Range{}, fmt.Errorf("%w %s (want 0 to %d)", errPrefixLen, Quote(bits), a.BitLen())
	}
	p := netip.PrefixFrom(a, n)
	if m := p.Masked(); m != p {
		return Range{}, fmt.Errorf("%w (canonical form %s)", ErrHostBits, m)
	}
	return PrefixRange(p), nil
}

// atoi parses a prefix length: decimal digits only, at most three, no
// leading zero, no sign.
func atoi(s string) (int, bool) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func parseTargetAddr(s string) (netip.Addr, error) {
	if strings.IndexByte(s, '%') >= 0 {
		return netip.Addr{}, fmt.Errorf("%w: %s", errZone, Quote(s))
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, addrError(s, err)
	}
	if a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%w: %s", errMapped, Quote(s))
	}
	return a, nil
}

// maxAddrText is the longest address text whose net/netip error is kept:
// far beyond any address written without a zone (45 bytes at most). That
// error quotes its input whole, twice; a longer input is refused without it.
const maxAddrText = 128

// addrError wraps errAddr with net/netip's reason for rejecting s, every
// input in it cut as Quote cuts.
func addrError(s string, err error) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: missing address", errAddr)
	case len(s) > maxAddrText:
		return fmt.Errorf("%w %s: longer than any address", errAddr, Quote(s))
	}
	reason := strings.TrimPrefix(err.Error(), "ParseAddr("+strconv.Quote(s)+"): ")
	if msg, at, ok := strings.Cut(reason, " (at "); ok {
		if u, err := strconv.Unquote(strings.TrimSuffix(at, ")")); err == nil {
			reason = msg + " (at " + Quote(u) + ")"
		}
	}
	return fmt.Errorf("%w %s: %s", errAddr, Quote(s), reason)
}
