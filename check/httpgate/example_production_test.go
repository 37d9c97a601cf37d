package httpgate_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/filestore"
)

// The set-up most services want: the policy lives in a store (a file
// store here; postgres.Open for a fleet), a follower serves it and follows
// every change, and the gate decides each request on the client address
// its trusted proxies forwarded.
func Example_production() {
	dir, err := os.MkdirTemp("", "ipgate")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := filestore.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	office := policy.Rule{ID: "office", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow}
	if _, err := st.Put(ctx, "acme", policy.New(office), store.Any); err != nil {
		log.Fatal(err)
	}

	f, err := follow.Follow(ctx, st, "acme", nil) // an error when the policy cannot be loaded: never allow-all
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	// The proxy in front of this test server is on loopback; behind a load
	// balancer on a private network, trust httpgate.Private().
	gate, err := httpgate.New(f.Check, &httpgate.Options{TrustedProxies: httpgate.Loopback()})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(gate.Handler(hello)) // in production: an http.Server with timeouts
	defer srv.Close()

	ask := func(client string) {
		req, _ := http.NewRequest("GET", srv.URL+"/private", nil)
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(client, resp.StatusCode)
	}
	ask("198.51.100.7")
	ask("203.0.113.9")

	// An edit through the store reaches the follower.
	ban := policy.Rule{ID: "ban", Target: rangeset.MustParseRange("198.51.100.7"), Action: policy.Deny}
	_, rev, err := st.CreateRule(ctx, "acme", ban, store.Any)
	if err != nil {
		log.Fatal(err)
	}
	if err := f.Wait(ctx, rev); err != nil {
		log.Fatal(err)
	}
	ask("198.51.100.7")
	// Output:
	// 198.51.100.7 200
	// 203.0.113.9 403
	// 198.51.100.7 403
}
