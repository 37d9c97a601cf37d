package chigate_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/adapters/internal/gatetest"
)

func router(t *testing.T, g *httpgate.Gate) http.Handler {
	r := chi.NewRouter()
	r.Use(g.Handler)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		d, _, ok := httpgate.FromContext(r.Context())
		if !ok {
			t.Error("no decision in the context")
		}
		w.Write([]byte(gatetest.Body(d)))
	})
	return r
}

func TestRouter(t *testing.T) {
	srv := httptest.NewServer(router(t, gatetest.Gate(t, gatetest.Snapshot(t))))
	defer srv.Close()
	gatetest.Run(t, srv.URL, http.StatusForbidden)
}

func TestDisabled(t *testing.T) {
	srv := httptest.NewServer(router(t, gatetest.Gate(t, gatetest.Disabled(t))))
	defer srv.Close()
	gatetest.RunDisabled(t, srv.URL)
}

// TestRouteGroup guards one route group only, as chi users do for an
// admin area, and checks the rest of the router stays open.
func TestRouteGroup(t *testing.T) {
	g := gatetest.Gate(t, gatetest.Snapshot(t))
	r := chi.NewRouter()
	r.Get("/open", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("open")) })
	r.Group(func(r chi.Router) {
		r.Use(g.Handler)
		r.Get("/admin", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("admin")) })
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	for _, c := range []struct {
		path, peer string
		want       int
	}{
		{"/open", gatetest.Untrusted, http.StatusOK},
		{"/admin", gatetest.Untrusted, http.StatusForbidden},
		{"/admin", gatetest.Allowed, http.StatusOK},
	} {
		resp, err := gatetest.Client(c.peer).Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s from %s: got %d, want %d", c.path, c.peer, resp.StatusCode, c.want)
		}
	}
}
