// Package seedtest holds the tests the seed servers share: replaying
// their products' documented exchanges from golden files, a slow header
// cut off by the shared server's timeout, and a huge body refused
// without reading it.
package seedtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipgate/ipgate/examples/internal/seed"
)

// exchange is one documented request and its answer, as a golden file
// holds it.
type exchange struct {
	// Doc says where the documentation shows the exchange ("setup: ..."
	// for a step the documentation implies but does not show).
	Doc string `json:"doc"`
	// Method, URL, Header and Body are the request, verbatim; URL may be
	// absolute (its host becomes the request's Host).
	Method string            `json:"method"`
	URL    string            `json:"url"`
	Header map[string]string `json:"header,omitempty"`
	Body   string            `json:"body,omitempty"`
	// Status is the status wanted; WantHeader the headers wanted, exactly.
	Status     int               `json:"status"`
	WantHeader map[string]string `json:"wantHeader,omitempty"`
	// Want is the body wanted, absent for none. Its shape must match
	// exactly: the same object keys, the same JSON types and array
	// lengths; so must its values, except at the paths of Vary (object
	// keys joined by ".", array indices written "[]", e.g. "[].created").
	Want json.RawMessage `json:"want,omitempty"`
	Vary []string        `json:"vary,omitempty"`
}

// Replay sends the exchanges of dir/*.json, in file name order, through
// h, each as a subtest, and fails every answer that differs from its
// file. A file may hold one exchange or a list of them.
func Replay(t *testing.T, h http.Handler, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in %s (%v)", dir, err)
	}
	slices.Sort(files)
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var xs []exchange
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
			err = json.Unmarshal(data, &xs)
		} else {
			xs = make([]exchange, 1)
			err = json.Unmarshal(data, &xs[0])
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			for _, x := range xs {
				do(t, h, x)
			}
		})
	}
}

// do sends x's request through h and checks the answer against x.
func do(t *testing.T, h http.Handler, x exchange) {
	t.Helper()
	var body io.Reader
	if x.Body != "" {
		body = strings.NewReader(x.Body)
	}
	r := httptest.NewRequest(x.Method, x.URL, body)
	for k, v := range x.Header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	what := x.Method + " " + x.URL + " (" + x.Doc + ")"
	if w.Code != x.Status {
		t.Errorf("%s: status %d, want %d; body %s", what, w.Code, x.Status, w.Body)
	}
	for k, v := range x.WantHeader {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s: header %s = %q, want %q", what, k, got, v)
		}
	}
	if len(x.Want) == 0 {
		if w.Body.Len() != 0 {
			t.Errorf("%s: body %s, want none", what, w.Body)
		}
		return
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	var want, got any
	if err := json.Unmarshal(x.Want, &want); err != nil {
		t.Fatalf("%s: the golden body: %v", what, err)
	}
	if err := strictJSON(w.Body.Bytes(), &got); err != nil {
		t.Errorf("%s: body %s is not one JSON value: %v", what, w.Body, err)
		return
	}
	for _, d := range Compare(want, got, x.Vary) {
		t.Errorf("%s: %s\nbody: %s", what, d, w.Body)
	}
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the value")
	}
	return nil
}

// Compare returns the differences between got and want, both decoded
// JSON: keys, types and array lengths always, values except at the paths
// of vary.
func Compare(want, got any, vary []string) []string {
	var diffs []string
	compare("", want, got, vary, &diffs)
	return diffs
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func compare(path string, want, got any, vary []string, diffs *[]string) {
	at := path
	if at == "" {
		at = "the body"
	}
	if kind(want) != kind(got) {
		*diffs = append(*diffs, fmt.Sprintf("%s is %s %v, want %s %v", at, kind(got), got, kind(want), want))
		return
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k := range g {
			if _, ok := w[k]; !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s has field %q, which the documentation does not", at, k))
			}
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s lacks field %q", at, k))
				continue
			}
			compare(join(k), wv, gv, vary, diffs)
		}
	case []any:
		g := got.([]any)
		if len(g) != len(w) {
			*diffs = append(*diffs, fmt.Sprintf("%s has %d elements, want %d", at, len(g), len(w)))
			return
		}
		for i := range w {
			compare(join("[]"), w[i], g[i], vary, diffs)
		}
	default:
		if want != got && !slices.Contains(vary, path) {
			*diffs = append(*diffs, fmt.Sprintf("%s = %v, want %v", at, got, want))
		}
	}
}

// SlowHeader serves h with the shared server set-up and a short
// read-header timeout, sends half a header over raw TCP and fails unless
// the server closes the connection soon after the timeout.
func SlowHeader(t *testing.T, h http.Handler) {
	t.Helper()
	const timeout = 150 * time.Millisecond
	srv := seed.NewHTTPServer(h, &seed.Timeouts{ReadHeader: timeout})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: example.com\r\nX-Half: "); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.Copy(io.Discard, c) // returns at the server's close
	if errors.Is(err, syscall.ECONNRESET) {
		err = nil // closed with the half header unread: a reset is a close
	}
	if elapsed := time.Since(start); err != nil || elapsed > timeout+2*time.Second {
		t.Errorf("half a header: the connection stayed open %v (err %v), want it closed after about %v", elapsed, err, timeout)
	}
}

// HugeBody sends a 100 MB body, head followed by filler bytes, without
// holding it, through h, and fails unless the answer is 413 and the
// process allocated no more than a few MB meanwhile. It returns the
// answer for the caller to check its envelope.
func HugeBody(t *testing.T, h http.Handler, method, url string, header map[string]string, head string) *httptest.ResponseRecorder {
	t.Helper()
	const size = 100 << 20
	r := httptest.NewRequest(method, url, &filler{head: head, left: size})
	r.ContentLength = -1
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h.ServeHTTP(w, r)
	runtime.ReadMemStats(&after)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("%s %s with a 100 MB body: %d %s, want 413", method, url, w.Code, w.Body)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 8<<20 {
		t.Errorf("%s %s with a 100 MB body allocated %d bytes, want at most 8 MB", method, url, grown)
	}
	return w
}

// filler yields head, then 'a's up to left bytes in all, allocating
// nothing.
type filler struct {
	head string
	left int
}

func (f *filler) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), f.left)]
	n := copy(p, f.head)
	f.head = f.head[n:]
	for i := n; i < len(p); i++ {
		p[i] = 'a'
	}
	f.left -= len(p)
	return len(p), nil
}

// IDs returns a function that yields ids in turn, then fails the test.
func IDs(t *testing.T, ids ...string) func() string {
	return func() string {
		if len(ids) == 0 {
			t.Error("more ids asked for than the test has")
			return "no-more-ids"
		}
		id := ids[0]
		ids = ids[1:]
		return id
	}
}
