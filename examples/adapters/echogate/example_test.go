package echogate_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/adapters/echogate"
	"github.com/ipgate/ipgate/policy"
)

// An echo server guarded by an allowlist, behind a proxy at 10.0.0.1.
func Example() {
	p, err := policy.Allowlist("198.51.100.0/24")
	if err != nil {
		panic(err)
	}
	snap, err := check.Compile(p, time.Now())
	if err != nil {
		panic(err)
	}
	gate, err := httpgate.New(snap.Check, &httpgate.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}})
	if err != nil {
		panic(err)
	}

	e := echo.New()
	e.Use(echogate.Middleware(gate))
	e.GET("/", func(c echo.Context) error {
		d, _ := echogate.Decision(c)
		return c.String(http.StatusOK, "hello: "+d.String())
	})

	for _, xff := range []string{"198.51.100.7", "203.0.113.9"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = "10.0.0.1:4711"
		req.Header.Set("X-Forwarded-For", xff)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Printf("%s: %d %s\n", xff, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// 198.51.100.7: 200 hello: allow (rule "198.51.100.0/24")
	// 203.0.113.9: 403 {"message":"Forbidden"}
}
