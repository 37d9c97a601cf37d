package main

import (
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/store/filestore"
)

func do(t *testing.T, s *server, method, path, body string, hdr map[string]string, remote string) (int, any) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
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

func TestComm100(t *testing.T) {
	st, err := filestore.Open(t.TempDir(), &filestore.Options{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(st)
	defer s.close()
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	login := func(remote string, mobile bool) int {
		t.Helper()
		h := map[string]string{}
		if mobile {
			h["X-Comm100-Mobile"] = "true"
		}
		code, _ := do(t, s, "POST", "/login", "", h, remote)
		return code
	}

	// The documented config calls.
	code, got := do(t, s, "GET", "/v4/global/loginIpAllowlistConfig", "", nil, "")
	if want := `{"isEnabled":false,"isLoginIpAllowlistApplicableForMobileAccess":false,"siteId":10000}`; code != 200 || js(got) != want {
		t.Fatalf("GET config = %d %s, want %s", code, js(got), want)
	}
	code, got = do(t, s, "POST", "/v4/global/loginIpAllowlistConfig:enable", "", nil, "")
	if code != 200 || got.(map[string]any)["isEnabled"] != true {
		t.Fatalf(":enable = %d %s", code, js(got))
	}
	// Enabled with no range: every address still logs in.
	if c := login("203.0.113.9", false); c != 200 {
		t.Errorf("login with an empty allowlist = %d, want 200", c)
	}

	// The documented range.
	code, got = do(t, s, "POST", "/v4/global/loginIpAllowlists", `{"ipRangeFrom":"192.168.0.1","ipRangeTo":"192.168.0.100"}`, nil, "")
	obj, _ := got.(map[string]any)
	id, _ := obj["id"].(string)
	if code != 201 || obj["ipRangeFrom"] != "192.168.0.1" || obj["ipRangeTo"] != "192.168.0.100" || len(id) != 36 {
		t.Fatalf("POST range = %d %s", code, js(got))
	}
	code, got = do(t, s, "GET", "/v4/global/loginIpAllowlists", "", nil, "")
	if code != 200 || js(got) != `[{"id":"`+id+`","ipRangeFrom":"192.168.0.1","ipRangeTo":"192.168.0.100"}]` {
		t.Errorf("GET ranges = %d %s", code, js(got))
	}
	code, got = do(t, s, "GET", "/v4/global/loginIpAllowlists/"+id, "", nil, "")
	if code != 200 || got.(map[string]any)["id"] != id {
		t.Errorf("GET range = %d %s", code, js(got))
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
	code, _ = do(t, s, "PUT", "/v4/global/loginIpAllowlistConfig", `{"isLoginIpAllowlistApplicableForMobileAccess":true}`, nil, "")
	if c := login("203.0.113.9", true); code != 200 || c != 403 {
		t.Errorf("mobile login, flag on = %d (PUT %d), want 403", c, code)
	}

	// Version 3 sees the same site, with createdTime.
	code, got = do(t, s, "GET", "/v3/globalSettings/whitelistedLoginIPRanges", "", nil, "")
	list, _ := got.([]any)
	if code != 200 || len(list) != 1 || list[0].(map[string]any)["ipFrom"] != "192.168.0.1" || list[0].(map[string]any)["createdTime"] == nil {
		t.Errorf("v3 GET = %d %s", code, js(got))
	}
	code, got = do(t, s, "POST", "/v3/globalSettings/whitelistedLoginIPRanges", `{"ipFrom":"2001:db8::1","ipTo":"2001:db8::ff"}`, nil, "")
	if code != 201 {
		t.Errorf("v3 POST = %d %s", code, js(got))
	}
	if c := login("2001:db8::10", false); c != 200 {
		t.Errorf("login from inside the v3 range = %d, want 200", c)
	}

	// Update and delete.
	code, got = do(t, s, "PUT", "/v4/global/loginIpAllowlists/"+id, `{"ipRangeFrom":"192.168.0.1","ipRangeTo":"192.168.0.200"}`, nil, "")
	if code != 200 || got.(map[string]any)["ipRangeTo"] != "192.168.0.200" {
		t.Errorf("PUT range = %d %s", code, js(got))
	}
	if c := login("192.168.0.150", false); c != 200 {
		t.Errorf("login after the update = %d", c)
	}

	// Bad input: 400, the field and value named, nothing applied.
	for _, bad := range []struct{ path, body, msg string }{
		{"/v4/global/loginIpAllowlists", `{"ipRangeFrom":"192.168.0.100","ipRangeTo":"192.168.0.1"}`, `range start is above its end`},
		{"/v4/global/loginIpAllowlists", `{"ipRangeFrom":"192.168.0.1"}`, `ipRangeTo is required`},
		{"/v4/global/loginIpAllowlists", `{"ipRangeFrom":"192.168.0.1/24","ipRangeTo":"192.168.0.9"}`, `ipRangeFrom "192.168.0.1/24"`},
		{"/v3/globalSettings/whitelistedLoginIPRanges", `{"ipFrom":"10.0.0.1","ipTo":"fe80::1%eth0"}`, `ipTo "fe80::1%eth0"`},
		{"/v4/global/loginIpAllowlists", `{"ipRangeFrom":"1.1.1.1","ipRangeTo":"1.1.1.2","extra":1}`, `invalid request body`},
	} {
		code, got := do(t, s, "POST", bad.path, bad.body, nil, "")
		msg, _ := got.(map[string]any)["message"].(string)
		if code != 400 || !strings.Contains(msg, bad.msg) {
			t.Errorf("POST %s %s = %d %q, want 400 with %q", bad.path, bad.body, code, msg, bad.msg)
		}
	}
	code, _ = do(t, s, "GET", "/v4/global/loginIpAllowlists/no-such-id", "", nil, "")
	if code != 404 {
		t.Errorf("GET unknown id = %d", code)
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
