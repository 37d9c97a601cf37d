package seed

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
)

func TestLoadCredentials(t *testing.T) {
	if _, err := loadCredentials("", "1", ""); !errors.Is(err, errNoToken) || !strings.Contains(err.Error(), "$IPGATE_API_TOKEN is not set") {
		t.Errorf("no token: %v, want a refusal naming $IPGATE_API_TOKEN", err)
	}
	file := filepath.Join(t.TempDir(), "creds")
	os.WriteFile(file, []byte("# tokens\n\nagent-7 user 10000\n  boss-2 admin 10001  \n"), 0o600)
	c, err := loadCredentials("root", "10000", file)
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]Principal{"root": {"10000", true}, "agent-7": {"10000", false}, "boss-2": {"10001", true}} {
		if got, ok := c.Lookup(token); !ok || got != want {
			t.Errorf("Lookup(%q) = %v, %v; want %v", token, got, ok, want)
		}
	}
	for _, bad := range []string{"", "roo", "root ", "agent-7 user 10000"} {
		if p, ok := c.Lookup(bad); ok {
			t.Errorf("Lookup(%q) = %v, want none", bad, p)
		}
	}
	if got := strings.Join(c.Accounts(), ","); got != "10000,10001" {
		t.Errorf("Accounts() = %s", got)
	}
	for _, tc := range []struct{ content, msg string }{
		{"secret-token admin\n", `creds:1: want TOKEN admin|user ACCOUNT, got 2 fields starting "admin"`},
		{"secret-token owner 1\n", `creds:1: want TOKEN admin|user ACCOUNT, got 3 fields starting "owner"`},
		{"root user 1\n", `creds:1: a token is given twice`},
	} {
		os.WriteFile(file, []byte(tc.content), 0o600)
		_, err := loadCredentials("root", "1", file)
		if err == nil || !strings.HasSuffix(err.Error(), tc.msg) || strings.Contains(err.Error(), "secret-token") {
			t.Errorf("file %q: %v, want %q (and no token echoed)", tc.content, err, tc.msg)
		}
	}
}

func TestBearer(t *testing.T) {
	for header, want := range map[string]string{"Bearer abc": "abc", "bearer abc": "abc", "Basic abc": "", "Bearerabc": "", "": ""} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", header)
		if got := Bearer(r); got != want {
			t.Errorf("Bearer(%q) = %q, want %q", header, got, want)
		}
	}
}

func TestReadJSON(t *testing.T) {
	type T struct {
		A int      `json:"a"`
		B []string `json:"b"`
		E []struct {
			D string `json:"d"`
		} `json:"e"`
		M map[string]int `json:"m"`
		R policy.Rule    `json:"r"` // decodes itself, with keys of its own
	}
	lenient := &JSONOptions{TrailingCommas: true}
	for _, tc := range []struct {
		body   string
		opts   *JSONOptions
		status int
		msg    string
	}{
		{`{"a": 1}`, nil, 0, ""},
		{`{"a": 1,}`, nil, 400, "not valid JSON at byte 9"},
		{`{"a": 1,}`, lenient, 0, ""},
		{" {\n  \"a\": 1,\n  \"b\": [\"x\", \"y\",],\n }", lenient, 0, ""},
		{`{"a": 1, "b": ["x,]"]}`, lenient, 0, ""},
		{`{"a": 1,,}`, lenient, 400, "not valid JSON"},
		{`{,}`, lenient, 400, "not valid JSON"},
		{`{"b": [,]}`, lenient, 400, "not valid JSON"},
		{`{"a": 1} x`, lenient, 400, "unexpected data after the JSON value at byte"},
		{`{"a": 1}{"a": 2}`, nil, 400, "unexpected data after the JSON value"},
		{`{"a": "1"}`, nil, 400, "a must be a whole number, not string"},
		{`{"b": "x"}`, nil, 400, "b must be a list, not string"},
		{`[1]`, nil, 400, "the request body must be an object, not array"},
		{`{"c": 1}`, nil, 400, `unknown field "c"`},
		{`{"e": [{"d": "x"}], "m": {"K": 1, "k": 2}}`, nil, 0, ""},
		{`{"r": {"id": "a", "ip": "10.0.0.1", "action": "allow"}}`, nil, 0, ""},
		{`{"a": 1, "a": 2}`, nil, 400, `field "a" is given twice`},
		{`{"A": 1}`, nil, 400, `unknown field "A" (field names are case-sensitive)`},
		{`{"e": [{"d": "x"}, {"d": "x", "D": "y"}]}`, nil, 400, `unknown field "D" (field names are case-sensitive)`},
		{`{"e": [{"d": "x", "d": "y"}]}`, nil, 400, `field "d" is given twice`},
		{`{"m": {"k": 1, "k": 2}}`, nil, 400, `field "k" is given twice`},
		{`{"b": ["x"], "a": 1, "b": ["y"],}`, lenient, 400, `field "b" is given twice`},
		{`{"a": 1`, nil, 400, "the request body ends inside its JSON value"},
		{``, nil, 400, "the request body is empty"},
		{` `, &JSONOptions{Empty: true}, 0, ""},
		{`{"a": "` + strings.Repeat("x", MaxBody) + `"}`, nil, 413, "the request body is larger than 1048576 bytes"},
	} {
		var v T
		err := ReadJSON(httptest.NewRecorder(), httptest.NewRequest("PUT", "/", strings.NewReader(tc.body)), &v, tc.opts)
		var be *BodyError
		switch {
		case tc.status == 0 && err != nil:
			t.Errorf("ReadJSON(%.40q) = %v, want nil", tc.body, err)
		case tc.status != 0 && (!errors.As(err, &be) || be.Status != tc.status || !strings.Contains(be.Msg, tc.msg) || strings.Contains(be.Msg, "json:")):
			t.Errorf("ReadJSON(%.40q) = %v, want %d with %q", tc.body, err, tc.status, tc.msg)
		}
	}
}

func TestNewHTTPServer(t *testing.T) {
	s := NewHTTPServer(http.NotFoundHandler(), nil)
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Errorf("NewHTTPServer(nil) leaves a phase unbounded: %+v", s)
	}
	if s := NewHTTPServer(http.NotFoundHandler(), &Timeouts{ReadHeader: time.Second}); s.ReadHeaderTimeout != time.Second || s.ReadTimeout <= 0 {
		t.Errorf("NewHTTPServer(ReadHeader 1s) = %v, %v", s.ReadHeaderTimeout, s.ReadTimeout)
	}
}

func TestDataDir(t *testing.T) {
	wd, _ := os.Getwd()
	d := DataDir("docspace")
	if !filepath.IsAbs(d) || strings.HasPrefix(d, filepath.Dir(filepath.Dir(filepath.Dir(wd)))) || filepath.Base(d) != "docspace" {
		t.Errorf("DataDir = %s, want an absolute directory outside the work tree", d)
	}
}

func TestServe(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("item " + r.PathValue("id"))) })
	mux.HandleFunc("PUT /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	fail := func(w http.ResponseWriter, code int, msg string) {
		w.WriteHeader(code)
		w.Write([]byte("product error: " + msg))
	}
	for _, tc := range []struct {
		method, path string
		code         int
		body, allow  string
	}{
		{"GET", "/items/7", 200, "item 7", ""},
		{"DELETE", "/items/7", 405, `product error: "DELETE" is not served for "/items/7" (allowed: GET, HEAD, PUT)`, "GET, HEAD, PUT"},
		{"GET", "/nothing", 404, `product error: no such route: "GET" "/nothing"`, ""},
	} {
		w := httptest.NewRecorder()
		Serve(mux, w, httptest.NewRequest(tc.method, tc.path, nil), fail)
		if w.Code != tc.code || w.Body.String() != tc.body || w.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s = %d %q, Allow %q; want %d %q, Allow %q", tc.method, tc.path, w.Code, w.Body, w.Header().Get("Allow"), tc.code, tc.body, tc.allow)
		}
	}
}

// An error names client input cut to 64 bytes: a long unknown key, and a
// long number literal of the wrong type.
func TestReadJSONClips(t *testing.T) {
	type T struct {
		A int `json:"a"`
	}
	long := strings.Repeat("k", 100000)
	for _, body := range []string{`{"` + long + `": 1}`, `{"a": 1` + strings.Repeat("0", 100000) + `.5}`, `{"a": 1, "a": 2, "` + long + `": 3}`} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		var v T
		err := ReadJSON(httptest.NewRecorder(), r, &v, nil)
		var be *BodyError
		if !errors.As(err, &be) {
			t.Fatalf("ReadJSON of a %d-byte body: %v", len(body), err)
		}
		if len(be.Msg) > 300 || len(be.Field) > 100 {
			t.Errorf("ReadJSON of a %d-byte body: %d-byte message, %d-byte field", len(body), len(be.Msg), len(be.Field))
		}
	}
}
