package pieces

import (
	"net/netip"
	"testing"
)

func TestAdjacent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		last, next string
		want       bool
	}{
		{"10.0.0.255", "10.0.1.0", true},
		{"10.0.0.255", "10.0.1.1", false},
		{"::fffe:ffff:ffff", "::1:0:0:0", true}, // across ::ffff:0:0/96
		{"::fffe:ffff:ffff", "::ffff:0:0", true},
		{"::fffe:ffff:fffe", "::1:0:0:0", false},
		{"::1:0:0:0", "::fffe:ffff:ffff", false},
		{"", "::", false},
		{"255.255.255.255", "::", false}, // families never join
	} {
		var last netip.Addr
		if tc.last != "" {
			last = netip.MustParseAddr(tc.last)
		}
		if got := Adjacent(last, netip.MustParseAddr(tc.next)); got != tc.want {
			t.Errorf("Adjacent(%s, %s) = %v, want %v", tc.last, tc.next, got, tc.want)
		}
	}
}
