package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/store/filestore"
)

func TestIPPolicies(t *testing.T) {
	st, err := filestore.Open(t.TempDir(), &filestore.Options{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(context.Background(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.c.Close()
	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		var out map[string]any
		if w.Body.Len() > 0 {
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatalf("%s %s: %q is not JSON", method, path, w.Body.String())
			}
		}
		return w.Code, out
	}
	from := func(ip string) int {
		r := httptest.NewRequest("GET", "/protected", nil)
		r.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(ip), 1).String()
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Code
	}

	code, office := do("POST", "/addresses", `{"ipAddress": "10.0.0.0/8", "policy": "allow", "description": "office"}`)
	if code != 201 || office["ipAddress"] != "10.0.0.0/8" || office["policy"] != "allow" || office["createTime"] == "" {
		t.Fatalf("POST = %d %v", code, office)
	}
	soon := time.Now().Add(400 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	code, ban := do("POST", "/addresses", `{"ipAddress": "10.1.0.0 - 10.1.255.255", "policy": "deny", "expireTime": "`+soon+`"}`)
	if code != 201 || ban["ipAddress"] != "10.1.0.0/16" || ban["expireTime"] != soon {
		t.Fatalf("POST ban = %d %v", code, ban)
	}
	code, _ = do("POST", "/addresses", `{"ipAddress": "192.0.2.0/24", "policy": "deny", "ttl": 3600}`)
	if code != 201 {
		t.Fatalf("POST ttl = %d", code)
	}
	if c := from("10.1.2.3"); c != 403 {
		t.Errorf("before the expiry: %d, want 403", c)
	}
	// The expiry takes effect on time: the checker swaps snapshots itself.
	deadline := time.Now().Add(5 * time.Second)
	for from("10.1.2.3") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the expired deny never stopped denying")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The list: filters, sort, paging, total.
	code, got := do("GET", "/addresses?filter[policy]=deny&sort_by=ipAddress&sort_order=desc&limit=1", "")
	data := got["data"].([]any)
	if code != 200 || got["total"] != 2.0 || len(data) != 1 || data[0].(map[string]any)["ipAddress"] != "192.0.2.0/24" {
		t.Errorf("GET filtered = %d %v", code, got)
	}
	code, got = do("GET", "/addresses?filter[containsIp]=10.1.2.3&offset=1", "")
	if code != 200 || got["total"] != 2.0 || len(got["data"].([]any)) != 1 {
		t.Errorf("GET containsIp = %d %v", code, got)
	}
	code, got = do("GET", "/addresses?filter[ttlMin]=60", "")
	if code != 200 || got["total"] != 1.0 {
		t.Errorf("GET ttlMin = %d %v", code, got)
	}

	// PATCH changes only what is sent; PUT replaces the whole address.
	id := office["id"].(string)
	code, got = do("PATCH", "/addresses/"+id, `{"policy": "deny"}`)
	if code != 200 || got["ipAddress"] != "10.0.0.0/8" || got["policy"] != "deny" || got["description"] != "office" {
		t.Errorf("PATCH = %d %v", code, got)
	}
	if c := from("10.9.9.9"); c != 403 {
		t.Errorf("after PATCH to deny: %d", c)
	}
	code, got = do("PUT", "/addresses/"+id, `{"ipAddress": "10.0.0.0/9", "policy": "allow"}`)
	if code != 200 || got["ipAddress"] != "10.0.0.0/9" || got["description"] != "" || got["createTime"] != office["createTime"] {
		t.Errorf("PUT = %d %v", code, got)
	}
	if c := from("10.9.9.9"); c != 200 {
		t.Errorf("after PUT to allow: %d", c)
	}

	// Bad input: 400 naming the field and value; nothing applied.
	for _, bad := range []struct{ method, path, body, field, msg string }{
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5/24", "policy": "allow"}`, "ipAddress", "canonical form 10.0.0.0/24"},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "block"}`, "policy", `"block"`},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow", "ttl": -1}`, "ttl", "-1"},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow", "ttl": 5, "expireTime": "2030-01-01T00:00:00Z"}`, "ttl", "together"},
		{"POST", "/addresses", `{"ipAddress": "10.0.0.5", "policy": "allow", "expireTime": "tomorrow"}`, "expireTime", `"tomorrow"`},
		{"PATCH", "/addresses/" + id, `{"ipAddress": "::ffff:10.0.0.1"}`, "ipAddress", "IPv4-mapped"},
		{"GET", "/addresses?sort_by=color", "", "sort_by", `"color"`},
		{"GET", "/addresses?limit=0", "", "limit", `"0"`},
		{"GET", "/addresses?filter[containsIp]=10.0.0", "", "filter[containsIp]", `"10.0.0"`},
	} {
		code, got := do(bad.method, bad.path, bad.body)
		e, _ := got["error"].(map[string]any)
		if code != 400 || e["field"] != bad.field || !strings.Contains(e["message"].(string), bad.msg) {
			t.Errorf("%s %s %s = %d %v, want 400 naming %s with %q", bad.method, bad.path, bad.body, code, got, bad.field, bad.msg)
		}
	}
	code, got = do("GET", "/addresses", "")
	if got["total"] != 3.0 {
		t.Errorf("bad input changed the list: %v", got)
	}
	if code, _ = do("DELETE", "/addresses/"+id, ""); code != 204 {
		t.Errorf("DELETE = %d", code)
	}
	if code, _ = do("GET", "/addresses/"+id, ""); code != 404 {
		t.Errorf("GET deleted = %d", code)
	}
}
