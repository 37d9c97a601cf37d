// Package grpcgate guards a gRPC server with an ipgate HTTP guard: the
// interceptors of [Unary] and [Stream] decide each call with a
// [*httpgate.Gate], so the client address is found by the guard's own
// rules.
//
// A call is decided as the HTTP request it travels in: the interceptors
// build a minimal *http.Request (method POST, the call's full method as the
// path, RemoteAddr the peer address of peer.FromContext, the header the
// incoming metadata, the call's context) and hand it to
// [httpgate.Gate.Check]. Forwarding metadata (x-forwarded-for, forwarded,
// or the gate's ClientIPHeader) is therefore read only from the gate's
// trusted proxies, walked and failing closed exactly as HTTP headers are;
// a peer that is not an IP address (a Unix socket, an in-memory
// connection) cannot be read and is decided as invalid. Binary ("-bin")
// and pseudo-header (":authority") metadata is not copied into the header;
// the authority becomes the request's Host. Options.Subject of the gate
// sees that request.
//
// A denied call fails with status code PermissionDenied and a message
// naming the decision, such as `grpcgate: deny (rule "guest-net")`; the
// reason why an address could not be read is not sent to the client. An
// allowed call runs with the decision in its context (see [FromContext]).
//
// The gate's Options.Deny is not used (only Gate.Handler answers with
// it); its Options.OnDecision sees every decision, as it does for
// Gate.Check. To log or count decisions, set OnDecision (sloggate's
// Logger.OnDecision) or wrap the gate's decider with package sloggate or
// promgate, not both: each decision would be counted twice.
package grpcgate

import (
	"context"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
)

// Unary returns a unary server interceptor that lets the calls g allows
// through and fails the others with codes.PermissionDenied. A nil g denies
// every call, as the zero Gate does.
func Unary(g *httpgate.Gate) grpc.UnaryServerInterceptor {
	if g == nil {
		g = new(httpgate.Gate)
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := decide(ctx, g, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream returns a stream server interceptor that lets the streams g
// allows through and fails the others with codes.PermissionDenied before
// the handler runs. A nil g denies every stream, as the zero Gate does.
func Stream(g *httpgate.Gate) grpc.StreamServerInterceptor {
	if g == nil {
		g = new(httpgate.Gate)
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := decide(ss.Context(), g, info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &stream{ss, ctx})
	}
}

// stream is a server stream whose context carries the decision.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

type ctxKey struct{}

// FromContext returns the decision [Unary] or [Stream] made on the call of
// ctx, and reports whether there was one.
func FromContext(ctx context.Context) (check.Decision, bool) {
	d, ok := ctx.Value(ctxKey{}).(check.Decision)
	return d, ok
}

// decide decides the call of ctx, returning ctx with the decision, or the
// status error of a denial.
func decide(ctx context.Context, g *httpgate.Gate, method string) (context.Context, error) {
	d, _ := g.Check(request(ctx, method))
	if !d.Allowed {
		return ctx, status.Error(codes.PermissionDenied, "grpcgate: "+d.String())
	}
	return context.WithValue(ctx, ctxKey{}, d), nil
}

// request returns the HTTP request that carries the call of ctx, as the
// gate needs to see it.
func request(ctx context.Context, method string) *http.Request {
	r := &http.Request{
		Method:     http.MethodPost,
		URL:        &url.URL{Path: method},
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     make(http.Header),
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		r.RemoteAddr = p.Addr.String()
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for k, vs := range md {
		switch {
		case k == ":authority" && len(vs) > 0:
			r.Host = vs[0]
		case strings.HasPrefix(k, ":"), strings.HasSuffix(k, "-bin"):
		default:
			// gRPC lower-cases metadata keys; http.Header keys are
			// canonical. The values keep their lines, as HTTP/2 sent
			// them.
			r.Header[textproto.CanonicalMIMEHeaderKey(k)] = vs
		}
	}
	return r.WithContext(ctx)
}
