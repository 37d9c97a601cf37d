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
// classes private, loopback and link-local of package httpgate.
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
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("-trust: %s is not a prefix, an address or one of private, loopback, link-local", rangeset.Quote(f))
		}
		out = append(out, p)
	}
	return out, nil
}
