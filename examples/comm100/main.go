// Command comm100 serves Comm100's login IP allowlist APIs, version 4 and
// version 3, on ipgate, over one policy per site, and guards a sample
// agent-login route with them.
//
//	go run ./examples/comm100 -dir /tmp/comm100     # the file store
//	go run ./examples/comm100 -postgres ''          # PostgreSQL
//
// Version 4, as Comm100 documents it (siteId picks the site; default 10000):
//
//	GET  /v4/global/loginIpAllowlistConfig            {"siteId", "isEnabled", "isLoginIpAllowlistApplicableForMobileAccess"}
//	POST /v4/global/loginIpAllowlistConfig:enable     the same, enabled
//	POST /v4/global/loginIpAllowlistConfig:disable    the same, disabled
//	PUT  /v4/global/loginIpAllowlistConfig            either field, or both
//	GET  /v4/global/loginIpAllowlists                 [{"ipRangeFrom", "ipRangeTo", "id"}]
//	GET  /v4/global/loginIpAllowlists/{id}
//	POST /v4/global/loginIpAllowlists                 {"ipRangeFrom", "ipRangeTo"} -> 201 with a GUID id
//	PUT  /v4/global/loginIpAllowlists/{id}
//	DELETE /v4/global/loginIpAllowlists/{id}          -> 204
//
// Version 3: /v3/globalSettings/whitelistedLoginIPRanges[/{id}] with
// {"id", "ipFrom", "ipTo", "createdTime"}, the same operations.
//
// How Comm100 maps onto ipgate: each range is an allow rule with a GUID id;
// isEnabled is the policy's enabled switch; the mobile flag is
// applyToMobile; the default action is auto, so an enabled allowlist with no
// range still admits every address, as Comm100 says it does. Bad input
// answers 400 with {"code": 400, "message": ...} naming the field and value.
//
// The guarded route is POST /login?siteId=N; "X-Comm100-Mobile: true"
// marks a login from the mobile app.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/examples/internal/seed"
	"github.com/ipgate/ipgate/examples/middleware"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

func main() {
	seed.Main("Comm100 login IP allowlist", "127.0.0.1:8094", "comm100-data",
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
	s := &server{ServeMux: http.NewServeMux(), st: st, followers: seed.NewTenants(st, func() policy.Policy {
		p := policy.New()
		p.Settings.Enabled, p.Settings.ApplyToMobile = false, false
		return p
	}, nil)}
	s.HandleFunc("GET /v4/global/loginIpAllowlistConfig", s.getConfig)
	s.HandleFunc("PUT /v4/global/loginIpAllowlistConfig", s.putConfig)
	s.HandleFunc("POST /v4/global/loginIpAllowlistConfig:enable", s.switchConfig(true))
	s.HandleFunc("POST /v4/global/loginIpAllowlistConfig:disable", s.switchConfig(false))
	for _, v := range []version{v4, v3} {
		s.HandleFunc("GET "+v.path, s.list(v))
		s.HandleFunc("POST "+v.path, s.create(v))
		s.HandleFunc("GET "+v.path+"/{id}", s.get(v))
		s.HandleFunc("PUT "+v.path+"/{id}", s.update(v))
		s.HandleFunc("DELETE "+v.path+"/{id}", s.remove)
	}
	s.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		c, err := s.checker(r.Context(), site(r))
		if err != nil {
			fail(w, http.StatusInternalServerError, err.Error())
			return
		}
		middleware.New(c, &middleware.Options{
			Subject: func(r *http.Request) (bool, bool) { return false, r.Header.Get("X-Comm100-Mobile") == "true" },
			Deny: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fail(w, http.StatusForbidden, "login from this IP address is not allowed")
			}),
		}).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reply(w, http.StatusOK, map[string]string{"result": "logged in"})
		})).ServeHTTP(w, r)
	})
	return s
}

func (s *server) close() { s.followers.Close() }

func siteID(r *http.Request) int {
	if id, err := strconv.Atoi(r.URL.Query().Get("siteId")); err == nil {
		return id
	}
	return 10000
}

func site(r *http.Request) string { return "comm100-site-" + strconv.Itoa(siteID(r)) }

// checker returns the checker following a policy, creating the policy
// when it is new.
func (s *server) checker(ctx context.Context, name string) (*follow.Follower, error) {
	return s.followers.Get(ctx, name)
}

// settle waits, briefly, until the checker serves revision rev.
func (s *server) settle(ctx context.Context, name string, rev store.Revision) {
	s.followers.Settle(ctx, name, rev)
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg string) {
	reply(w, code, map[string]any{"code": code, "message": msg})
}

type config struct {
	SiteID    int  `json:"siteId"`
	IsEnabled bool `json:"isEnabled"`
	Mobile    bool `json:"isLoginIpAllowlistApplicableForMobileAccess"`
}

func (s *server) config(w http.ResponseWriter, r *http.Request) (policy.Settings, bool) {
	name := site(r)
	if _, err := s.checker(r.Context(), name); err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return policy.Settings{}, false
	}
	p, _, err := s.st.Load(r.Context(), name)
	if err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return policy.Settings{}, false
	}
	return p.Settings, true
}

func (s *server) getConfig(w http.ResponseWriter, r *http.Request) {
	if st, ok := s.config(w, r); ok {
		reply(w, http.StatusOK, config{siteID(r), st.Enabled, st.ApplyToMobile})
	}
}

func (s *server) setConfig(w http.ResponseWriter, r *http.Request, change func(*policy.Settings)) {
	st, ok := s.config(w, r)
	if !ok {
		return
	}
	change(&st)
	rev, err := s.st.SetSettings(r.Context(), site(r), st, store.Any)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	s.settle(r.Context(), site(r), rev)
	reply(w, http.StatusOK, config{siteID(r), st.Enabled, st.ApplyToMobile})
}

func (s *server) switchConfig(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.setConfig(w, r, func(st *policy.Settings) { st.Enabled = on })
	}
}

func (s *server) putConfig(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IsEnabled *bool `json:"isEnabled"`
		Mobile    *bool `json:"isLoginIpAllowlistApplicableForMobileAccess"`
	}
	if err := decode(r, &body); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	s.setConfig(w, r, func(st *policy.Settings) {
		if body.IsEnabled != nil {
			st.Enabled = *body.IsEnabled
		}
		if body.Mobile != nil {
			st.ApplyToMobile = *body.Mobile
		}
	})
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid request body: %v", err)
	}
	return nil
}

// version holds the differences between the two APIs' range objects.
type version struct {
	path, from, to string
	created        bool
}

var (
	v4 = version{path: "/v4/global/loginIpAllowlists", from: "ipRangeFrom", to: "ipRangeTo"}
	v3 = version{path: "/v3/globalSettings/whitelistedLoginIPRanges", from: "ipFrom", to: "ipTo", created: true}
)

func (v version) object(r policy.Rule) map[string]any {
	o := map[string]any{"id": r.ID, v.from: r.Target.From().String(), v.to: r.Target.To().String()}
	if v.created {
		o["createdTime"] = r.CreatedAt.UTC().Format(time.RFC3339)
	}
	return o
}

// target reads a range object's two ends, naming the bad field.
func (v version) target(r *http.Request) (rangeset.Range, error) {
	body := map[string]*string{}
	if err := decode(r, &body); err != nil {
		return rangeset.Range{}, err
	}
	for k := range body {
		if k != v.from && k != v.to && k != "id" && k != "createdTime" {
			return rangeset.Range{}, fmt.Errorf("unknown field %q", k)
		}
	}
	for _, f := range []string{v.from, v.to} {
		if body[f] == nil {
			return rangeset.Range{}, fmt.Errorf("%s is required", f)
		}
		if _, err := rangeset.ParseFromTo(*body[f], *body[f]); err != nil {
			return rangeset.Range{}, fmt.Errorf("%s %q: %v", f, *body[f], err)
		}
	}
	t, err := rangeset.ParseFromTo(*body[v.from], *body[v.to])
	if err != nil {
		return rangeset.Range{}, fmt.Errorf("%s %q to %s %q: %v", v.from, *body[v.from], v.to, *body[v.to], err)
	}
	return t, nil
}

func (s *server) list(v version) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := site(r)
		if _, err := s.checker(r.Context(), name); err != nil {
			fail(w, http.StatusInternalServerError, err.Error())
			return
		}
		rules, _, err := s.st.ListRules(r.Context(), name, store.Query{})
		if err != nil {
			fail(w, http.StatusInternalServerError, err.Error())
			return
		}
		out := []map[string]any{}
		for _, rule := range rules {
			out = append(out, v.object(rule))
		}
		reply(w, http.StatusOK, out)
	}
}

func (s *server) get(v version) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rule, _, err := s.st.GetRule(r.Context(), site(r), r.PathValue("id"))
		if err != nil {
			fail(w, http.StatusNotFound, fmt.Sprintf("id %q: %v", r.PathValue("id"), err))
			return
		}
		reply(w, http.StatusOK, v.object(rule))
	}
}

func guid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (s *server) create(v version) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, err := v.target(r)
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		name := site(r)
		if _, err := s.checker(r.Context(), name); err != nil {
			fail(w, http.StatusInternalServerError, err.Error())
			return
		}
		rule, rev, err := s.st.CreateRule(r.Context(), name, policy.Rule{ID: guid(), Target: t, Action: policy.Allow}, store.Any)
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		s.settle(r.Context(), name, rev)
		reply(w, http.StatusCreated, v.object(rule))
	}
}

func (s *server) update(v version) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, err := v.target(r)
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		name, id := site(r), r.PathValue("id")
		rule, rev, err := s.st.UpdateRule(r.Context(), name, policy.Rule{ID: id, Target: t, Action: policy.Allow}, store.Any)
		if errors.Is(err, store.ErrRuleNotFound) || errors.Is(err, store.ErrNotFound) {
			fail(w, http.StatusNotFound, fmt.Sprintf("id %q: not found", id))
			return
		}
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		s.settle(r.Context(), name, rev)
		reply(w, http.StatusOK, v.object(rule))
	}
}

func (s *server) remove(w http.ResponseWriter, r *http.Request) {
	name, id := site(r), r.PathValue("id")
	rev, err := s.st.DeleteRule(r.Context(), name, id, store.Any)
	if err != nil {
		fail(w, http.StatusNotFound, fmt.Sprintf("id %q: not found", id))
		return
	}
	s.settle(r.Context(), name, rev)
	w.WriteHeader(http.StatusNoContent)
}
