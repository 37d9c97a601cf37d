// Package echogate guards an echo server with an ipgate HTTP guard: the
// middleware of [Middleware] decides each request with a
// [*httpgate.Gate], so the client address is found exactly as
// [httpgate.Gate.Check] finds it, behind the gate's trusted proxies only.
//
// Echo's own client address (Echo.IPExtractor, Context.RealIP) is not
// consulted: the gate reads the peer address and the forwarding headers
// itself, with the rules of package httpgate.
//
// A denied request stops the chain with an [*echo.HTTPError] of status 403,
// rendered by the server's HTTPErrorHandler (customise the answer there);
// its Internal error names the decision and wraps the error that made the
// client address unreadable, if any, for errors.Is with httpgate's Err
// values. An unreadable address is decided as the gate decides it: denied,
// reason invalid, unless the policy is disabled or exempts the subject.
//
// The gate's Options.Deny is not used (only Gate.Handler answers with
// it); its Options.OnDecision sees every decision, as it does for
// Gate.Check. To log or count decisions, set OnDecision (sloggate's
// Logger.OnDecision) or wrap the gate's decider with package sloggate or
// promgate, not both: each decision would be counted twice.
package echogate

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
)

// key holds the decision in the echo.Context; echo keys are strings, so it
// is one no other package would choose.
const key = "github.com/ipgate/ipgate/examples/adapters/echogate.decision"

// Middleware returns echo middleware that passes the requests g allows to
// the next handler, with the decision in the context (see [Decision]), and
// answers the others with a 403 [*echo.HTTPError]. A nil g denies every
// request, as the zero Gate does.
func Middleware(g *httpgate.Gate) echo.MiddlewareFunc {
	if g == nil {
		g = new(httpgate.Gate)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			d, err := g.Check(c.Request())
			c.Set(key, d)
			if d.Allowed {
				return next(c)
			}
			cause := fmt.Errorf("echogate: %s", d)
			if err != nil {
				cause = fmt.Errorf("echogate: %s: %w", d, err)
			}
			return echo.NewHTTPError(http.StatusForbidden).SetInternal(cause)
		}
	}
}

// Decision returns the decision [Middleware] made on the request of c, and
// reports whether it made one. The HTTPErrorHandler sees it too.
func Decision(c echo.Context) (check.Decision, bool) {
	d, ok := c.Get(key).(check.Decision)
	return d, ok
}
