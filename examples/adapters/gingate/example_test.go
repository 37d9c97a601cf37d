package gingate_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/adapters/gingate"
	"github.com/ipgate/ipgate/policy"
)

// A gin engine guarded by an allowlist, behind a proxy at 10.0.0.1, that
// answers denied requests in JSON.
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

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gingate.Middleware(gate, &gingate.Options{Deny: func(c *gin.Context) {
		d, _ := gingate.Decision(c)
		c.JSON(http.StatusForbidden, gin.H{"error": "forbidden", "reason": d.Reason})
	}}))
	r.GET("/", func(c *gin.Context) {
		d, _ := gingate.Decision(c)
		c.String(http.StatusOK, "hello: %s", d)
	})

	for _, xff := range []string{"198.51.100.7", "203.0.113.9"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = "10.0.0.1:4711"
		req.Header.Set("X-Forwarded-For", xff)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Printf("%s: %d %s\n", xff, rec.Code, rec.Body)
	}
	// Output:
	// 198.51.100.7: 200 hello: allow (rule "198.51.100.0/24")
	// 203.0.113.9: 403 {"error":"forbidden","reason":"default"}
}
