package export

import (
	"bufio"
	"errors"
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/internal/pieces"
	"github.com/ipgate/ipgate/rangeset"
)

// Options say whom, and when, an export decides for. A nil *Options means
// a subject neither admin nor mobile, now.
type Options struct {
	// Admin and Mobile are the subject, as in [check.Request].
	Admin, Mobile bool
	// At is the instant decided at; zero means now, as for a request, so
	// that no rule expired by now is exported.
	At time.Time
	// Denied makes the "haproxy" and "nftables" formats list the
	// addresses denied rather than those allowed: a denylist is then
	// short. The "nginx" format writes both actions whatever it says.
	Denied bool
}

// seg is a range of addresses decided alike.
type seg struct {
	r       rangeset.Range
	allowed bool
}

// subject is the request an export decides, with its address left out.
type subject struct {
	req  check.Request
	opts Options
}

func newSubject(s *check.Snapshot, opts *Options) subject {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.At.IsZero() {
		o.At = time.Now()
	}
	return subject{req: check.Request{Admin: o.Admin, Mobile: o.Mobile, At: o.At}, opts: o}
}

// segments returns the ranges of one family decided alike, in address
// order, adjacent ones of one outcome merged. The mapped block is never
// part of one: an IPv6 range ends before it or starts after it.
func segments(s *check.Snapshot, sub subject, is4 bool) []seg {
	var out []seg
	for p := range s.Pieces(rangeset.Family(is4)) {
		req := sub.req
		req.Addr = p.From()
		allowed := s.Check(req).Allowed
		if n := len(out) - 1; n >= 0 && out[n].allowed == allowed && out[n].r.To().Next() == p.From() {
			out[n].r = rangeset.RangeFrom(out[n].r.From(), p.To())
			continue
		}
		out = append(out, seg{p, allowed})
	}
	return out
}

// joinMapped merges the IPv6 ranges on either side of the mapped block
// when they are decided alike, for a consumer that decides the block as
// IPv4 (nginx): ::/0 is one line, not 33.
func joinMapped(v6 []seg) []seg {
	for i := 0; i+1 < len(v6); i++ {
		a, b := v6[i], v6[i+1]
		if a.allowed == b.allowed && pieces.Adjacent(a.r.To(), b.r.From()) {
			v6[i].r = rangeset.RangeFrom(a.r.From(), b.r.To())
			v6 = append(v6[:i+1], v6[i+2:]...)
		}
	}
	return v6
}

// broadcast is 255.255.255.255, which nginx refuses to name in allow and
// deny (it is its error value), and which no client comes from.
var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// nameable gives 255.255.255.255 the decision of 255.255.255.254 when the
// two differ, so that no nginx line must name it alone: the last IPv4
// range then ends at 255.255.255.254's, and its prefixes at
// 255.255.255.254/31 or wider.
func nameable(v4 []seg) []seg {
	n := len(v4)
	if n < 2 || v4[n-1].r != rangeset.RangeFrom(broadcast, broadcast) {
		return v4
	}
	v4[n-2].r = rangeset.RangeFrom(v4[n-2].r.From(), broadcast)
	return v4[:n-1]
}

// prefixes returns the prefixes of the ranges of one outcome, leaving out
// those inside the mapped block (which a joined range may hold).
func prefixes(segs []seg, allowed bool) []netip.Prefix {
	var out []netip.Prefix
	for _, g := range segs {
		if g.allowed != allowed {
			continue
		}
		for p := range g.r.Prefixes() {
			if !p.Addr().Is4In6() {
				out = append(out, p)
			}
		}
	}
	return out
}

// text returns p as a single address when it is one, else as a prefix.
func text(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// header writes the comment lines that say what an export holds.
func header(w *bufio.Writer, s *check.Snapshot, sub subject, what string) {
	who := "neither admin nor mobile"
	switch o := sub.opts; {
	case o.Admin && o.Mobile:
		who = "admin and mobile"
	case o.Admin:
		who = "admin, not mobile"
	case o.Mobile:
		who = "mobile, not admin"
	}
	w.WriteString("# ipgate export: " + what + ", for a subject " + who + ", at " + sub.opts.At.UTC().Format(time.RFC3339Nano) + ".\n")
	if t, ok := nextExpiry(s, sub); ok {
		w.WriteString("# A rule expires at " + t.UTC().Format(time.RFC3339Nano) + ": export again by then.\n")
	}
}

// nextExpiry returns the first expiry after the instant among the rules
// that apply to the subject.
func nextExpiry(s *check.Snapshot, sub subject) (time.Time, bool) {
	var next time.Time
	for r := range s.Rules() {
		if r.AdminOnly && !sub.opts.Admin {
			continue
		}
		if t, ok := r.Expiry(); ok && t.After(sub.opts.At) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next, !next.IsZero()
}

// Write writes the decisions of s for the subject at the instant of opts
// in the named format, one of these, and returns w's error. Any other
// format, or a nil s, is an error naming it, and nothing is written.
//
// "nginx" is nginx access directives: "allow PREFIX;" and "deny PREFIX;"
// lines, which never overlap, so their order does not matter, then "allow
// all;" or "deny all;" for the rest, whichever takes fewer lines. IPv6
// lines may cover ::ffff:0:0/96, which nginx, like SEMANTICS §1, decides
// as IPv4. 255.255.255.255, which nginx cannot name and no client comes
// from, is decided as 255.255.255.254 is. The output is a file to include
// in a server or location block:
//
//	location / {
//	    include /etc/nginx/ipgate-allow.conf;
//	}
//
// behind a proxy, with the real_ip module's set_real_ip_from and
// real_ip_header, so that nginx decides on the client's address. Reading
// it back with [github.com/ipgate/ipgate/check/ordered.ParseNginx] and
// ordered.Policy gives a policy with the same decisions.
//
// "haproxy" is an HAProxy ACL file listing the addresses s allows (with
// Options.Denied, those it denies), one prefix per line, each with its
// length (so that HAProxy never takes one for a host name). Use it with
// the -n flag (no DNS) on the client address:
//
//	acl ipgate_allow src -n -f /etc/haproxy/ipgate-allow.acl
//	http-request deny unless ipgate_allow
//
// or, for the denied addresses,
//
//	acl ipgate_deny src -n -f /etc/haproxy/ipgate-deny.acl
//	http-request deny if ipgate_deny
//
// IPv4 prefixes are written in IPv4-mapped form, 10.0.0.0/8 as
// ::ffff:10.0.0.0/104, and no IPv6 prefix touches ::ffff:0:0/96. HAProxy
// matches an IPv4 client against the IPv6 entries as ::ffff:a.b.c.d when
// no IPv4 entry matches, and an IPv6 client of ::/96 or 2002::/16 against
// the IPv4 entries when no IPv6 entry matches: with no IPv4 entries, the
// first finds exactly the mapped entries and the second finds nothing, so
// that an IPv6 client is decided as IPv6 and an IPv4 one (mapped or not)
// as IPv4, as SEMANTICS §1 says. An empty file matches nothing.
//
// "nftables" is two nftables sets holding the addresses s allows (with
// Options.Denied, those it denies): ipgate_allow of type ipv4_addr and
// ipgate_allow6 of type ipv6_addr, both with flags interval (ipgate_deny
// and ipgate_deny6 with Options.Denied). An empty set has no elements
// line. The IPv6 set holds no address of ::ffff:0:0/96: no packet comes
// from such an address (RFC 4291 §2.5.5.2). Include the file in a table
// and match the source address:
//
//	table inet ipgate {
//	    include "/etc/nftables.d/ipgate.nft"
//	    chain input {
//	        type filter hook input priority 0; policy accept;
//	        tcp dport 443 ip saddr != @ipgate_allow drop
//	        tcp dport 443 ip6 saddr != @ipgate_allow6 drop
//	    }
//	}
func Write(w io.Writer, s *check.Snapshot, format string, opts *Options) error {
	var write func(io.Writer, *check.Snapshot, subject) error
	switch format {
	case "nginx":
		write = nginx
	case "haproxy":
		write = haproxy
	case "nftables":
		write = nftables
	default:
		return errors.New("export.Write: unknown format " + rangeset.Quote(format) + " (want nginx, haproxy or nftables)")
	}
	if s == nil {
		return errors.New("export.Write: nil snapshot")
	}
	return write(w, s, newSubject(s, opts))
}

// nginx writes the "nginx" format (see [Write]).
func nginx(w io.Writer, s *check.Snapshot, sub subject) error {
	v4, v6 := nameable(segments(s, sub, true)), joinMapped(segments(s, sub, false))
	allow := append(prefixes(v4, true), prefixes(v6, true)...)
	deny := append(prefixes(v4, false), prefixes(v6, false)...)
	bw := bufio.NewWriter(w)
	header(bw, s, sub, "nginx access directives")
	lines, verb, rest := allow, "allow ", "deny all;\n"
	if len(allow) > len(deny) {
		lines, verb, rest = deny, "deny ", "allow all;\n"
	}
	for _, p := range lines {
		bw.WriteString(verb + text(p) + ";\n")
	}
	bw.WriteString(rest)
	return bw.Flush()
}

// which names the addresses an export lists.
func which(o Options) (allowed bool, name string) {
	if o.Denied {
		return false, "deny"
	}
	return true, "allow"
}

// haproxy writes the "haproxy" format (see [Write]).
func haproxy(w io.Writer, s *check.Snapshot, sub subject) error {
	allowed, name := which(sub.opts)
	bw := bufio.NewWriter(w)
	header(bw, s, sub, "HAProxy ACL of the addresses with the action "+name)
	for _, p := range prefixes(segments(s, sub, true), allowed) {
		bw.WriteString(netip.AddrFrom16(p.Addr().As16()).String() + "/" + strconv.Itoa(96+p.Bits()) + "\n")
	}
	for _, p := range prefixes(segments(s, sub, false), allowed) {
		bw.WriteString(p.String() + "\n")
	}
	return bw.Flush()
}

// nftables writes the "nftables" format (see [Write]).
func nftables(w io.Writer, s *check.Snapshot, sub subject) error {
	allowed, name := which(sub.opts)
	bw := bufio.NewWriter(w)
	header(bw, s, sub, "nftables sets of the addresses with the action "+name)
	for _, fam := range []struct {
		is4      bool
		set, typ string
	}{{true, "ipgate_" + name, "ipv4_addr"}, {false, "ipgate_" + name + "6", "ipv6_addr"}} {
		bw.WriteString("set " + fam.set + " {\n\ttype " + fam.typ + "\n\tflags interval\n")
		ps := prefixes(segments(s, sub, fam.is4), allowed)
		if len(ps) > 0 {
			bw.WriteString("\telements = {\n")
			for i, p := range ps {
				bw.WriteString("\t\t" + text(p))
				if i+1 < len(ps) {
					bw.WriteString(",")
				}
				bw.WriteString("\n")
			}
			bw.WriteString("\t}\n")
		}
		bw.WriteString("}\n")
	}
	return bw.Flush()
}
