package main

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/ipgate/ipgate/examples/internal/seed"
	"github.com/ipgate/ipgate/examples/internal/seed/seedtest"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

// The documentation's own api_key is account 1's, so that its requests
// replay verbatim.
const (
	adminKey = "eec36d6c-a0eb-46b5-a006-1c2b65343bac"
	userKey  = "user-key-of-1"
	otherKey = "admin-key-of-2"
)

func setup(t *testing.T, maxTenants int) *server {
	t.Helper()
	var creds seed.Credentials
	creds.Add(adminKey, seed.Principal{Account: "1", Admin: true})
	creds.Add(userKey, seed.Principal{Account: "1"})
	creds.Add(otherKey, seed.Principal{Account: "2", Admin: true})
	s := newServer(&seed.Config{Store: memstore.New(nil), Credentials: &creds, MaxTenants: maxTenants})
	t.Cleanup(s.close)
	return s
}

func call(t *testing.T, s *server, method string, params url.Values, remote string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest("GET", "/platform_api/"+method+"/?"+params.Encode(), nil)
	if remote != "" {
		r.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(remote), 5060).String()
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s: %q is not JSON", method, w.Body.String())
	}
	return w.Code, out
}

func v(kv ...string) url.Values {
	out := url.Values{"account_id": {"1"}, "api_key": {adminKey}}
	for i := 0; i < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

func errMsg(got map[string]any) (float64, string) {
	e, _ := got["error"].(map[string]any)
	code, _ := e["code"].(float64)
	msg, _ := e["msg"].(string)
	return code, msg
}

func TestReplay(t *testing.T) {
	seedtest.Replay(t, setup(t, 0), "testdata/replay")
}

func TestVoximplant(t *testing.T) {
	s := setup(t, 0)
	expect := func(method string, params url.Values, want string) {
		t.Helper()
		code, got := call(t, s, method, params, "")
		b, _ := json.Marshal(got)
		if code != 200 || string(b) != want {
			t.Errorf("%s %v = %d %s, want %s", method, params, code, b, want)
		}
	}
	expect("AddAuthorizedAccountIP", v("authorized_ip", "92.255.0.0/16"), `{"result":1}`)
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "92.255.220.0/24"), `{"authorized_ip":"92.255.0.0/16","result":true}`)
	expect("AddAuthorizedAccountIP", v("authorized_ip", "92.255.220.0/24", "allowed", "false"), `{"result":1}`)
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "92.255.220.0/24"), `{"authorized_ip":"92.255.220.0/24","result":false}`)
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "92.255.220.7"), `{"authorized_ip":"92.255.220.0/24","result":false}`)
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "92.255.0.0/16"), `{"authorized_ip":"92.255.220.0/24","result":false}`) // not all of it
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "8.8.8.8"), `{"result":false}`)                                         // the IP isn't allowed

	// Listing: filters, count, offset and total_count; "allowed" a string.
	_, got := call(t, s, "GetAuthorizedAccountIPs", v("count", "1"), "")
	if got["total_count"] != 2.0 || got["count"] != 1.0 || len(got["result"].([]any)) != 1 {
		t.Errorf("GetAuthorizedAccountIPs count=1 = %v", got)
	}
	_, got = call(t, s, "GetAuthorizedAccountIPs", v("allowed", "false"), "")
	res := got["result"].([]any)
	if len(res) != 1 || res[0].(map[string]any)["allowed"] != "false" || !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`).MatchString(res[0].(map[string]any)["created"].(string)) {
		t.Errorf("GetAuthorizedAccountIPs allowed=false = %v", got)
	}
	_, got = call(t, s, "GetAuthorizedAccountIPs", v("contains_ip", "92.255.220.5", "offset", "1"), "")
	if got["total_count"] != 2.0 || got["count"] != 1.0 {
		t.Errorf("GetAuthorizedAccountIPs contains_ip offset=1 = %v", got)
	}

	// The guarded route follows the lists.
	for remote, want := range map[string]int{"92.255.1.1": 200, "92.255.220.9": 403, "8.8.8.8": 403} {
		r := httptest.NewRequest("GET", "/protected?account_id=1&api_key="+userKey, nil)
		r.RemoteAddr = remote + ":5060"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("GET /protected from %s = %d, want %d", remote, w.Code, want)
		}
	}

	// Bad input: 400, the parameter and value named, nothing applied.
	for _, bad := range []struct {
		method string
		params url.Values
		msg    string
	}{
		{"AddAuthorizedAccountIP", v("authorized_ip", "010.0.0.1"), `invalid parameter "authorized_ip": "010.0.0.1" is not an IP4 or network: invalid IP address "010.0.0.1": IPv4 field has octet with leading zero`},
		{"AddAuthorizedAccountIP", v(), `the parameter "authorized_ip" is required`},
		{"AddAuthorizedAccountIP", v("authorized_ip", "92.255.0.0/16"), `already on the white list`},
		{"AddAuthorizedAccountIP", v("authorized_ip", "10.0.0.0/8", "allowed", "maybe"), `invalid parameter "allowed": "maybe" is not true or false`},
		{"DelAuthorizedAccountIP", v(), `"authorized_ip" or "contains_ip" is required`},
		{"DelAuthorizedAccountIP", v("contains_ip", "10.0.0"), `invalid parameter "contains_ip": "10.0.0" is not an IP4`},
		{"GetAuthorizedAccountIPs", v("count", "-1"), `invalid parameter "count": "-1" is not a count`},
		{"GetAuthorizedAccountIPs", v("count", "1001"), `invalid parameter "count": 1001 is more than 1000`},
		{"CheckAuthorizedAccountIP", v("authorized_ip", "not-an-ip"), `invalid parameter "authorized_ip"`},
	} {
		code, got := call(t, s, bad.method, bad.params, "")
		if _, msg := errMsg(got); code != 400 || !strings.Contains(msg, bad.msg) || strings.Contains(msg, "rangeset") {
			t.Errorf("%s %v = %d %v, want 400 with %q", bad.method, bad.params, code, got, bad.msg)
		}
	}

	// Parameters in a POSTed form, URL-encoded or multipart.
	r := httptest.NewRequest("POST", "/platform_api/DelAuthorizedAccountIP/", strings.NewReader(v("contains_ip", "92.255.220.5", "allowed", "false").Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"result":1}` {
		t.Errorf("POST form Del = %d %s", w.Code, w.Body)
	}
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "92.255.220.7"), `{"authorized_ip":"92.255.0.0/16","result":true}`)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range v("authorized_ip", "all") {
		mw.WriteField(k, vs[0])
	}
	mw.Close()
	r = httptest.NewRequest("POST", "/platform_api/DelAuthorizedAccountIP/", &buf)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"result":1}` {
		t.Errorf("POST multipart Del = %d %s", w.Code, w.Body)
	}
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "8.8.8.8"), `{"result":true}`) // no lists: all allowed
}

func TestCredentials(t *testing.T) {
	s := setup(t, 0)
	for _, c := range []struct {
		method string
		params url.Values
		code   int
	}{
		{"AddAuthorizedAccountIP", url.Values{"account_id": {"1"}, "authorized_ip": {"10.0.0.0/8"}}, 401},
		{"AddAuthorizedAccountIP", url.Values{"account_id": {"1"}, "api_key": {"wrong"}, "authorized_ip": {"10.0.0.0/8"}}, 401},
		{"AddAuthorizedAccountIP", url.Values{"account_id": {"2"}, "api_key": {adminKey}, "authorized_ip": {"10.0.0.0/8"}}, 401},
		{"AddAuthorizedAccountIP", url.Values{"api_key": {adminKey}, "authorized_ip": {"10.0.0.0/8"}}, 401},
		{"DelAuthorizedAccountIP", url.Values{"account_id": {"1"}, "authorized_ip": {"all"}}, 401},
		{"GetAuthorizedAccountIPs", url.Values{"account_id": {"1"}}, 401},
		{"CheckAuthorizedAccountIP", url.Values{"account_id": {"1"}, "authorized_ip": {"8.8.8.8"}}, 401},
		{"AddAuthorizedAccountIP", url.Values{"account_id": {"1"}, "api_key": {userKey}, "authorized_ip": {"10.0.0.0/8"}}, 403},
	} {
		code, got := call(t, s, c.method, c.params, "")
		if ec, msg := errMsg(got); code != c.code || ec != float64(c.code) || msg == "" {
			t.Errorf("%s %v = %d %v, want %d in the envelope", c.method, c.params, code, got, c.code)
		}
	}
	r := httptest.NewRequest("GET", "/protected?account_id=1", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 401 {
		t.Errorf("GET /protected without api_key = %d, want 401", w.Code)
	}
	_, got := call(t, s, "GetAuthorizedAccountIPs", v(), "")
	if got["total_count"] != 0.0 {
		t.Errorf("a refused write changed the lists: %v", got)
	}
	// The user's key reads.
	if code, got := call(t, s, "GetAuthorizedAccountIPs", url.Values{"account_id": {"1"}, "api_key": {userKey}}, ""); code != 200 {
		t.Errorf("Get with a user's key = %d %v", code, got)
	}
}

func TestTenantLimit(t *testing.T) {
	s := setup(t, 1)
	if code, got := call(t, s, "GetAuthorizedAccountIPs", v(), ""); code != 200 {
		t.Fatalf("the first account = %d %v", code, got)
	}
	code, got := call(t, s, "GetAuthorizedAccountIPs", url.Values{"account_id": {"2"}, "api_key": {otherKey}}, "")
	if ec, msg := errMsg(got); code != 503 || ec != 503 || msg != `account_id "2": this server serves at most 1 accounts` {
		t.Errorf("an account past the limit = %d %v", code, got)
	}
	if _, _, err := s.st.Load(t.Context(), "voximplant-account-2"); err == nil {
		t.Error("an account past the limit was created")
	}
}

// An account's lists hold at most maxNetworks networks together.
func TestMaxNetworks(t *testing.T) {
	s := setup(t, 0)
	p := policy.New()
	for i := range maxNetworks - 1 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		p.Rules = append(p.Rules, policy.Rule{ID: "white:" + a.String(), Target: rangeset.RangeFrom(a, a), Action: policy.Allow})
	}
	rev, err := s.st.Put(t.Context(), "voximplant-account-1", p, store.Any)
	if err != nil {
		t.Fatal(err)
	}
	s.followers.Settle(t.Context(), "voximplant-account-1", rev)
	if code, got := call(t, s, "AddAuthorizedAccountIP", v("authorized_ip", "192.0.2.0/24", "allowed", "false"), ""); code != 200 {
		t.Fatalf("network %d = %d %v", maxNetworks, code, got)
	}
	code, got := call(t, s, "AddAuthorizedAccountIP", v("authorized_ip", "198.51.100.0/24"), "")
	if ec, msg := errMsg(got); code != 400 || ec != 100 || msg != `account_id "1": the lists hold at most 10000 networks` {
		t.Errorf("a network past the bound = %d %v", code, got)
	}
	// A network already listed is still that error at the bound.
	code, got = call(t, s, "AddAuthorizedAccountIP", v("authorized_ip", "192.0.2.0/24", "allowed", "false"), "")
	if ec, msg := errMsg(got); code != 400 || ec != 101 || !strings.Contains(msg, "already on the black list") {
		t.Errorf("a listed network at the bound = %d %v", code, got)
	}
}

func TestLimits(t *testing.T) {
	s := setup(t, 0)
	seedtest.SlowHeader(t, s)
	head := "--b\r\nContent-Disposition: form-data; name=\"authorized_ip\"\r\n\r\n"
	for _, c := range []struct{ ct, head string }{
		{"multipart/form-data; boundary=b", head},
		{"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big\"\r\n\r\n"},
		{"application/x-www-form-urlencoded", "authorized_ip="},
	} {
		w := seedtest.HugeBody(t, s, "POST", "/platform_api/AddAuthorizedAccountIP/?account_id=1&api_key="+adminKey, map[string]string{"Content-Type": c.ct}, c.head)
		var got map[string]any
		json.Unmarshal(w.Body.Bytes(), &got)
		if code, msg := errMsg(got); code != 413 || !strings.Contains(msg, "larger than 65536 bytes") {
			t.Errorf("%s: 413 body = %s, want Voximplant's envelope", c.ct, w.Body)
		}
	}
}
