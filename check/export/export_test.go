package export_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/export"
	"github.com/ipgate/ipgate/check/internal/checktest"
	"github.com/ipgate/ipgate/check/ordered"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

var t0 = checktest.T0

var (
	mappedFrom = netip.MustParseAddr("::ffff:0:0")
	mappedNext = netip.MustParseAddr("::1:0:0:0")
)

// mapped returns a as ::ffff:a.b.c.d.
func mapped(a netip.Addr) netip.Addr { return netip.AddrFrom16(a.As16()) }

// pieceStarts returns the starts of the pieces of s over both families,
// the IPv4-mapped block included, where s decides as IPv4: every decision
// of s is constant from one start to the next.
func pieceStarts(s *check.Snapshot) []netip.Addr {
	out := []netip.Addr{mappedFrom, mappedNext}
	for p := range s.Pieces(rangeset.Family(true)) {
		out = append(out, p.From(), mapped(p.From()))
	}
	for p := range s.Pieces(rangeset.Family(false)) {
		out = append(out, p.From())
	}
	return out
}

// prefixStarts returns the first address of every prefix and the one
// after its last.
func prefixStarts(ps []netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for _, p := range ps {
		out = append(out, p.Addr())
		if n := lastOf(p).Next(); n.IsValid() {
			out = append(out, n)
		}
	}
	return out
}

// lastOf returns the last address of p (which may be IPv4-mapped, so that
// rangeset cannot hold it).
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	if p.Addr().Is4() {
		b4 := p.Addr().As4()
		for i := p.Bits(); i < 32; i++ {
			b4[i/8] |= 0x80 >> (i % 8)
		}
		return netip.AddrFrom4(b4)
	}
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b)
}

// agree reports every piece between consecutive starts (both families
// start at their first address) on which got decides otherwise than want;
// both must be constant on each such piece.
func agree(t *testing.T, what string, starts []netip.Addr, skipMapped bool, want, got func(netip.Addr) bool) {
	t.Helper()
	starts = append(starts, netip.IPv4Unspecified(), netip.IPv6Unspecified())
	slices.SortFunc(starts, netip.Addr.Compare)
	starts = slices.Compact(starts)
	bad := 0
	for _, a := range starts {
		if skipMapped && a.Is4In6() {
			continue
		}
		if w, g := want(a), got(a); w != g {
			if bad++; bad <= 5 {
				t.Errorf("%s: from %v: allowed %v, want %v", what, a, g, w)
			}
		}
	}
}

// set is a list of prefixes that do not overlap, sorted, for lookups in
// logarithmic time.
type set []netip.Prefix

// newSet sorts ps and fails when two overlap: no export writes an entry
// twice.
func newSet(t *testing.T, ps []netip.Prefix) set {
	t.Helper()
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	for i := 1; i < len(ps); i++ {
		if ps[i-1].Overlaps(ps[i]) {
			t.Fatalf("entries %v and %v overlap", ps[i-1], ps[i])
		}
	}
	return ps
}

func (ps set) contains(a netip.Addr) bool {
	i, _ := slices.BinarySearchFunc(ps, a, func(p netip.Prefix, a netip.Addr) int { return p.Addr().Compare(a) })
	// ps[i] is the first entry from a on: a is in it, or in the one before.
	return i < len(ps) && ps[i].Contains(a) || i > 0 && ps[i-1].Contains(a)
}

// haproxy is a model of HAProxy's ip matching (pat_match_ip in
// src/pattern.c): longest match in the IPv4 tree, then, for an IPv4
// sample, the IPv6 tree as ::ffff:a.b.c.d; for an IPv6 sample, the IPv6
// tree, then the IPv4 tree with the address embedded in ::/96,
// ::ffff:0:0/96 or 2002::/16.
type haproxy struct{ v4, v6 set }

func parseHAProxy(t *testing.T, text string) haproxy {
	t.Helper()
	var m haproxy
	for n, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.Contains(line, "/") {
			t.Fatalf("line %d: %q without a length, which HAProxy may resolve as a host name", n+1, line)
		}
		p, err := netip.ParsePrefix(line)
		if err != nil || p.Masked() != p {
			t.Fatalf("line %d: %q: %v", n+1, line, err)
		}
		if p.Addr().Is4() {
			m.v4 = append(m.v4, p)
		} else {
			m.v6 = append(m.v6, p)
		}
	}
	m.v4, m.v6 = newSet(t, m.v4), newSet(t, m.v6)
	return m
}

func (m haproxy) match(a netip.Addr) bool {
	if a.Is4() {
		return m.v4.contains(a) || m.v6.contains(mapped(a))
	}
	if m.v6.contains(a) {
		return true
	}
	b := a.As16()
	var v4 netip.Addr
	switch {
	case [8]byte(b[:8]) == [8]byte{} && ([4]byte(b[8:12]) == [4]byte{} || [4]byte(b[8:12]) == [4]byte{0, 0, 0xff, 0xff}):
		v4 = netip.AddrFrom4([4]byte(b[12:]))
	case b[0] == 0x20 && b[1] == 0x02:
		v4 = netip.AddrFrom4([4]byte(b[2:6]))
	default:
		return false
	}
	return m.v4.contains(v4)
}

// parseNft reads the two sets of an nftables export.
func parseNft(t *testing.T, text, name string) (v4, v6 []netip.Prefix) {
	t.Helper()
	sets := map[string]*[]netip.Prefix{"ipgate_" + name: &v4, "ipgate_" + name + "6": &v6}
	types := map[string]string{"ipgate_" + name: "ipv4_addr", "ipgate_" + name + "6": "ipv6_addr"}
	var cur string
	inElems := false
	sc := bufio.NewScanner(strings.NewReader(text))
	seen := map[string]bool{}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case cur == "" && strings.HasPrefix(line, "set ") && strings.HasSuffix(line, " {"):
			cur = strings.TrimSuffix(strings.TrimPrefix(line, "set "), " {")
			if sets[cur] == nil || seen[cur] {
				t.Fatalf("unexpected set %q", cur)
			}
			seen[cur] = true
		case cur != "" && !inElems && line == "type "+types[cur]:
		case cur != "" && !inElems && line == "flags interval":
		case cur != "" && !inElems && line == "elements = {":
			inElems = true
		case inElems && line == "}":
			inElems = false
		case cur != "" && !inElems && line == "}":
			cur = ""
		case inElems:
			el := strings.TrimSuffix(line, ",")
			p, err := netip.ParsePrefix(el)
			if err != nil {
				a, err2 := netip.ParseAddr(el)
				if err2 != nil {
					t.Fatalf("element %q: %v", el, err)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			if p.Masked() != p || p.Addr().Is4() != (types[cur] == "ipv4_addr") {
				t.Fatalf("set %s: element %q", cur, el)
			}
			*sets[cur] = append(*sets[cur], p)
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	if len(seen) != 2 || cur != "" {
		t.Fatalf("sets %v, unterminated %q", seen, cur)
	}
	return v4, v6
}

// checkExports exports s for opts in every format, reads each back and
// compares it with s on every piece.
// Both lists of HAProxy and nftables are written unless o.Denied is
// given as only.
func checkExports(t *testing.T, what string, s *check.Snapshot, o export.Options, only ...bool) {
	t.Helper()
	want := func(a netip.Addr) bool {
		return s.Check(check.Request{Addr: a, Admin: o.Admin, Mobile: o.Mobile, At: o.At}).Allowed
	}
	starts := pieceStarts(s)

	var buf bytes.Buffer
	if err := export.Write(&buf, s, "nginx", &o); err != nil {
		t.Fatal(err)
	}
	entries, warns, err := ordered.ParseNginx(buf.String())
	if err != nil || len(warns) > 0 {
		t.Fatalf("%s: ParseNginx: %v %v\n%s", what, err, warns, buf.String())
	}
	back, err := ordered.Policy(entries, policy.DefaultAllow)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := check.Compile(back, t0)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), " 255.255.255.255") {
		t.Fatalf("%s: nginx line names 255.255.255.255, which nginx refuses:\n%s", what, buf.String())
	}
	// 255.255.255.255 is decided as 255.255.255.254, for nginx's sake.
	nginxWant := func(a netip.Addr) bool {
		if b := netip.AddrFrom4([4]byte{255, 255, 255, 255}); a.Unmap() == b {
			a = b.Prev()
		}
		return want(a)
	}
	agree(t, what+": nginx", append(pieceStarts(bs), starts...), false, nginxWant, func(a netip.Addr) bool {
		return bs.Check(check.Request{Addr: a, At: t0}).Allowed
	})

	lists := []bool{false, true}
	if len(only) > 0 {
		lists = only
	}
	for _, denied := range lists {
		o := o
		o.Denied = denied
		name := "allow"
		if denied {
			name = "deny"
		}
		member := func(in func(netip.Addr) bool) func(netip.Addr) bool {
			return func(a netip.Addr) bool { return in(a) != denied }
		}
		buf.Reset()
		if err := export.Write(&buf, s, "haproxy", &o); err != nil {
			t.Fatal(err)
		}
		m := parseHAProxy(t, buf.String())
		if len(m.v4) > 0 {
			t.Fatalf("%s: HAProxy file with IPv4 entries %v", what, m.v4)
		}
		hs := append(prefixStarts(m.v6), starts...)
		for _, p := range m.v6 {
			if p.Addr().Is4In6() {
				hs = append(hs, prefixStarts([]netip.Prefix{netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)})...)
			} else if p.Overlaps(netip.MustParsePrefix("::ffff:0:0/96")) {
				t.Fatalf("%s: HAProxy entry %v overlaps the mapped block", what, p)
			}
		}
		for _, b := range []string{"::1:0:0", "2002::", "2003::"} {
			hs = append(hs, netip.MustParseAddr(b))
		}
		agree(t, what+": haproxy "+name, hs, false, want, member(m.match))

		buf.Reset()
		if err := export.Write(&buf, s, "nftables", &o); err != nil {
			t.Fatal(err)
		}
		v4, v6 := parseNft(t, buf.String(), name)
		for _, p := range v6 {
			if p.Overlaps(netip.MustParsePrefix("::ffff:0:0/96")) {
				t.Fatalf("%s: nftables element %v overlaps the mapped block", what, p)
			}
		}
		ns := append(append(prefixStarts(v4), prefixStarts(v6)...), starts...)
		s4, s6 := newSet(t, v4), newSet(t, v6)
		agree(t, what+": nftables "+name, ns, true, want, member(func(a netip.Addr) bool {
			if a.Is4() {
				return s4.contains(a)
			}
			return s6.contains(a)
		}))
	}
}

// instants returns the instants at which the decisions of p may differ:
// before, at and after each expiry.
func instants(p policy.Policy) []time.Time {
	out := []time.Time{t0, t0.Add(-time.Hour)}
	for _, r := range p.Rules {
		if e, ok := r.Expiry(); ok {
			out = append(out, e, e.Add(-time.Nanosecond))
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return slices.Compact(out)
}

func TestRandomPolicies(t *testing.T) {
	t.Parallel()
	n, subjects := 60, 4
	if testing.Short() {
		n, subjects = 25, 1 // one subject per instant, drawn at random
	}
	rng := rand.New(rand.NewPCG(16, 16))
	for i := range n {
		p := checktest.RandomPolicy(rng, 1+rng.IntN(12))
		s, err := check.Compile(p, t0)
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range instants(p) {
			for k := range subjects {
				sub := k
				if subjects == 1 {
					sub = rng.IntN(4)
				}
				o := export.Options{Admin: sub&1 != 0, Mobile: sub&2 != 0, At: at}
				// The allowed or the denied addresses, drawn at random.
				checkExports(t, fmt.Sprintf("policy %d at %v admin=%v mobile=%v", i, at.Format(time.TimeOnly), o.Admin, o.Mobile), s, o, rng.IntN(2) == 0)
			}
		}
		if t.Failed() {
			t.Logf("policy %d: %+v", i, p)
			return
		}
	}
}

func rule(id, target string, a policy.Action) policy.Rule {
	return policy.Rule{ID: id, Target: rangeset.MustParseRange(target), Action: a}
}

func TestHandWritten(t *testing.T) {
	t.Parallel()
	admin := rule("admins", "2001:db8::/32", policy.Allow)
	admin.AdminOnly = true
	temp := rule("contractor", "198.51.100.7", policy.Allow)
	temp.ExpiresAt = t0.Add(time.Hour)
	policies := map[string]policy.Policy{
		"allowlist":         policy.New(rule("office", "10.0.0.0/8", policy.Allow), rule("lab", "10.1.0.0/16", policy.Deny), admin, temp),
		"denylist":          policy.New(rule("drop", "1.10.16.0/20", policy.Deny), rule("drop6", "2001:678:738::/48", policy.Deny)),
		"empty":             policy.New(),
		"all v6":            policy.New(rule("v6", "::/0", policy.Allow)),
		"span mapped":       policy.New(rule("span", "::fffe:0:0-::1:0:0:ff", policy.Deny), rule("v4", "0.0.0.0/1", policy.Allow)),
		"broadcast denied":  {Settings: policy.Settings{Enabled: true, DefaultAction: policy.DefaultAllow, ApplyToMobile: true}, Rules: []policy.Rule{rule("bcast", "255.255.255.255", policy.Deny)}},
		"broadcast allowed": policy.New(rule("bcast", "255.255.255.255", policy.Allow), rule("top", "255.255.255.0/31", policy.Allow)),
		"top /31 denied":    policy.New(rule("top", "255.255.255.254/31", policy.Deny), rule("v4", "0.0.0.0/0", policy.Allow)),
		"6to4 and compat": policy.New(rule("6to4", "2002:a00::/24", policy.Deny), rule("compat", "::a00:0/104", policy.Deny),
			rule("v4", "10.0.0.0/8", policy.Allow), rule("v6", "::/0", policy.Allow)),
	}
	for name, p := range policies {
		s, err := check.Compile(p, t0)
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{t0, t0.Add(2 * time.Hour)} {
			for sub := range 4 {
				checkExports(t, name, s, export.Options{Admin: sub&1 != 0, Mobile: sub&2 != 0, At: at})
			}
		}
	}
}

// TestOutput pins the text of each format.
func TestOutput(t *testing.T) {
	t.Parallel()
	admin := rule("admins", "2001:db8::/32", policy.Allow)
	admin.AdminOnly = true
	temp := rule("contractor", "198.51.100.7", policy.Allow)
	temp.ExpiresAt = t0.Add(time.Hour)
	p := policy.New(rule("office", "10.0.0.0/8", policy.Allow), rule("lab", "10.1.0.0/16", policy.Deny), admin, temp)
	s, err := check.Compile(p, t0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		write func(*bytes.Buffer, *check.Snapshot, *export.Options) error
		opts  *export.Options
		want  string
	}{
		{"nginx", wr(writer("nginx")), &export.Options{At: t0}, `# ipgate export: nginx access directives, for a subject neither admin nor mobile, at 2026-01-01T00:00:00Z.
# A rule expires at 2026-01-01T01:00:00Z: export again by then.
allow 10.0.0.0/16;
allow 10.2.0.0/15;
allow 10.4.0.0/14;
allow 10.8.0.0/13;
allow 10.16.0.0/12;
allow 10.32.0.0/11;
allow 10.64.0.0/10;
allow 10.128.0.0/9;
allow 198.51.100.7;
deny all;
`},
		{"nginx admin later", wr(writer("nginx")), &export.Options{Admin: true, At: t0.Add(time.Hour)}, `# ipgate export: nginx access directives, for a subject admin, not mobile, at 2026-01-01T01:00:00Z.
allow 10.0.0.0/16;
allow 10.2.0.0/15;
allow 10.4.0.0/14;
allow 10.8.0.0/13;
allow 10.16.0.0/12;
allow 10.32.0.0/11;
allow 10.64.0.0/10;
allow 10.128.0.0/9;
allow 2001:db8::/32;
deny all;
`},
		{"haproxy", wr(writer("haproxy")), &export.Options{At: t0}, `# ipgate export: HAProxy ACL of the addresses with the action allow, for a subject neither admin nor mobile, at 2026-01-01T00:00:00Z.
# A rule expires at 2026-01-01T01:00:00Z: export again by then.
::ffff:10.0.0.0/112
::ffff:10.2.0.0/111
::ffff:10.4.0.0/110
::ffff:10.8.0.0/109
::ffff:10.16.0.0/108
::ffff:10.32.0.0/107
::ffff:10.64.0.0/106
::ffff:10.128.0.0/105
::ffff:198.51.100.7/128
`},
		{"nftables denied admin", wr(writer("nftables")), &export.Options{Admin: true, Denied: true, At: t0.Add(time.Hour)}, `# ipgate export: nftables sets of the addresses with the action deny, for a subject admin, not mobile, at 2026-01-01T01:00:00Z.
set ipgate_deny {
	type ipv4_addr
	flags interval
	elements = {
		0.0.0.0/5,
		8.0.0.0/7,
		10.1.0.0/16,
		11.0.0.0/8,
		12.0.0.0/6,
		16.0.0.0/4,
		32.0.0.0/3,
		64.0.0.0/2,
		128.0.0.0/1
	}
}
set ipgate_deny6 {
	type ipv6_addr
	flags interval
	elements = {
		::/81,
`},
		{"nftables", wr(writer("nftables")), &export.Options{Mobile: true, At: t0}, `# ipgate export: nftables sets of the addresses with the action allow, for a subject mobile, not admin, at 2026-01-01T00:00:00Z.
# A rule expires at 2026-01-01T01:00:00Z: export again by then.
set ipgate_allow {
	type ipv4_addr
	flags interval
	elements = {
		10.0.0.0/16,
		10.2.0.0/15,
		10.4.0.0/14,
		10.8.0.0/13,
		10.16.0.0/12,
		10.32.0.0/11,
		10.64.0.0/10,
		10.128.0.0/9,
		198.51.100.7
	}
}
set ipgate_allow6 {
	type ipv6_addr
	flags interval
}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&buf, s, tt.opts); err != nil {
				t.Fatal(err)
			}
			got := buf.String()
			if strings.HasSuffix(tt.want, ",\n") {
				got = got[:min(len(got), len(tt.want))]
			}
			if got != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func wr(f func(w io.Writer, s *check.Snapshot, o *export.Options) error) func(*bytes.Buffer, *check.Snapshot, *export.Options) error {
	return func(b *bytes.Buffer, s *check.Snapshot, o *export.Options) error { return f(b, s, o) }
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestErrors(t *testing.T) {
	t.Parallel()
	s, _ := check.Compile(policy.New(rule("a", "10.0.0.0/8", policy.Allow)), t0)
	for _, format := range []string{"nginx", "haproxy", "nftables"} {
		if err := export.Write(io.Discard, nil, format, nil); err == nil || err.Error() != "export.Write: nil snapshot" {
			t.Errorf("Write(nil snapshot, %q) = %v", format, err)
		}
		if err := export.Write(failWriter{}, s, format, nil); err == nil || err.Error() != "disk full" {
			t.Errorf("Write(failing writer, %q) = %v", format, err)
		}
	}
	for _, format := range []string{"", "Nginx", "iptables", "nginx\n"} {
		var buf bytes.Buffer
		want := "export.Write: unknown format " + rangeset.Quote(format) + " (want nginx, haproxy or nftables)"
		if err := export.Write(&buf, s, format, nil); err == nil || err.Error() != want || buf.Len() != 0 {
			t.Errorf("Write(%q) = %v, wrote %d bytes; want %s and nothing", format, err, buf.Len(), want)
		}
		if err := export.Write(&buf, nil, format, nil); err == nil || err.Error() != want {
			t.Errorf("Write(nil snapshot, %q) = %v; want %s", format, err, want)
		}
	}
}

// writer is Write for one format, as the tables call it.
func writer(format string) func(io.Writer, *check.Snapshot, *export.Options) error {
	return func(w io.Writer, s *check.Snapshot, o *export.Options) error { return export.Write(w, s, format, o) }
}
