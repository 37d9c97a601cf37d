package promgate_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/check/observe"
	"github.com/ipgate/ipgate/examples/adapters/promgate"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

// A followed policy behind the HTTP guard, with its decisions, rule hits
// and follower state on /metrics.
func Example() {
	ctx := context.Background()
	st := memstore.New(nil)
	p := policy.New(
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow},
		policy.Rule{ID: "guests", Target: rangeset.MustParseRange("198.51.100.128/25"), Action: policy.Deny},
	)
	if _, err := st.Put(ctx, "acme", p, store.Any); err != nil {
		panic(err)
	}
	f, err := follow.Follow(ctx, st, "acme", nil)
	if err != nil {
		panic(err)
	}
	defer f.Close()

	// Decisions flow follower -> hits -> collector -> gate.
	hits := observe.NewHits(f.Check, nil)
	metrics := promgate.New(hits.Check, &promgate.Options{Hits: hits, Follower: f})
	gate, err := httpgate.New(metrics.Check, nil)
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)

	app := gate.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, peer := range []string{"198.51.100.1:1", "198.51.100.2:1", "198.51.100.200:1", "203.0.113.1:1", "unix"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		app.ServeHTTP(httptest.NewRecorder(), r)
	}

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	// Print the series that do not depend on the clock and are not zero.
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") && !strings.HasSuffix(line, " 0") && !strings.Contains(line, "_seconds") {
			fmt.Println(line)
		}
	}
	// Output:
	// ipgate_decisions_total{allowed="false",reason="default"} 1
	// ipgate_decisions_total{allowed="false",reason="invalid"} 1
	// ipgate_decisions_total{allowed="false",reason="rule"} 1
	// ipgate_decisions_total{allowed="true",reason="rule"} 2
	// ipgate_follower_revision 1
	// ipgate_rule_hits_total{rule="guests"} 1
	// ipgate_rule_hits_total{rule="office"} 2
}
