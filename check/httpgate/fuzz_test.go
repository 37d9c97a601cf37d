package httpgate_test

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/policy"
)

// fuzzTrusted is written with a mapped prefix, which the gate must read
// as 192.168.0.0/16; refTrusted holds what it means.
var (
	fuzzTrusted = append(proxies[:len(proxies):len(proxies)], netip.MustParsePrefix("::ffff:192.168.0.0/112"))
	refTrusted  = append(proxies[:len(proxies):len(proxies)], netip.MustParsePrefix("192.168.0.0/16"))
)

// FuzzClientAddr compares ClientAddr with refClientAddr, a slow reading
// of the package doc, in every mode: X-Forwarded-For, Forwarded, a
// single-address header, with and without AllTrustedLeftmost and a small
// MaxHops. Errors must wrap one of the package's errors and echo no raw
// line break, and Check must deny exactly when ClientAddr fails.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []struct {
		remote, line1, line2 string
		mode                 uint8
	}{
		{"10.0.0.1:1", "198.51.100.1, 10.0.0.2", "", 0},
		{"10.0.0.1:1", `for="[2001:db8::7]:4711";proto=https, for=10.0.0.2`, "for=10.0.0.3", 1},
		{"203.0.113.7:1234", "10.1.1.1", "", 0},
		{"[fd00::1]:1", "10.0.0.9, ::ffff:10.0.0.1", "198.51.100.4", 0},
		{"192.168.1.1:1", "198.51.100.1", "", 0},
		{"[::ffff:192.168.1.1]:1", "198.51.100.1", "", 0},
		{"10.0.0.1:1", "10.0.0.5, 10.0.0.4", "", 0},
		{"10.0.0.1:1", "10.0.0.5, 10.0.0.4", "", 4},
		{"10.0.0.1:1", "", "", 4},
		{"10.0.0.1:1", "10.0.0.5, 10.0.0.4, 10.0.0.3", "", 8},
		{"@", "", "", 0},
		{"10.0.0.1:1", `for=203.0.113.9;for=10.0.0.5`, "", 1},
		{"10.0.0.1:1", `host="x";for=10.0.0.5;y="";for=203.0.113.9`, "", 1},
		{"10.0.0.1:1", `for=198.51.100.3;host="a, for=10.0.0.9"`, "", 1},
		{"10.0.0.1:1", `host="a\",for=10.0.0.9";for=198.51.100.3`, "", 1},
		{"10.0.0.1:1", `for="198.51.100.3, for=10.0.0.9`, "", 1},
		{"10.0.0.1:1", ` ;for=198.51.100.3; ;PROTO=https; `, "for=10.0.0.2", 1},
		{"10.0.0.1:1", `for=unknown, for=_x, for="198.51.100\.3"`, "", 1},
		{"10.0.0.1:1", "198.51.100.4", "", 2},
		{"10.0.0.1:1", "198.51.100.4", "198.51.100.5", 2},
		{"10.0.0.1:1", "10.0.0.7", "", 6},
		{"10.0.0.1:1", " 198.51.100.4, 198.51.100.5", "", 2},
	} {
		f.Add(s.remote, s.line1, s.line2, s.mode)
	}
	snaps := map[bool]*check.Snapshot{}
	for _, enabled := range []bool{false, true} {
		p := policy.New()
		p.Settings.Enabled = enabled
		s, err := check.Compile(p, time.Now())
		if err != nil {
			f.Fatal(err)
		}
		snaps[enabled] = s
	}
	f.Fuzz(func(t *testing.T, remote, line1, line2 string, mode uint8) {
		o := refOptions{header: int(mode & 3), leftmost: mode&4 != 0, maxHops: 10}
		if mode&8 != 0 {
			o.maxHops = 2
		}
		opts := &httpgate.Options{TrustedProxies: fuzzTrusted, AllTrustedLeftmost: o.leftmost}
		if o.maxHops != 10 {
			opts.MaxHops = o.maxHops
		}
		switch o.header {
		case 1:
			opts.Forwarded = true
		case 2:
			opts.ClientIPHeader = "x-real-ip"
		}
		h := http.Header{}
		for _, l := range []string{line1, line2} {
			if l != "" {
				h.Add(o.name(), l)
			}
		}
		g := newGate(t, snaps[true], opts)
		r := req(remote, h)
		got, err := g.ClientAddr(r)
		want, ok := refClientAddr(remote, h, o)
		if got != want || (err == nil) != ok {
			t.Fatalf("ClientAddr = %v, %v; the reference says %v, %v", got, err, want, ok)
		}
		if err != nil {
			if !slicesContainsIs(err, httpgate.ErrPeer, httpgate.ErrHeader, httpgate.ErrNoHeader, httpgate.ErrHops, httpgate.ErrAllTrusted) {
				t.Fatalf("ClientAddr error %v wraps none of the package's errors", err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("ClientAddr error %q echoes a line break", err)
			}
		}
		if got.IsValid() && got != netip.AddrFrom16(got.As16()).Unmap() {
			t.Fatalf("ClientAddr = %v, not canonical", got)
		}
		if d, cerr := g.Check(r); d.Allowed != (err == nil) || (cerr == nil) != (err == nil) {
			t.Fatalf("enabled, allowing: Check = %v, %v; ClientAddr error %v", d, cerr, err)
		}
		if d, _ := newGate(t, snaps[false], opts).Check(r); d != (check.Decision{Allowed: true, Reason: check.ReasonDisabled}) {
			t.Fatalf("disabled: Check = %v", d)
		}
	})
}

func slicesContainsIs(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

type refOptions struct {
	header   int // 0 and 3: X-Forwarded-For, 1: Forwarded, 2: X-Real-IP
	leftmost bool
	maxHops  int
}

func (o refOptions) name() string {
	return [...]string{"X-Forwarded-For", "Forwarded", "X-Real-Ip", "X-Forwarded-For"}[o.header]
}

func refIsTrusted(a netip.Addr) bool {
	for _, p := range refTrusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// refHost reads an address with an optional port and brackets, with
// net/netip alone.
func refHost(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") && len(s) >= 2 {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap().WithZone(""), err == nil
}

// refHop is one element of a chain: an address, or unusable.
type refHop struct {
	a  netip.Addr
	ok bool
}

// refClientAddr is ClientAddr as the package doc says it, the slow way.
func refClientAddr(remote string, h http.Header, o refOptions) (netip.Addr, bool) {
	peer, ok := refHost(remote)
	if !ok {
		return netip.Addr{}, false
	}
	if !refIsTrusted(peer) {
		return peer, true
	}
	lines := h.Values(o.name())
	if len(lines) == 0 {
		if o.leftmost {
			return peer, true
		}
		return netip.Addr{}, false
	}
	// The chain, right-most first, one line at a time, last line first.
	hops, last := 0, netip.Addr{}
	elements := 0
	for i := len(lines) - 1; i >= 0; i-- {
		var chain []refHop
		switch o.header {
		case 2:
			v := strings.Trim(lines[0], " \t")
			if len(lines) != 1 || strings.Contains(v, ",") {
				return netip.Addr{}, false
			}
			a, ok := refHost(v)
			chain = []refHop{{a, ok}}
			i = 0
		case 1:
			elems, ok := refForwarded(lines[i])
			elements += len(elems)
			if !ok || elements > max(64, o.maxHops+1) {
				return netip.Addr{}, false
			}
			for j := len(elems) - 1; j >= 0; j-- {
				chain = append(chain, elems[j])
			}
		default:
			parts := strings.Split(lines[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				a, ok := refHost(strings.Trim(parts[j], " \t"))
				chain = append(chain, refHop{a, ok})
			}
		}
		for _, hop := range chain {
			switch {
			case !hop.ok:
				return netip.Addr{}, false
			case !refIsTrusted(hop.a):
				return hop.a, true
			}
			if hops++; hops > o.maxHops {
				return netip.Addr{}, false
			}
			last = hop.a
		}
	}
	if o.leftmost {
		return last, true
	}
	return netip.Addr{}, false
}

// refToken is a lexical token of a Forwarded line.
type refToken struct {
	kind byte   // 'w' word, 'q' quoted string, ' ' white space, or one of ",;="
	text string // as written; for 'q' with its quotes
}

// refForwarded reads one Forwarded line into its elements, left to
// right; false when a quoted string is left open.
func refForwarded(line string) ([]refHop, bool) {
	var toks []refToken
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ',' || c == ';' || c == '=':
			toks = append(toks, refToken{c, line[i : i+1]})
			i++
		case c == ' ' || c == '\t':
			toks = append(toks, refToken{' ', line[i : i+1]})
			i++
		case c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' {
					j++
				}
			}
			if j >= len(line) {
				return nil, false
			}
			toks = append(toks, refToken{'q', line[i : j+1]})
			i = j + 1
		default:
			j := i
			for j < len(line) && !strings.ContainsRune(",;= \t\"", rune(line[j])) {
				j++
			}
			toks = append(toks, refToken{'w', line[i:j]})
			i = j
		}
	}
	var out []refHop
	var elem []refToken
	for k := 0; k <= len(toks); k++ {
		if k < len(toks) && toks[k].kind != ',' {
			elem = append(elem, toks[k])
			continue
		}
		out = append(out, refElement(elem))
		elem = nil
	}
	return out, true
}

// refElement reads the for address of one element's tokens.
func refElement(toks []refToken) refHop {
	var pairs [][]refToken
	var cur []refToken
	for k := 0; k <= len(toks); k++ {
		if k < len(toks) && toks[k].kind != ';' {
			cur = append(cur, toks[k])
			continue
		}
		for len(cur) > 0 && cur[0].kind == ' ' {
			cur = cur[1:]
		}
		for len(cur) > 0 && cur[len(cur)-1].kind == ' ' {
			cur = cur[:len(cur)-1]
		}
		if len(cur) > 0 {
			pairs = append(pairs, cur)
		}
		cur = nil
	}
	if len(pairs) > 16 {
		return refHop{}
	}
	seen := map[string]bool{}
	var value string
	found := false
	for _, p := range pairs {
		if len(p) != 3 || p[0].kind != 'w' || p[1].kind != '=' || p[2].kind != 'w' && p[2].kind != 'q' {
			return refHop{}
		}
		name := strings.ToLower(p[0].text)
		if seen[name] || !refChars(p[0].text, "") {
			return refHop{}
		}
		seen[name] = true
		v := p[2].text
		if p[2].kind == 'w' && !refChars(v, ":[]") {
			return refHop{}
		}
		if p[2].kind == 'q' {
			for _, c := range []byte(v[1 : len(v)-1]) {
				if c < 0x20 && c != '\t' || c == 0x7f {
					return refHop{}
				}
			}
		}
		if name == "for" {
			value, found = v, true
		}
	}
	if !found || len(value) > 128 {
		return refHop{}
	}
	if value[0] == '"' {
		var b strings.Builder
		for i := 1; i < len(value)-1; i++ {
			if value[i] == '\\' {
				i++
			}
			b.WriteByte(value[i])
		}
		value = b.String()
	}
	a, ok := refHost(value)
	return refHop{a, ok}
}

// refChars reports whether s holds only token characters and extra.
func refChars(s, extra string) bool {
	const tchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for _, c := range []byte(s) {
		if !strings.ContainsRune(tchar+extra, rune(c)) {
			return false
		}
	}
	return s != ""
}
