// Package gatetest holds what the adapters' tests share: one policy, one
// gate, and the requests every adapter must decide as the HTTP guard does,
// sent to a real server from chosen loopback peers.
package gatetest

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// Peers. Linux routes all of 127.0.0.0/8 to the loopback interface, so a
// client can bind any of them as its source address.
const (
	Allowed   = "127.0.0.2" // allowed as a peer by rule "peer"
	Proxy     = "127.0.0.3" // the one trusted proxy; denied as a client
	Untrusted = "127.0.0.4" // neither allowed nor trusted
)

// Snapshot compiles the policy of the tests: rule "clients" allows
// 198.51.100.0/24, rule "peer" allows [Allowed], rule "blocked" denies
// 198.51.100.66; anything else is denied by default.
func Snapshot(t testing.TB) *check.Snapshot {
	t.Helper()
	p := policy.New(
		policy.Rule{ID: "clients", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow},
		policy.Rule{ID: "blocked", Target: rangeset.MustParseRange("198.51.100.66"), Action: policy.Deny},
		policy.Rule{ID: "peer", Target: rangeset.MustParseRange(Allowed), Action: policy.Allow},
	)
	s, err := check.Compile(p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Disabled compiles the policy of [Snapshot], disabled: it allows every
// request, an unreadable address included (SEMANTICS §4).
func Disabled(t testing.TB) *check.Snapshot {
	t.Helper()
	p := policy.New(policy.Rule{ID: "clients", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow})
	p.Settings.Enabled = false
	s, err := check.Compile(p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Gate returns a gate deciding with d that trusts [Proxy] alone.
func Gate(t testing.TB, d interface {
	Check(check.Request) check.Decision
}) *httpgate.Gate {
	t.Helper()
	g, err := httpgate.New(d.Check, &httpgate.Options{TrustedProxies: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr(Proxy), 32)}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Case is one request and how the gate decides it.
type Case struct {
	Name    string
	Peer    string   // source address of the connection
	XFF     []string // X-Forwarded-For lines
	Allowed bool
	Rule    string // the winning rule, "" for none
	Reason  check.Reason
}

// Cases are the requests every adapter must decide as the HTTP guard does.
var Cases = []Case{
	{Name: "allowed peer", Peer: Allowed, Allowed: true, Rule: "peer", Reason: check.ReasonRule},
	{Name: "denied peer", Peer: Untrusted, Reason: check.ReasonDefault},
	{Name: "untrusted peer's header ignored", Peer: Untrusted, XFF: []string{"198.51.100.1"}, Reason: check.ReasonDefault},
	{Name: "allowed peer's header ignored", Peer: Allowed, XFF: []string{"203.0.113.9"}, Allowed: true, Rule: "peer", Reason: check.ReasonRule},
	{Name: "client behind the proxy", Peer: Proxy, XFF: []string{"198.51.100.1"}, Allowed: true, Rule: "clients", Reason: check.ReasonRule},
	{Name: "denied client behind the proxy", Peer: Proxy, XFF: []string{"198.51.100.66"}, Rule: "blocked", Reason: check.ReasonRule},
	{Name: "forged left-most value", Peer: Proxy, XFF: []string{"198.51.100.1, 203.0.113.9"}, Reason: check.ReasonDefault},
	{Name: "forged line", Peer: Proxy, XFF: []string{"198.51.100.1", "203.0.113.9"}, Reason: check.ReasonDefault},
	{Name: "proxy sent no header", Peer: Proxy, Reason: check.ReasonInvalid},
	{Name: "unparsable header", Peer: Proxy, XFF: []string{"198.51.100.1, bogus"}, Reason: check.ReasonInvalid},
}

// Dialer returns a dialer whose connections come from peer.
func Dialer(peer string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(peer)}, Timeout: 5 * time.Second}
}

// Client returns an HTTP client whose connections come from peer.
func Client(peer string) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:       Dialer(peer).DialContext,
			DisableKeepAlives: true,
		},
		Timeout: 10 * time.Second,
	}
}

// Body is what the tests' handlers answer an allowed request with: the
// decision the adapter put in the context.
func Body(d check.Decision) string { return "passed: " + d.String() }

// Run sends every case to url, whose allowed requests are answered with
// [Body], and checks that the allowed ones pass with their decision and the
// others get status deny. It returns each denied case's response body, by
// name.
func Run(t *testing.T, url string, deny int) map[string]string {
	t.Helper()
	denied := make(map[string]string)
	for _, c := range Cases {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range c.XFF {
			req.Header.Add("X-Forwarded-For", v)
		}
		resp, err := Client(c.Peer).Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		switch want := Body(check.Decision{Allowed: true, Rule: c.Rule, Reason: c.Reason}); {
		case c.Allowed && (resp.StatusCode != http.StatusOK || string(body) != want):
			t.Errorf("%s: got %d %q, want 200 %q", c.Name, resp.StatusCode, body, want)
		case !c.Allowed && resp.StatusCode != deny:
			t.Errorf("%s: got %d %q, want %d", c.Name, resp.StatusCode, body, deny)
		case !c.Allowed && strings.Contains(string(body), "passed"):
			t.Errorf("%s: denied request reached the handler: %q", c.Name, body)
		case !c.Allowed:
			denied[c.Name] = string(body)
		}
	}
	return denied
}

// RunDisabled sends to url, served with a [Disabled] policy, a request
// from an untrusted peer and one whose address cannot be read, and checks
// that both pass, as the HTTP guard lets them.
func RunDisabled(t *testing.T, url string) {
	t.Helper()
	want := Body(check.Decision{Allowed: true, Reason: check.ReasonDisabled})
	for _, peer := range []string{Untrusted, Proxy} {
		resp, err := Client(peer).Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || string(body) != want {
			t.Errorf("disabled policy, from %s: got %d %q, want 200 %q", peer, resp.StatusCode, body, want)
		}
	}
}

// Wraps reports whether an error that err wraps, not err itself, has a
// text that starts with prefix: whether an adapter passed on the gate's
// error, whose kinds httpgate does not export, rather than only its text.
func Wraps(err error, prefix string) bool {
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		if strings.HasPrefix(e.Error(), prefix) {
			return true
		}
	}
	return false
}
