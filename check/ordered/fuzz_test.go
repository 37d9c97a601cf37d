package ordered_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/ordered"
	"github.com/ipgate/ipgate/policy"
)

var fuzzT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// FuzzParseNginx: any text either fails with an error naming a line, or
// parses into entries whose order-free policy is valid and decides every
// probe address as the list's first match does.
func FuzzParseNginx(f *testing.F) {
	for _, s := range []string{
		"deny  192.168.1.1;\nallow 192.168.1.0/24;\nallow 2001:db8::/32;\ndeny  all;\n",
		"deny ::fffe:0:0/96;\nallow all;",
		"allow unix:; allow 10.1.1.0/16; # masked\ndeny all;",
		"allow \"10.0.0.1\";\ndeny\n all\n;",
		"allow 10.0.0.1-10.0.0.9; deny ::/0;",
		"allow ;", "deny 10.0.0.0/33;", "allow all", "# only a comment\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		list, _, err := ordered.ParseNginx(text)
		if err != nil {
			if !strings.Contains(err.Error(), "line ") {
				t.Fatalf("ParseNginx(%q): error names no line: %v", text, err)
			}
			return
		}
		p, err := ordered.Policy(list, policy.DefaultAllow)
		if err != nil {
			t.Fatalf("Policy of ParseNginx(%q): %v", text, err)
		}
		s, err := check.Compile(p, fuzzT0)
		if err != nil {
			t.Fatal(err)
		}
		var probes []netip.Addr
		for _, e := range list {
			for _, a := range []netip.Addr{e.Target.From(), e.Target.To(), e.Target.From().Prev(), e.Target.To().Next()} {
				if a.IsValid() {
					probes = append(probes, a)
				}
			}
		}
		probes = append(probes, netip.MustParseAddr("::ffff:0:0"), netip.MustParseAddr("::fffe:ffff:ffff"), netip.MustParseAddr("::1:0:0:0"))
		for _, a := range probes {
			if got, want := s.Check(check.Request{Addr: a, At: fuzzT0}).Allowed, firstMatch(list, true, a); got != want {
				t.Fatalf("ParseNginx(%q): %v decided %v, the list says %v", text, a, got, want)
			}
		}
	})
}
