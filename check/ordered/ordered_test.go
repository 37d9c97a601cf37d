package ordered_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/ordered"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func entriesText(list []ordered.Entry) string {
	var b strings.Builder
	for _, e := range list {
		fmt.Fprintf(&b, "%s %s %s\n", e.ID, e.Target, e.Action)
	}
	return b.String()
}

func rulesText(p policy.Policy) string {
	var b strings.Builder
	for _, r := range p.Rules {
		fmt.Fprintf(&b, "%s %s %s\n", r.ID, r.Target, r.Action)
	}
	return b.String()
}

func TestParseNginx(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in       string
		entries, warns string
	}{
		{"lines", "deny 192.168.1.1;\nallow 192.168.1.0/24;\nallow 2001:db8::/32;\ndeny all;\n",
			"line1 192.168.1.1 deny\nline2 192.168.1.0/24 allow\nline3 2001:db8::/32 allow\nline4 0.0.0.0/0 deny\nline4 ::/0 deny\n", ""},
		{"comments and white space", "# office\n\tdeny  192.168.1.1 ; # the printer\n  allow\n 10.0.0.0/8\n;\n#deny all;",
			"line2 192.168.1.1 deny\nline3 10.0.0.0/8 allow\n", ""},
		{"several on a line", "allow 10.0.0.1; deny all;",
			"line1 10.0.0.1 allow\nline1:2 0.0.0.0/0 deny\nline1:2 ::/0 deny\n", ""},
		{"quoted words", `allow "10.0.0.1"; 'deny' '::1'; deny '10.0.0.2';` + "\ndeny 10.0.0.3;", "line1 10.0.0.1 allow\nline1:2 ::1 deny\nline1:3 10.0.0.2 deny\nline2 10.0.0.3 deny\n", ""},
		{"host bits masked", "deny 192.168.1.1;\nallow 10.1.1.0/16;\nallow 2001:db8::1/32;",
			"line1 192.168.1.1 deny\nline2 10.1.0.0/16 allow\nline3 2001:db8::/32 allow\n",
			"line 2: \"10.1.1.0/16\" has host bits set: masked to 10.1.0.0/16, as nginx does\n" +
				"line 3: \"2001:db8::1/32\" has host bits set: masked to 2001:db8::/32, as nginx does\n"},
		{"unix skipped", "allow 10.0.0.1;\n\nallow unix:;\ndeny all;",
			"line1 10.0.0.1 allow\nline4 0.0.0.0/0 deny\nline4 ::/0 deny\n",
			"line 3: \"allow unix:\" skipped: it matches only clients on a Unix socket, which have no address\n"},
		{"a range", "allow 10.0.0.1-10.0.0.9;", "line1 10.0.0.1-10.0.0.9 allow\n", ""},
		{"empty", "# nothing\n", "", ""},
	}
	for _, tt := range tests {
		list, warns, err := ordered.ParseNginx(tt.in)
		var ws strings.Builder
		for _, w := range warns {
			ws.WriteString(w.String() + "\n")
		}
		if err != nil || entriesText(list) != tt.entries || ws.String() != tt.warns {
			t.Errorf("%s: ParseNginx(%q) =\n%s%s%v\nwant\n%s%s", tt.name, tt.in, entriesText(list), ws.String(), err, tt.entries, tt.warns)
		}
	}
}

func TestParseNginxErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, err string }{
		{"allow 10.0.0.1", `ordered.ParseNginx: line 1: unexpected end of input, expecting ";"`},
		{"allow 10.0.0.1;\n\npermit 10.0.0.1;", `ordered.ParseNginx: line 3: want "allow ADDRESS|CIDR|all|unix:;" or "deny ...;", got "permit 10.0.0.1"`},
		{"allow;", `ordered.ParseNginx: line 1: want "allow ADDRESS|CIDR|all|unix:;" or "deny ...;", got "allow"`},
		{"\nallow 10.0.0.1 10.0.0.2;", `ordered.ParseNginx: line 2: want "allow ADDRESS|CIDR|all|unix:;" or "deny ...;", got "allow 10.0.0.1 10.0.0.2"`},
		{"allow\n010.0.0.1;", `ordered.ParseNginx: line 1: rangeset.ParseRange("010.0.0.1"): invalid IP address "010.0.0.1": IPv4 field has octet with leading zero`},
		{"deny ::ffff:10.0.0.1;", `ordered.ParseNginx: line 1: rangeset.ParseRange("::ffff:10.0.0.1"): IPv4-mapped IPv6 address not allowed in a rule target (write the IPv4 address): "::ffff:10.0.0.1"`},
		{"allow 10.0.0.0/33;", `ordered.ParseNginx: line 1: rangeset.ParseRange("10.0.0.0/33"): invalid prefix length "33" (want 0 to 32)`},
		{"deny 255.255.255.255;", `ordered.ParseNginx: line 1: "255.255.255.255": nginx refuses 255.255.255.255 as an address`},
		{"deny 255.255.255.255/24;", `ordered.ParseNginx: line 1: "255.255.255.255/24": nginx refuses 255.255.255.255 as an address`},
		{"location / {", `ordered.ParseNginx: line 1: unexpected "{": want "allow ADDRESS|CIDR|all|unix:;" or "deny ...;"`},
		{"allow 10.0.0.1;;", `ordered.ParseNginx: line 1: unexpected ";"`},
		{"allow \"10.0.0.1;", `ordered.ParseNginx: line 1: unterminated quoted word`},
		{"allow x\nallow rule=office;", `ordered.ParseNginx: line 1: want "allow ADDRESS|CIDR|all|unix:;" or "deny ...;", got "allow x allow rule=office"`},
		{"allow " + strings.Repeat("a", 100) + ";", `ordered.ParseNginx: line 1: rangeset.ParseRange("` + strings.Repeat("a", 64) + `"... (100 bytes)): invalid IP address "` + strings.Repeat("a", 64) + `"... (100 bytes): unable to parse IP`},
	}
	for _, tt := range tests {
		list, _, err := ordered.ParseNginx(tt.in)
		if err == nil || err.Error() != tt.err {
			t.Errorf("ParseNginx(%q) = %v, %v\nwant error %s", tt.in, list, err, tt.err)
		}
	}
}

func TestPolicyNginx(t *testing.T) {
	t.Parallel()
	list, _, err := ordered.ParseNginx("deny 192.168.1.1;\nallow 192.168.1.0/24;\nallow 2001:db8::/32;\ndeny all;\n")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ordered.Policy(list, policy.DefaultAllow)
	if err != nil {
		t.Fatal(err)
	}
	want := "line4 0.0.0.0-192.168.0.255 deny\n" +
		"line2 192.168.1.0 allow\n" +
		"line1 192.168.1.1 deny\n" +
		"line2.2 192.168.1.2-192.168.1.255 allow\n" +
		"line4.2 192.168.2.0-255.255.255.255 deny\n" +
		"line4.3 ::-2001:db7:ffff:ffff:ffff:ffff:ffff:ffff deny\n" + // spans the mapped block
		"line3 2001:db8::/32 allow\n" +
		"line4.4 2001:db9::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff deny\n"
	if got := rulesText(p); got != want {
		t.Errorf("Policy =\n%swant\n%s", got, want)
	}
	if p.Settings.DefaultAction != policy.DefaultAllow {
		t.Errorf("default action %v", p.Settings.DefaultAction)
	}
}

// TestMappedNeighbour is issue 13's finding 9: a list that cuts the
// address space next to ::ffff:0:0/96 was refused, with an error naming a
// rule id that the user never wrote.
func TestMappedNeighbour(t *testing.T) {
	t.Parallel()
	list, warns, err := ordered.ParseNginx("deny ::fffe:0:0/96;\nallow all;")
	if err != nil || len(warns) != 0 {
		t.Fatal(err, warns)
	}
	p, err := ordered.Policy(list, policy.DefaultAllow)
	if err != nil {
		t.Fatal(err)
	}
	want := "line2 0.0.0.0/0 allow\n" +
		"line2.2 ::-::fffd:ffff:ffff allow\n" +
		"line1 ::fffe:0:0/96 deny\n" +
		"line2.3 ::1:0:0:0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff allow\n"
	if got := rulesText(p); got != want {
		t.Errorf("Policy =\n%swant\n%s", got, want)
	}
	s, err := check.Compile(p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for a, allowed := range map[string]bool{"::fffe:0:1": false, "::fffe:ffff:ffff": false, "::fffd:ffff:ffff": true,
		"::1:0:0:0": true, "::ffff:10.0.0.1": true, "10.0.0.1": true} {
		if d := s.Check(check.Request{Addr: netip.MustParseAddr(a)}); d.Allowed != allowed {
			t.Errorf("%s: %v, want allowed=%v", a, d, allowed)
		}
	}
	// A list that spans the block merges across it, since the block is
	// never decided as IPv6.
	list, _, _ = ordered.ParseNginx("allow ::fffe:0:0-::1:0:0:5; deny all;")
	p, err = ordered.Policy(list, policy.DefaultAllow)
	if err != nil || !strings.Contains(rulesText(p), "line1 ::fffe:0:0-::1:0:0:5 allow\n") {
		t.Errorf("Policy =\n%s%v", rulesText(p), err)
	}
}

func TestPolicyErrors(t *testing.T) {
	t.Parallel()
	ok := rangeset.MustParseRange("10.0.0.0/8")
	tests := []struct {
		list []ordered.Entry
		dflt policy.DefaultAction
		err  string
	}{
		{[]ordered.Entry{{ID: "a", Target: ok, Action: policy.Allow}, {ID: "", Target: ok, Action: policy.Deny}}, policy.DefaultAllow,
			`ordered.Policy: entry 1 (""): empty id`},
		{[]ordered.Entry{{ID: "a\nb", Action: policy.Allow}}, policy.DefaultAllow, `ordered.Policy: entry 0 ("a\nb"): invalid target`},
		{[]ordered.Entry{{ID: "a", Target: ok}}, policy.DefaultAllow, `ordered.Policy: entry 0 ("a"): invalid action Action(0)`},
		{nil, 0, `ordered.Policy: invalid default action DefaultAction(0)`},
	}
	for _, tt := range tests {
		if _, err := ordered.Policy(tt.list, tt.dflt); err == nil || err.Error() != tt.err {
			t.Errorf("Policy(%+v) = %v, want %s", tt.list, err, tt.err)
		}
	}
}

// TestPolicyNames pins the naming of ranges when an entry's suffixed name
// is another entry's id, and entries that share an id.
func TestPolicyNames(t *testing.T) {
	t.Parallel()
	r := rangeset.MustParseRange
	p, err := ordered.Policy([]ordered.Entry{
		{ID: "a", Target: r("10.0.0.5"), Action: policy.Deny},
		{ID: "b", Target: r("10.0.0.0/24"), Action: policy.Allow},
		{ID: "b.2", Target: r("10.0.1.0/24"), Action: policy.Deny},
		{ID: "a", Target: r("10.0.2.0/24"), Action: policy.Deny},
		{ID: "never", Target: r("10.0.0.6"), Action: policy.Deny}, // shadowed by b
	}, policy.DefaultDeny)
	want := "b 10.0.0.0-10.0.0.4 allow\na 10.0.0.5 deny\nb.3 10.0.0.6-10.0.0.255 allow\nb.2 10.0.1.0/24 deny\na.2 10.0.2.0/24 deny\n"
	if got := rulesText(p); err != nil || got != want {
		t.Errorf("Policy =\n%s%v\nwant\n%s", got, err, want)
	}
}

// anchors are corners of small universes in both families, around the
// IPv4-mapped block and the /96 below it.
var anchors = []netip.Addr{
	netip.MustParseAddr("0.0.0.0"),
	netip.MustParseAddr("10.0.0.0"),
	netip.MustParseAddr("255.255.255.240"),
	netip.MustParseAddr("::"),
	netip.MustParseAddr("::fffd:ffff:fff0"),
	netip.MustParseAddr("::fffe:0:0"),
	netip.MustParseAddr("::fffe:ffff:fff0"),
	netip.MustParseAddr("::1:0:0:0"),
	netip.MustParseAddr("2001:db8::"),
	netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0"),
}

func randAddr(rng *rand.Rand) netip.Addr {
	a := anchors[rng.IntN(len(anchors))]
	for range rng.IntN(20) {
		if a = a.Next(); !a.IsValid() {
			return anchors[0]
		}
	}
	return a
}

func randEntryTarget(rng *rand.Rand) rangeset.Range {
	for {
		a, b := randAddr(rng), randAddr(rng)
		if b.Less(a) {
			a, b = b, a
		}
		r := rangeset.RangeFrom(a, b)
		switch rng.IntN(12) {
		case 0:
			r = rangeset.Family(rng.IntN(2) == 0)
		case 1:
			r = rangeset.PrefixRange(netip.PrefixFrom(a, []int{94, 95, 96, 112, 28, 30}[rng.IntN(6)]).Masked())
		}
		if r.IsValid() {
			return r
		}
	}
}

// firstMatch is the ordered list's own semantics, for a query address as
// it is decided (SEMANTICS §1: an IPv4-mapped address as IPv4).
func firstMatch(list []ordered.Entry, dflt bool, a netip.Addr) bool {
	a = rangeset.Canonical(a)
	for _, e := range list {
		if e.Target.Contains(a) {
			return e.Action == policy.Allow
		}
	}
	return dflt
}

// TestPolicyRandom checks Policy against a first-match brute force on
// random lists over small universes of both families, around and in the
// IPv4-mapped block: the rules never overlap (outside the block, which is
// never decided as IPv6), and every address is decided as the list
// decides it, by the compiled policy.
func TestPolicyRandom(t *testing.T) {
	t.Parallel()
	seeds := uint64(1000)
	if testing.Short() {
		seeds = 100
	}
	mapped := netip.MustParsePrefix("::ffff:0:0/96")
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 3))
		var list []ordered.Entry
		for i := range rng.IntN(12) {
			list = append(list, ordered.Entry{ID: fmt.Sprint("e", i%5), Target: randEntryTarget(rng), Action: policy.Action(1 + rng.IntN(2))})
		}
		dflt := policy.DefaultAction(1 + rng.IntN(3))
		// Under auto, the list denies what no entry matches when it has an
		// allow entry, reachable or not.
		allowRest := dflt == policy.DefaultAllow ||
			dflt == policy.DefaultAuto && !slices.ContainsFunc(list, func(e ordered.Entry) bool { return e.Action == policy.Allow })
		p, err := ordered.Policy(list, dflt)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, entriesText(list))
		}
		for i, x := range p.Rules {
			for _, y := range p.Rules[i+1:] {
				if x.Target.Overlaps(y.Target) {
					if lo, hi := later(x.Target.From(), y.Target.From()), earlier(x.Target.To(), y.Target.To()); !mapped.Contains(lo) || !mapped.Contains(hi) {
						t.Fatalf("seed %d: %s and %s overlap", seed, x.Target, y.Target)
					}
				}
			}
		}
		s, err := check.Compile(p, time.Now())
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		var probes []netip.Addr
		for _, e := range list {
			probes = append(probes, e.Target.From(), e.Target.To(), e.Target.From().Prev(), e.Target.To().Next())
		}
		probes = append(probes, anchors...)
		for range 20 {
			probes = append(probes, randAddr(rng))
			// Mapped queries, decided as IPv4.
			probes = append(probes, netip.AddrFrom16(netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(20))}).As16()))
		}
		for _, a := range probes {
			if !a.IsValid() {
				continue
			}
			if got, want := s.Check(check.Request{Addr: a}).Allowed, firstMatch(list, allowRest, a); got != want {
				t.Fatalf("seed %d: %v decided %v, the list says %v\nlist\n%spolicy\n%s", seed, a, got, want, entriesText(list), rulesText(p))
			}
		}
	}
}

func TestPolicyEmpty(t *testing.T) {
	t.Parallel()
	p, err := ordered.Policy(nil, policy.DefaultDeny)
	if err != nil || len(p.Rules) != 0 || p.Settings.DefaultAction != policy.DefaultDeny {
		t.Errorf("Policy(nil) = %+v, %v", p, err)
	}
}

func later(a, b netip.Addr) netip.Addr {
	if a.Less(b) {
		return b
	}
	return a
}

func earlier(a, b netip.Addr) netip.Addr {
	if a.Less(b) {
		return a
	}
	return b
}

// TestPolicyDeepNesting converts lists of thousands of nested entries,
// innermost first (every entry survives as the ring around the one before)
// and outermost first (the first entry shadows the rest). The owner of
// each piece used to be found among every rule containing it, which took
// 19 s and 14 GB for 4,000 such entries.
func TestPolicyDeepNesting(t *testing.T) {
	t.Parallel()
	const n = 4000
	inner := nested(n)
	outer := slices.Clone(inner)
	slices.Reverse(outer)
	for _, tt := range []struct {
		name  string
		list  []ordered.Entry
		rules int
	}{{"innermost first", inner, 2*n - 1}, {"outermost first", outer, 1}} {
		p, err := ordered.Policy(tt.list, policy.DefaultDeny)
		if err != nil || len(p.Rules) != tt.rules {
			t.Fatalf("%s: Policy made %d rules, %v; want %d", tt.name, len(p.Rules), err, tt.rules)
		}
		s, err := check.Compile(p, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for off := -1; off <= 2*n+1; off += 13 {
			a := nestedAddr(off)
			if got, want := s.Check(check.Request{Addr: a}).Allowed, firstMatch(tt.list, false, a); got != want {
				t.Fatalf("%s: %v decided %v, the list says %v", tt.name, a, got, want)
			}
		}
	}
}

// nested returns n nested entries, innermost first, of alternating
// actions: entry i holds the addresses from nestedAddr(n-i) to
// nestedAddr(n+i).
func nested(n int) []ordered.Entry {
	list := make([]ordered.Entry, n)
	for i := range list {
		list[i] = ordered.Entry{ID: fmt.Sprint("e", i), Target: rangeset.RangeFrom(nestedAddr(n-i), nestedAddr(n+i)), Action: policy.Action(1 + i%2)}
	}
	return list
}

// nestedAddr returns the IPv4 address off addresses from 10.1.0.0.
func nestedAddr(off int) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 10<<24|1<<16+uint32(off))
	return netip.AddrFrom4(b)
}

func BenchmarkPolicyNested(b *testing.B) {
	for _, n := range []int{1000, 4000} {
		list := nested(n)
		b.Run(fmt.Sprint("entries=", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ordered.Policy(list, policy.DefaultDeny); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
