package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/examples/internal/trustflag"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func TestParseTrust(t *testing.T) {
	t.Parallel()
	got, err := trustflag.Parse(" loopback, 10.0.0.0/8,192.0.2.1,::ffff:10.0.0.0/104,, link-local, ::ffff:127.0.0.1, 10.1.2.3/16")
	if err != nil {
		t.Fatal(err)
	}
	var want []netip.Prefix
	for _, s := range []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "192.0.2.1/32", "10.0.0.0/8", "169.254.0.0/16", "fe80::/10", "127.0.0.1/32", "10.1.0.0/16"} {
		want = append(want, netip.MustParsePrefix(s))
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseTrust = %v, want %v", got, want)
	}
	if got, err := trustflag.Parse(""); err != nil || len(got) != 0 {
		t.Errorf(`trustflag.Parse("") = %v, %v`, got, err)
	}
	for _, bad := range []string{"::ffff:0:0/95", "::ffff:10.0.0.0/64"} {
		if _, err := trustflag.Parse(bad); err == nil {
			t.Errorf("trustflag.Parse(%q) succeeded", bad)
		}
	}
	if _, err := trustflag.Parse("private,10.0.0.5/33,"); err == nil || err.Error() != `-trust: "10.0.0.5/33" is not a prefix, an address or one of private, loopback, link-local` {
		t.Errorf("parseTrust of a bad prefix: %v", err)
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	snap, err := check.Compile(policy.New(
		policy.Rule{ID: "partners", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow},
		policy.Rule{ID: "loopback", Target: rangeset.MustParseRange("127.0.0.0/8"), Action: policy.Allow},
	), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	proxies, err := trustflag.Parse("loopback")
	if err != nil {
		t.Fatal(err)
	}
	h, err := handler(snap.Check, proxies, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, tc := range []struct {
		path, xff string
		code      int
	}{
		{"/private", "198.51.100.7", 200},
		{"/private", "203.0.113.9", 403},
		{"/private", "127.0.0.2", 403}, // every address a proxy's
		{"/private", "", 403},          // a proxy that sent no header
		{"/", "203.0.113.9", 200},
	} {
		r, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("GET %s with X-Forwarded-For %q: %d, want %d", tc.path, tc.xff, resp.StatusCode, tc.code)
		}
	}
}
