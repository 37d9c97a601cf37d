// Command voximplant serves Voximplant's authorized-IP methods on ipgate,
// and guards a sample route with them.
//
//	go run ./examples/voximplant -dir /tmp/voximplant    # the file store
//	go run ./examples/voximplant -postgres ''            # PostgreSQL
//
// The methods, as Voximplant documents them (GET or POST, parameters in
// the query or a form; account_id picks the account, one policy each):
//
//	/platform_api/AddAuthorizedAccountIP    authorized_ip, allowed (default true), description -> {"result": 1}
//	/platform_api/CheckAuthorizedAccountIP  authorized_ip -> {"result": allowed, "authorized_ip": the matched network}
//	/platform_api/DelAuthorizedAccountIP    authorized_ip (a network, or "all") or contains_ip, allowed -> {"result": count removed}
//	/platform_api/GetAuthorizedAccountIPs   authorized_ip, allowed, contains_ip, count (default 50), offset
//	                                        -> {"result": [{authorized_ip, allowed, created, description}], "total_count", "count"}
//
// The white list holds allow rules and the black list deny rules; the
// default action is auto, so a non-empty white list denies what it does
// not name. An invalid parameter answers HTTP 400 with
// {"error": {"code": 100, "msg": ...}} naming the parameter and value.
//
// The guarded sample route is GET /protected?account_id=N.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/examples/internal/seed"
	"github.com/ipgate/ipgate/examples/middleware"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

func main() {
	seed.Main("Voximplant authorized IPs", "127.0.0.1:8093", "voximplant-data",
		func(_ context.Context, st store.Editor) (http.Handler, func(), error) {
			s := newServer(st)
			return s, s.close, nil
		})
}

type server struct {
	*http.ServeMux
	st        store.Editor
	followers *seed.Tenants
}

func newServer(st store.Editor) *server {
	s := &server{ServeMux: http.NewServeMux(), st: st, followers: seed.NewTenants(st, func() policy.Policy { return policy.New() }, nil)}
	for method, h := range map[string]http.HandlerFunc{
		"AddAuthorizedAccountIP": s.add, "CheckAuthorizedAccountIP": s.check,
		"DelAuthorizedAccountIP": s.del, "GetAuthorizedAccountIPs": s.get,
	} {
		// Voximplant's documented URLs end the method with a slash.
		s.HandleFunc("/platform_api/"+method, h)
		s.HandleFunc("/platform_api/"+method+"/{$}", h)
	}
	s.HandleFunc("GET /protected", func(w http.ResponseWriter, r *http.Request) {
		c, err := s.checker(r.Context(), account(r))
		if err != nil {
			fail(w, http.StatusInternalServerError, 500, err.Error())
			return
		}
		middleware.New(c, nil).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, client, _ := middleware.FromContext(r.Context())
			reply(w, map[string]any{"result": "welcome " + client.String()})
		})).ServeHTTP(w, r)
	})
	return s
}

func (s *server) close() { s.followers.Close() }

func account(r *http.Request) string {
	if id := r.FormValue("account_id"); id != "" {
		return "voximplant-account-" + id
	}
	return "voximplant-account-1"
}

// checker returns the checker following a policy, creating the policy
// when it is new.
func (s *server) checker(ctx context.Context, name string) (*follow.Follower, error) {
	return s.followers.Get(ctx, name)
}

// settle waits, briefly, until the checker serves revision rev.
func (s *server) settle(ctx context.Context, name string, rev store.Revision) {
	s.followers.Settle(ctx, name, rev)
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

// boolParam reads an optional boolean parameter.
func boolParam(r *http.Request, name string) (v, set bool, err error) {
	s := r.FormValue(name)
	if s == "" {
		return false, false, nil
	}
	v, err = strconv.ParseBool(s)
	if err != nil {
		return false, false, fmt.Errorf("invalid parameter %q: %q is not true or false", name, s)
	}
	return v, true, nil
}

func list(allowed bool) string {
	if allowed {
		return "white"
	}
	return "black"
}

func (s *server) add(w http.ResponseWriter, r *http.Request) {
	ip := r.FormValue("authorized_ip")
	target, err := rangeset.ParseRange(ip)
	if err != nil {
		fail(w, http.StatusBadRequest, 100, fmt.Sprintf("invalid parameter \"authorized_ip\": %v", err))
		return
	}
	allowed, set, err := boolParam(r, "allowed")
	if err != nil {
		fail(w, http.StatusBadRequest, 100, err.Error())
		return
	}
	if !set {
		allowed = true
	}
	name := account(r)
	if _, err := s.checker(r.Context(), name); err != nil {
		fail(w, http.StatusInternalServerError, 500, err.Error())
		return
	}
	rule := policy.Rule{ID: list(allowed) + ":" + target.String(), Target: target, Action: policy.Deny, Comment: r.FormValue("description")}
	if allowed {
		rule.Action = policy.Allow
	}
	_, rev, err := s.st.CreateRule(r.Context(), name, rule, store.Any)
	if errors.Is(err, store.ErrRuleExists) {
		fail(w, http.StatusBadRequest, 101, fmt.Sprintf("the network %s is already on the %s list", target, list(allowed)))
		return
	}
	if err != nil {
		fail(w, http.StatusBadRequest, 100, err.Error())
		return
	}
	s.settle(r.Context(), name, rev)
	reply(w, map[string]any{"result": 1})
}

// check tests an address, or a network as a whole (Voximplant's own
// example tests 92.255.220.0/24): a network is allowed only when every
// address of it is, and the network reported is the rule deciding its first
// address (or its first denied one).
func (s *server) check(w http.ResponseWriter, r *http.Request) {
	ip := r.FormValue("authorized_ip")
	target, err := rangeset.ParseRange(ip)
	if err != nil {
		if a, aerr := rangeset.ParseAddr(ip); aerr == nil {
			target, err = rangeset.AddrRange(a), nil
		}
	}
	if err != nil {
		fail(w, http.StatusBadRequest, 100, fmt.Sprintf("invalid parameter \"authorized_ip\": %v", err))
		return
	}
	c, err := s.checker(r.Context(), account(r))
	if err != nil {
		fail(w, http.StatusInternalServerError, 500, err.Error())
		return
	}
	snap := c.Snapshot()
	d := snap.Check(check.Request{Addr: target.From()})
	if _, denied, ok := snap.Denies(check.Keep{Range: target}, snap.At()); ok {
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
		t, err := rangeset.ParseRange(ip)
		if err != nil {
			return q, fmt.Errorf("invalid parameter \"authorized_ip\": %v", err)
		}
		q.Target = t
	}
	if ip := r.FormValue("contains_ip"); ip != "" {
		a, err := rangeset.ParseAddr(ip)
		if err != nil {
			return q, fmt.Errorf("invalid parameter \"contains_ip\": %v", err)
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

func (s *server) del(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("authorized_ip") == "" && r.FormValue("contains_ip") == "" {
		fail(w, http.StatusBadRequest, 100, "one of the parameters \"authorized_ip\" or \"contains_ip\" is required")
		return
	}
	q, err := query(r, true)
	if err != nil {
		fail(w, http.StatusBadRequest, 100, err.Error())
		return
	}
	name := account(r)
	if _, err := s.checker(r.Context(), name); err != nil {
		fail(w, http.StatusInternalServerError, 500, err.Error())
		return
	}
	n, rev, err := s.st.DeleteRules(r.Context(), name, q, store.Any)
	if err != nil {
		fail(w, http.StatusBadRequest, 100, err.Error())
		return
	}
	s.settle(r.Context(), name, rev)
	reply(w, map[string]any{"result": n})
}

func (s *server) get(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, false)
	if err != nil {
		fail(w, http.StatusBadRequest, 100, err.Error())
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
				fail(w, http.StatusBadRequest, 100, fmt.Sprintf("invalid parameter %q: %q is not a count", p.name, v))
				return
			}
			*p.to = n
		}
	}
	name := account(r)
	if _, err := s.checker(r.Context(), name); err != nil {
		fail(w, http.StatusInternalServerError, 500, err.Error())
		return
	}
	rules, total, err := s.st.ListRules(r.Context(), name, q)
	if err != nil {
		fail(w, http.StatusInternalServerError, 500, err.Error())
		return
	}
	out := []map[string]any{}
	for _, rule := range rules {
		out = append(out, map[string]any{
			"authorized_ip": rule.Target.String(),
			"allowed":       rule.Action == policy.Allow,
			"created":       rule.CreatedAt.UTC().Format("2006-01-02 15:04:05"),
			"description":   rule.Comment,
		})
	}
	reply(w, map[string]any{"result": out, "total_count": total, "count": len(out)})
}
