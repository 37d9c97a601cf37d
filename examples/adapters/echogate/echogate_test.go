package echogate_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/adapters/echogate"
	"github.com/ipgate/ipgate/examples/adapters/internal/gatetest"
)

func newServer(t *testing.T, g *httpgate.Gate) (*echo.Echo, *httptest.Server) {
	e := echo.New()
	e.HideBanner = true
	e.Use(echogate.Middleware(g))
	e.GET("/", func(c echo.Context) error {
		d, ok := echogate.Decision(c)
		if !ok {
			t.Error("no decision in the context")
		}
		return c.String(http.StatusOK, gatetest.Body(d))
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return e, srv
}

func TestServer(t *testing.T) {
	_, srv := newServer(t, gatetest.Gate(t, gatetest.Snapshot(t)))
	for name, body := range gatetest.Run(t, srv.URL, http.StatusForbidden) {
		// echo's default error handler renders the HTTPError's message,
		// never its Internal error.
		if want := `{"message":"Forbidden"}`; strings.TrimSpace(body) != want {
			t.Errorf("%s: body %q, want %q", name, body, want)
		}
	}
}

func TestDisabled(t *testing.T) {
	_, srv := newServer(t, gatetest.Gate(t, gatetest.Disabled(t)))
	gatetest.RunDisabled(t, srv.URL)
}

// TestErrorHandler checks what an HTTPErrorHandler sees of a denial: a
// 403 HTTPError whose Internal error names the decision and wraps the
// gate's error, and the decision in the context.
func TestErrorHandler(t *testing.T) {
	type seen struct {
		code     int
		internal string
		noHeader bool
		d        check.Decision
	}
	var (
		mu   sync.Mutex
		got  []seen
		want = []seen{
			{code: 403, internal: `echogate: deny (default)`, d: check.Decision{Reason: check.ReasonDefault}},
			{code: 403, internal: `echogate: deny (invalid): httpgate: trusted proxy sent no header X-Forwarded-For`, noHeader: true, d: check.Decision{Reason: check.ReasonInvalid}},
		}
	)
	e, srv := newServer(t, gatetest.Gate(t, gatetest.Snapshot(t)))
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		var he *echo.HTTPError
		if !errors.As(err, &he) {
			t.Errorf("error %v is not an *echo.HTTPError", err)
			return
		}
		d, _ := echogate.Decision(c)
		mu.Lock()
		got = append(got, seen{he.Code, he.Internal.Error(), gatetest.Wraps(err, "httpgate: trusted proxy sent no header"), d})
		mu.Unlock()
		c.String(he.Code, "go away")
	}
	for _, peer := range []string{gatetest.Untrusted, gatetest.Proxy} {
		resp, err := gatetest.Client(peer).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("from %s: status %d, want 403", peer, resp.StatusCode)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("error handler saw %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("error handler saw %+v, want %+v", got[i], want[i])
		}
	}
}

// TestNilGate checks that a nil gate denies, as the zero Gate does.
func TestNilGate(t *testing.T) {
	_, srv := newServer(t, nil)
	resp, err := gatetest.Client(gatetest.Allowed).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d, want 403", resp.StatusCode)
	}
}
