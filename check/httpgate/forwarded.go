package httpgate

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ipgate/ipgate/rangeset"
)

// maxPairs is the most parameters a Forwarded element may hold; RFC 7239
// registers four.
const maxPairs = 16

// forwarded walks the Forwarded header (RFC 7239) from the right, last
// line first. Each line is split whole, because a quoted string may hold
// ',' and ';', and only the elements the walk reaches are parsed.
func (g *Gate) forwarded(lines []string, w *walk) error {
	var buf [16]string
	n := 0
	for i := len(lines) - 1; i >= 0; i-- {
		elems, err := splitElements(lines[i], buf[:0], g.maxElem-n)
		if err == errTooMany {
			return fmt.Errorf("%w: more than %d Forwarded elements", errHeader, g.maxElem)
		}
		if err != nil {
			return err
		}
		n += len(elems)
		for j := len(elems) - 1; j >= 0; j-- {
			a, err := forAddr(elems[j])
			if err != nil {
				return err
			}
			if done, err := w.step(g, a); done {
				return err
			}
		}
	}
	return nil
}

// errTooMany reports more Forwarded elements than a gate reads.
var errTooMany = errors.New("too many elements")

// splitElements appends the elements of one Forwarded line to dst: the
// text between the commas outside quoted strings. More than limit
// elements is errTooMany; a quoted string left open is an error.
func splitElements(line string, dst []string, limit int) ([]string, error) {
	if limit < 1 {
		return nil, errTooMany
	}
	start := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			end, ok := skipQuoted(line, i)
			if !ok {
				return nil, fmt.Errorf("%w: unterminated quoted string in Forwarded %s", errHeader, rangeset.Quote(line[i:]))
			}
			i = end - 1
		case ',':
			dst = append(dst, line[start:i])
			start = i + 1
			if len(dst) >= limit {
				return nil, errTooMany
			}
		}
	}
	return append(dst, line[start:]), nil
}

// skipQuoted returns the index just past the quoted string that opens at
// s[i], and false when it is not closed.
func skipQuoted(s string, i int) (int, bool) {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// forAddr returns the address of the one for parameter of a Forwarded
// element. An element that is empty or malformed, has no for parameter,
// or repeats a parameter (RFC 7239 §4: each occurs at most once) is
// unusable.
func forAddr(elem string) (netip.Addr, error) {
	bad := func(why string) (netip.Addr, error) {
		return netip.Addr{}, fmt.Errorf("%w: %s in Forwarded element %s", errHeader, why, rangeset.Quote(elem))
	}
	var names [maxPairs]string
	n := 0
	var value string
	found := false
	for rest := elem; ; {
		pair := rest
		more := false
		for i := 0; i < len(rest); i++ {
			if rest[i] == '"' {
				end, ok := skipQuoted(rest, i)
				if !ok { // splitElements saw every quoted string closed
					return bad("unterminated quoted string")
				}
				i = end - 1
			} else if rest[i] == ';' {
				pair, rest, more = rest[:i], rest[i+1:], true
				break
			}
		}
		if pair = strings.Trim(pair, " \t"); pair != "" {
			name, v, ok := strings.Cut(pair, "=")
			if !ok || !isToken(name) {
				return bad("malformed parameter")
			}
			for _, prev := range names[:n] {
				if strings.EqualFold(prev, name) {
					return bad("repeated parameter")
				}
			}
			if n == maxPairs {
				return bad("too many parameters")
			}
			names[n] = name
			n++
			if !validValue(v) {
				return bad("malformed value")
			}
			if strings.EqualFold(name, "for") {
				value, found = v, true
			}
		}
		if !more {
			break
		}
	}
	if !found {
		return bad("no for parameter")
	}
	if len(value) > maxFor {
		return bad("overlong for parameter")
	}
	a, err := parseHost(unquote(value))
	if err != nil {
		return bad("unusable for parameter")
	}
	return a, nil
}

// maxFor is the longest for value read: a bracketed IPv6 address with a
// zone and a port, with room to spare.
const maxFor = 128

// validValue reports whether v is a parameter value: a token or a quoted
// string. A bare value may also hold ':', '[' and ']', which RFC 7239
// asks to quote, because some proxies send addresses with ports bare.
func validValue(v string) bool {
	if v == "" || v[0] != '"' {
		for i := 0; i < len(v); i++ {
			if c := v[i]; !isTokenChar(c) && c != ':' && c != '[' && c != ']' {
				return false
			}
		}
		return v != ""
	}
	if end, ok := skipQuoted(v, 0); !ok || end != len(v) {
		return false
	}
	for i := 1; i < len(v)-1; i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// unquote returns a valid value without its quotes and escapes.
func unquote(v string) string {
	if v[0] != '"' {
		return v
	}
	v = v[1 : len(v)-1]
	if strings.IndexByte(v, '\\') < 0 {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' {
			i++ // a valid quoted string has a character after every '\'
		}
		b = append(b, v[i])
	}
	return string(b)
}

// isToken reports whether s is a token (RFC 9110 §5.6.2), as header and
// parameter names are.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
