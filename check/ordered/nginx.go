package ordered

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// Warning reports what [ParseNginx] changed or left out of an input that
// nginx accepts.
type Warning struct {
	// Line is the line of the directive, counted from 1.
	Line int
	// Message says what was done, quoting the input with [rangeset.Quote].
	Message string
}

// String returns "line N: message".
func (w Warning) String() string { return "line " + strconv.Itoa(w.Line) + ": " + w.Message }

// ParseNginx reads nginx access directives, "allow ADDRESS|CIDR|all|unix:;"
// and "deny ...;", into an ordered list for [Policy]. It reads them as
// nginx does: directives end at ";", not at the end of a line, so one line
// may hold several and one directive may span lines; "#" starts a comment
// where a word would start; a word may be quoted with ' or ". Each entry is
// named "line<N>" after the line its directive starts on, or "line<N>:<K>"
// for the K-th directive (from the second on) of a line that holds several;
// "all" stands for both families, so it makes two entries. A range "FROM-TO" is accepted
// too, though nginx has none.
//
// What nginx accepts with a change is accepted with a [Warning] naming
// the line: a CIDR with host bits set is masked ("10.1.1.0/16" is
// 10.1.0.0/16), and "unix:", which matches only clients on a Unix socket,
// who have no address, is skipped. Anything else is an error naming the
// line, among them other directives, a missing ";", an IPv4-mapped or
// zoned address, and 255.255.255.255, which nginx refuses. nginx allows
// what no directive matches, so pass [policy.DefaultAllow] to Policy.
//
// The policy decides a client at ::ffff:a.b.c.d as a.b.c.d (SEMANTICS §1).
// nginx does so only where the block holds an IPv4 directive ("all"
// counts); in a block of IPv6 directives alone, it matches such a client
// against them as IPv6, and the two may then differ.
func ParseNginx(text string) ([]Entry, []Warning, error) {
	var (
		list  []Entry
		warns []Warning
	)
	fail := func(line int, msg string) ([]Entry, []Warning, error) {
		return nil, nil, errors.New("ordered.ParseNginx: line " + strconv.Itoa(line) + ": " + msg)
	}
	var (
		words  []string
		start  int // the line the directive starts on
		onLine int // how many directives started on that line before
		last   int // the line the last directive started on
	)
	line := 1
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			if j := strings.IndexByte(text[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(text)
			}
		case c == ';':
			if len(words) == 0 {
				return fail(line, "unexpected \";\"")
			}
			id := "line" + strconv.Itoa(start)
			if start == last {
				onLine++
				id += ":" + strconv.Itoa(onLine+1)
			} else {
				last, onLine = start, 0
			}
			es, w, err := directive(words, id)
			if err != nil {
				return fail(start, err.Error())
			}
			list = append(list, es...)
			if w != "" {
				warns = append(warns, Warning{Line: start, Message: w})
			}
			words = words[:0]
			i++
		case c == '{' || c == '}':
			return fail(line, "unexpected "+strconv.Quote(string(c))+": "+want)
		default:
			if len(words) == 0 {
				start = line
			}
			var w string
			if c == '"' || c == '\'' {
				// A quoted word, with backslash escapes, as nginx reads it.
				var b strings.Builder
				j := i + 1
				for ; j < len(text) && text[j] != c; j++ {
					if text[j] == '\\' && j+1 < len(text) {
						j++
					}
					if text[j] == '\n' {
						line++
					}
					b.WriteByte(text[j])
				}
				if j == len(text) {
					return fail(start, "unterminated quoted word")
				}
				w, i = b.String(), j+1
			} else {
				j := i
				for j < len(text) && !strings.ContainsRune(" \t\r\n;{}", rune(text[j])) {
					j++
				}
				w, i = text[i:j], j
			}
			words = append(words, w)
		}
	}
	if len(words) > 0 {
		return fail(start, "unexpected end of input, expecting \";\"")
	}
	return list, warns, nil
}

// want says what a directive may be.
const want = `want "allow ADDRESS|CIDR|all|unix:;" or "deny ...;"`

// directive converts the words of one directive into entries, with a
// warning when something was changed or skipped.
func directive(words []string, id string) ([]Entry, string, error) {
	text := strings.Join(words, " ")
	if len(words) != 2 || words[0] != "allow" && words[0] != "deny" {
		return nil, "", errors.New(want + ", got " + rangeset.Quote(text))
	}
	a := policy.Allow
	if words[0] == "deny" {
		a = policy.Deny
	}
	switch v := words[1]; v {
	case "all":
		return []Entry{
			{ID: id, Target: rangeset.Family(true), Action: a},
			{ID: id, Target: rangeset.Family(false), Action: a},
		}, "", nil
	case "unix:":
		return nil, rangeset.Quote(text) + " skipped: it matches only clients on a Unix socket, which have no address", nil
	default:
		if addr, _, _ := strings.Cut(v, "/"); addr == "255.255.255.255" {
			// nginx's address parser returns that address as its error value.
			return nil, "", errors.New(rangeset.Quote(v) + ": nginx refuses 255.255.255.255 as an address")
		}
		r, err := rangeset.ParseRange(v)
		if errors.Is(err, rangeset.ErrHostBits) {
			if p, perr := netip.ParsePrefix(v); perr == nil {
				r = rangeset.PrefixRange(p.Masked())
				return []Entry{{ID: id, Target: r, Action: a}},
					rangeset.Quote(v) + " has host bits set: masked to " + r.String() + ", as nginx does", nil
			}
		}
		if err != nil {
			return nil, "", err
		}
		return []Entry{{ID: id, Target: r, Action: a}}, "", nil
	}
}
