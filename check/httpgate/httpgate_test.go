package httpgate_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

var proxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}

func req(remote string, header http.Header) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = remote
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

func xff(v ...string) http.Header { return http.Header{"X-Forwarded-For": v} }
func fwd(v ...string) http.Header { return http.Header{"Forwarded": v} }

// allowing compiles a policy that allows 198.51.100.0/24 and the proxies'
// own network (so that deciding on a proxy would be an allow).
func allowing(t testing.TB, enabled bool) *check.Snapshot {
	t.Helper()
	p := policy.New(
		policy.Rule{ID: "clients", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow},
		policy.Rule{ID: "proxies", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow},
		policy.Rule{ID: "admins", Target: rangeset.MustParseRange("203.0.113.0/24"), Action: policy.Allow, AdminOnly: true},
	)
	p.Settings.Enabled = enabled
	s, err := check.Compile(p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// decider is what the tests' gates decide with: a snapshot or lax.
type decider interface {
	Check(check.Request) check.Decision
}

func newGate(t testing.TB, d decider, opts *httpgate.Options) *httpgate.Gate {
	t.Helper()
	g, err := httpgate.New(d.Check, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return g
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusting := func(o httpgate.Options) httpgate.Options { o.TrustedProxies = proxies; return o }
	tr := trusting(httpgate.Options{})
	fw := trusting(httpgate.Options{Forwarded: true})
	tests := []struct {
		name    string
		opts    httpgate.Options
		remote  string
		header  http.Header
		want    string // "" for an error
		wantErr error
	}{
		{name: "peer only", remote: "203.0.113.7:1234", want: "203.0.113.7"},
		{name: "untrusted peer: header ignored", remote: "203.0.113.7:1234", header: xff("10.1.1.1"), opts: tr, want: "203.0.113.7"},
		{name: "no trusted proxies: header ignored", remote: "10.0.0.1:1", header: xff("198.51.100.1"), want: "10.0.0.1"},
		{name: "one hop", remote: "10.0.0.1:1", header: xff("198.51.100.1"), opts: tr, want: "198.51.100.1"},
		{name: "client-written left-most value is skipped", remote: "10.0.0.1:1", header: xff("10.9.9.9, 198.51.100.1, 10.0.0.2"), opts: tr, want: "198.51.100.1"},
		{name: "spoofed allowlisted address on the left", remote: "10.0.0.1:1", header: xff("192.168.1.1", "198.51.100.1"), opts: tr, want: "198.51.100.1"},
		{name: "several header lines combine, last line last", remote: "10.0.0.1:1", header: xff("198.51.100.9", "10.0.0.3, 10.0.0.2"), opts: tr, want: "198.51.100.9"},
		// #13 finding 5: the old code decided on the left-most proxy, 10.0.0.5.
		{name: "every hop trusted: refused", remote: "10.0.0.1:1", header: xff("10.0.0.5, 10.0.0.4"), opts: tr, wantErr: httpgate.ErrAllTrusted},
		{name: "every hop trusted: left-most when asked", remote: "10.0.0.1:1", header: xff("10.0.0.5, 10.0.0.4"), opts: trusting(httpgate.Options{AllTrustedLeftmost: true}), want: "10.0.0.5"},
		{name: "every Forwarded hop trusted: refused", remote: "10.0.0.1:1", header: fwd("for=10.0.0.5, for=10.0.0.4"), opts: fw, wantErr: httpgate.ErrAllTrusted},
		{name: "malformed hop denies, never falls back to the proxy", remote: "10.0.0.1:1", header: xff("198.51.100.1, garbage"), opts: tr, wantErr: httpgate.ErrHeader},
		{name: "empty element", remote: "10.0.0.1:1", header: xff("198.51.100.1,,10.0.0.2"), opts: tr, wantErr: httpgate.ErrHeader},
		{name: "empty header line", remote: "10.0.0.1:1", header: xff(""), opts: tr, wantErr: httpgate.ErrHeader},
		{name: "unknown", remote: "10.0.0.1:1", header: xff("unknown"), opts: tr, wantErr: httpgate.ErrHeader},
		{name: "trusted peer without header", remote: "10.0.0.1:1", opts: tr, wantErr: httpgate.ErrNoHeader},
		{name: "trusted peer without header, left-most when asked", remote: "10.0.0.1:1", opts: trusting(httpgate.Options{AllTrustedLeftmost: true}), want: "10.0.0.1"},
		{name: "too many trusted hops", remote: "10.0.0.1:1", header: xff(strings.Repeat("10.0.0.9, ", 20) + "10.0.0.2"), opts: trusting(httpgate.Options{MaxHops: 5}), wantErr: httpgate.ErrHops},
		{name: "too many trusted hops, left-most asked", remote: "10.0.0.1:1", header: xff(strings.Repeat("10.0.0.9, ", 20) + "10.0.0.2"), opts: trusting(httpgate.Options{MaxHops: 5, AllTrustedLeftmost: true}), wantErr: httpgate.ErrHops},
		{name: "huge header is bounded: the right end decides", remote: "10.0.0.1:1", header: xff(strings.Repeat("x,", 1<<17) + "198.51.100.1"), opts: tr, want: "198.51.100.1"},
		{name: "ports, brackets, zones and mapped forms", remote: "10.0.0.1:1", header: xff("[2001:db8::1]:443"), opts: tr, want: "2001:db8::1"},
		{name: "bracketed v6 without port", remote: "10.0.0.1:1", header: xff("[2001:db8::1]"), opts: tr, want: "2001:db8::1"},
		{name: "zoned element", remote: "10.0.0.1:1", header: xff("fe80::1%eth0"), opts: tr, want: "fe80::1"},
		{name: "mapped element", remote: "10.0.0.1:1", header: xff("::ffff:198.51.100.1"), opts: tr, want: "198.51.100.1"},
		{name: "mapped trusted element is trusted", remote: "10.0.0.1:1", header: xff("198.51.100.1, ::ffff:10.0.0.7"), opts: tr, want: "198.51.100.1"},
		{name: "v4 with port", remote: "10.0.0.1:1", header: xff("198.51.100.1:5555"), opts: tr, want: "198.51.100.1"},
		{name: "mapped peer", remote: "[::ffff:10.0.0.1]:80", header: xff("198.51.100.1"), opts: tr, want: "198.51.100.1"},
		{name: "zoned peer", remote: "[fe80::1%eth0]:80", want: "fe80::1"},
		{name: "bad peer", remote: "not-an-ip", wantErr: httpgate.ErrPeer},
		{name: "Unix socket peer", remote: "@", wantErr: httpgate.ErrPeer},
		{name: "empty peer", remote: "", wantErr: httpgate.ErrPeer},

		// #13 finding 3: the old code compared the unmapped peer with the
		// mapped prefix, trusted nobody and decided on the proxy, 10.0.0.2.
		{name: "mapped trusted prefix", remote: "10.0.0.2:1", header: xff("198.51.100.1"), opts: httpgate.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}}, want: "198.51.100.1"},
		{name: "mapped trusted address", remote: "10.0.0.2:1", header: xff("198.51.100.1"), opts: httpgate.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.2/128")}}, want: "198.51.100.1"},
		{name: "mapped trusted prefix, mapped peer", remote: "[::ffff:10.0.0.2]:1", header: xff("198.51.100.1"), opts: httpgate.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}}, want: "198.51.100.1"},
		{name: "host bits in a trusted prefix", remote: "10.0.0.2:1", header: xff("198.51.100.1"), opts: httpgate.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.9/8")}}, want: "198.51.100.1"},

		{name: "Forwarded for= with quotes, brackets and port", remote: "10.0.0.1:1", header: fwd(`for="[2001:db8::7]:4711";proto=https, for=10.0.0.2`), opts: fw, want: "2001:db8::7"},
		{name: "Forwarded FOR in any case", remote: "10.0.0.1:1", header: fwd(`By=10.0.0.1;FOR=198.51.100.3`), opts: fw, want: "198.51.100.3"},
		{name: "Forwarded obfuscated", remote: "10.0.0.1:1", header: fwd(`for=_hidden`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded unknown", remote: "10.0.0.1:1", header: fwd(`for=unknown`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded obfuscated port", remote: "10.0.0.1:1", header: fwd(`for="198.51.100.3:_p"`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded element without for", remote: "10.0.0.1:1", header: fwd(`proto=https`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "X-Forwarded-For ignored when Forwarded is chosen", remote: "10.0.0.1:1", header: xff("198.51.100.1"), opts: fw, wantErr: httpgate.ErrNoHeader},
		// #13 finding 4: the old code took the first for= of each and split
		// inside quoted strings.
		{name: "Forwarded repeated for", remote: "10.0.0.1:1", header: fwd(`for=203.0.113.9;for=10.0.0.5`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded repeated for in another case", remote: "10.0.0.1:1", header: fwd(`for=203.0.113.9;For=10.0.0.5`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded repeated for behind empty quotes", remote: "10.0.0.1:1", header: fwd(`host="x";for=10.0.0.5;y="";for=203.0.113.9`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded repeated other parameter", remote: "10.0.0.1:1", header: fwd(`for=198.51.100.3;proto=http;PROTO=https`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded comma inside quotes", remote: "10.0.0.1:1", header: fwd(`for=198.51.100.3;host="a, for=10.0.0.9"`), opts: fw, want: "198.51.100.3"},
		{name: "Forwarded semicolon inside quotes", remote: "10.0.0.1:1", header: fwd(`host="a;for=10.0.0.9";for=198.51.100.3`), opts: fw, want: "198.51.100.3"},
		{name: "Forwarded escaped quote", remote: "10.0.0.1:1", header: fwd(`host="a\",for=10.0.0.9";for=198.51.100.3`), opts: fw, want: "198.51.100.3"},
		{name: "Forwarded escapes in the address", remote: "10.0.0.1:1", header: fwd(`for="198.51.100\.3"`), opts: fw, want: "198.51.100.3"},
		{name: "Forwarded unterminated quote", remote: "10.0.0.1:1", header: fwd(`for=198.51.100.3;host="a, for=10.0.0.9`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded unterminated quote to the left", remote: "10.0.0.1:1", header: fwd(`for="198.51.100.3, for=10.0.0.9`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded quote inside a token", remote: "10.0.0.1:1", header: fwd(`for=198"51.100.3"`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded text after a quoted string", remote: "10.0.0.1:1", header: fwd(`for="198.51.100.3"x`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded empty value", remote: "10.0.0.1:1", header: fwd(`for=`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded bad parameter name", remote: "10.0.0.1:1", header: fwd(`for=198.51.100.3;a b=c`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded pair without =", remote: "10.0.0.1:1", header: fwd(`for=198.51.100.3;secure`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded empty pairs and white space", remote: "10.0.0.1:1", header: fwd(` ;for=198.51.100.3; ;proto=https; `), opts: fw, want: "198.51.100.3"},
		{name: "Forwarded empty element", remote: "10.0.0.1:1", header: fwd(`for=198.51.100.3, ,for=10.0.0.2`), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded bare v6 with port", remote: "10.0.0.1:1", header: fwd(`for=[2001:db8::7]:4711`), opts: fw, want: "2001:db8::7"},
		{name: "Forwarded control character in quotes", remote: "10.0.0.1:1", header: fwd("for=198.51.100.3;host=\"a\x01\""), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded a bad element left of the client is not read", remote: "10.0.0.1:1", header: fwd(`for=unknown;for=x, for=198.51.100.3`), opts: fw, want: "198.51.100.3"},
		{name: "Forwarded several lines", remote: "10.0.0.1:1", header: fwd(`for=198.51.100.3`, `for=10.0.0.2;proto=https`), opts: fw, want: "198.51.100.3"},
		{name: "Forwarded too many elements", remote: "10.0.0.1:1", header: fwd(strings.Repeat("for=1.1.1.1,", 64) + "for=198.51.100.3"), opts: fw, wantErr: httpgate.ErrHeader},
		{name: "Forwarded too many elements over lines", remote: "10.0.0.1:1", header: fwd("for=1.1.1.1, for=198.51.100.3", strings.Repeat("for=10.1.1.1,", 62)+"for=10.1.1.1"), opts: trusting(httpgate.Options{Forwarded: true, MaxHops: 63}), wantErr: httpgate.ErrHeader},
		{name: "Forwarded 64 elements over lines", remote: "10.0.0.1:1", header: fwd("for=198.51.100.3", strings.Repeat("for=10.1.1.1,", 62)+"for=10.1.1.1"), opts: trusting(httpgate.Options{Forwarded: true, MaxHops: 63}), want: "198.51.100.3"},
		{name: "Forwarded lines left of the client are not read", remote: "10.0.0.1:1", header: fwd(strings.Repeat("for=1.1.1.1,", 100)+`for="`, "for=198.51.100.3"), opts: fw, want: "198.51.100.3"},
		{name: "Forwarded MaxHops raises the element limit", remote: "10.0.0.1:1", header: fwd("for=198.51.100.3, " + strings.Repeat("for=10.1.1.1,", 98) + "for=10.1.1.1"), opts: trusting(httpgate.Options{Forwarded: true, MaxHops: 100}), want: "198.51.100.3"},
		{name: "Forwarded default element limit", remote: "10.0.0.1:1", header: fwd("for=198.51.100.3, " + strings.Repeat("for=10.1.1.1,", 98) + "for=10.1.1.1"), opts: fw, wantErr: httpgate.ErrHeader},
	}
	d := allowing(t, true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate(t, d, &tt.opts)
			got, err := g.ClientAddr(req(tt.remote, tt.header))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got.IsValid() {
					t.Errorf("ClientAddr = %v, %v; want error %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != netip.MustParseAddr(tt.want) {
				t.Errorf("ClientAddr = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// TestClientIPHeader: a single-address header is read only when asked
// for and only from a trusted peer.
func TestClientIPHeader(t *testing.T) {
	t.Parallel()
	d := allowing(t, true)
	cf := &httpgate.Options{TrustedProxies: proxies, ClientIPHeader: "cf-connecting-ip"}
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name    string
		opts    *httpgate.Options
		remote  string
		header  http.Header
		want    string
		wantErr error
	}{
		{name: "read from a trusted peer", opts: cf, remote: "10.0.0.1:1", header: h("CF-Connecting-IP", "198.51.100.4"), want: "198.51.100.4"},
		{name: "white space", opts: cf, remote: "10.0.0.1:1", header: h("CF-Connecting-IP", " 198.51.100.4\t"), want: "198.51.100.4"},
		{name: "v6", opts: cf, remote: "10.0.0.1:1", header: h("CF-Connecting-IP", "2001:db8::4"), want: "2001:db8::4"},
		{name: "not from an untrusted peer", opts: cf, remote: "203.0.113.1:1", header: h("CF-Connecting-IP", "198.51.100.4"), want: "203.0.113.1"},
		{name: "never read unless asked", opts: &httpgate.Options{TrustedProxies: proxies}, remote: "10.0.0.1:1", header: h("CF-Connecting-IP", "198.51.100.4", "X-Forwarded-For", "198.51.100.5"), want: "198.51.100.5"},
		{name: "never read unless asked, no other header", opts: &httpgate.Options{TrustedProxies: proxies}, remote: "10.0.0.1:1", header: h("X-Real-IP", "198.51.100.4"), wantErr: httpgate.ErrNoHeader},
		{name: "X-Forwarded-For not read when asked for another", opts: cf, remote: "10.0.0.1:1", header: h("X-Forwarded-For", "198.51.100.5"), wantErr: httpgate.ErrNoHeader},
		{name: "two lines", opts: cf, remote: "10.0.0.1:1", header: h("CF-Connecting-IP", "198.51.100.4", "CF-Connecting-IP", "198.51.100.5"), wantErr: httpgate.ErrHeader},
		{name: "a list", opts: cf, remote: "10.0.0.1:1", header: h("CF-Connecting-IP", "198.51.100.4, 198.51.100.5"), wantErr: httpgate.ErrHeader},
		{name: "unparsable", opts: cf, remote: "10.0.0.1:1", header: h("CF-Connecting-IP", "localhost"), wantErr: httpgate.ErrHeader},
		{name: "empty", opts: cf, remote: "10.0.0.1:1", header: h("CF-Connecting-IP", ""), wantErr: httpgate.ErrHeader},
		{name: "a trusted address", opts: cf, remote: "10.0.0.1:1", header: h("CF-Connecting-IP", "10.0.0.7"), wantErr: httpgate.ErrAllTrusted},
		{name: "a trusted address, left-most asked", opts: &httpgate.Options{TrustedProxies: proxies, ClientIPHeader: "X-Real-IP", AllTrustedLeftmost: true}, remote: "10.0.0.1:1", header: h("X-Real-IP", "10.0.0.7"), want: "10.0.0.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newGate(t, d, tt.opts).ClientAddr(req(tt.remote, tt.header))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got.IsValid() {
					t.Errorf("ClientAddr = %v, %v; want error %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != netip.MustParseAddr(tt.want) {
				t.Errorf("ClientAddr = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	s := allowing(t, true)
	d := s.Check
	pp := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	tests := []struct {
		name    string
		d       func(check.Request) check.Decision
		opts    *httpgate.Options
		wantErr string
	}{
		{name: "nil options", d: d},
		{name: "mapped prefix", d: d, opts: &httpgate.Options{TrustedProxies: pp("::ffff:10.0.0.0/104", "::ffff:0:0/96")}},
		{name: "nil decider", wantErr: "httpgate.New: nil decider"},
		{name: "short mapped prefix", d: d, opts: &httpgate.Options{TrustedProxies: pp("10.0.0.0/8", "::ffff:0:0/95")},
			wantErr: `httpgate.New: trusted proxy "::ffff:0.0.0.0/95": IPv4-mapped prefix shorter than /96`},
		{name: "invalid prefix", d: d, opts: &httpgate.Options{TrustedProxies: []netip.Prefix{{}}},
			wantErr: `httpgate.New: trusted proxy "invalid Prefix": invalid prefix`},
		{name: "invalid bits", d: d, opts: &httpgate.Options{TrustedProxies: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr("10.0.0.1"), 33)}},
			wantErr: `httpgate.New: trusted proxy "invalid Prefix": invalid prefix`},
		{name: "every problem at once", opts: &httpgate.Options{TrustedProxies: pp("::ffff:0:0/1"), MaxHops: -1},
			wantErr: "httpgate.New: nil decider\nhttpgate.New: trusted proxy \"::ffff:0.0.0.0/1\": IPv4-mapped prefix shorter than /96\nhttpgate.New: negative MaxHops -1"},
		{name: "bad header name", d: d, opts: &httpgate.Options{TrustedProxies: proxies, ClientIPHeader: "X-Real-IP:\n"},
			wantErr: `httpgate.New: ClientIPHeader "X-Real-IP:\n" is not a header name`},
		{name: "two headers", d: d, opts: &httpgate.Options{TrustedProxies: proxies, ClientIPHeader: "X-Real-IP", Forwarded: true},
			wantErr: "httpgate.New: both ClientIPHeader and Forwarded are set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := httpgate.New(tt.d, tt.opts)
			switch {
			case tt.wantErr == "" && (err != nil || g == nil):
				t.Errorf("New = %v, %v; want a gate", g, err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr || g != nil):
				t.Errorf("New = %v, %v; want error %q", g, err, tt.wantErr)
			}
		})
	}
	// New copies and canonicalises the prefixes: the caller's slice stays
	// as written, and a later change to it changes nothing.
	in := pp("::ffff:10.0.0.0/104")
	g := newGate(t, s, &httpgate.Options{TrustedProxies: in})
	in[0] = netip.MustParsePrefix("192.0.2.0/24")
	if got, err := g.ClientAddr(req("10.1.2.3:1", xff("198.51.100.1"))); err != nil || got != netip.MustParseAddr("198.51.100.1") {
		t.Errorf("after changing the caller's slice: ClientAddr = %v, %v", got, err)
	}
}

// TestDisabled (#13 finding 6): a disabled policy allows every request,
// even one whose client address cannot be read; an enabled one denies it.
// The old code denied them all.
func TestDisabled(t *testing.T) {
	t.Parallel()
	opts := &httpgate.Options{TrustedProxies: proxies}
	for _, tc := range []struct {
		name   string
		remote string
		header http.Header
	}{
		{"Unix socket peer", "@", nil},
		{"empty peer", "", nil},
		{"trusted health check without header", "10.0.0.1:1", nil},
		{"malformed header", "10.0.0.1:1", xff("bogus")},
		{"all trusted", "10.0.0.1:1", xff("10.0.0.2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, enabled := range []bool{false, true} {
				g := newGate(t, allowing(t, enabled), opts)
				d, err := g.Check(req(tc.remote, tc.header))
				want := check.Decision{Reason: check.ReasonInvalid}
				if !enabled {
					want = check.Decision{Allowed: true, Reason: check.ReasonDisabled}
				}
				if d != want || err == nil {
					t.Errorf("enabled=%v: Check = %v, %v; want %v and an error", enabled, d, err, want)
				}
				w := httptest.NewRecorder()
				g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(w, req(tc.remote, tc.header))
				if wantCode := map[bool]int{false: 200, true: 403}[enabled]; w.Code != wantCode {
					t.Errorf("enabled=%v: Handler answered %d, want %d", enabled, w.Code, wantCode)
				}
			}
		})
	}
}

// TestMobileExempt: a mobile subject exempt from the policy passes without
// a readable address, as SEMANTICS §4.2 comes before §4.3.
func TestMobileExempt(t *testing.T) {
	t.Parallel()
	p := policy.New(policy.Rule{ID: "clients", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow})
	p.Settings.ApplyToMobile = false
	s, err := check.Compile(p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g := newGate(t, s, &httpgate.Options{Subject: func(r *http.Request) (bool, bool) { return false, r.Header.Get("X-Mobile") == "1" }})
	if d, err := g.Check(req("@", http.Header{"X-Mobile": {"1"}})); d != (check.Decision{Allowed: true, Reason: check.ReasonExempt}) || err == nil {
		t.Errorf("mobile: Check = %v, %v", d, err)
	}
	if d, err := g.Check(req("@", nil)); d != (check.Decision{Reason: check.ReasonInvalid}) || err == nil {
		t.Errorf("not mobile: Check = %v, %v", d, err)
	}
}

// lax is a decider that breaks SEMANTICS: it allows every request.
type lax struct{}

func (lax) Check(check.Request) check.Decision {
	return check.Decision{Allowed: true, Reason: check.ReasonDefault}
}

// TestErrorsDeny: an unreadable address denies unless the decider says
// disabled or exempt, whatever else it says.
func TestErrorsDeny(t *testing.T) {
	t.Parallel()
	g := newGate(t, lax{}, nil)
	if d, err := g.Check(req("@", nil)); d != (check.Decision{Reason: check.ReasonInvalid}) || !errors.Is(err, httpgate.ErrPeer) {
		t.Errorf("Check = %v, %v; want deny (invalid), ErrPeer", d, err)
	}
	if d, err := g.Check(req("192.0.2.1:1", nil)); !d.Allowed || err != nil {
		t.Errorf("Check = %v, %v; want the decider's allow", d, err)
	}
	// The zero Gate denies.
	var zero httpgate.Gate
	if d, err := zero.Check(req("192.0.2.1:1", nil)); d.Allowed || err != nil {
		t.Errorf("zero Gate: Check = %v, %v", d, err)
	}
	w := httptest.NewRecorder()
	zero.Handler(http.NotFoundHandler()).ServeHTTP(w, req("192.0.2.1:1", nil))
	if w.Code != http.StatusForbidden {
		t.Errorf("zero Gate: Handler answered %d", w.Code)
	}
}

// TestErrorsQuoted: header values reach an error only quoted and cut.
func TestErrorsQuoted(t *testing.T) {
	t.Parallel()
	d := allowing(t, true)
	forged := "bogus\nlevel=INFO msg=allowed client=198.51.100.1"
	long := strings.Repeat("x", 10000)
	for _, tc := range []struct {
		opts   httpgate.Options
		remote string
		header http.Header
	}{
		{httpgate.Options{}, forged, nil},
		{httpgate.Options{}, long, nil},
		{httpgate.Options{TrustedProxies: proxies}, "10.0.0.1:1", xff(forged)},
		{httpgate.Options{TrustedProxies: proxies}, "10.0.0.1:1", xff(long)},
		{httpgate.Options{TrustedProxies: proxies, Forwarded: true}, "10.0.0.1:1", fwd("for=" + forged)},
		{httpgate.Options{TrustedProxies: proxies, Forwarded: true}, "10.0.0.1:1", fwd(`for="` + long)},
		{httpgate.Options{TrustedProxies: proxies, Forwarded: true}, "10.0.0.1:1", fwd("for=" + long)},
		{httpgate.Options{TrustedProxies: proxies, ClientIPHeader: "X-Real-IP"}, "10.0.0.1:1", http.Header{"X-Real-Ip": {forged}}},
		{httpgate.Options{TrustedProxies: proxies, ClientIPHeader: "X-Real-IP"}, "10.0.0.1:1", http.Header{"X-Real-Ip": {long}}},
	} {
		_, err := newGate(t, d, &tc.opts).ClientAddr(req(tc.remote, tc.header))
		if err == nil {
			t.Fatalf("ClientAddr(%.20q) succeeded", tc.header)
		}
		if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || len(msg) > 200 {
			t.Errorf("error echoes the input raw: %.300q", msg)
		}
	}
	_, err := newGate(t, d, &httpgate.Options{TrustedProxies: proxies}).ClientAddr(req("10.0.0.1:1", xff("a\nb")))
	if want := `httpgate: unusable forwarding header: X-Forwarded-For element "a\nb"`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// TestClasses: the trust classes hold exactly the addresses netip's
// predicates name, and each call returns a slice of its own.
func TestClasses(t *testing.T) {
	t.Parallel()
	classes := []struct {
		name string
		f    func() []netip.Prefix
		is   func(netip.Addr) bool
	}{
		{"Private", httpgate.Private, netip.Addr.IsPrivate},
		{"Loopback", httpgate.Loopback, netip.Addr.IsLoopback},
		{"LinkLocal", httpgate.LinkLocal, netip.Addr.IsLinkLocalUnicast},
	}
	probes := []string{
		"0.0.0.0", "9.255.255.255", "10.0.0.0", "10.255.255.255", "11.0.0.0", "172.15.255.255", "172.16.0.0",
		"172.31.255.255", "172.32.0.0", "192.167.255.255", "192.168.0.0", "192.168.255.255", "192.169.0.0",
		"126.255.255.255", "127.0.0.0", "127.255.255.255", "128.0.0.0", "169.253.255.255", "169.254.0.0",
		"169.254.255.255", "169.255.0.0", "::", "::1", "::2", "fbff:ffff::", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"fe00::", "fe7f:ffff::", "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fec0::", "2001:db8::1",
	}
	for _, c := range classes {
		ps := c.f()
		for _, s := range probes {
			a := netip.MustParseAddr(s)
			if got := slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(a) }); got != c.is(a) {
				t.Errorf("%s() holds %v: %v, want %v", c.name, a, got, c.is(a))
			}
		}
		ps[0] = netip.Prefix{}
		if c.f()[0] == (netip.Prefix{}) {
			t.Errorf("%s() returns a shared slice", c.name)
		}
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	var seen []string
	g := newGate(t, allowing(t, true), &httpgate.Options{
		TrustedProxies: proxies,
		Subject:        func(r *http.Request) (bool, bool) { return r.Header.Get("X-Admin") == "yes", false },
		OnDecision: func(r *http.Request, d check.Decision, client netip.Addr, err error) {
			seen = append(seen, d.String()+" "+client.String())
		},
	})
	h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, client, ok := httpgate.FromContext(r.Context())
		if !ok {
			t.Error("no decision in the context")
		}
		w.Write([]byte(d.Rule + " " + client.String()))
	}))
	for _, tc := range []struct {
		remote, xff, admin string
		code               int
		body               string
	}{
		{"10.0.0.1:1", "198.51.100.5", "", 200, "clients 198.51.100.5"},
		{"10.0.0.1:1", "192.0.2.1", "", 403, ""},
		{"10.0.0.1:1", "198.51.100.5, bogus", "", 403, ""}, // never the proxy's (allowed) address
		{"10.0.0.1:1", "10.0.0.2", "", 403, ""},            // nor when every hop is a proxy
		{"10.0.0.1:1", "203.0.113.9", "", 403, ""},
		{"10.0.0.1:1", "203.0.113.9", "yes", 200, "admins 203.0.113.9"},
		{"10.0.0.1:1", "", "", 403, ""},
	} {
		r := req(tc.remote, nil)
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if tc.admin != "" {
			r.Header.Set("X-Admin", tc.admin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.code || tc.code == 200 && w.Body.String() != tc.body {
			t.Errorf("%s via %s: %d %q, want %d %q", tc.xff, tc.remote, w.Code, w.Body.String(), tc.code, tc.body)
		}
	}
	if len(seen) != 7 {
		t.Errorf("OnDecision saw %d decisions, want 7: %v", len(seen), seen)
	}
	// Check, which the framework adapters call, reports to OnDecision too.
	seen = nil
	r := req("10.0.0.1:1", nil)
	r.Header.Set("X-Forwarded-For", "198.51.100.5")
	if d, err := g.Check(r); err != nil || !d.Allowed || len(seen) != 1 || seen[0] != d.String()+" 198.51.100.5" {
		t.Errorf("Check = %v, %v; OnDecision saw %v", d, err, seen)
	}
	// A custom denial sees the decision in the context.
	g2 := newGate(t, allowing(t, true), &httpgate.Options{Deny: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, client, _ := httpgate.FromContext(r.Context())
		http.Error(w, d.String()+" "+client.String(), http.StatusUnauthorized)
	})})
	w := httptest.NewRecorder()
	g2.Handler(http.NotFoundHandler()).ServeHTTP(w, req("192.0.2.1:1", nil))
	if w.Code != http.StatusUnauthorized || w.Body.String() != "deny (default) 192.0.2.1\n" {
		t.Errorf("custom denial: %d %q", w.Code, w.Body.String())
	}
	// Check works without a server.
	if d, err := g2.Check(req("198.51.100.1:9", nil)); err != nil || !d.Allowed {
		t.Errorf("Check = %v, %v", d, err)
	}
}

// TestHugeHeaderIsFast: headers of about 1 MB, the default
// http.Server.MaxHeaderBytes, are read in bounded time.
func TestHugeHeaderIsFast(t *testing.T) {
	t.Parallel()
	d := allowing(t, true)
	for _, tc := range []struct {
		opts   httpgate.Options
		header http.Header
	}{
		{httpgate.Options{TrustedProxies: proxies}, xff(strings.Repeat("10.0.0.9,", 1<<17) + "10.0.0.2")},
		{httpgate.Options{TrustedProxies: proxies, Forwarded: true}, fwd(strings.Repeat("for=10.0.0.9,", 1<<17) + "for=10.0.0.2")},
		{httpgate.Options{TrustedProxies: proxies, Forwarded: true}, fwd(`for="` + strings.Repeat(`\"`, 1<<19) + `"`)},
	} {
		g := newGate(t, d, &tc.opts)
		r := req("10.0.0.1:1", tc.header)
		start := time.Now()
		if _, err := g.ClientAddr(r); err == nil {
			t.Errorf("ClientAddr succeeded on a huge header")
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("a huge header (%.30q) took %v", tc.header, d)
		}
	}
}
