// Command guarded serves a route guarded by ipgate's HTTP gate
// (package check/httpgate).
//
//	go run ./examples/guarded -trust loopback
//	curl -i -H 'X-Forwarded-For: 198.51.100.7' http://127.0.0.1:8080/private   # 200: an allowed client
//	curl -i -H 'X-Forwarded-For: 203.0.113.9' http://127.0.0.1:8080/private    # 403: not on the list
//	curl -i http://127.0.0.1:8080/private                                      # 403: a proxy sent no header
//
// With -trust, the server believes X-Forwarded-For from those peers, as it
// would behind a load balancer; curl on this machine plays the balancer.
// -trust takes a comma-separated list of prefixes, addresses and the
// classes private, loopback and link-local.
package main

import (
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/internal/trustflag"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	trust := flag.String("trust", "", "trusted proxies: comma-separated prefixes, addresses, or private, loopback, link-local")
	policyFile := flag.String("policy", "", "a policy document (default: allow 198.51.100.0/24 and loopback)")
	flag.Parse()

	p := policy.New(
		policy.Rule{ID: "partners", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow},
		policy.Rule{ID: "loopback", Target: rangeset.MustParseRange("127.0.0.0/8"), Action: policy.Allow},
	)
	if *policyFile != "" {
		data, err := os.ReadFile(*policyFile)
		if err != nil {
			log.Fatal(err)
		}
		if p, err = policy.Decode(data); err != nil {
			log.Fatal(err)
		}
	}
	c, err := check.NewChecker(p, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	proxies, err := trustflag.Parse(*trust)
	if err != nil {
		log.Fatal(err)
	}
	h, err := handler(c.Check, proxies, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	log.Printf("listening on %s", *listen)
	log.Fatal(srv.ListenAndServe())
}

// handler serves /private to the clients d allows and / to everyone.
func handler(d func(check.Request) check.Decision, proxies []netip.Prefix, logger *slog.Logger) (http.Handler, error) {
	gate, err := httpgate.New(d, &httpgate.Options{
		TrustedProxies: proxies,
		OnDecision: func(r *http.Request, d check.Decision, client netip.Addr, err error) {
			logger.Info("decision", "path", r.URL.Path, "client", client, "allowed", d.Allowed, "rule", d.Rule, "reason", d.Reason, "err", err)
		},
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/private", gate.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, client, _ := httpgate.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s, let in: %s\n", client, d)
	})))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "public") })
	return mux, nil
}
