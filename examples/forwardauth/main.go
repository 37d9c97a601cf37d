// Command forwardauth answers the access checks of proxies written in
// other languages from an ipgate policy that it follows in a file store:
// nginx's auth_request, Traefik's ForwardAuth and Envoy's HTTP ext_authz.
//
//	forwardauth -dir /etc/ipgate -policy web -listen 127.0.0.1:9191 -trust loopback
//
// It answers every request, whatever its path or method, with 200 when the
// client may pass and 403 when it may not, and says why in the headers
//
//	X-Ipgate-Decision: allow | deny
//	X-Ipgate-Reason:   rule | default | disabled | exempt | invalid
//	X-Ipgate-Rule:     "office"   (the winning rule, quoted; absent when none)
//	X-Ipgate-Client:   203.0.113.7 (the address decided; absent when none
//	                   could be read)
//
// The client is the one the proxy names: the proxy's address must be one
// of -trust (comma-separated prefixes, addresses, or the classes private,
// loopback and link-local), and the proxy must set X-Forwarded-For (or,
// with -header X-Real-IP, that header), replacing what the client sent.
// Anything it cannot read with certainty is denied.
//
// With -admin-header or -mobile-header, a trusted proxy may say that the
// subject is an administrator (admin-only rules apply) or a mobile client
// (a policy that does not apply to mobile clients allows it): the header
// "1" or "true" says yes, "0", "false" or none says no, and anything else
// (a second value included) is denied with reason invalid. From a peer that
// is not one of -trust the headers are ignored. The proxy must set these
// headers itself, or clear them: nginx's auth_request and Traefik's
// ForwardAuth pass every header the client sent unless told otherwise (as
// the configurations below are), and a client could then claim to be an
// administrator or exempt.
//
// The policy is reloaded whenever the store's document NAME.json changes;
// an invalid document keeps the last good policy serving and is logged.
//
// # nginx
//
// The realip module finds the client behind the proxies before nginx (here
// a load balancer at 10.0.0.0/8), and the subrequest passes it on:
//
//	set_real_ip_from 10.0.0.0/8;
//	real_ip_header   X-Forwarded-For;
//	location / {
//	    auth_request     /ipgate;
//	    auth_request_set $ipgate_rule $upstream_http_x_ipgate_rule;
//	    proxy_pass       http://app;
//	}
//	location = /ipgate {
//	    internal;
//	    proxy_pass              http://127.0.0.1:9191;
//	    proxy_pass_request_body off;
//	    proxy_set_header        Content-Length "";
//	    proxy_set_header        X-Forwarded-For $remote_addr;
//	    proxy_set_header        X-Admin "";   # with -admin-header X-Admin
//	    proxy_set_header        X-Mobile "";  # with -mobile-header X-Mobile
//	}
//
// proxy_set_header replaces the X-Forwarded-For the client sent, so the
// header holds one address, nginx's view of the client. (X-Real-IP
// $remote_addr with -header X-Real-IP does the same.) The subject headers
// are cleared here; set them instead from what nginx itself knows (a
// variable of its own authentication), never from the client's headers.
// nginx denies with 403 when the answer is 403 and lets the request
// through on any 2xx.
//
// # Traefik
//
//	http:
//	  middlewares:
//	    ipgate:
//	      forwardAuth:
//	        address: http://127.0.0.1:9191/
//	        authRequestHeaders: [X-Forwarded-For]
//	        authResponseHeaders: [X-Ipgate-Decision, X-Ipgate-Rule]
//
// authRequestHeaders keeps the client's other headers (a subject header
// among them) from reaching forwardauth. Traefik answers a denied client
// with forwardauth's 403 itself, headers included, so the client sees the
// X-Ipgate- headers (the rule that denied it, the address decided); nginx
// and Envoy pass them only as configured. Traefik sends X-Forwarded-For
// with the client's address last; run
// forwardauth with -trust naming Traefik's address. Leave
// trustForwardHeader off unless Traefik itself sits behind trusted proxies.
//
// # Envoy
//
//   - name: envoy.filters.http.ext_authz
//     typed_config:
//     "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
//     http_service:
//     server_uri: {uri: "http://127.0.0.1:9191", cluster: ipgate, timeout: 0.25s}
//     authorization_request:
//     allowed_headers: {patterns: [{exact: x-forwarded-for}]}
//     authorization_response:
//     allowed_upstream_headers: {patterns: [{prefix: x-ipgate-}]}
//
// (newer Envoy releases take allowed_headers at the top of the filter's
// config instead), with use_remote_address: true on the HTTP connection
// manager, so that Envoy appends the peer's address to X-Forwarded-For. Envoy lets a request
// through only on 200, which is what forwardauth answers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/internal/trustflag"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store/filestore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// config is what the flags say.
type config struct {
	dir, policy, listen, header string
	adminHeader, mobileHeader   string
	trust                       []netip.Prefix
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("forwardauth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.dir, "dir", "", "the file store directory that holds the policy document (required)")
	fs.StringVar(&c.policy, "policy", "default", "the name of the policy: the document NAME.json in -dir")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:9191", "the address to listen on")
	fs.StringVar(&c.header, "header", "", "read the client address from this single-address header (such as X-Real-IP) instead of X-Forwarded-For")
	fs.StringVar(&c.adminHeader, "admin-header", "", "a header with which the trusted proxies say the subject is an administrator (1 or true)")
	fs.StringVar(&c.mobileHeader, "mobile-header", "", "a header with which the trusted proxies say the subject is a mobile client (1 or true)")
	trust := fs.String("trust", "loopback", "the proxies whose headers are believed: comma-separated prefixes, addresses, or private, loopback, link-local")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %s", rangeset.Quote(fs.Arg(0)))
	}
	if c.dir == "" {
		return c, errors.New("-dir is required")
	}
	var err error
	c.trust, err = trustflag.Parse(*trust)
	return c, err
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "forwardauth:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	h, closeFn, err := newServer(ctx, cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "forwardauth:", err)
		return 1
	}
	defer closeFn()
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		fmt.Fprintln(stderr, "forwardauth:", err)
		return 1
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	logger.Info("listening", "addr", ln.Addr().String(), "policy", cfg.policy, "dir", cfg.dir)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		fmt.Fprintln(stderr, "forwardauth:", err)
		return 1
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		fmt.Fprintln(stderr, "forwardauth:", err)
		return 1
	}
	return 0
}

// newServer follows the policy and returns the handler that answers with
// its decisions, and a function that stops following.
func newServer(ctx context.Context, cfg config, logger *slog.Logger) (http.Handler, func(), error) {
	st, err := filestore.Open(cfg.dir, nil)
	if err != nil {
		return nil, nil, err
	}
	start, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	f, err := follow.Follow(start, st, cfg.policy, &follow.Options{
		OnError: func(err error) { logger.Error("following the policy", "err", err) },
	})
	if err != nil {
		return nil, nil, err
	}
	h, err := handler(f.Check, cfg, logger)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return h, func() { f.Close() }, nil
}

// The response headers.
const (
	hDecision = "X-Ipgate-Decision"
	hReason   = "X-Ipgate-Reason"
	hRule     = "X-Ipgate-Rule"
	hClient   = "X-Ipgate-Client"
)

// handler answers every request with d's decision on the client that the
// trusted proxies name: 200 or 403, and the decision in headers.
func handler(d func(check.Request) check.Decision, cfg config, logger *slog.Logger) (http.Handler, error) {
	gate, err := httpgate.New(d, &httpgate.Options{
		TrustedProxies: cfg.trust,
		ClientIPHeader: cfg.header,
		Subject: func(r *http.Request) (admin, mobile bool) {
			s, _ := subject(r, cfg) // checked before the gate is asked
			return s.admin, s.mobile
		},
		Deny: answer(http.StatusForbidden),
		OnDecision: func(r *http.Request, _ check.Decision, _ netip.Addr, err error) {
			if err != nil {
				// err quotes the header values, so this is one log line.
				logger.Warn("no client address", "peer", r.RemoteAddr, "err", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	decide := gate.Handler(answer(http.StatusOK))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := subject(r, cfg); err != nil {
			logger.Warn("unreadable subject", "peer", r.RemoteAddr, "err", err)
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set(hDecision, "deny")
			w.Header().Set(hReason, check.ReasonInvalid.String())
			w.WriteHeader(http.StatusForbidden)
			return
		}
		decide.ServeHTTP(w, r)
	}), nil
}

// subjectFlags is who a request comes from, as the trusted proxy says.
type subjectFlags struct{ admin, mobile bool }

// subject reads the subject headers of r, which only a trusted proxy may
// set: from any other peer they are ignored.
func subject(r *http.Request, cfg config) (subjectFlags, error) {
	if cfg.adminHeader == "" && cfg.mobileHeader == "" {
		return subjectFlags{}, nil
	}
	// As the gate compares them: the peer canonical, the prefixes as
	// trustflag.Parse gives them.
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	a := rangeset.Canonical(peer.Addr())
	if err != nil || !slices.ContainsFunc(cfg.trust, func(p netip.Prefix) bool { return p.Contains(a) }) {
		return subjectFlags{}, nil
	}
	var s subjectFlags
	if s.admin, err = flagHeader(r, cfg.adminHeader); err != nil {
		return subjectFlags{}, err
	}
	if s.mobile, err = flagHeader(r, cfg.mobileHeader); err != nil {
		return subjectFlags{}, err
	}
	return s, nil
}

// flagHeader reads a yes-or-no header; absent is no.
func flagHeader(r *http.Request, name string) (bool, error) {
	if name == "" {
		return false, nil
	}
	vs := r.Header.Values(name)
	if len(vs) == 0 {
		return false, nil
	}
	if len(vs) == 1 {
		switch strings.ToLower(strings.TrimSpace(vs[0])) {
		case "1", "true":
			return true, nil
		case "0", "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("header %s is %s: want 1, true, 0 or false, once", name, rangeset.Quote(strings.Join(vs, ", ")))
}

// answer writes the decision that the gate put in the request's context.
func answer(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		dec, client, _ := httpgate.FromContext(r.Context())
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		if dec.Allowed {
			h.Set(hDecision, "allow")
		} else {
			h.Set(hDecision, "deny")
		}
		h.Set(hReason, dec.Reason.String())
		if dec.Rule != "" {
			h.Set(hRule, rangeset.Quote(dec.Rule))
		}
		if client.IsValid() {
			h.Set(hClient, client.String())
		}
		w.WriteHeader(status)
	}
}
