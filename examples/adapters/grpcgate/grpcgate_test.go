package grpcgate_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/adapters/grpcgate"
	"github.com/ipgate/ipgate/examples/adapters/internal/gatetest"
)

// seen records the decisions the handlers found in their contexts.
type seen struct {
	mu sync.Mutex
	ds []check.Decision
}

func (s *seen) add(ctx context.Context) {
	d, ok := grpcgate.FromContext(ctx)
	if !ok {
		d = check.Decision{Rule: "no decision in the context"}
	}
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
}

func (s *seen) take() []check.Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.ds
	s.ds = nil
	return ds
}

// serve starts a gRPC server with the health service on lis, guarded by
// g, and returns what its handlers see.
func serve(t *testing.T, lis net.Listener, g *httpgate.Gate) *seen {
	s := new(seen)
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcgate.Unary(g), func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			s.add(ctx)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(grpcgate.Stream(g), func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			s.add(ss.Context())
			return h(srv, ss)
		}),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return s
}

func listen(t *testing.T) net.Listener {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// client dials addr from peer.
func client(t *testing.T, addr, peer string) healthpb.HealthClient {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return gatetest.Dialer(peer).DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

// call makes one unary and one streaming call with the metadata md and
// returns their errors.
func call(t *testing.T, c healthpb.HealthClient, md ...string) (unary, stream error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, md...)
	_, unary = c.Check(ctx, &healthpb.HealthCheckRequest{})
	w, err := c.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return unary, err
	}
	_, stream = w.Recv()
	return unary, stream
}

func wantDenied(t *testing.T, name string, err error, d check.Decision) {
	t.Helper()
	want := status.New(codes.PermissionDenied, "grpcgate: "+d.String())
	if got, _ := status.FromError(err); got.Code() != want.Code() || got.Message() != want.Message() {
		t.Errorf("%s: got %v, want %v", name, err, want.Err())
	}
}

func TestServer(t *testing.T) {
	lis := listen(t)
	seen := serve(t, lis, gatetest.Gate(t, gatetest.Snapshot(t)))
	for _, c := range gatetest.Cases {
		var md []string
		for _, v := range c.XFF {
			md = append(md, "x-forwarded-for", v)
		}
		unary, stream := call(t, client(t, lis.Addr().String(), c.Peer), md...)
		d := check.Decision{Allowed: c.Allowed, Rule: c.Rule, Reason: c.Reason}
		if !c.Allowed {
			wantDenied(t, c.Name+": unary", unary, d)
			wantDenied(t, c.Name+": stream", stream, d)
			if got := seen.take(); len(got) != 0 {
				t.Errorf("%s: denied calls reached the handlers: %v", c.Name, got)
			}
			continue
		}
		if unary != nil || stream != nil {
			t.Errorf("%s: got errors %v and %v, want none", c.Name, unary, stream)
		}
		if got, want := seen.take(), []check.Decision{d, d}; !slices.Equal(got, want) {
			t.Errorf("%s: handlers saw %v, want %v", c.Name, got, want)
		}
	}
}

// TestDisabled checks that a disabled policy lets every call through, one
// whose address cannot be read included, as the HTTP guard does.
func TestDisabled(t *testing.T) {
	lis := listen(t)
	seen := serve(t, lis, gatetest.Gate(t, gatetest.Disabled(t)))
	for _, peer := range []string{gatetest.Untrusted, gatetest.Proxy} {
		if unary, stream := call(t, client(t, lis.Addr().String(), peer)); unary != nil || stream != nil {
			t.Errorf("from %s: got %v and %v, want no errors", peer, unary, stream)
		}
	}
	d := check.Decision{Allowed: true, Reason: check.ReasonDisabled}
	if got, want := seen.take(), []check.Decision{d, d, d, d}; !slices.Equal(got, want) {
		t.Errorf("handlers saw %v, want %v", got, want)
	}
}

// TestForwarded reads the RFC 7239 forwarded metadata from a gate that
// asks for it.
func TestForwarded(t *testing.T) {
	g, err := httpgate.New(gatetest.Snapshot(t).Check, &httpgate.Options{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix(gatetest.Proxy + "/32")},
		Forwarded:      true,
	})
	if err != nil {
		t.Fatal(err)
	}
	lis := listen(t)
	serve(t, lis, g)
	c := client(t, lis.Addr().String(), gatetest.Proxy)
	if unary, stream := call(t, c, "forwarded", `for="198.51.100.1:4711";proto=https`); unary != nil || stream != nil {
		t.Errorf("allowed client: got %v and %v, want no errors", unary, stream)
	}
	// x-forwarded-for is not the header this gate reads.
	unary, stream := call(t, c, "x-forwarded-for", "198.51.100.1")
	wantDenied(t, "x-forwarded-for only: unary", unary, check.Decision{Reason: check.ReasonInvalid})
	wantDenied(t, "x-forwarded-for only: stream", stream, check.Decision{Reason: check.ReasonInvalid})
}

// TestRequest checks the HTTP request a call is decided as, through the
// gate's Subject hook: method, path, host, header lines and peer.
func TestRequest(t *testing.T) {
	var (
		mu  sync.Mutex
		got []*http.Request
	)
	g, err := httpgate.New(gatetest.Snapshot(t).Check, &httpgate.Options{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix(gatetest.Proxy + "/32")},
		Subject: func(r *http.Request) (bool, bool) {
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
			return false, false
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	lis := listen(t)
	serve(t, lis, g)
	c := client(t, lis.Addr().String(), gatetest.Proxy)
	if unary, stream := call(t, c, "x-forwarded-for", "203.0.113.1", "x-forwarded-for", "198.51.100.1", "trace-bin", "\x00\x01"); unary != nil || stream != nil {
		t.Fatalf("got %v and %v, want no errors", unary, stream)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("Subject saw %d requests, want 2", len(got))
	}
	for i, path := range []string{"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"} {
		r := got[i]
		if r.Method != "POST" || r.URL.Path != path || r.Host != lis.Addr().String() {
			t.Errorf("request %d: %s %s host %q, want POST %s host %q", i, r.Method, r.URL.Path, r.Host, path, lis.Addr())
		}
		if xff := r.Header.Values("X-Forwarded-For"); !slices.Equal(xff, []string{"203.0.113.1", "198.51.100.1"}) {
			t.Errorf("request %d: X-Forwarded-For %q, want both lines in order", i, xff)
		}
		if v := r.Header.Values("Trace-Bin"); v != nil {
			t.Errorf("request %d: binary metadata copied: %q", i, v)
		}
		if peer, _, _ := net.SplitHostPort(r.RemoteAddr); peer != gatetest.Proxy {
			t.Errorf("request %d: RemoteAddr %q, want %s", i, r.RemoteAddr, gatetest.Proxy)
		}
		if _, ok := peer.FromContext(r.Context()); !ok {
			t.Errorf("request %d: not in the call's context", i)
		}
	}
}

// TestNonIPPeer serves over bufconn, whose peers are not IP addresses: no
// client address can be read, so every call is denied as invalid, even
// from a "trusted" header.
func TestNonIPPeer(t *testing.T) {
	lis := bufconn.Listen(1 << 16)
	serve(t, lis, gatetest.Gate(t, gatetest.Snapshot(t)))
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	unary, stream := call(t, healthpb.NewHealthClient(conn), "x-forwarded-for", "198.51.100.1")
	wantDenied(t, "unary", unary, check.Decision{Reason: check.ReasonInvalid})
	wantDenied(t, "stream", stream, check.Decision{Reason: check.ReasonInvalid})
}

// TestNilGate checks that a nil gate denies, as the zero Gate does.
func TestNilGate(t *testing.T) {
	lis := listen(t)
	serve(t, lis, nil)
	unary, stream := call(t, client(t, lis.Addr().String(), gatetest.Allowed))
	wantDenied(t, "unary", unary, check.Decision{})
	wantDenied(t, "stream", stream, check.Decision{})
}
