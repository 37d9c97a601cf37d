// Command server guards a route with ipgate's middleware.
//
//	go run ./examples/middleware/server -trust 127.0.0.1/32
//	curl -i -H 'X-Forwarded-For: 198.51.100.7' http://127.0.0.1:8080/private   # 200: an allowed client
//	curl -i -H 'X-Forwarded-For: 203.0.113.9' http://127.0.0.1:8080/private    # 403: not on the list
//
// With -trust, the server believes X-Forwarded-For from those peers, as it
// would behind a load balancer; curl on this machine plays the balancer.
package main

import (
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/examples/middleware"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	trust := flag.String("trust", "", "comma-separated prefixes of trusted proxies")
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

	var proxies []netip.Prefix
	for _, s := range strings.Split(*trust, ",") {
		if s = strings.TrimSpace(s); s != "" {
			proxies = append(proxies, netip.MustParsePrefix(s))
		}
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	guard := middleware.New(c, &middleware.Options{
		TrustedProxies: proxies,
		OnDecision: func(r *http.Request, d check.Decision, client netip.Addr, err error) {
			logger.Info("decision", "path", r.URL.Path, "client", client, "allowed", d.Allowed, "rule", d.Rule, "reason", d.Reason, "err", err)
		},
	})
	mux := http.NewServeMux()
	mux.Handle("/private", guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, client, _ := middleware.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s, let in by rule %s\n", client, d.Rule)
	})))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "public") })
	log.Printf("listening on %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, mux))
}
