package rangeset_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ipgate/ipgate/rangeset"
)

var seedTargets = []string{
	"", "10.0.0.1", " 10.0.0.1 ", "10.0.0.0/8", "10.0.0.5/24", "10.0.0.1 - 10.0.0.9", "10.0.0.9-10.0.0.1",
	"2001:db8::/32", "2001:db8::1-2001:db8::ff", "fe80::1%eth0", "::ffff:10.0.0.1", "::fffe:0:0/95",
	"010.0.0.1", "10.0.*.*", "::/129", "0.0.0.0/0", "::/0", "10.0.0.0/+8", "1-2-3",
}

// FuzzParseTarget checks that the target parser never panics, that every
// target it accepts is valid, holds no zone or mapped end in its text, and
// that its canonical text parses back to the same range and is a fixed point.
func FuzzParseTarget(f *testing.F) {
	for _, s := range seedTargets {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := rangeset.ParseRange(s)
		if err != nil {
			if r.IsValid() {
				t.Fatalf("ParseRange(%q) = %v with error %v", s, r, err)
			}
			return
		}
		if !r.IsValid() {
			t.Fatalf("ParseRange(%q) = invalid range, nil error", s)
		}
		text := r.String()
		if strings.Contains(text, "%") || r.From().Is4In6() || r.From().Zone() != "" || r.To().Zone() != "" {
			t.Fatalf("ParseRange(%q) = %s holds a zone or a mapped start", s, text)
		}
		back, err := rangeset.ParseRange(text)
		if err != nil || back != r {
			t.Fatalf("ParseRange(%q) = %s, which parses back as %v, %v", s, text, back, err)
		}
		if back.String() != text {
			t.Fatalf("canonical text %q is not a fixed point: %q", text, back.String())
		}
		if !r.Contains(r.From()) || !r.Contains(r.To()) {
			t.Fatalf("%v does not contain its own ends", r)
		}
	})
}

// FuzzParseQuery checks that the query parser never panics, returns only
// canonical addresses (no zone, not mapped) and agrees with net/netip on
// what is an address.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "10.0.0.1", "::ffff:10.9.9.9", "fe80::1%eth0", " 10.0.0.1", "10.0.0.1%eth0", "::a09:909"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := rangeset.ParseAddr(s)
		n, nerr := netip.ParseAddr(s)
		if (err == nil) != (nerr == nil) {
			t.Fatalf("ParseAddr(%q) error %v, netip error %v", s, err, nerr)
		}
		if err != nil {
			return
		}
		if a.Zone() != "" || a.Is4In6() || a != n.Unmap().WithZone("") {
			t.Fatalf("ParseAddr(%q) = %v, not canonical", s, a)
		}
	})
}
