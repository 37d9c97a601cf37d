package httpgate

import "net/netip"

// Private returns the private prefixes, those of [netip.Addr.IsPrivate]:
// 10.0.0.0/8, 172.16.0.0/12 and 192.168.0.0/16 (RFC 1918) and fc00::/7
// (RFC 4193), for [Options.TrustedProxies]. Each call returns a new slice.
func Private() []netip.Prefix {
	return prefixes("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
}

// Loopback returns the loopback prefixes, those of [netip.Addr.IsLoopback]:
// 127.0.0.0/8 and ::1/128, for [Options.TrustedProxies]. Each call returns
// a new slice.
func Loopback() []netip.Prefix { return prefixes("127.0.0.0/8", "::1/128") }

// LinkLocal returns the link-local unicast prefixes, those of
// [netip.Addr.IsLinkLocalUnicast]: 169.254.0.0/16 and fe80::/10, for
// [Options.TrustedProxies]. Each call returns a new slice.
func LinkLocal() []netip.Prefix { return prefixes("169.254.0.0/16", "fe80::/10") }

func prefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}
