// Package trustflag reads the -trust flag of the example servers that sit
// behind proxies.
package trustflag

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/rangeset"
)

// Parse reads a -trust flag: comma-separated prefixes, addresses and the
// classes private, loopback and link-local of package httpgate. The
// prefixes are canonical, as httpgate compares them: masked, and an
// IPv4-mapped one as its IPv4 prefix.
func Parse(s string) ([]netip.Prefix, error) {
	classes := map[string]func() []netip.Prefix{
		"private": httpgate.Private, "loopback": httpgate.Loopback, "link-local": httpgate.LinkLocal,
	}
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if class, ok := classes[f]; ok {
			out = append(out, class()...)
			continue
		}
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if a, aerr := netip.ParseAddr(f); aerr == nil {
			p, err = netip.PrefixFrom(a, a.BitLen()), nil
		}
		if err != nil || !p.IsValid() || p.Addr().Is4In6() && p.Bits() < 96 {
			return nil, fmt.Errorf("-trust: %s is not a prefix, an address or one of private, loopback, link-local", rangeset.Quote(f))
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
