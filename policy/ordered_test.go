package policy_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func TestParseNginx(t *testing.T) {
	t.Parallel()
	list, err := policy.ParseNginx(`
# office first, then the lab is cut out of it
deny  192.168.1.1;
allow 192.168.1.0/24;
allow 10.1.1.0/16 ;  # not reached: bad host bits
`)
	if err == nil || !strings.Contains(err.Error(), "line 5") || !strings.Contains(err.Error(), "canonical form 10.1.0.0/16") {
		t.Errorf("ParseNginx = %v, %v; want the host-bits error naming line 5", list, err)
	}
	list, err = policy.ParseNginx("deny 192.168.1.1;\nallow 192.168.1.0/24;\nallow 2001:db8::/32;\ndeny all;\n")
	if err != nil || len(list) != 5 || list[4].ID != "line4" || list[4].Target.String() != "::/0" {
		t.Fatalf("ParseNginx = %+v, %v", list, err)
	}
	for _, bad := range []string{"allow 10.0.0.1", "permit 10.0.0.1;", "allow;", "allow 10.0.0.1 10.0.0.2;", "deny unix:;"} {
		if _, err := policy.ParseNginx(bad); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ParseNginx(%q) = %v, want an error naming line 1", bad, err)
		}
	}
}

func TestFromOrderedNginx(t *testing.T) {
	t.Parallel()
	list, _ := policy.ParseNginx("deny 192.168.1.1;\nallow 192.168.1.0/24;\nallow 2001:db8::/32;\ndeny all;\n")
	p, err := policy.FromOrdered(list, policy.DefaultAllow)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Rules {
		got = append(got, r.ID+" "+r.Target.String()+" "+r.Action.String())
	}
	want := []string{
		"line4 0.0.0.0-192.168.0.255 deny",
		"line2 192.168.1.0 allow",
		"line1 192.168.1.1 deny",
		"line2.2 192.168.1.2-192.168.1.255 allow",
		"line4.2 192.168.2.0-255.255.255.255 deny",
		"line4.3 ::-2001:db7:ffff:ffff:ffff:ffff:ffff:ffff deny",
		"line3 2001:db8::/32 allow",
		"line4.4 2001:db9::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff deny",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("FromOrdered =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// firstMatch is the ordered list's own semantics.
func firstMatch(list []policy.Ordered, dflt bool, a netip.Addr) bool {
	for _, e := range list {
		if e.Target.Contains(a) {
			return e.Action == policy.Allow
		}
	}
	return dflt
}

// slowDecide decides a policy of disjoint rules by scanning them.
func slowDecide(p policy.Policy, a netip.Addr) bool {
	for _, r := range p.Rules {
		if r.Target.Contains(a) {
			return r.Action == policy.Allow
		}
	}
	return p.Settings.DefaultAction == policy.DefaultAllow
}

// TestFromOrderedRandom checks FromOrdered against a first-match brute
// force on random lists over small universes: the output rules never
// overlap, and every address is decided as the list decides it.
func TestFromOrderedRandom(t *testing.T) {
	t.Parallel()
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 3))
		var list []policy.Ordered
		for i := range rng.IntN(12) {
			base := []string{"10.0.0.0", "255.255.255.240", "0.0.0.0", "2001:db8::", "::"}[rng.IntN(5)]
			a := netip.MustParseAddr(base)
			for range rng.IntN(16) {
				a = a.Next()
			}
			b := a
			for range rng.IntN(20) {
				if n := b.Next(); n.IsValid() {
					b = n
				}
			}
			r := rangeset.RangeFrom(a, b)
			if rng.IntN(10) == 0 {
				r = rangeset.MustParseRange([]string{"0.0.0.0/0", "::/0"}[rng.IntN(2)])
			}
			list = append(list, policy.Ordered{ID: fmt.Sprint("e", i), Target: r, Action: policy.Action(1 + rng.IntN(2))})
		}
		dflt := policy.DefaultAction(2 + rng.IntN(2)) // allow or deny
		p, err := policy.FromOrdered(list, dflt)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for i, x := range p.Rules {
			for _, y := range p.Rules[i+1:] {
				if x.Target.Overlaps(y.Target) {
					t.Fatalf("seed %d: %s and %s overlap", seed, x.Target, y.Target)
				}
			}
		}
		var probes []netip.Addr
		for _, e := range list {
			probes = append(probes, e.Target.From(), e.Target.To(), e.Target.From().Prev(), e.Target.To().Next())
		}
		probes = append(probes, netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::"), netip.MustParseAddr("8.8.8.8"))
		for _, a := range probes {
			if !a.IsValid() {
				continue
			}
			if got, want := slowDecide(p, a), firstMatch(list, dflt == policy.DefaultAllow, a); got != want {
				t.Fatalf("seed %d: %v decided %v, the list says %v\nlist %+v\npolicy %+v", seed, a, got, want, list, p.Rules)
			}
		}
	}
}
