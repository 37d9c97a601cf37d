// Package middleware guards net/http handlers with an ipgate checker, and
// finds the client address in a way that cannot be spoofed.
//
// The most common way an IP allowlist fails is not the lookup but the
// address it is fed: a left-most X-Forwarded-For value the client wrote
// itself, one header line of several, or a malformed hop that makes the
// code fall back to the proxy's own address, which the allowlist passes.
// This package decides on the peer address alone unless the peer is a
// trusted proxy; behind trusted proxies it walks the forwarding header
// from the right, skipping trusted hops, and takes the first untrusted
// address. Anything it cannot read with certainty (an element that does
// not parse, an empty element, an obfuscated or "unknown" identifier, a
// trusted peer that sent no header, more trusted hops than the limit)
// denies the request: it never decides on a proxy's address.
package middleware

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/ipgate/ipgate/check"
)

// Options configure a [Guard]. A nil *Options means the defaults: the
// peer address decides, headers are ignored, denial is a 403.
type Options struct {
	// TrustedProxies are the peers whose forwarding headers are believed.
	// Empty means none: the peer address (RemoteAddr) decides.
	TrustedProxies []netip.Prefix
	// Forwarded reads the RFC 7239 Forwarded header (its for= parameters)
	// instead of X-Forwarded-For.
	Forwarded bool
	// MaxHops is how many trusted hops the header walk may skip before it
	// gives up and denies; zero means 10.
	MaxHops int
	// AllowNoHeader lets a trusted peer that sent no forwarding header be
	// decided on its own address (health checks from the proxy). Off, such
	// a request is denied.
	AllowNoHeader bool
	// Subject says whether a request comes from an admin or a mobile
	// client; nil means neither.
	Subject func(*http.Request) (admin, mobile bool)
	// Deny answers denied requests; nil means 403 Forbidden.
	Deny http.Handler
	// OnDecision, when not nil, sees every decision, the client address it
	// was made on (invalid when none could be found) and the error that
	// denied it, if any: for log/slog and metrics.
	OnDecision func(r *http.Request, d check.Decision, client netip.Addr, err error)
}

// Errors that deny a request before any rule is consulted.
var (
	// ErrPeer reports a RemoteAddr that is not an IP address.
	ErrPeer = errors.New("middleware: peer address is not an IP address")
	// ErrHeader reports a forwarding header element that cannot be trusted:
	// unparsable, empty, obfuscated or "unknown".
	ErrHeader = errors.New("middleware: unusable forwarding header element")
	// ErrNoHeader reports a trusted proxy that sent no forwarding header.
	ErrNoHeader = errors.New("middleware: trusted proxy sent no forwarding header")
	// ErrHops reports more trusted hops than Options.MaxHops.
	ErrHops = errors.New("middleware: too many trusted hops")
)

// Guard decides requests with a checker. It is safe for concurrent use.
type Guard struct {
	c    check.Decider
	opts Options
}

// New returns a guard deciding with c: a *check.Checker, a *check.Snapshot,
// or a wrapper such as *check.Shadow.
func New(c check.Decider, opts *Options) *Guard {
	g := &Guard{c: c}
	if opts != nil {
		g.opts = *opts
	}
	if g.opts.MaxHops <= 0 {
		g.opts.MaxHops = 10
	}
	if g.opts.Deny == nil {
		g.opts.Deny = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "403 forbidden", http.StatusForbidden)
		})
	}
	return g
}

// Check finds the client address of r and decides it. An error means no
// client address could be found with certainty; the decision then denies
// with reason invalid.
func (g *Guard) Check(r *http.Request) (check.Decision, error) {
	d, _, err := g.decide(r)
	return d, err
}

func (g *Guard) decide(r *http.Request) (check.Decision, netip.Addr, error) {
	client, err := g.ClientAddr(r)
	if err != nil {
		return check.Decision{Reason: check.ReasonInvalid}, netip.Addr{}, err
	}
	var admin, mobile bool
	if g.opts.Subject != nil {
		admin, mobile = g.opts.Subject(r)
	}
	return g.c.Check(check.Request{Addr: client, Admin: admin, Mobile: mobile}), client, nil
}

type ctxKey struct{}

type verdict struct {
	d      check.Decision
	client netip.Addr
}

// Handler returns a handler that passes allowed requests to next, with the
// decision and the client address in the request context (see
// [FromContext]), and answers the others with Options.Deny.
func (g *Guard) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, client, err := g.decide(r)
		if g.opts.OnDecision != nil {
			g.opts.OnDecision(r, d, client, err)
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, verdict{d, client}))
		if err != nil || !d.Allowed {
			g.opts.Deny.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// FromContext returns the decision and client address a [Guard.Handler]
// put in ctx, and reports whether there were any.
func FromContext(ctx context.Context) (check.Decision, netip.Addr, bool) {
	v, ok := ctx.Value(ctxKey{}).(verdict)
	return v.d, v.client, ok
}

// ClientAddr returns the address r is decided on: the peer, or, behind
// trusted proxies, the first untrusted address from the right of the
// forwarding header (the left-most when every hop is trusted). Addresses
// are normalized as SEMANTICS §1 says: ports, brackets and zones dropped,
// IPv4-mapped addresses unmapped. The work is bounded by MaxHops, however
// long the header.
func (g *Guard) ClientAddr(r *http.Request) (netip.Addr, error) {
	peer, err := parseHost(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %q", ErrPeer, cut(r.RemoteAddr))
	}
	if !g.trusted(peer) {
		return peer, nil
	}
	name := "X-Forwarded-For"
	if g.opts.Forwarded {
		name = "Forwarded"
	}
	lines := r.Header.Values(name)
	if len(lines) == 0 {
		if g.opts.AllowNoHeader {
			return peer, nil
		}
		return netip.Addr{}, ErrNoHeader
	}
	// Walk the elements from the right, across every header line, last
	// line first, peeling one element at a time.
	var last netip.Addr
	hops := 0
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for {
			elem := rest
			j := strings.LastIndexByte(rest, ',')
			if j >= 0 {
				elem, rest = rest[j+1:], rest[:j]
			}
			a, err := g.parseElement(elem)
			if err != nil {
				return netip.Addr{}, err
			}
			if !g.trusted(a) {
				return a, nil
			}
			if hops++; hops > g.opts.MaxHops {
				return netip.Addr{}, fmt.Errorf("%w (more than %d)", ErrHops, g.opts.MaxHops)
			}
			last = a
			if j < 0 {
				break
			}
		}
	}
	return last, nil // every hop is trusted: the left-most
}

func (g *Guard) trusted(a netip.Addr) bool {
	for _, p := range g.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseElement reads one X-Forwarded-For element, or the for= parameter
// of one Forwarded element.
func (g *Guard) parseElement(elem string) (netip.Addr, error) {
	elem = strings.Trim(elem, " \t")
	if g.opts.Forwarded {
		v, ok := forParam(elem)
		if !ok {
			return netip.Addr{}, fmt.Errorf("%w: no for= in %q", ErrHeader, cut(elem))
		}
		elem = v
	}
	a, err := parseHost(elem)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %q", ErrHeader, cut(elem))
	}
	return a, nil
}

// forParam returns the value of the for= parameter of a Forwarded element
// (pairs separated by ';', names case-insensitive, values maybe quoted).
func forParam(elem string) (string, bool) {
	for pair := range strings.SplitSeq(elem, ";") {
		k, v, ok := strings.Cut(strings.Trim(pair, " \t"), "=")
		if !ok || !strings.EqualFold(k, "for") {
			continue
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v, true
	}
	return "", false
}

// parseHost reads an address with an optional port: "192.0.2.1",
// "192.0.2.1:8080", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:8080";
// a zone is dropped and an IPv4-mapped address unmapped. Obfuscated
// identifiers ("_hidden") and "unknown" are errors.
func parseHost(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	return a.Unmap().WithZone(""), nil
}

func cut(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
