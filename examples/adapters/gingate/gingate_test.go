package gingate_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/adapters/gingate"
	"github.com/ipgate/ipgate/examples/adapters/internal/gatetest"
)

func init() { gin.SetMode(gin.TestMode) }

// newServer serves a gin engine guarded by g, whose last handler records
// the errors gin collected on denied requests.
func newServer(t *testing.T, g *httpgate.Gate, opts *gingate.Options) (*httptest.Server, func() []error) {
	var (
		mu   sync.Mutex
		errs []error
	)
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		mu.Lock()
		for _, e := range c.Errors {
			errs = append(errs, e.Err)
		}
		mu.Unlock()
	})
	r.Use(gingate.Middleware(g, opts))
	r.GET("/", func(c *gin.Context) {
		d, ok := gingate.Decision(c)
		if !ok {
			t.Error("no decision in the context")
		}
		c.String(http.StatusOK, gatetest.Body(d))
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, func() []error {
		mu.Lock()
		defer mu.Unlock()
		return errs
	}
}

func TestEngine(t *testing.T) {
	srv, errs := newServer(t, gatetest.Gate(t, gatetest.Snapshot(t)), nil)
	denied := gatetest.Run(t, srv.URL, http.StatusForbidden)
	for name, body := range denied {
		if body != "" {
			t.Errorf("%s: body %q, want none (AbortWithStatus)", name, body)
		}
	}
	// Every denial left one error naming its decision; the invalid ones
	// wrap the gate's.
	var invalid int
	for _, err := range errs() {
		if gatetest.Wraps(err, "httpgate: trusted proxy sent no header") || gatetest.Wraps(err, "httpgate: unusable forwarding header") {
			invalid++
		}
	}
	if got, want := len(errs()), len(denied); got != want {
		t.Errorf("%d errors collected, want %d: %v", got, want, errs())
	}
	if invalid != 2 {
		t.Errorf("%d errors wrap the gate's, want 2: %v", invalid, errs())
	}
}

func TestDisabled(t *testing.T) {
	srv, _ := newServer(t, gatetest.Gate(t, gatetest.Disabled(t)), nil)
	gatetest.RunDisabled(t, srv.URL)
}

func TestDeny(t *testing.T) {
	tests := []struct {
		name string
		deny gin.HandlerFunc
		code int
		body string
	}{
		{"JSON", func(c *gin.Context) {
			d, _ := gingate.Decision(c)
			c.JSON(http.StatusUnauthorized, gin.H{"reason": d.Reason})
		}, http.StatusUnauthorized, `{"reason":"default"}`},
		{"writes nothing", func(*gin.Context) {}, http.StatusForbidden, ""},
		{"calls Next", func(c *gin.Context) { c.Next() }, http.StatusForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, gatetest.Gate(t, gatetest.Snapshot(t)), &gingate.Options{Deny: tt.deny})
			resp, body := get(t, srv.URL, gatetest.Untrusted)
			if resp.StatusCode != tt.code || body != tt.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.code, tt.body)
			}
		})
	}
}

// TestNilGate checks that a nil gate denies, as the zero Gate does.
func TestNilGate(t *testing.T) {
	srv, _ := newServer(t, nil, nil)
	if resp, body := get(t, srv.URL, gatetest.Allowed); resp.StatusCode != http.StatusForbidden {
		t.Errorf("got %d %q, want 403", resp.StatusCode, body)
	}
}

func get(t *testing.T, url, peer string) (*http.Response, string) {
	t.Helper()
	resp, err := gatetest.Client(peer).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}
