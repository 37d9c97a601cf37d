package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/store/filestore"
)

type fixture struct {
	t *testing.T
	h http.Handler
}

func setup(t *testing.T) *fixture {
	t.Helper()
	st, err := filestore.Open(t.TempDir(), &filestore.Options{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h, closeFn, err := newServer(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	return &fixture{t: t, h: h}
}

func (f *fixture) do(method, path, body, remote string, admin bool) (int, map[string]any) {
	f.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(remote), 4711).String()
	if admin {
		r.Header.Set("X-DocSpace-Admin", "true")
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		f.t.Fatalf("%s %s: body %q is not JSON", method, path, w.Body.String())
	}
	return w.Code, out
}

// settle waits until the guarded route decides remote as want.
func (f *fixture) settle(remote string, admin bool, want int) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := f.do("GET", "/api/2.0/people/@self", "", remote, admin)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("GET /api/2.0/people/@self from %s (admin %v) = %d, want %d", remote, admin, code, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDocSpace(t *testing.T) {
	f := setup(t)
	// A new portal: no restrictions, enforcement off, everyone passes.
	code, body := f.do("GET", "/api/2.0/settings/iprestrictions", "", "192.0.2.1", true)
	if code != 200 || body["count"] != 0.0 || len(body["response"].([]any)) != 0 {
		t.Fatalf("GET list = %d %v", code, body)
	}
	code, body = f.do("GET", "/api/2.0/settings/iprestrictions/settings", "", "192.0.2.1", true)
	if code != 200 || body["response"].(map[string]any)["enable"] != false {
		t.Fatalf("GET settings = %d %v", code, body)
	}
	f.settle("203.0.113.1", false, 200)

	// The documented request: the whole list and the flag in one PUT.
	put := `{"ipRestrictions": [{"ip": "192.0.2.10", "forAdmin": false}, {"ip": "2001:db8::7", "forAdmin": true}], "enable": true}`
	code, body = f.do("PUT", "/api/2.0/settings/iprestrictions", put, "192.0.2.1", true)
	if code != 200 || body["response"].(map[string]any)["enable"] != true {
		t.Fatalf("PUT = %d %v", code, body)
	}
	code, body = f.do("GET", "/api/2.0/settings/iprestrictions", "", "192.0.2.1", true)
	list := body["response"].([]any)
	if code != 200 || len(list) != 2 || list[0].(map[string]any)["ip"] != "192.0.2.10" || list[1].(map[string]any)["forAdmin"] != true {
		t.Fatalf("GET list after PUT = %d %v", code, body)
	}
	// A non-empty list admits only listed addresses; forAdmin entries bind admins alone.
	f.settle("203.0.113.1", false, 403)
	f.settle("192.0.2.10", false, 200)
	f.settle("2001:db8::7", false, 403) // an admin-only entry does not admit a user
	f.settle("2001:db8::7", true, 200)
	f.settle("192.0.2.10", true, 200) // admins may use any listed address
	f.settle("203.0.113.1", true, 403)

	// Bad input: the product's 400, a message naming the field and value, nothing applied.
	for _, bad := range []struct{ body, msg string }{
		{`{"ipRestrictions": [{"ip": "10.0.0.0/8", "forAdmin": false}], "enable": true}`, `ipRestrictions[0].ip "10.0.0.0/8": only single IPv4 or IPv6 addresses can be stored`},
		{`{"ipRestrictions": [{"ip": "192.0.2.1"}, {"ip": "010.0.0.1"}]}`, `ipRestrictions[1].ip "010.0.0.1": rangeset.ParseRange`},
		{`{"ipRestrictions": [], "enable": true}`, `enable: true needs at least one address`},
		{`{"ipRestrictions": [{"forAdmin": true}]}`, `ipRestrictions[0].ip is required`},
		{`{"ipRestriction": []}`, `unknown field`},
	} {
		code, body = f.do("PUT", "/api/2.0/settings/iprestrictions", bad.body, "192.0.2.10", true)
		msg, _ := body["error"].(map[string]any)["message"].(string)
		if code != 400 || !strings.Contains(msg, bad.msg) {
			t.Errorf("PUT %s = %d %q, want 400 with %q", bad.body, code, msg, bad.msg)
		}
	}
	code, body = f.do("GET", "/api/2.0/settings/iprestrictions", "", "192.0.2.10", true)
	if len(body["response"].([]any)) != 2 {
		t.Errorf("a refused PUT changed the list: %v", body)
	}

	// An omitted enable follows the list: an empty list switches enforcement off.
	code, _ = f.do("PUT", "/api/2.0/settings/iprestrictions/settings", `{"ipRestrictions": []}`, "192.0.2.10", true)
	if code != 200 {
		t.Fatalf("PUT settings = %d", code)
	}
	code, body = f.do("GET", "/api/2.0/settings/iprestrictions/settings", "", "192.0.2.10", true)
	if body["response"].(map[string]any)["enable"] != false {
		t.Errorf("enable after an empty list = %v", body)
	}
	f.settle("203.0.113.1", false, 200)
}
