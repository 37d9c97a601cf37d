package httpgate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/rangeset"
)

// Options configure a [Gate]. A nil *Options means the defaults: the peer
// address decides, no header is read, denial is a 403.
type Options struct {
	// TrustedProxies are the peers whose forwarding headers are believed
	// (see [Private], [Loopback] and [LinkLocal] for common classes). Empty
	// means none: the peer address (RemoteAddr) decides. A prefix written
	// IPv4-mapped is unmapped (::ffff:10.0.0.0/104 trusts 10.0.0.0/8); one
	// shorter than /96 or invalid is refused by [New]. Host bits are
	// ignored. An IPv6 prefix never holds an IPv4 address, mapped or not.
	TrustedProxies []netip.Prefix
	// Forwarded reads the RFC 7239 Forwarded header (the for parameter of
	// each element) instead of X-Forwarded-For.
	Forwarded bool
	// ClientIPHeader, when not "", names a header that holds the one client
	// address the trusted proxies set, replacing any the client sent, such
	// as "CF-Connecting-IP", "True-Client-IP" or "X-Real-IP". It is read
	// instead of X-Forwarded-For, and only from a trusted peer; several
	// values, or one that is not an address, fail closed. Set it only when
	// every trusted proxy overwrites that header.
	ClientIPHeader string
	// MaxHops is how many trusted hops the header walk may skip before it
	// gives up and fails; zero means 10.
	MaxHops int
	// AllTrustedLeftmost decides a request whose every address is trusted
	// (the peer and each hop, or the peer alone when it sent no header, as
	// a proxy's health check does) on the left-most of them. Off, such a
	// request fails: those are proxies'
	// addresses, and a policy that admits the proxies would admit every
	// client.
	AllTrustedLeftmost bool
	// Subject says whether a request comes from an admin or a mobile
	// client; nil means neither.
	Subject func(*http.Request) (admin, mobile bool)
	// Deny answers denied requests; nil means 403 Forbidden.
	Deny http.Handler
	// OnDecision, when not nil, sees every decision the gate makes, by
	// [Gate.Check] (so in the framework adapters built on it) or
	// [Gate.Handler], the client address it was made on (invalid when none
	// could be found) and the error that made it so, if any: for log/slog
	// and metrics.
	OnDecision func(r *http.Request, d check.Decision, client netip.Addr, err error)
}

// Errors that say why no client address could be read. They are wrapped
// with the offending value, quoted with [rangeset.Quote]. They are not
// exported: every one of them means the same to a caller, that the request
// is decided with the invalid address, and the message says which it was.
var (
	// errPeer reports a RemoteAddr that is not an IP address (a Unix
	// socket peer, for one).
	errPeer = errors.New("httpgate: peer address is not an IP address")
	// errHeader reports a header that cannot be read with certainty: an
	// element that is unparsable, empty, obfuscated or "unknown", a
	// Forwarded element with no or a repeated parameter, several values of
	// a single-address header, or too many elements.
	errHeader = errors.New("httpgate: unusable forwarding header")
	// errNoHeader reports a trusted peer that sent no header.
	errNoHeader = errors.New("httpgate: trusted proxy sent no header")
	// errHops reports more trusted hops than [Options.MaxHops].
	errHops = errors.New("httpgate: too many trusted hops")
	// errAllTrusted reports a chain in which every address is trusted.
	errAllTrusted = errors.New("httpgate: every address is a trusted proxy's")
)

// Gate decides requests with a decider. It is safe for concurrent use.
//
// The zero Gate decides nothing: it denies every request with the zero
// [check.Decision].
type Gate struct {
	d       func(check.Request) check.Decision
	opts    Options
	header  string // the header read behind trusted proxies, canonical
	maxElem int    // the most Forwarded elements read
}

// defaultMaxHops is [Options.MaxHops] when it is zero.
const defaultMaxHops = 10

// maxForwarded is the most Forwarded elements read, unless MaxHops asks
// for more: each line is split whole, so the work must be bounded.
const maxForwarded = 64

// New returns a gate deciding with d: the Check method of a
// [*check.Snapshot], a [*check.Checker], a follower (package follow) or an
// observer (package observe), or any function that keeps their contract
// (SEMANTICS §4). It refuses a nil d, a trusted prefix that is invalid or
// IPv4-mapped and shorter than /96, a negative MaxHops, and a
// ClientIPHeader that is not a header name or is set together with
// Forwarded.
func New(d func(check.Request) check.Decision, opts *Options) (*Gate, error) {
	g := &Gate{d: d}
	if opts != nil {
		g.opts = *opts
	}
	var errs []error
	if d == nil {
		errs = append(errs, errors.New("httpgate.New: nil decider"))
	}
	in := g.opts.TrustedProxies
	g.opts.TrustedProxies = make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		c, err := canonicalPrefix(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("httpgate.New: trusted proxy %s: %v", rangeset.Quote(p.String()), err))
			continue
		}
		g.opts.TrustedProxies = append(g.opts.TrustedProxies, c)
	}
	switch {
	case g.opts.MaxHops < 0:
		errs = append(errs, fmt.Errorf("httpgate.New: negative MaxHops %d", g.opts.MaxHops))
	case g.opts.MaxHops == 0:
		g.opts.MaxHops = defaultMaxHops
	}
	g.maxElem = max(maxForwarded, g.opts.MaxHops+1)
	g.header = "X-Forwarded-For"
	switch h := g.opts.ClientIPHeader; {
	case h != "" && !isToken(h):
		errs = append(errs, fmt.Errorf("httpgate.New: ClientIPHeader %s is not a header name", rangeset.Quote(h)))
	case h != "" && g.opts.Forwarded:
		errs = append(errs, errors.New("httpgate.New: both ClientIPHeader and Forwarded are set"))
	case h != "":
		g.header = textproto.CanonicalMIMEHeaderKey(h)
	case g.opts.Forwarded:
		g.header = "Forwarded"
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return g, nil
}

// canonicalPrefix returns p as the addresses it holds are compared:
// masked, and unmapped when written IPv4-mapped.
func canonicalPrefix(p netip.Prefix) (netip.Prefix, error) {
	switch {
	case !p.IsValid():
		return netip.Prefix{}, errors.New("invalid prefix")
	case p.Addr().Is4In6() && p.Bits() < 96:
		return netip.Prefix{}, errors.New("IPv4-mapped prefix shorter than /96")
	case p.Addr().Is4In6():
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// Check finds the client address of r and decides it with the gate's
// decider. The decision's Allowed field is the answer.
//
// An error says why no client address could be read; the request is then
// decided with the invalid address, which SEMANTICS §4 allows only when
// the policy is disabled or exempts the subject, and denies with reason
// invalid otherwise. A decider that allows the invalid address for any
// other reason is overruled: the decision is then a deny, reason invalid.
func (g *Gate) Check(r *http.Request) (check.Decision, error) {
	d, _, err := g.decide(r)
	return d, err
}

func (g *Gate) decide(r *http.Request) (check.Decision, netip.Addr, error) {
	if g.d == nil {
		return check.Decision{}, netip.Addr{}, nil
	}
	client, err := g.ClientAddr(r)
	var admin, mobile bool
	if g.opts.Subject != nil {
		admin, mobile = g.opts.Subject(r)
	}
	d := g.d(check.Request{Addr: client, Admin: admin, Mobile: mobile})
	if err != nil && d.Allowed && d.Reason != check.ReasonDisabled && d.Reason != check.ReasonExempt {
		d = check.Decision{Reason: check.ReasonInvalid}
	}
	if g.opts.OnDecision != nil {
		g.opts.OnDecision(r, d, client, err)
	}
	return d, client, err
}

type ctxKey struct{}

type verdict struct {
	d      check.Decision
	client netip.Addr
}

// Handler returns a handler that passes the requests [Gate.Check] allows
// to next, with the decision and the client address in the request
// context (see [FromContext]), and answers the others with Options.Deny,
// which sees the same context.
func (g *Gate) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, client, _ := g.decide(r)
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, verdict{d, client}))
		if !d.Allowed {
			if g.opts.Deny != nil {
				g.opts.Deny.ServeHTTP(w, r)
				return
			}
			http.Error(w, "403 forbidden", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// FromContext returns the decision and client address a [Gate.Handler]
// put in ctx, and reports whether there were any. The address is invalid
// when none could be read.
func FromContext(ctx context.Context) (check.Decision, netip.Addr, bool) {
	v, ok := ctx.Value(ctxKey{}).(verdict)
	return v.d, v.client, ok
}

// ClientAddr returns the address r is decided on: the peer, or, behind
// trusted proxies, the address the header names (see the package doc).
// The address is canonical ([rangeset.Canonical]). An error, whose text
// says what was wrong and quotes the offending value, means no address can
// be read with certainty; the address is then invalid.
func (g *Gate) ClientAddr(r *http.Request) (netip.Addr, error) {
	peer, err := parseHost(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %s", errPeer, rangeset.Quote(r.RemoteAddr))
	}
	if !g.trusted(peer) {
		return peer, nil
	}
	header := g.header
	lines := r.Header.Values(header)
	if len(lines) == 0 {
		if g.opts.AllTrustedLeftmost {
			return peer, nil
		}
		return netip.Addr{}, fmt.Errorf("%w %s", errNoHeader, header)
	}
	w := walk{maxHops: g.opts.MaxHops}
	switch {
	case g.opts.ClientIPHeader != "":
		err = g.single(lines, &w)
	case g.opts.Forwarded:
		err = g.forwarded(lines, &w)
	default:
		err = g.forwardedFor(lines, &w)
	}
	switch {
	case err != nil:
		return netip.Addr{}, err
	case w.client.IsValid():
		return w.client, nil
	case g.opts.AllTrustedLeftmost:
		return w.last, nil
	}
	return netip.Addr{}, fmt.Errorf("%w (%s)", errAllTrusted, header)
}

func (g *Gate) trusted(a netip.Addr) bool {
	for _, p := range g.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// walk follows a chain of hops from the right.
type walk struct {
	maxHops int
	hops    int        // trusted hops seen
	last    netip.Addr // the left-most trusted hop so far
	client  netip.Addr // the first untrusted hop, once found
}

// step takes the next hop to the left and reports whether the walk is
// over: a is untrusted, or there are too many trusted hops.
func (w *walk) step(g *Gate, a netip.Addr) (bool, error) {
	if !g.trusted(a) {
		w.client = a
		return true, nil
	}
	if w.hops++; w.hops > w.maxHops {
		return true, fmt.Errorf("%w (more than %d)", errHops, w.maxHops)
	}
	w.last = a
	return false, nil
}

// forwardedFor walks X-Forwarded-For from the right, across every header
// line, last line first, peeling one element at a time: only the
// elements it reaches are read, so the work is bounded by MaxHops.
func (g *Gate) forwardedFor(lines []string, w *walk) error {
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for {
			elem := rest
			j := strings.LastIndexByte(rest, ',')
			if j >= 0 {
				elem, rest = rest[j+1:], rest[:j]
			}
			a, err := parseHost(strings.Trim(elem, " \t"))
			if err != nil {
				return fmt.Errorf("%w: X-Forwarded-For element %s", errHeader, rangeset.Quote(elem))
			}
			if done, err := w.step(g, a); done {
				return err
			}
			if j < 0 {
				break
			}
		}
	}
	return nil
}

// single reads a header that holds one address.
func (g *Gate) single(lines []string, w *walk) error {
	v := strings.Trim(lines[0], " \t")
	if len(lines) > 1 || strings.IndexByte(v, ',') >= 0 {
		return fmt.Errorf("%w: several values of %s", errHeader, g.header)
	}
	a, err := parseHost(v)
	if err != nil {
		return fmt.Errorf("%w: %s %s", errHeader, g.header, rangeset.Quote(v))
	}
	_, err = w.step(g, a)
	return err
}

// parseHost reads an address with an optional port: "192.0.2.1",
// "192.0.2.1:8080", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:8080";
// a zone is dropped and an IPv4-mapped address unmapped. Obfuscated
// identifiers ("_hidden") and "unknown" are errors.
func parseHost(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return rangeset.Canonical(ap.Addr()), nil
	}
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	return rangeset.Canonical(a), nil
}
