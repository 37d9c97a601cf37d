package main

import (
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/store/filestore"
)

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

func TestVoximplant(t *testing.T) {
	st, err := filestore.Open(t.TempDir(), &filestore.Options{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(st)
	defer s.close()
	v := func(kv ...string) url.Values {
		out := url.Values{"account_id": {"1"}, "api_key": {"eec36d6c-a0eb-46b5-a006-1c2b65343bac"}}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	expect := func(method string, params url.Values, want string) {
		t.Helper()
		code, got := call(t, s, method, params, "")
		b, _ := json.Marshal(got)
		if code != 200 || string(b) != want {
			t.Errorf("%s %v = %d %s, want %s", method, params, code, b, want)
		}
	}
	// The documented examples: a network on the white list, then tested.
	expect("AddAuthorizedAccountIP", v("authorized_ip", "92.255.0.0/16"), `{"result":1}`)
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "92.255.220.0/24"), `{"authorized_ip":"92.255.0.0/16","result":true}`)
	expect("AddAuthorizedAccountIP", v("authorized_ip", "92.255.220.0/24", "allowed", "false", "description", "bots"), `{"result":1}`)
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "92.255.220.0/24"), `{"authorized_ip":"92.255.220.0/24","result":false}`)
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "92.255.220.7"), `{"authorized_ip":"92.255.220.0/24","result":false}`)
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "92.255.0.0/16"), `{"authorized_ip":"92.255.220.0/24","result":false}`) // not all of it
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "8.8.8.8"), `{"result":false}`)                                         // the IP isn't allowed

	// Listing: filters, count, offset and total_count.
	_, got := call(t, s, "GetAuthorizedAccountIPs", v("count", "1"), "")
	if got["total_count"] != 2.0 || got["count"] != 1.0 || len(got["result"].([]any)) != 1 {
		t.Errorf("GetAuthorizedAccountIPs count=1 = %v", got)
	}
	_, got = call(t, s, "GetAuthorizedAccountIPs", v("allowed", "false"), "")
	if res := got["result"].([]any); len(res) != 1 || res[0].(map[string]any)["description"] != "bots" || res[0].(map[string]any)["allowed"] != false {
		t.Errorf("GetAuthorizedAccountIPs allowed=false = %v", got)
	}
	_, got = call(t, s, "GetAuthorizedAccountIPs", v("contains_ip", "92.255.220.5", "offset", "1"), "")
	if got["total_count"] != 2.0 || got["count"] != 1.0 {
		t.Errorf("GetAuthorizedAccountIPs contains_ip offset=1 = %v", got)
	}

	// The guarded route follows the lists.
	for remote, want := range map[string]int{"92.255.1.1": 200, "92.255.220.9": 403, "8.8.8.8": 403} {
		r := httptest.NewRequest("GET", "/protected?account_id=1", nil)
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
		{"AddAuthorizedAccountIP", v("authorized_ip", "010.0.0.1"), `invalid parameter "authorized_ip": rangeset.ParseRange("010.0.0.1")`},
		{"AddAuthorizedAccountIP", v("authorized_ip", "92.255.0.0/16"), `already on the white list`},
		{"AddAuthorizedAccountIP", v("authorized_ip", "10.0.0.0/8", "allowed", "maybe"), `invalid parameter "allowed": "maybe"`},
		{"DelAuthorizedAccountIP", v(), `"authorized_ip" or "contains_ip" is required`},
		{"GetAuthorizedAccountIPs", v("count", "-1"), `invalid parameter "count": "-1"`},
		{"CheckAuthorizedAccountIP", v("authorized_ip", "not-an-ip"), `invalid parameter "authorized_ip"`},
	} {
		code, got := call(t, s, bad.method, bad.params, "")
		msg, _ := got["error"].(map[string]any)["msg"].(string)
		if code != 400 || !strings.Contains(msg, bad.msg) {
			t.Errorf("%s %v = %d %v, want 400 with %q", bad.method, bad.params, code, got, bad.msg)
		}
	}

	// Deleting: by contains_ip on one list, then everything.
	expect("DelAuthorizedAccountIP", v("contains_ip", "92.255.220.5", "allowed", "false"), `{"result":1}`)
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "92.255.220.7"), `{"authorized_ip":"92.255.0.0/16","result":true}`)
	expect("DelAuthorizedAccountIP", v("authorized_ip", "all"), `{"result":1}`)
	expect("CheckAuthorizedAccountIP", v("authorized_ip", "8.8.8.8"), `{"result":true}`) // no lists: all allowed
}
