package rangeset_test

import (
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"testing"

	"github.com/ipgate/ipgate/rangeset"
)

func TestRangeFrom(t *testing.T) {
	t.Parallel()
	a := netip.MustParseAddr
	tests := []struct {
		from, to string
		valid    bool
	}{
		{"10.0.0.1", "10.0.0.9", true},
		{"10.0.0.9", "10.0.0.1", false},
		{"10.0.0.1", "2001:db8::1", false},
		{"fe80::1%eth0", "fe80::2", false},
		{"::ffff:1.2.3.4", "::ffff:1.2.3.5", false},
		{"::1", "::ffff:1.2.3.4", false},         // mapped end of a non-prefix
		{"::fffe:0:0", "::ffff:ffff:ffff", true}, // the prefix ::fffe:0:0/95
		{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
	}
	for _, tt := range tests {
		if got := rangeset.RangeFrom(a(tt.from), a(tt.to)); got.IsValid() != tt.valid {
			t.Errorf("RangeFrom(%s, %s) = %v, valid %v, want %v", tt.from, tt.to, got, got.IsValid(), tt.valid)
		}
	}
	if r := rangeset.RangeFrom(netip.Addr{}, a("1.2.3.4")); r.IsValid() || r != (rangeset.Range{}) {
		t.Errorf("RangeFrom(zero, 1.2.3.4) = %v, want the zero Range", r)
	}
}

func TestPrefixRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" means the zero Range
	}{
		{"10.0.0.0/24", "10.0.0.0/24"},
		{"10.0.0.5/24", "10.0.0.0/24"}, // masked, as netip.Prefix.Masked does
		{"10.0.0.5/32", "10.0.0.5"},
		{"10.255.255.255/0", "0.0.0.0/0"},
		{"2001:db8::1/32", "2001:db8::/32"},
		{"::ffff:10.0.0.0/104", ""}, // IPv4-mapped form
	}
	for _, tt := range tests {
		got := rangeset.PrefixRange(netip.MustParsePrefix(tt.in))
		if want := tt.want; (want == "") != !got.IsValid() || want != "" && got.String() != want {
			t.Errorf("PrefixRange(%s) = %v (valid %v), want %q", tt.in, got, got.IsValid(), want)
		}
	}
	if r := rangeset.PrefixRange(netip.Prefix{}); r != (rangeset.Range{}) {
		t.Errorf("PrefixRange(zero Prefix) = %v, want the zero Range", r)
	}
	if r := rangeset.PrefixRange(netip.PrefixFrom(netip.MustParseAddr("10.0.0.1"), 33)); r != (rangeset.Range{}) {
		t.Errorf("PrefixRange(10.0.0.1/33) = %v, want the zero Range", r)
	}
	// It agrees with RangeFrom on the masked prefix's ends, around the
	// IPv4-mapped block too.
	for _, s := range []string{"::ffff:0:0/96", "::ffff:0:0/95", "::fffe:0:0/95", "::ffff:1.2.3.4/128", "::/0", "::fffe:ffff:0/112", "1.2.3.4/0", "fe80::1/10"} {
		for bits := 0; bits <= 128; bits++ {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				t.Fatal(err)
			}
			if bits > p.Addr().BitLen() {
				break
			}
			p = netip.PrefixFrom(p.Addr(), bits)
			m := p.Masked()
			last := m.Addr()
			for i := m.Bits(); i < m.Addr().BitLen(); i++ {
				b := last.As16()
				off := i + 128 - m.Addr().BitLen()
				b[off/8] |= 0x80 >> (off % 8)
				last = netip.AddrFrom16(b)
				if m.Addr().Is4() {
					last = last.Unmap()
				}
			}
			if got, want := rangeset.PrefixRange(p), rangeset.RangeFrom(m.Addr(), last); got != want {
				t.Errorf("PrefixRange(%v) = %v, want RangeFrom(%v, %v) = %v", p, got, m.Addr(), last, want)
			}
		}
	}
}

func TestSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
	}{
		{"10.0.0.1", "1"},
		{"10.0.0.0/24", "256"},
		{"10.0.0.1-10.0.0.9", "9"},
		{"0.0.0.0/0", "4294967296"},
		{"::/64", "18446744073709551616"},
		{"::/0", new(big.Int).Lsh(big.NewInt(1), 128).String()},
		{"::1-::2:0:0:0:0", "36893488147419103232"},
	}
	for _, tt := range tests {
		if got := rangeset.MustParseRange(tt.in).Size().String(); got != tt.want {
			t.Errorf("Size(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	order := []string{"10.0.0.1", "10.0.0.0/31", "10.0.0.1-10.0.0.3", "10.0.0.0/24", "0.0.0.0/0", "::/95", "::/64", "::/63", "::/0"}
	for i := range order {
		for j := range order {
			si, sj := rangeset.MustParseRange(order[i]).Size(), rangeset.MustParseRange(order[j]).Size()
			if got, want := si.Compare(sj), cmpInt(i, j); got != want {
				t.Errorf("Size(%s).Compare(Size(%s)) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	if z := (rangeset.Range{}).Size(); z.Compare(rangeset.MustParseRange("1.2.3.4").Size()) != -1 || z.String() != "0" {
		t.Errorf("zero Range size = %s, want 0 and smallest", z)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestContains(t *testing.T) {
	t.Parallel()
	r := rangeset.MustParseRange("10.0.0.1-10.0.0.9")
	for s, want := range map[string]bool{
		"10.0.0.0": false, "10.0.0.1": true, "10.0.0.9": true, "10.0.0.10": false,
		"::ffff:10.0.0.5": false, "::a00:5": false,
	} {
		if got := r.Contains(netip.MustParseAddr(s)); got != want {
			t.Errorf("%v.Contains(%s) = %v, want %v", r, s, got, want)
		}
	}
	if (rangeset.Range{}).Contains(netip.Addr{}) {
		t.Error("zero Range contains the zero Addr")
	}
	wide := rangeset.MustParseRange("10.0.0.0/24")
	if !wide.ContainsRange(r) || r.ContainsRange(wide) || !r.Overlaps(wide) ||
		r.Overlaps(rangeset.MustParseRange("10.0.0.10-10.0.0.20")) {
		t.Error("ContainsRange/Overlaps disagree with the ranges' ends")
	}
}

func TestPrefixes(t *testing.T) {
	t.Parallel()
	got := slices.Collect(rangeset.MustParseRange("10.0.0.1-10.0.0.9").Prefixes())
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("10.0.0.2/31"),
		netip.MustParsePrefix("10.0.0.4/30"), netip.MustParsePrefix("10.0.0.8/31"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("Prefixes() = %v, want %v", got, want)
	}
	if n := len(slices.Collect((rangeset.Range{}).Prefixes())); n != 0 {
		t.Errorf("zero Range has %d prefixes", n)
	}
	// A range that is one prefix yields just that prefix.
	for text, want := range map[string]string{
		"10.0.0.0/8": "10.0.0.0/8", "10.0.0.7": "10.0.0.7/32", "10.0.0.0-10.0.0.255": "10.0.0.0/24",
		"2001:db8::/48": "2001:db8::/48", "::/0": "::/0",
	} {
		got := slices.Collect(rangeset.MustParseRange(text).Prefixes())
		if !slices.Equal(got, []netip.Prefix{netip.MustParsePrefix(want)}) {
			t.Errorf("%s: Prefixes() = %v, want [%s]", text, got, want)
		}
	}
	if p, ok := rangeset.MustParseRange("10.0.0.1-10.0.0.9").Prefix(); ok {
		t.Errorf("Prefix() of a non-prefix range = %v, true", p)
	}
}

func TestMarshalText(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"10.0.0.0/8", "10.0.0.1-10.0.0.9", "2001:db8::1"} {
		r := rangeset.MustParseRange(s)
		b, err := r.MarshalText()
		if err != nil || string(b) != s {
			t.Errorf("MarshalText(%v) = %q, %v", r, b, err)
		}
		var back rangeset.Range
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("UnmarshalText(%q) = %v, %v, want %v", b, back, err, r)
		}
	}
	var r rangeset.Range
	if err := r.UnmarshalText([]byte("10.0.0.5/24")); err == nil {
		t.Error("UnmarshalText(10.0.0.5/24) succeeded")
	}
	if b, _ := (rangeset.Range{}).MarshalText(); len(b) != 0 {
		t.Errorf("zero Range marshals to %q", b)
	}
}

func TestFamily(t *testing.T) {
	t.Parallel()
	if got := rangeset.Family(true).String(); got != "0.0.0.0/0" {
		t.Errorf("Family(true) = %s", got)
	}
	if got := rangeset.Family(false); got.String() != "::/0" || got.To() != netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") {
		t.Errorf("Family(false) = %s", got)
	}
}

func ExamplePrefixRange() {
	// Host bits are masked, as netip.Prefix.Masked masks them; the text
	// parser refuses them instead.
	fmt.Println(rangeset.PrefixRange(netip.MustParsePrefix("10.0.0.5/24")))
	_, err := rangeset.ParseRange("10.0.0.5/24")
	fmt.Println(err)
	// Output:
	// 10.0.0.0/24
	// rangeset.ParseRange("10.0.0.5/24"): host bits set (canonical form 10.0.0.0/24)
}
