package grpcgate_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/adapters/grpcgate"
	"github.com/ipgate/ipgate/policy"
)

// A gRPC server guarded by an allowlist, behind a sidecar proxy on the
// loopback address that sets x-forwarded-for.
func Example() {
	p, err := policy.Allowlist("198.51.100.0/24")
	if err != nil {
		panic(err)
	}
	snap, err := check.Compile(p, time.Now())
	if err != nil {
		panic(err)
	}
	gate, err := httpgate.New(snap.Check, &httpgate.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	if err != nil {
		panic(err)
	}

	srv := grpc.NewServer(grpc.UnaryInterceptor(grpcgate.Unary(gate)), grpc.StreamInterceptor(grpcgate.Stream(gate)))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	for _, client := range []string{"198.51.100.7", "203.0.113.9"} {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-forwarded-for", client)
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			s, _ := status.FromError(err)
			fmt.Printf("%s: %s: %s\n", client, s.Code(), s.Message())
			continue
		}
		fmt.Printf("%s: %s\n", client, resp.GetStatus())
	}
	// Output:
	// 198.51.100.7: SERVING
	// 203.0.113.9: PermissionDenied: grpcgate: deny (default)
}
