// Package gingate guards a gin engine with an ipgate HTTP guard: the
// handler of [Middleware] decides each request with a [*httpgate.Gate],
// so the client address is found exactly as [httpgate.Gate.Check] finds
// it, behind the gate's trusted proxies only.
//
// Gin's own client address (Engine.SetTrustedProxies, Context.ClientIP) is
// not consulted: the gate reads the peer address and the forwarding headers
// itself, with the rules of package httpgate.
//
// A denied request is aborted with 403 (Context.AbortWithStatus) or by
// [Options.Deny], and an error naming the decision, wrapping the error that
// made the client address unreadable if any, is attached to the context
// (Context.Error) for gin's logger. An unreadable address is decided as the
// gate decides it: denied, reason invalid, unless the policy is disabled or
// exempts the subject.
//
// The gate's Options.Deny is not used (only Gate.Handler answers with
// it); its Options.OnDecision sees every decision, as it does for
// Gate.Check. To log or count decisions, set OnDecision (sloggate's
// Logger.OnDecision) or wrap the gate's decider with package sloggate or
// promgate, not both: each decision would be counted twice.
package gingate

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
)

// Options configure [Middleware]. A nil *Options means the defaults.
type Options struct {
	// Deny answers denied requests, with the decision at hand through
	// [Decision]; nil means Context.AbortWithStatus(403). The chain is
	// aborted and the status set to 403 before Deny runs, so a Deny that
	// writes nothing answers 403 and one that calls Context.Next cannot
	// let the request through.
	Deny gin.HandlerFunc
}

type ctxKey struct{}

// Middleware returns a gin handler that passes the requests g allows to
// the next handlers, with the decision in the context (see [Decision]),
// and aborts the others. A nil g denies every request, as the zero Gate
// does.
func Middleware(g *httpgate.Gate, opts *Options) gin.HandlerFunc {
	if g == nil {
		g = new(httpgate.Gate)
	}
	var deny gin.HandlerFunc
	if opts != nil {
		deny = opts.Deny
	}
	return func(c *gin.Context) {
		d, err := g.Check(c.Request)
		c.Set(ctxKey{}, d)
		if d.Allowed {
			c.Next()
			return
		}
		if err != nil {
			_ = c.Error(fmt.Errorf("gingate: %s: %w", d, err))
		} else {
			_ = c.Error(fmt.Errorf("gingate: %s", d))
		}
		if deny == nil {
			c.AbortWithStatus(http.StatusForbidden)
			return
		}
		c.Abort()
		c.Status(http.StatusForbidden)
		deny(c)
	}
}

// Decision returns the decision [Middleware] made on the request of c, and
// reports whether it made one.
func Decision(c *gin.Context) (check.Decision, bool) {
	v, ok := c.Get(ctxKey{})
	d, _ := v.(check.Decision)
	return d, ok
}
