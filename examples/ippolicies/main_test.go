package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/examples/internal/seed"
	"github.com/ipgate/ipgate/examples/internal/seed/seedtest"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

// The documentation's own placeholder is the admin's token, so that its
// requests replay verbatim.
const (
	adminToken = "<token>"
	userToken  = "a-reader"
)

func setup(t *testing.T, st store.Editor, newID func() string) *server {
	t.Helper()
	var creds seed.Credentials
	creds.Add(adminToken, seed.Principal{Account: "policies", Admin: true})
	creds.Add(userToken, seed.Principal{Account: "policies"})
	s, err := newServer(t.Context(), &seed.Config{Store: st, Credentials: &creds}, newID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.followers.Close)
	return s
}

func TestReplay(t *testing.T) {
	t0 := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	st := memstore.New(&memstore.Options{Now: func() time.Time { return t0 }})
	seedtest.Replay(t, setup(t, st, seedtest.IDs(t, "60ba407d15951453e60e49f8")), "testdata/replay")
}

func do(t *testing.T, s *server, method, path, body, token string) (int, any) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
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

func errorOf(v any) (field, msg string) {
	m, _ := v.(map[string]any)
	e, _ := m["error"].(map[string]any)
	field, _ = e["field"].(string)
	msg, _ = e["message"].(string)
	return field, msg
}

func TestIPPolicies(t *testing.T) {
	s := setup(t, memstore.New(nil), newID)
	obj := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		code, got := do(t, s, method, path, body, adminToken)
		m, _ := got.(map[string]any)
		return code, m
	}
	list := func(query string) (int, []any) {
		t.Helper()
		code, got := do(t, s, "GET", "/addresses"+query, "", adminToken)
		l, _ := got.([]any)
		return code, l
	}
	from := func(ip string) int {
		r := httptest.NewRequest("GET", "/protected", nil)
		r.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(ip), 1).String()
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Code
	}

	code, office := obj("POST", "/addresses", `{"ipAddress": "10.0.0.0/8", "policy": "allow"}`)
	if code != 201 || office["ipAddress"] != "10.0.0.0/8" || office["policy"] != "allow" || office["ttl"] != 0.0 || office["expireTime"] != "" || len(office) != 7 {
		t.Fatalf("POST = %d %v", code, office)
	}
	soon := time.Now().Add(400 * time.Millisecond).UTC().Truncate(time.Second).Add(time.Second)
	code, ban := obj("POST", "/addresses", `{"ipAddress": "10.1.0.0 - 10.1.255.255", "policy": "deny", "expireTime": "`+soon.Format(time.RFC3339)+`"}`)
	if code != 201 || ban["ipAddress"] != "10.1.0.0/16" || ban["expireTime"] != soon.Format(timeLayout) {
		t.Fatalf("POST ban = %d %v", code, ban)
	}
	code, _ = obj("POST", "/addresses", `{"ipAddress": "192.0.2.0/24", "policy": "deny", "ttl": 3600}`)
	if code != 201 {
		t.Fatalf("POST ttl = %d", code)
	}
	if c := from("10.1.2.3"); c != 403 {
		t.Errorf("before the expiry: %d, want 403", c)
	}
	// The expiry takes effect on time: the follower swaps snapshots itself.
	deadline := time.Now().Add(5 * time.Second)
	for from("10.1.2.3") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the expired deny never stopped denying")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The list: an array; the documented filters, sort and paging.
	if code, l := list("?filter[policy]=deny&sort_by=ip&sort_order=desc&limit=1"); code != 200 || len(l) != 1 || l[0].(map[string]any)["ipAddress"] != "192.0.2.0/24" {
		t.Errorf("GET filtered = %d %v", code, l)
	}
	if code, l := list("?sort_by=ip"); code != 200 || len(l) != 3 || l[0].(map[string]any)["ipAddress"] != "10.0.0.0/8" || l[2].(map[string]any)["ipAddress"] != "192.0.2.0/24" {
		t.Errorf("GET sort_by=ip = %d %v", code, l)
	}
	if code, l := list("?filter[ip]=10.1.0.0/16"); code != 200 || len(l) != 1 || l[0].(map[string]any)["addressId"] != ban["addressId"] {
		t.Errorf("GET filter[ip] = %d %v", code, l)
	}
	if code, l := list("?filter[ttl]=3600"); code != 200 || len(l) != 1 {
		t.Errorf("GET filter[ttl] = %d %v", code, l)
	}
	// filter[ttl]=0 matches what the objects show as ttl 0: no ttl.
	if code, l := list("?filter[ttl]=0"); code != 200 || len(l) != 2 || l[0].(map[string]any)["ttl"] != 0.0 || l[1].(map[string]any)["ttl"] != 0.0 {
		t.Errorf("GET filter[ttl]=0 = %d %v", code, l)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	if code, l := list("?filter[createTime]=" + today + "&filter[updateTime]=" + today); code != 200 || len(l) != 3 {
		t.Errorf("GET filter[createTime] today = %d %v", code, l)
	}
	if code, l := list("?filter[createTime]=2021-01-01"); code != 200 || len(l) != 0 {
		t.Errorf("GET filter[createTime]=2021-01-01 = %d %v", code, l)
	}
	if code, l := list("?filter[expireTime]=" + soon.Format(time.RFC3339)); code != 200 || len(l) != 1 {
		t.Errorf("GET filter[expireTime] = %d %v", code, l)
	}
	if code, l := list("?offset=1&limit=1"); code != 200 || len(l) != 1 {
		t.Errorf("GET paged = %d %v", code, l)
	}

	// PUT and PATCH change only what is sent; ttl 0 removes the expiry.
	id := office["addressId"].(string)
	code, got := obj("PATCH", "/addresses/"+id, `{"policy": "deny"}`)
	if code != 200 || got["ipAddress"] != "10.0.0.0/8" || got["policy"] != "deny" {
		t.Errorf("PATCH = %d %v", code, got)
	}
	if c := from("10.9.9.9"); c != 403 {
		t.Errorf("after PATCH to deny: %d", c)
	}
	code, got = obj("PUT", "/addresses/"+id, `{"ipAddress": "10.0.0.0/9", "policy": "allow", "ttl": 0}`)
	if code != 200 || got["ipAddress"] != "10.0.0.0/9" || got["createTime"] != office["createTime"] || got["ttl"] != 0.0 {
		t.Errorf("PUT = %d %v", code, got)
	}
	if c := from("10.9.9.9"); c != 200 {
		t.Errorf("after PUT to allow: %d", c)
	}

	// Bad input: 400 naming the field and value; nothing applied.
	for _, bad := range []struct{ method, path, body, field, msg string }{
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5/24", "policy": "allow"}`, "ipAddress", `"10.0.0.5/24" is not an IP address, CIDR or range: host bits set (canonical form 10.0.0.0/24)`},
		{"POST", "/addresses", `{"ipAddress": "", "policy": "allow"}`, "ipAddress", `"" is not an IP address, CIDR or range: empty input`},
		{"POST", "/addresses", `{"policy": "allow"}`, "ipAddress", `is required`},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "block"}`, "policy", `"block"`},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow", "ttl": -1}`, "ttl", "-1"},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow", "ttl": "1"}`, "ttl", "ttl must be a whole number, not string"},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow", "ttl": 9223372037}`, "ttl", "9223372037: want a whole number of seconds from 0 to 9223372036"},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow", "ttl": 5, "expireTime": "2030-01-01T00:00:00Z"}`, "ttl", "together"},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow", "expireTime": "tomorrow"}`, "expireTime", `"tomorrow"`},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow", "expireTime": "0001-01-01T01:00:00+01:00"}`, "expireTime", "the zero instant"},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow", "expireTime": "0000-01-01T00:00:00+01:00"}`, "expireTime", "before 0001-01-01"},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow", "expireTime": "9999-12-31T23:59:59-01:00"}`, "expireTime", "the latest expiry"},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow", "description": "x"}`, "description", `unknown field "description"`},
		{"POST", "/addresses", `{"ipAddress": "10.7.7.7", "policy": "deny", "POLICY": "allow"}`, "POLICY", `unknown field "POLICY" (field names are case-sensitive)`},
		{"POST", "/addresses", `{"ipAddress": "10.7.7.7", "policy": "deny", "policy": "allow"}`, "policy", `field "policy" is given twice`},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow"}{}`, "", `unexpected data after the JSON value`},
		{"PATCH", "/addresses/" + id, `{"ipAddress": "::ffff:10.0.0.1"}`, "ipAddress", "IPv4-mapped"},
		{"GET", "/addresses?sort_by=color", "", "sort_by", `"color"`},
		{"GET", "/addresses?sort_by=ipAddress", "", "sort_by", `"ipAddress"`},
		{"GET", "/addresses?limit=0", "", "limit", `"0"`},
		{"GET", "/addresses?filter[bogus]=1", "", "filter[bogus]", `unknown filter`},
		{"GET", "/addresses?filter[ip]=10.0.0", "", "filter[ip]", `"10.0.0"`},
		{"GET", "/addresses?filter[createTime]=yesterday", "", "filter[createTime]", `"yesterday"`},
		{"GET", "/addresses?filter[ttl]=x", "", "filter[ttl]", `"x"`},
		{"GET", "/addresses?filter[ttl]=9223372037", "", "filter[ttl]", `"9223372037"`},
		{"GET", "/addresses?color=red", "", "color", `unknown query parameter`},
	} {
		code, got := do(t, s, bad.method, bad.path, bad.body, adminToken)
		if field, msg := errorOf(got); code != 400 || field != bad.field || !strings.Contains(msg, bad.msg) || strings.Contains(msg, "rangeset") || strings.Contains(msg, "json:") {
			t.Errorf("%s %s %s = %d %v, want 400 naming %q with %q", bad.method, bad.path, bad.body, code, got, bad.field, bad.msg)
		}
	}
	if _, l := list(""); len(l) != 3 {
		t.Errorf("bad input changed the list: %v", l)
	}
	code, got = obj("GET", "/addresses/nope", "")
	if field, msg := errorOf(got); code != 404 || field != "addressId" || msg != `"nope": no such IP address policy` {
		t.Errorf("GET unknown = %d %v", code, got)
	}
	if code, _ := do(t, s, "DELETE", "/addresses/"+id, "", adminToken); code != 204 {
		t.Errorf("DELETE = %d", code)
	}
	if code, _ := do(t, s, "GET", "/addresses/"+id, "", adminToken); code != 404 {
		t.Errorf("GET deleted = %d", code)
	}
}

func TestCredentials(t *testing.T) {
	s := setup(t, memstore.New(nil), newID)
	for _, c := range []struct {
		method, path, body, token string
		code                      int
	}{
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow"}`, "", 401},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow"}`, "<token >", 401},
		{"PUT", "/addresses/x", `{"policy": "allow"}`, "", 401},
		{"PATCH", "/addresses/x", `{"policy": "allow"}`, "", 401},
		{"DELETE", "/addresses/x", ``, "", 401},
		{"GET", "/addresses", ``, "", 401},
		{"GET", "/addresses/x", ``, "", 401},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow"}`, userToken, 403},
	} {
		code, got := do(t, s, c.method, c.path, c.body, c.token)
		if _, msg := errorOf(got); code != c.code || msg == "" {
			t.Errorf("%s %s with token %q = %d %v, want %d in the envelope", c.method, c.path, c.token, code, got, c.code)
		}
	}
	if code, got := do(t, s, "GET", "/addresses", "", userToken); code != 200 || len(got.([]any)) != 0 {
		t.Errorf("GET as a reader = %d %v (a refused write changed the list?)", code, got)
	}
}

// The policies hold at most maxAddresses entries.
func TestMaxAddresses(t *testing.T) {
	st := memstore.New(nil)
	s := setup(t, st, newID)
	p := policy.New()
	for i := range maxAddresses - 1 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		p.Rules = append(p.Rules, policy.Rule{ID: fmt.Sprint("r", i), Target: rangeset.RangeFrom(a, a), Action: policy.Allow})
	}
	rev, err := st.Put(t.Context(), name, p, store.Any)
	if err != nil {
		t.Fatal(err)
	}
	s.followers.Settle(t.Context(), name, rev)
	if code, out := do(t, s, "POST", "/addresses", `{"ipAddress": "192.0.2.1", "policy": "deny"}`, adminToken); code != 201 {
		t.Fatalf("entry %d = %d %v", maxAddresses, code, out)
	}
	code, out := do(t, s, "POST", "/addresses", `{"ipAddress": "192.0.2.2", "policy": "deny"}`, adminToken)
	if _, msg := errorOf(out); code != 400 || msg != "the IP address policies hold at most 10000 entries" {
		t.Errorf("an entry past the bound = %d %v", code, out)
	}
}

func TestLimits(t *testing.T) {
	s := setup(t, memstore.New(nil), newID)
	seedtest.SlowHeader(t, s)
	w := seedtest.HugeBody(t, s, "POST", "/addresses", map[string]string{"Authorization": "Bearer " + adminToken}, `{"ipAddress": "`)
	var got any
	json.Unmarshal(w.Body.Bytes(), &got)
	if _, msg := errorOf(got); !strings.Contains(msg, "larger than 1048576 bytes") {
		t.Errorf("413 body = %s, want the API's envelope", w.Body)
	}
}
