package httpgate_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// hello is the handler being guarded: it greets the client by the
// address the gate decided on.
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	d, client, _ := httpgate.FromContext(r.Context())
	fmt.Fprintf(w, "hello %v (%v)", client, d)
})

// get sends a request from peer through h and prints the answer.
func get(h http.Handler, peer string, header http.Header) {
	r := httptest.NewRequest("GET", "/private", nil)
	r.RemoteAddr = peer
	r.Header = header
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Printf("%s: %d %s\n", peer, w.Code, strings.TrimSpace(w.Body.String()))
}

// A gate in front of a handler, deciding on the peer address: no header
// is read.
func ExampleGate_Handler() {
	snap, err := check.Compile(policy.New(
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow},
	), time.Now())
	if err != nil {
		log.Fatal(err)
	}
	gate, err := httpgate.New(snap.Check, nil)
	if err != nil {
		log.Fatal(err)
	}
	h := gate.Handler(hello)

	get(h, "198.51.100.7:51234", nil)
	get(h, "203.0.113.9:51234", http.Header{"X-Forwarded-For": {"198.51.100.7"}})
	// Output:
	// 198.51.100.7:51234: 200 hello 198.51.100.7 (allow (rule "office"))
	// 203.0.113.9:51234: 403 403 forbidden
}

// Behind load balancers in private networks, the gate believes their
// X-Forwarded-For and decides on the first address from the right that
// is not theirs. A client cannot spoof it by writing the header itself.
func ExampleGate_Handler_trustedProxies() {
	snap, err := check.Compile(policy.New(
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow},
	), time.Now())
	if err != nil {
		log.Fatal(err)
	}
	gate, err := httpgate.New(snap.Check, &httpgate.Options{
		TrustedProxies: append(httpgate.Private(), httpgate.Loopback()...),
		OnDecision: func(r *http.Request, d check.Decision, client netip.Addr, err error) {
			if err != nil {
				fmt.Println("denied:", err)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	h := gate.Handler(hello)

	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }
	get(h, "10.0.0.2:40000", xff("198.51.100.7"))
	get(h, "10.0.0.2:40000", xff("198.51.100.7, 203.0.113.9, 10.0.0.3"))
	get(h, "10.0.0.2:40000", xff("10.0.0.3"))
	get(h, "10.0.0.2:40000", nil)
	// Output:
	// 10.0.0.2:40000: 200 hello 198.51.100.7 (allow (rule "office"))
	// 10.0.0.2:40000: 403 403 forbidden
	// denied: httpgate: every address is a trusted proxy's (X-Forwarded-For)
	// 10.0.0.2:40000: 403 403 forbidden
	// denied: httpgate: trusted proxy sent no header X-Forwarded-For
	// 10.0.0.2:40000: 403 403 forbidden
}

// Check decides a request without a server. An error says why no client
// address could be read; the decision then says what SEMANTICS §4 makes
// of an invalid address.
func ExampleGate_Check() {
	snap, err := check.Compile(policy.New(), time.Now())
	if err != nil {
		log.Fatal(err)
	}
	gate, err := httpgate.New(snap.Check, nil)
	if err != nil {
		log.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "@" // a Unix socket peer
	d, err := gate.Check(r)
	fmt.Println(d, err)
	// Output:
	// deny (invalid) httpgate: peer address is not an IP address: "@"
}
