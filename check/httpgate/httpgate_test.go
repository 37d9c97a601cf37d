package middleware_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/examples/middleware"
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

func TestClientAddr(t *testing.T) {
	t.Parallel()
	xff := func(v ...string) http.Header { return http.Header{"X-Forwarded-For": v} }
	fwd := func(v ...string) http.Header { return http.Header{"Forwarded": v} }
	tests := []struct {
		name    string
		opts    middleware.Options
		remote  string
		header  http.Header
		want    string // "" for an error
		wantErr error
	}{
		{name: "peer only", remote: "203.0.113.7:1234", want: "203.0.113.7"},
		{name: "untrusted peer: header ignored", remote: "203.0.113.7:1234", header: xff("10.1.1.1"), opts: middleware.Options{TrustedProxies: proxies}, want: "203.0.113.7"},
		{name: "no trusted proxies: header ignored", remote: "10.0.0.1:1", header: xff("198.51.100.1"), want: "10.0.0.1"},
		{name: "one hop", remote: "10.0.0.1:1", header: xff("198.51.100.1"), opts: middleware.Options{TrustedProxies: proxies}, want: "198.51.100.1"},
		{name: "client-written left-most value is skipped", remote: "10.0.0.1:1", header: xff("10.9.9.9, 198.51.100.1, 10.0.0.2"), opts: middleware.Options{TrustedProxies: proxies}, want: "198.51.100.1"},
		{name: "spoofed allowlisted address on the left", remote: "10.0.0.1:1", header: xff("192.168.1.1", "198.51.100.1"), opts: middleware.Options{TrustedProxies: proxies}, want: "198.51.100.1"},
		{name: "several header lines combine, last line last", remote: "10.0.0.1:1", header: xff("198.51.100.9", "10.0.0.3, 10.0.0.2"), opts: middleware.Options{TrustedProxies: proxies}, want: "198.51.100.9"},
		{name: "every hop trusted: left-most", remote: "10.0.0.1:1", header: xff("10.0.0.5, 10.0.0.4"), opts: middleware.Options{TrustedProxies: proxies}, want: "10.0.0.5"},
		{name: "malformed hop denies, never falls back to the proxy", remote: "10.0.0.1:1", header: xff("198.51.100.1, garbage"), opts: middleware.Options{TrustedProxies: proxies}, wantErr: middleware.ErrHeader},
		{name: "empty element", remote: "10.0.0.1:1", header: xff("198.51.100.1,,10.0.0.2"), opts: middleware.Options{TrustedProxies: proxies}, wantErr: middleware.ErrHeader},
		{name: "empty header line", remote: "10.0.0.1:1", header: xff(""), opts: middleware.Options{TrustedProxies: proxies}, wantErr: middleware.ErrHeader},
		{name: "unknown", remote: "10.0.0.1:1", header: xff("unknown"), opts: middleware.Options{TrustedProxies: proxies}, wantErr: middleware.ErrHeader},
		{name: "trusted peer without header", remote: "10.0.0.1:1", opts: middleware.Options{TrustedProxies: proxies}, wantErr: middleware.ErrNoHeader},
		{name: "trusted peer without header, allowed", remote: "10.0.0.1:1", opts: middleware.Options{TrustedProxies: proxies, AllowNoHeader: true}, want: "10.0.0.1"},
		{name: "too many trusted hops", remote: "10.0.0.1:1", header: xff(strings.Repeat("10.0.0.9, ", 20) + "10.0.0.2"), opts: middleware.Options{TrustedProxies: proxies, MaxHops: 5}, wantErr: middleware.ErrHops},
		{name: "huge header is bounded: the right end decides", remote: "10.0.0.1:1", header: xff(strings.Repeat("x,", 1<<20) + "198.51.100.1"), opts: middleware.Options{TrustedProxies: proxies}, want: "198.51.100.1"},
		{name: "ports, brackets, zones and mapped forms", remote: "10.0.0.1:1", header: xff("[2001:db8::1]:443"), opts: middleware.Options{TrustedProxies: proxies}, want: "2001:db8::1"},
		{name: "mapped element", remote: "10.0.0.1:1", header: xff("::ffff:198.51.100.1"), opts: middleware.Options{TrustedProxies: proxies}, want: "198.51.100.1"},
		{name: "v4 with port", remote: "10.0.0.1:1", header: xff("198.51.100.1:5555"), opts: middleware.Options{TrustedProxies: proxies}, want: "198.51.100.1"},
		{name: "mapped peer", remote: "[::ffff:10.0.0.1]:80", header: xff("198.51.100.1"), opts: middleware.Options{TrustedProxies: proxies}, want: "198.51.100.1"},
		{name: "zoned peer", remote: "[fe80::1%eth0]:80", want: "fe80::1"},
		{name: "bad peer", remote: "not-an-ip", wantErr: middleware.ErrPeer},
		{name: "Forwarded for= with quotes, brackets and port", remote: "10.0.0.1:1", header: fwd(`for="[2001:db8::7]:4711";proto=https, for=10.0.0.2`), opts: middleware.Options{TrustedProxies: proxies, Forwarded: true}, want: "2001:db8::7"},
		{name: "Forwarded FOR in any case", remote: "10.0.0.1:1", header: fwd(`By=10.0.0.1;FOR=198.51.100.3`), opts: middleware.Options{TrustedProxies: proxies, Forwarded: true}, want: "198.51.100.3"},
		{name: "Forwarded obfuscated", remote: "10.0.0.1:1", header: fwd(`for=_hidden`), opts: middleware.Options{TrustedProxies: proxies, Forwarded: true}, wantErr: middleware.ErrHeader},
		{name: "Forwarded unknown", remote: "10.0.0.1:1", header: fwd(`for=unknown`), opts: middleware.Options{TrustedProxies: proxies, Forwarded: true}, wantErr: middleware.ErrHeader},
		{name: "Forwarded element without for", remote: "10.0.0.1:1", header: fwd(`proto=https`), opts: middleware.Options{TrustedProxies: proxies, Forwarded: true}, wantErr: middleware.ErrHeader},
		{name: "X-Forwarded-For ignored when Forwarded is chosen", remote: "10.0.0.1:1", header: xff("198.51.100.1"), opts: middleware.Options{TrustedProxies: proxies, Forwarded: true}, wantErr: middleware.ErrNoHeader},
	}
	c := checkerAllowing(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := middleware.New(c, &tt.opts)
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

// checkerAllowing returns a checker that allows 198.51.100.0/24 and the
// proxies' own network (so that deciding on a proxy would be an allow).
func checkerAllowing(t *testing.T) *check.Checker {
	t.Helper()
	c, err := check.NewChecker(policy.New(
		policy.Rule{ID: "clients", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow},
		policy.Rule{ID: "proxies", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow},
		policy.Rule{ID: "admins", Target: rangeset.MustParseRange("203.0.113.0/24"), Action: policy.Allow, AdminOnly: true},
	), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestHandler(t *testing.T) {
	t.Parallel()
	var seen []string
	g := middleware.New(checkerAllowing(t), &middleware.Options{
		TrustedProxies: proxies,
		Subject:        func(r *http.Request) (bool, bool) { return r.Header.Get("X-Admin") == "yes", false },
		OnDecision: func(r *http.Request, d check.Decision, client netip.Addr, err error) {
			seen = append(seen, d.String()+" "+client.String())
		},
	})
	h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, client, ok := middleware.FromContext(r.Context())
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
	if len(seen) != 6 {
		t.Errorf("OnDecision saw %d decisions, want 6: %v", len(seen), seen)
	}
	// A custom denial.
	g2 := middleware.New(checkerAllowing(t), &middleware.Options{Deny: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "go away", http.StatusUnauthorized)
	})})
	w := httptest.NewRecorder()
	g2.Handler(http.NotFoundHandler()).ServeHTTP(w, req("192.0.2.1:1", nil))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("custom denial: %d", w.Code)
	}
	// Check works without a server.
	if d, err := g2.Check(req("198.51.100.1:9", nil)); err != nil || !d.Allowed {
		t.Errorf("Check = %v, %v", d, err)
	}
}

func TestHugeHeaderIsFast(t *testing.T) {
	t.Parallel()
	g := middleware.New(checkerAllowing(t), &middleware.Options{TrustedProxies: proxies})
	r := req("10.0.0.1:1", http.Header{"X-Forwarded-For": {strings.Repeat("10.0.0.9,", 1<<20) + "10.0.0.2"}})
	start := time.Now()
	_, err := g.ClientAddr(r)
	if !errors.Is(err, middleware.ErrHops) {
		t.Errorf("ClientAddr = %v, want ErrHops", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("a 10 MB header took %v", d)
	}
}

// FuzzClientAddr: the result is an error, the peer, or a header element
// with no untrusted element to its right.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.1:1", "198.51.100.1, 10.0.0.2", "", false)
	f.Add("10.0.0.1:1", `for="[2001:db8::7]:4711";proto=https, for=10.0.0.2`, "for=10.0.0.3", true)
	f.Add("203.0.113.7:1234", "10.1.1.1", "", false)
	f.Add("[fd00::1]:1", "10.0.0.9, ::ffff:10.0.0.1", "198.51.100.4", false)
	snap, err := check.Compile(policy.New(), time.Now())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, line1, line2 string, forwarded bool) {
		g := middleware.New(snap, &middleware.Options{TrustedProxies: proxies, Forwarded: forwarded})
		name := "X-Forwarded-For"
		if forwarded {
			name = "Forwarded"
		}
		h := http.Header{}
		for _, l := range []string{line1, line2} {
			if l != "" {
				h.Add(name, l)
			}
		}
		got, err := g.ClientAddr(req(remote, h))
		if err != nil {
			if got.IsValid() {
				t.Fatalf("ClientAddr = %v with error %v", got, err)
			}
			return
		}
		if got.Is4In6() || got.Zone() != "" {
			t.Fatalf("ClientAddr = %v, not normalized", got)
		}
		if peer, perr := refParse(remote, false); perr && peer == got && !trusted(peer) {
			return // the untrusted peer itself
		}
		var elems []string
		for _, l := range h.Values(name) {
			elems = append(elems, strings.Split(l, ",")...)
		}
		for i := len(elems) - 1; i >= 0; i-- {
			a, ok := refParse(elems[i], forwarded)
			if !ok {
				t.Fatalf("ClientAddr = %v though element %q to its right does not parse", got, elems[i])
			}
			if a == got && (!trusted(a) || i == 0) {
				return
			}
			if !trusted(a) {
				t.Fatalf("ClientAddr = %v, but %v is untrusted and further right", got, a)
			}
		}
		if peer, ok := refParse(remote, false); ok && peer == got {
			return // a trusted peer allowed to speak for itself
		}
		t.Fatalf("ClientAddr = %v is neither the peer %q nor an element of %q", got, remote, elems)
	})
}

func trusted(a netip.Addr) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// refParse reads an element the slow way: net/netip alone.
func refParse(elem string, forwarded bool) (netip.Addr, bool) {
	elem = strings.Trim(elem, " \t")
	if forwarded {
		found := false
		for _, pair := range strings.Split(elem, ";") {
			k, v, ok := strings.Cut(strings.Trim(pair, " \t"), "=")
			if ok && strings.ToLower(k) == "for" {
				elem, found = strings.TrimSuffix(strings.TrimPrefix(v, `"`), `"`), true
				if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
					elem = v
				}
				break
			}
		}
		if !found {
			return netip.Addr{}, false
		}
	}
	if ap, err := netip.ParseAddrPort(elem); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	elem = strings.TrimSuffix(strings.TrimPrefix(elem, "["), "]")
	a, err := netip.ParseAddr(elem)
	return a.Unmap().WithZone(""), err == nil
}
