package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/ipgate/ipgate/examples/internal/seed"
	"github.com/ipgate/ipgate/examples/internal/seed/seedtest"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

// The documentation's own placeholder is the admin's token of site
// 10000, so that its requests replay verbatim.
const (
	adminToken = "{access_token}"
	agentToken = "agent-of-10000"
	otherAdmin = "admin-of-10001"
)

func setup(t *testing.T, maxTenants int, ids ...string) *server {
	t.Helper()
	var creds seed.Credentials
	creds.Add(adminToken, seed.Principal{Account: "10000", Admin: true})
	creds.Add(agentToken, seed.Principal{Account: "10000"})
	creds.Add(otherAdmin, seed.Principal{Account: "10001", Admin: true})
	newID := guid
	if ids != nil {
		newID = seedtest.IDs(t, ids...)
	}
	s, err := newServer(&seed.Config{Store: memstore.New(nil), Credentials: &creds, MaxTenants: maxTenants}, newID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s
}

func do(t *testing.T, s *server, method, path, body string, hdr map[string]string, remote string) (int, any) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+adminToken)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if remote != "" {
		r.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(remote), 443).String()
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	var out any
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: %q is not JSON", method, path, w.Body.String())
		}
	}
	return w.Code, out
}

func message(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["message"].(string)
	return s
}

func TestReplay(t *testing.T) {
	s := setup(t, 0, "f072ad60-b2d7-4f0c-831c-7fdd2a702e9f", "42dwdaww-92e6-4487-a2e8-92e68d6892e6", "4487fc9d-92e6-4487-a2e8-92e68d6892e6")
	seedtest.Replay(t, s, "testdata/replay")
}

func TestComm100(t *testing.T) {
	s := setup(t, 0)
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	login := func(remote string, mobile bool) int {
		t.Helper()
		h := map[string]string{"Authorization": "Bearer " + agentToken}
		if mobile {
			h["X-Comm100-Mobile"] = "true"
		}
		code, _ := do(t, s, "POST", "/login", "", h, remote)
		return code
	}
	const v3path = "/api/v3/globalSettings/whitelistedLoginIPRanges"

	code, got := do(t, s, "POST", "/v4/global/loginIpAllowlistConfig:enable", "", nil, "")
	if code != 200 || got.(map[string]any)["isEnabled"] != true {
		t.Fatalf(":enable = %d %s", code, js(got))
	}
	// Enabled with no range: every address still logs in.
	if c := login("203.0.113.9", false); c != 200 {
		t.Errorf("login with an empty allowlist = %d, want 200", c)
	}
	code, got = do(t, s, "POST", "/v4/global/loginIpAllowlists", `{"ipRangeFrom":"192.168.0.1","ipRangeTo":"192.168.0.100"}`, nil, "")
	obj, _ := got.(map[string]any)
	id, _ := obj["id"].(string)
	if code != 201 || len(id) != 36 {
		t.Fatalf("POST range = %d %s", code, js(got))
	}
	for remote, want := range map[string]int{"192.168.0.50": 200, "192.168.0.101": 403, "203.0.113.9": 403} {
		if c := login(remote, false); c != want {
			t.Errorf("login from %s = %d, want %d", remote, c, want)
		}
	}
	// Mobile logins are exempt until the flag says otherwise.
	if c := login("203.0.113.9", true); c != 200 {
		t.Errorf("mobile login, flag off = %d, want 200", c)
	}
	code, _ = do(t, s, "PUT", "/v4/global/loginIpAllowlistConfig", `{"isLoginIpAllowlistApplicableForMobileAccess":true,}`, nil, "")
	if c := login("203.0.113.9", true); code != 200 || c != 403 {
		t.Errorf("mobile login, flag on = %d (PUT %d), want 403", c, code)
	}
	// An empty PUT changes nothing.
	code, got = do(t, s, "PUT", "/v4/global/loginIpAllowlistConfig", "", nil, "")
	if want := `{"isEnabled":true,"isLoginIpAllowlistApplicableForMobileAccess":true,"siteId":10000}`; code != 200 || js(got) != want {
		t.Errorf("empty PUT = %d %s, want %s", code, js(got), want)
	}

	// Version 3 sees the same site.
	code, got = do(t, s, "GET", v3path, "", nil, "")
	if list, _ := got.([]any); code != 200 || len(list) != 1 || list[0].(map[string]any)["ipFrom"] != "192.168.0.1" {
		t.Errorf("v3 GET = %d %s", code, js(got))
	}
	code, _ = do(t, s, "POST", v3path, `{"ipFrom":"2001:db8::1","ipTo":"2001:db8::ff", "id": "ignored", "createdTime": "ignored"}`, nil, "")
	if c := login("2001:db8::10", false); code != 201 || c != 200 {
		t.Errorf("login from inside the v3 range = %d (POST %d), want 200", c, code)
	}
	code, got = do(t, s, "PUT", "/v4/global/loginIpAllowlists/"+id, `{"ipRangeFrom":"192.168.0.1","ipRangeTo":"192.168.0.200"}`, nil, "")
	if c := login("192.168.0.150", false); code != 200 || c != 200 {
		t.Errorf("login after the update = %d (PUT %d %s)", c, code, js(got))
	}

	// Bad input: 400 (413), the field and value named, nothing applied.
	for _, bad := range []struct{ method, path, body, msg string }{
		{"POST", "/v4/global/loginIpAllowlists", `{"ipRangeFrom":"192.168.0.100","ipRangeTo":"192.168.0.1"}`, `ipRangeFrom "192.168.0.100" to ipRangeTo "192.168.0.1": range start is above its end`},
		{"POST", "/v4/global/loginIpAllowlists", `{"ipRangeFrom":"192.168.0.1"}`, `ipRangeTo is required`},
		{"POST", "/v4/global/loginIpAllowlists", ``, `invalid request body: the request body is empty`},
		{"POST", "/v4/global/loginIpAllowlists", `{"ipRangeFrom":"192.168.0.1/24","ipRangeTo":"192.168.0.9"}`, `ipRangeFrom "192.168.0.1/24" is not an IP address`},
		{"POST", v3path, `{"ipFrom":"10.0.0.1","ipTo":"fe80::1%eth0"}`, `ipTo "fe80::1%eth0" is not an IP address: zone not allowed`},
		{"POST", v3path, `{"ipFrom":10,"ipTo":"10.0.0.2"}`, `ipFrom must be a string holding an IP address, not "10"`},
		{"POST", "/v4/global/loginIpAllowlists", `{"ipRangeFrom":"1.1.1.1","ipRangeTo":"1.1.1.2","extra":1}`, `invalid request body: unknown field "extra"`},
		{"POST", "/v4/global/loginIpAllowlists", `{"ipFrom":"1.1.1.1","ipTo":"1.1.1.2"}`, `unknown field "ipFrom"`},
		{"POST", "/v4/global/loginIpAllowlists", `{"ipRangeFrom":"10.0.0.1","ipRangeFrom":"0.0.0.0","ipRangeTo":"255.255.255.255"}`, `field "ipRangeFrom" is given twice`},
		{"PUT", "/v4/global/loginIpAllowlistConfig", `{"isEnabled":true,"ISENABLED":false}`, `unknown field "ISENABLED" (field names are case-sensitive)`},
		{"POST", v3path, `{"ipFrom":"1.1.1.1","ipTo":"1.1.1.2"} {}`, `invalid request body: unexpected data after the JSON value`},
		// The trailing comma before } or ] is the only leniency.
		{"POST", v3path, `{"ipFrom":"1.1.1.1",,"ipTo":"1.1.1.2"}`, `not valid JSON`},
		{"POST", v3path, `{"ipFrom":"1.1.1.1", /* c */ "ipTo":"1.1.1.2"}`, `not valid JSON`},
		{"POST", v3path, `{'ipFrom':"1.1.1.1","ipTo":"1.1.1.2"}`, `not valid JSON`},
		{"POST", v3path, `{,}`, `not valid JSON`},
		{"PUT", "/v4/global/loginIpAllowlistConfig", `{"isEnabled":"yes"}`, `isEnabled must be true or false, not string`},
	} {
		code, got := do(t, s, bad.method, bad.path, bad.body, nil, "")
		if msg := message(got); code != 400 || !strings.Contains(msg, bad.msg) || got.(map[string]any)["code"] != 400.0 {
			t.Errorf("%s %s %s = %d %s, want 400 with %q", bad.method, bad.path, bad.body, code, js(got), bad.msg)
		}
	}
	code, got = do(t, s, "GET", "/v4/global/loginIpAllowlists", "", nil, "")
	if list, _ := got.([]any); len(list) != 2 {
		t.Errorf("bad input changed the list: %d %s", code, js(got))
	}
	code, got = do(t, s, "GET", "/v4/global/loginIpAllowlists/no-such-id", "", nil, "")
	if msg := message(got); code != 404 || msg != `id "no-such-id": no such login IP allowlist` {
		t.Errorf("GET unknown id = %d %q", code, msg)
	}
	code, _ = do(t, s, "DELETE", "/v4/global/loginIpAllowlists/"+id, "", nil, "")
	if code != 204 {
		t.Errorf("DELETE = %d", code)
	}
	code, got = do(t, s, "POST", "/v4/global/loginIpAllowlistConfig:disable", "", nil, "")
	if c := login("203.0.113.9", false); code != 200 || c != 200 {
		t.Errorf("login after :disable = %d (%d %s)", c, code, js(got))
	}
}

func TestCredentials(t *testing.T) {
	s := setup(t, 0)
	for _, c := range []struct {
		method, path, body, token string
		code                      int
	}{
		{"POST", "/v4/global/loginIpAllowlists", `{"ipRangeFrom":"192.168.0.1","ipRangeTo":"192.168.0.100"}`, "", 401},
		{"POST", "/api/v3/globalSettings/whitelistedLoginIPRanges", `{"ipFrom":"192.168.0.1","ipTo":"192.168.0.100"}`, "{access_tokens}", 401},
		{"PUT", "/v4/global/loginIpAllowlistConfig", `{"isEnabled":true}`, "", 401},
		{"POST", "/v4/global/loginIpAllowlistConfig:enable", ``, "", 401},
		{"GET", "/v4/global/loginIpAllowlistConfig", ``, "", 401},
		{"GET", "/api/v3/globalSettings/whitelistedLoginIPRanges", ``, "", 401},
		{"POST", "/login", ``, "", 401},
		{"POST", "/v4/global/loginIpAllowlistConfig:enable", ``, agentToken, 403},
		{"GET", "/v4/global/loginIpAllowlistConfig?siteId=10001", ``, adminToken, 403},
	} {
		r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		if c.token != "" {
			r.Header.Set("Authorization", "Bearer "+c.token)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		var got map[string]any
		json.Unmarshal(w.Body.Bytes(), &got)
		if w.Code != c.code || got["code"] != float64(c.code) || message(got) == "" {
			t.Errorf("%s %s with token %q = %d %s, want %d in the envelope", c.method, c.path, c.token, w.Code, w.Body, c.code)
		}
	}
	// Each token works on its own site.
	code, got := do(t, s, "GET", "/v4/global/loginIpAllowlistConfig", "", map[string]string{"Authorization": "Bearer " + otherAdmin}, "")
	if code != 200 || got.(map[string]any)["siteId"] != 10001.0 {
		t.Errorf("GET config as the admin of 10001 = %d %v", code, got)
	}
	code, got = do(t, s, "GET", "/v4/global/loginIpAllowlistConfig", "", nil, "")
	if code != 200 || got.(map[string]any)["isEnabled"] != false {
		t.Errorf("a refused write changed the config: %d %v", code, got)
	}
}

func TestTenantLimit(t *testing.T) {
	s := setup(t, 1)
	if code, got := do(t, s, "GET", "/v4/global/loginIpAllowlistConfig", "", nil, ""); code != 200 {
		t.Fatalf("the first site = %d %v", code, got)
	}
	code, got := do(t, s, "GET", "/v4/global/loginIpAllowlistConfig", "", map[string]string{"Authorization": "Bearer " + otherAdmin}, "")
	if msg := message(got); code != 503 || msg != "site 10001: this server serves at most 1 sites" {
		t.Errorf("a site past the limit = %d %q", code, msg)
	}
	if _, _, err := s.st.Load(t.Context(), "comm100-site-10001"); err == nil {
		t.Error("a site past the limit was created")
	}
}

func TestLimits(t *testing.T) {
	s := setup(t, 0)
	seedtest.SlowHeader(t, s)
	for _, path := range []string{"/v4/global/loginIpAllowlists", "/api/v3/globalSettings/whitelistedLoginIPRanges"} {
		w := seedtest.HugeBody(t, s, "POST", path, map[string]string{"Authorization": "Bearer " + adminToken}, `{"ipFrom": "`)
		var got map[string]any
		if json.Unmarshal(w.Body.Bytes(), &got); got["code"] != 413.0 || !strings.Contains(message(got), "larger than 1048576 bytes") {
			t.Errorf("413 body = %s, want Comm100's envelope", w.Body)
		}
	}
}

// TestConfigConcurrent sends each config change while another change
// lands between the server's read of the settings and its write: both
// changes must stay, whichever field each sets.
func TestConfigConcurrent(t *testing.T) {
	var creds seed.Credentials
	creds.Add(adminToken, seed.Principal{Account: "10000", Admin: true})
	st := seedtest.Intruder{EditWatcher: memstore.New(nil).(seedtest.EditWatcher)}
	s, err := newServer(&seed.Config{Store: st, Credentials: &creds}, guid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	const site = "comm100-site-10000"
	for _, tc := range []struct {
		method, path, body string
		intrude            func(*policy.Settings)
		want               string
	}{
		{"PUT", "/v4/global/loginIpAllowlistConfig", `{"isEnabled":true}`,
			func(p *policy.Settings) { p.ApplyToMobile = true },
			`{"isEnabled":true,"isLoginIpAllowlistApplicableForMobileAccess":true,"siteId":10000}`},
		{"PUT", "/v4/global/loginIpAllowlistConfig", `{"isLoginIpAllowlistApplicableForMobileAccess":false}`,
			func(p *policy.Settings) { p.Enabled = false },
			`{"isEnabled":false,"isLoginIpAllowlistApplicableForMobileAccess":false,"siteId":10000}`},
		{"POST", "/v4/global/loginIpAllowlistConfig:enable", "",
			func(p *policy.Settings) { p.ApplyToMobile = true },
			`{"isEnabled":true,"isLoginIpAllowlistApplicableForMobileAccess":true,"siteId":10000}`},
	} {
		if code, got := do(t, s, "GET", "/v4/global/loginIpAllowlistConfig", "", nil, ""); code != 200 {
			t.Fatalf("GET config = %d %v", code, got)
		}
		r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		r.Header.Set("Authorization", "Bearer "+adminToken)
		r = st.Arm(r, func() {
			p, _, err := st.EditWatcher.Load(r.Context(), site)
			if err != nil {
				t.Fatal(err)
			}
			tc.intrude(&p.Settings)
			if _, err := st.SetSettings(r.Context(), site, p.Settings, store.Any); err != nil {
				t.Fatal(err)
			}
		})
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		code, got := do(t, s, "GET", "/v4/global/loginIpAllowlistConfig", "", nil, "")
		if b, _ := json.Marshal(got); w.Code != 200 || code != 200 || string(b) != tc.want {
			t.Errorf("%s %s %s with a change landing meanwhile = %d, then GET %s; want %s", tc.method, tc.path, tc.body, w.Code, b, tc.want)
		}
	}
}

// A site's allowlist holds at most maxRanges ranges, so that its unpaged
// list stays bounded.
func TestMaxRanges(t *testing.T) {
	s := setup(t, 0)
	p := policy.New()
	for i := range maxRanges - 1 {
		p.Rules = append(p.Rules, policy.Rule{ID: fmt.Sprint("r", i), Target: rangeset.PrefixRange(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)), Action: policy.Allow})
	}
	rev, err := s.st.Put(t.Context(), who{siteID: 10000}.policy(), p, store.Any)
	if err != nil {
		t.Fatal(err)
	}
	s.followers.Settle(t.Context(), who{siteID: 10000}.policy(), rev)
	body := `{"ipRangeFrom": "192.0.2.1", "ipRangeTo": "192.0.2.9"}`
	if code, out := do(t, s, "POST", "/v4/global/loginIpAllowlists", body, nil, ""); code != 201 {
		t.Fatalf("POST of range %d = %d %v", maxRanges, code, out)
	}
	if code, out := do(t, s, "POST", "/v4/global/loginIpAllowlists", body, nil, ""); code != 400 || !strings.Contains(message(out), "at most 10000 ranges") {
		t.Errorf("POST past the bound = %d %v, want 400", code, out)
	}
}
