// Package chigate shows ipgate guarding a chi router. It has no code: chi
// middleware is func(http.Handler) http.Handler, and so is the method
// value gate.Handler of a
// [github.com/ipgate/ipgate/check/httpgate.Gate], so a router is guarded
// with
//
//	r := chi.NewRouter()
//	r.Use(gate.Handler)
//
// and a handler reads the decision with
// [github.com/ipgate/ipgate/check/httpgate.FromContext]. The client
// address is the gate's: its trusted proxies and forwarding headers, by
// the rules of package httpgate, and a denied request gets the gate's
// answer (Options.Deny, a 403 by default).
//
// Do not put chi's middleware.RealIP in front of the gate: it rewrites
// RemoteAddr from X-Real-IP or X-Forwarded-For, headers any client can
// write, and the gate would then take a forged address for the peer.
//
// The tests run a real chi router behind httptest.NewServer.
package chigate
