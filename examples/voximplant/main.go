// Command voximplant serves Voximplant's authorized-IP methods on ipgate,
// and guards a sample route with them.
//
//	IPGATE_API_TOKEN=secret go run ./examples/voximplant                 # the file store, in the user's cache directory
//	IPGATE_API_TOKEN=secret go run ./examples/voximplant -postgres ''    # PostgreSQL
//
// The methods, as Voximplant documents them (GET or POST, parameters in
// the query, a URL-encoded form or a multipart form; account_id picks the
// account, one policy each):
//
//	/platform_api/AddAuthorizedAccountIP    authorized_ip, allowed (default true) -> {"result": 1}
//	/platform_api/CheckAuthorizedAccountIP  authorized_ip -> {"result": allowed, "authorized_ip": the matched network}
//	/platform_api/DelAuthorizedAccountIP    authorized_ip (a network, or "all") or contains_ip, allowed -> {"result": count removed}
//	/platform_api/GetAuthorizedAccountIPs   authorized_ip, allowed, contains_ip, count (default 50, at most 1000), offset
//	                                        -> {"result": [{"authorized_ip", "allowed": "true"|"false", "created": "2006-01-02 15:04:05"}], "total_count", "count"}
//
// Credentials, as Voximplant documents them: every method needs
// account_id and api_key. $IPGATE_API_TOKEN is the api_key of account_id
// 1; -credentials FILE adds more, one per line, "API_KEY admin|user
// ACCOUNT_ID". A pair that does not match answers HTTP 401; only the
// configured accounts exist, so no request creates another. A user's key
// may Check and Get; Add and Del need an admin's (403 otherwise).
//
// The white list holds allow rules and the black list deny rules; the
// default action is auto, so a non-empty white list denies what it does
// not name. CheckAuthorizedAccountIP tests an address, or a network as a
// whole (the documentation's own example tests 92.255.220.0/24): a
// network is allowed only when every address of it is, and the network
// reported is the rule deciding its first address, or its first denied
// one.
//
// Where the documentation is silent, this server chose: errors answer
// {"error": {"code", "msg"}}, with HTTP 400 and code 100 for an invalid
// parameter (named, with its value) and for an add past the 10,000
// networks an account's two lists hold together, 101 for a network
// already listed,
// 401 (HTTP 401) for failed authorization, 403 for a user's write, 413
// (HTTP 413) for a request past 64 KiB, 503 for an account past the
// server's limit; "created" is in UTC; a network may be IPv4 or IPv6 and
// a range "from-to" too.
//
// The guarded sample route is GET /protected?account_id=N&api_key=K.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/check/lockout"
	"github.com/ipgate/ipgate/examples/internal/seed"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

// maxRequest bounds a request's body: the parameters are short.
const maxRequest = 64 << 10

func main() {
	seed.Main(seed.Server{Title: "Voximplant authorized IPs", Addr: "127.0.0.1:8093", Data: "voximplant", Account: "1",
		Build: func(_ context.Context, cfg *seed.Config) (http.Handler, func(), error) {
			s := newServer(cfg)
			return s, s.close, nil
		}})
}

type server struct {
	*http.ServeMux
	st         store.Editor
	creds      *seed.Credentials
	followers  *seed.Tenants
	maxTenants int
}

func newServer(cfg *seed.Config) *server {
	max := cfg.MaxTenants
	if max <= 0 {
		max = len(cfg.Credentials.Accounts())
	}
	s := &server{ServeMux: http.NewServeMux(), st: cfg.Store, creds: cfg.Credentials, maxTenants: max,
		followers: seed.NewTenants(cfg.Store, func() policy.Policy { return policy.New() }, &follow.Options{MaxPolicies: max})}
	for method, h := range map[string]func(http.ResponseWriter, *http.Request, string){
		"AddAuthorizedAccountIP": s.write(s.add), "CheckAuthorizedAccountIP": s.check,
		"DelAuthorizedAccountIP": s.write(s.del), "GetAuthorizedAccountIPs": s.get,
	} {
		// Voximplant's documented URLs end the method with a slash.
		s.Handle("/platform_api/"+method, s.auth(h))
		s.Handle("/platform_api/"+method+"/{$}", s.auth(h))
	}
	s.Handle("GET /protected", s.auth(func(w http.ResponseWriter, r *http.Request, account string) {
		f, ok := s.follower(w, r, account)
		if !ok {
			return
		}
		g, err := httpgate.New(f.Check, nil)
		if err != nil {
			fail(w, http.StatusInternalServerError, 500, "the authorized IPs cannot be checked")
			return
		}
		g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, client, _ := httpgate.FromContext(r.Context())
			reply(w, map[string]any{"result": "welcome " + client.String()})
		})).ServeHTTP(w, r)
	}))
	return s
}

func (s *server) close() { s.followers.Close() }

type ctxKey struct{}

// auth reads the parameters, bounded, and passes on requests whose
// account_id and api_key match, with the account's policy name.
func (s *server) auth(h func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := parse(w, r); err != nil {
			be := seed.BodyReadError(err)
			if be.Status != http.StatusRequestEntityTooLarge {
				be.Msg = "the parameters could not be read"
			}
			fail(w, be.Status, be.Status, be.Msg)
			return
		}
		id := r.FormValue("account_id")
		p, ok := s.creds.Lookup(r.FormValue("api_key"))
		if !ok || id == "" || p.Account != id {
			fail(w, http.StatusUnauthorized, 401, "Authorization failed: account_id and api_key do not match")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p.Admin)), "voximplant-account-"+id)
	})
}

// parse reads the query and form, with the body bounded before anything
// reads it: a multipart form keeps at most maxRequest in memory, and so
// on disk none.
func parse(w http.ResponseWriter, r *http.Request) error {
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxRequest)
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		return r.ParseMultipartForm(maxRequest)
	}
	return r.ParseForm()
}

// write refuses a user's key.
func (s *server) write(h func(http.ResponseWriter, *http.Request, string)) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, account string) {
		if admin, _ := r.Context().Value(ctxKey{}).(bool); !admin {
			fail(w, http.StatusForbidden, 403, "this api_key may not change the authorized IPs")
			return
		}
		h(w, r, account)
	}
}

// follower returns the account's follower, or answers the error.
func (s *server) follower(w http.ResponseWriter, r *http.Request, account string) (*follow.Follower, bool) {
	f, err := s.followers.Get(r.Context(), account)
	if errors.Is(err, seed.ErrTenantLimit) {
		fail(w, http.StatusServiceUnavailable, 503, fmt.Sprintf("account_id %s: this server serves at most %d accounts", rangeset.Quote(r.FormValue("account_id")), s.maxTenants))
		return nil, false
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, 500, "the authorized IPs cannot be read")
		return nil, false
	}
	return f, true
}

// ServeHTTP answers a request no route takes in Voximplant's error form.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	seed.Serve(s.ServeMux, w, r, func(w http.ResponseWriter, code int, msg string) { fail(w, code, code, msg) })
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "msg": msg}})
}

func invalid(w http.ResponseWriter, msg string) { fail(w, http.StatusBadRequest, 100, msg) }

// boolParam reads an optional boolean parameter.
func boolParam(r *http.Request, name string) (v, set bool, err error) {
	s := r.FormValue(name)
	if s == "" {
		return false, false, nil
	}
	v, err = strconv.ParseBool(s)
	if err != nil {
		return false, false, fmt.Errorf("invalid parameter %q: %s is not true or false", name, rangeset.Quote(s))
	}
	return v, true, nil
}

// network reads a network parameter; what names it in errors.
func network(r *http.Request, name string) (rangeset.Range, error) {
	ip := r.FormValue(name)
	if ip == "" {
		return rangeset.Range{}, fmt.Errorf("the parameter %q is required", name)
	}
	t, err := rangeset.ParseRange(ip)
	if err != nil {
		return t, fmt.Errorf("invalid parameter %q: %s is not an IP4 or network: %s", name, rangeset.Quote(ip), seed.Reason(err))
	}
	return t, nil
}

func list(allowed bool) string {
	if allowed {
		return "white"
	}
	return "black"
}

func (s *server) add(w http.ResponseWriter, r *http.Request, account string) {
	target, err := network(r, "authorized_ip")
	if err != nil {
		invalid(w, err.Error())
		return
	}
	allowed, set, err := boolParam(r, "allowed")
	if err != nil {
		invalid(w, err.Error())
		return
	}
	if !set {
		allowed = true
	}
	f, ok := s.follower(w, r, account)
	if !ok {
		return
	}
	rule := policy.Rule{ID: list(allowed) + ":" + target.String(), Target: target, Action: policy.Deny}
	if allowed {
		rule.Action = policy.Allow
	}
	listed := func() {
		fail(w, http.StatusBadRequest, 101, fmt.Sprintf("the network %s is already on the %s list", target, list(allowed)))
	}
	if f.Snapshot().Len() >= maxNetworks {
		// A network already listed is that error, full lists or not.
		if _, _, err := s.st.GetRule(r.Context(), account, rule.ID); err == nil {
			listed()
			return
		}
		fail(w, http.StatusBadRequest, 100, fmt.Sprintf("account_id %s: the lists hold at most %d networks", rangeset.Quote(r.FormValue("account_id")), maxNetworks))
		return
	}
	_, rev, err := s.st.CreateRule(r.Context(), account, rule, store.Any)
	if errors.Is(err, store.ErrRuleExists) {
		listed()
		return
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, 500, "the authorized IP could not be added")
		return
	}
	s.followers.Settle(r.Context(), account, rev)
	reply(w, map[string]any{"result": 1})
}

func (s *server) check(w http.ResponseWriter, r *http.Request, account string) {
	target, err := network(r, "authorized_ip")
	if err != nil {
		if a, aerr := rangeset.ParseAddr(r.FormValue("authorized_ip")); aerr == nil {
			target, err = rangeset.RangeFrom(a, a), nil
		}
	}
	if err != nil {
		invalid(w, err.Error())
		return
	}
	f, ok := s.follower(w, r, account)
	if !ok {
		return
	}
	snap := f.Snapshot()
	d := snap.Check(check.Request{Addr: target.From()})
	if _, denied, ok := lockout.Denies(snap, lockout.Keep{Range: target}, snap.At()); ok {
		d = denied
	}
	out := map[string]any{"result": d.Allowed}
	if d.Reason == check.ReasonRule {
		for rule := range snap.Rules() {
			if rule.ID == d.Rule {
				out["authorized_ip"] = rule.Target.String()
			}
		}
	}
	reply(w, out)
}

// query reads the filters shared by Del and Get.
func query(r *http.Request, all bool) (store.Query, error) {
	var q store.Query
	if ip := r.FormValue("authorized_ip"); ip != "" && !(all && ip == "all") {
		t, err := network(r, "authorized_ip")
		if err != nil {
			return q, err
		}
		q.Target = t
	}
	if ip := r.FormValue("contains_ip"); ip != "" {
		a, err := rangeset.ParseAddr(ip)
		if err != nil {
			return q, fmt.Errorf("invalid parameter \"contains_ip\": %s is not an IP4: %s", rangeset.Quote(ip), seed.Reason(err))
		}
		q.Contains = a
	}
	allowed, set, err := boolParam(r, "allowed")
	if err != nil {
		return q, err
	}
	if set {
		q.Action = policy.Deny
		if allowed {
			q.Action = policy.Allow
		}
	}
	return q, nil
}

func (s *server) del(w http.ResponseWriter, r *http.Request, account string) {
	if r.FormValue("authorized_ip") == "" && r.FormValue("contains_ip") == "" {
		invalid(w, "one of the parameters \"authorized_ip\" or \"contains_ip\" is required")
		return
	}
	q, err := query(r, true)
	if err != nil {
		invalid(w, err.Error())
		return
	}
	if _, ok := s.follower(w, r, account); !ok {
		return
	}
	n, rev, err := s.st.DeleteRules(r.Context(), account, q, store.Any)
	if err != nil {
		fail(w, http.StatusInternalServerError, 500, "the authorized IPs could not be removed")
		return
	}
	if n > 0 {
		s.followers.Settle(r.Context(), account, rev)
	}
	reply(w, map[string]any{"result": n})
}

// maxNetworks bounds an account's two lists together, so that one account
// cannot grow its policy, and every compile of it, without end. Counted on
// the policy served, it is a bound, not an exact limit: adds racing each
// other may pass it by a few.
const maxNetworks = 10_000

// maxCount is the most networks GetAuthorizedAccountIPs returns at once.
const maxCount = 1000

func (s *server) get(w http.ResponseWriter, r *http.Request, account string) {
	q, err := query(r, false)
	if err != nil {
		invalid(w, err.Error())
		return
	}
	q.Limit, q.Offset = 50, 0
	for _, p := range []struct {
		name string
		to   *int
	}{{"count", &q.Limit}, {"offset", &q.Offset}} {
		if v := r.FormValue(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				invalid(w, fmt.Sprintf("invalid parameter %q: %s is not a count", p.name, rangeset.Quote(v)))
				return
			}
			if p.name == "count" && n > maxCount {
				invalid(w, fmt.Sprintf("invalid parameter %q: %d is more than %d", p.name, n, maxCount))
				return
			}
			*p.to = n
		}
	}
	if q.Limit == 0 {
		q.Limit = 50
	}
	if _, ok := s.follower(w, r, account); !ok {
		return
	}
	rules, total, err := s.st.ListRules(r.Context(), account, q)
	if err != nil {
		fail(w, http.StatusInternalServerError, 500, "the authorized IPs cannot be read")
		return
	}
	out := []map[string]any{}
	for _, rule := range rules {
		out = append(out, map[string]any{
			"authorized_ip": rule.Target.String(),
			"allowed":       strconv.FormatBool(rule.Action == policy.Allow),
			"created":       rule.CreatedAt.UTC().Format("2006-01-02 15:04:05"),
		})
	}
	reply(w, map[string]any{"result": out, "total_count": total, "count": len(out)})
}
