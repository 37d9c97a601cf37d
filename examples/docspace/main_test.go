package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/ipgate/ipgate/examples/internal/seed"
	"github.com/ipgate/ipgate/examples/internal/seed/seedtest"
	"github.com/ipgate/ipgate/store/memstore"
)

// The tokens: the documentation's own placeholder is the admin's, so
// that its requests replay verbatim.
const (
	adminToken = "your_api_key"
	userToken  = "a-user-token"
)

type fixture struct {
	t *testing.T
	h http.Handler
}

func setup(t *testing.T) *fixture {
	t.Helper()
	var creds seed.Credentials
	creds.Add(adminToken, seed.Principal{Account: "portal", Admin: true})
	creds.Add(userToken, seed.Principal{Account: "portal"})
	h, closeFn, err := newServer(t.Context(), &seed.Config{Store: memstore.New(nil), Credentials: &creds})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	return &fixture{t: t, h: h}
}

func (f *fixture) do(method, path, body, remote, token string) (int, map[string]any) {
	f.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(remote), 4711).String()
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		f.t.Fatalf("%s %s: body %q is not JSON", method, path, w.Body.String())
	}
	return w.Code, out
}

// settle checks that the guarded route decides remote as want. It does
// not wait: a write is answered once the route serves it.
func (f *fixture) settle(remote, token string, want int) {
	f.t.Helper()
	if code, _ := f.do("GET", "/api/2.0/people/@self", "", remote, token); code != want {
		f.t.Fatalf("GET /api/2.0/people/@self from %s (token %s) = %d, want %d", remote, token, code, want)
	}
}

func message(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

func TestReplay(t *testing.T) {
	seedtest.Replay(t, setup(t).h, "testdata/replay")
}

func TestDocSpace(t *testing.T) {
	f := setup(t)
	// A new portal: no restrictions, enforcement off, everyone passes.
	code, body := f.do("GET", "/api/2.0/settings/iprestrictions", "", "192.0.2.1", adminToken)
	if code != 200 || body["count"] != 0.0 || len(body["response"].([]any)) != 0 {
		t.Fatalf("GET list = %d %v", code, body)
	}
	code, body = f.do("GET", "/api/2.0/settings/iprestrictions/settings", "", "192.0.2.1", adminToken)
	if code != 200 || body["response"].(map[string]any)["enable"] != false {
		t.Fatalf("GET settings = %d %v", code, body)
	}
	f.settle("203.0.113.1", userToken, 200)

	// The whole list and the flag in one PUT.
	put := `{"ipRestrictions": [{"ip": "192.0.2.10", "forAdmin": false}, {"ip": "2001:db8::7", "forAdmin": true}], "enable": true}`
	code, body = f.do("PUT", "/api/2.0/settings/iprestrictions", put, "192.0.2.1", adminToken)
	if code != 200 || body["response"].(map[string]any)["enable"] != true {
		t.Fatalf("PUT = %d %v", code, body)
	}
	code, body = f.do("GET", "/api/2.0/settings/iprestrictions", "", "192.0.2.1", adminToken)
	list := body["response"].([]any)
	if code != 200 || len(list) != 2 || list[0].(map[string]any)["ip"] != "192.0.2.10" || list[1].(map[string]any)["forAdmin"] != true {
		t.Fatalf("GET list after PUT = %d %v", code, body)
	}
	// A non-empty list admits only listed addresses; forAdmin entries
	// bind admins alone; admin status comes from the token.
	f.settle("203.0.113.1", userToken, 403)
	f.settle("192.0.2.10", userToken, 200)
	f.settle("2001:db8::7", userToken, 403) // an admin-only entry does not admit a user
	f.settle("2001:db8::7", adminToken, 200)
	f.settle("192.0.2.10", adminToken, 200) // admins may use any listed address
	f.settle("203.0.113.1", adminToken, 403)
	// The old trusted header makes no one an admin.
	r := httptest.NewRequest("GET", "/api/2.0/people/@self", nil)
	r.RemoteAddr = "[2001:db8::7]:4711"
	r.Header.Set("Authorization", "Bearer "+userToken)
	r.Header.Set("X-DocSpace-Admin", "true")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != 403 {
		t.Errorf("a user claiming X-DocSpace-Admin from an admin-only address = %d, want 403", w.Code)
	}

	// Bad input: the product's 400, a message naming the field and value, nothing applied.
	for _, bad := range []struct {
		body string
		code int
		msg  string
	}{
		{`{"ipRestrictions": [{"ip": "10.0.0.0/8", "forAdmin": false}], "enable": true}`, 400, `ipRestrictions[0].ip "10.0.0.0/8": only single IPv4 or IPv6 addresses can be stored`},
		{`{"ipRestrictions": [{"ip": "192.0.2.1"}, {"ip": "010.0.0.1"}]}`, 400, `ipRestrictions[1].ip "010.0.0.1" is not an IP address: invalid IP address "010.0.0.1": IPv4 field has octet with leading zero`},
		{`{"ipRestrictions": [], "enable": true}`, 400, `enable: true needs at least one address`},
		{`{"ipRestrictions": [{"forAdmin": true}]}`, 400, `ipRestrictions[0].ip is required`},
		{`{"ipRestriction": []}`, 400, `Invalid request body: unknown field "ipRestriction"`},
		{`{"enable": "yes"}`, 400, `Invalid request body: enable must be true or false, not string`},
		{`{"ipRestrictions": []} {"enable": true}`, 400, `Invalid request body: unexpected data after the JSON value`},
		{`{"ipRestrictions": [],}`, 400, `Invalid request body: the request body is not valid JSON at byte 23`},
		{``, 400, `Invalid request body: the request body is empty`},
	} {
		code, body = f.do("PUT", "/api/2.0/settings/iprestrictions", bad.body, "192.0.2.10", adminToken)
		if msg := message(body); code != bad.code || !strings.Contains(msg, bad.msg) || strings.Contains(msg, "rangeset") || strings.Contains(msg, "json:") {
			t.Errorf("PUT %s = %d %q, want %d with %q", bad.body, code, msg, bad.code, bad.msg)
		}
	}
	code, body = f.do("GET", "/api/2.0/settings/iprestrictions", "", "192.0.2.10", adminToken)
	if code != 200 || len(body["response"].([]any)) != 2 {
		t.Errorf("a refused PUT changed the list: %v", body)
	}

	// The settings route switches enforcement and keeps the list.
	for _, tc := range []struct {
		body   string
		code   int
		enable bool
	}{
		{`{"enable": false}`, 200, false},
		{`{"enable": true}`, 200, true},
		{`{}`, 400, true},
		{`{"ipRestrictions": []}`, 400, true},
		{`{"enable": false, "enable": true}`, 400, true},
	} {
		code, body = f.do("PUT", "/api/2.0/settings/iprestrictions/settings", tc.body, "192.0.2.10", adminToken)
		if code != tc.code {
			t.Errorf("PUT settings %s = %d %v, want %d", tc.body, code, body, tc.code)
		}
		code, body = f.do("GET", "/api/2.0/settings/iprestrictions/settings", "", "192.0.2.10", adminToken)
		if code != 200 || body["response"].(map[string]any)["enable"] != tc.enable {
			t.Errorf("after PUT settings %s: %v, want enable %v", tc.body, body, tc.enable)
		}
		code, body = f.do("GET", "/api/2.0/settings/iprestrictions", "", "192.0.2.10", adminToken)
		if code != 200 || len(body["response"].([]any)) != 2 {
			t.Errorf("PUT settings %s changed the list: %v", tc.body, body)
		}
	}
	f.settle("203.0.113.1", userToken, 403)

	// An omitted enable follows the list: an empty list switches enforcement off.
	code, _ = f.do("PUT", "/api/2.0/settings/iprestrictions", `{"ipRestrictions": []}`, "192.0.2.10", adminToken)
	if code != 200 {
		t.Fatalf("PUT an empty list = %d", code)
	}
	code, body = f.do("GET", "/api/2.0/settings/iprestrictions/settings", "", "192.0.2.10", adminToken)
	if code != 200 || body["response"].(map[string]any)["enable"] != false {
		t.Errorf("enable after an empty list = %v", body)
	}
	code, body = f.do("PUT", "/api/2.0/settings/iprestrictions/settings", `{"enable": true}`, "192.0.2.10", adminToken)
	if msg := message(body); code != 400 || !strings.Contains(msg, "needs at least one address") {
		t.Errorf("PUT settings enable over an empty list = %d %q, want 400", code, msg)
	}
	f.settle("203.0.113.1", userToken, 200)
}

func TestCredentials(t *testing.T) {
	f := setup(t)
	put := `{"enable": true, "ipRestrictions": [{"ip": "192.0.2.10", "forAdmin": false}]}`
	for _, c := range []struct {
		method, path, body, token string
		code                      int
	}{
		{"PUT", "/api/2.0/settings/iprestrictions", put, "", 401},
		{"PUT", "/api/2.0/settings/iprestrictions", put, "your_api_kez", 401},
		{"PUT", "/api/2.0/settings/iprestrictions/settings", put, "", 401},
		{"GET", "/api/2.0/settings/iprestrictions", "", "", 401},
		{"GET", "/api/2.0/settings/iprestrictions/settings", "", "wrong", 401},
		{"GET", "/api/2.0/people/@self", "", "", 401},
		{"PUT", "/api/2.0/settings/iprestrictions", put, userToken, 403},
		{"GET", "/api/2.0/settings/iprestrictions", "", userToken, 403},
	} {
		code, body := f.do(c.method, c.path, c.body, "192.0.2.1", c.token)
		if code != c.code || body["statusCode"] != float64(c.code) || message(body) == "" {
			t.Errorf("%s %s with token %q = %d %v, want %d in the envelope", c.method, c.path, c.token, code, body, c.code)
		}
	}
	code, body := f.do("GET", "/api/2.0/settings/iprestrictions", "", "192.0.2.1", adminToken)
	if code != 200 || len(body["response"].([]any)) != 0 {
		t.Errorf("a refused write changed the list: %d %v", code, body)
	}
}

func TestLimits(t *testing.T) {
	f := setup(t)
	seedtest.SlowHeader(t, f.h)
	w := seedtest.HugeBody(t, f.h, "PUT", "/api/2.0/settings/iprestrictions",
		map[string]string{"Authorization": "Bearer " + adminToken, "Content-Type": "application/json"}, `{"ipRestrictions": [{"ip": "`)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["statusCode"] != 413.0 || !strings.Contains(message(body), "larger than 1048576 bytes") {
		t.Errorf("413 body = %s, want DocSpace's envelope", w.Body)
	}
}

func TestUnroutedInEnvelope(t *testing.T) {
	f := setup(t)
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"POST", "/api/2.0/settings/iprestrictions", 405},
		{"GET", "/api/2.0/settings/nothing", 404},
	} {
		code, body := f.do(c.method, c.path, "", "192.0.2.1", adminToken)
		if code != c.code || body["statusCode"] != float64(c.code) || message(body) == "" {
			t.Errorf("%s %s = %d %v, want %d in the envelope", c.method, c.path, code, body, c.code)
		}
	}
}

// A write is answered only once the guarded route decides by it: a
// request right after enabling the list is refused.
func TestWriteThenRequest(t *testing.T) {
	f := setup(t)
	for i := range 100 {
		if code, body := f.do("PUT", "/api/2.0/settings/iprestrictions", `{"enable": true, "ipRestrictions": [{"ip": "192.0.2.1"}]}`, "192.0.2.1", adminToken); code != 200 {
			t.Fatalf("round %d: PUT list = %d %v", i, code, body)
		}
		f.settle("198.51.100.7", userToken, 403)
		if code, body := f.do("PUT", "/api/2.0/settings/iprestrictions/settings", `{"enable": false}`, "192.0.2.1", adminToken); code != 200 {
			t.Fatalf("round %d: PUT settings = %d %v", i, code, body)
		}
		f.settle("198.51.100.7", userToken, 200)
	}
}
