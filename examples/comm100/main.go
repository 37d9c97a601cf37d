// Command comm100 serves Comm100's login IP allowlist APIs, version 4 and
// version 3, on ipgate, over one policy per site, and guards a sample
// agent-login route with them.
//
//	IPGATE_API_TOKEN=secret go run ./examples/comm100                 # the file store, in the user's cache directory
//	IPGATE_API_TOKEN=secret go run ./examples/comm100 -postgres ''    # PostgreSQL
//
// Version 4, as Comm100 documents it:
//
//	GET    /v4/global/loginIpAllowlistConfig            {"siteId", "isEnabled", "isLoginIpAllowlistApplicableForMobileAccess"}
//	POST   /v4/global/loginIpAllowlistConfig:enable     the same, enabled
//	POST   /v4/global/loginIpAllowlistConfig:disable    the same, disabled
//	PUT    /v4/global/loginIpAllowlistConfig            either field, both or none (an empty body changes nothing)
//	GET    /v4/global/loginIpAllowlists                 [{"ipRangeFrom", "ipRangeTo", "id"}]
//	GET    /v4/global/loginIpAllowlists/{id}
//	POST   /v4/global/loginIpAllowlists                 {"ipRangeFrom", "ipRangeTo"} -> 201 with a GUID id
//	PUT    /v4/global/loginIpAllowlists/{id}            -> 200
//	DELETE /v4/global/loginIpAllowlists/{id}            -> 204
//
// Version 3, as documented, on the same sites and ranges:
//
//	GET    /api/v3/globalSettings/whitelistedLoginIPRanges        [{"id", "ipFrom", "ipTo", "createdTime"}]
//	GET    /api/v3/globalSettings/whitelistedLoginIPRanges/{id}
//	POST   /api/v3/globalSettings/whitelistedLoginIPRanges        {"ipFrom", "ipTo"} -> 201 with a Location header
//	PUT    /api/v3/globalSettings/whitelistedLoginIPRanges/{id}   -> 200
//	DELETE /api/v3/globalSettings/whitelistedLoginIPRanges/{id}   -> 204
//
// Bodies are JSON objects of at most 1 MiB (413 past it). The documented
// bodies end with a comma before their closing brace, so a comma before
// a closing } or ] is accepted, and nothing looser: no comments, no
// single quotes, nothing after the object. Version 3's read-only "id" and
// "createdTime" may be sent and are ignored; other unknown fields, and a
// field given twice, are refused.
//
// Credentials: every request needs "Authorization: Bearer TOKEN". The
// token in $IPGATE_API_TOKEN is the administrator's (Manage Security) of
// site 10000; -credentials FILE adds more, one per line, "TOKEN
// admin|user SITEID". The site a request works on is the token's (a
// ?siteId= that names another site is refused with 403); only sites the
// credentials name exist, so no request creates another. The allowlist
// API needs an administrator's token (a user's gets 403); no token, or an
// unknown one, gets 401.
//
// How Comm100 maps onto ipgate: each range is an allow rule with a GUID id;
// isEnabled is the policy's enabled switch; the mobile flag is
// applyToMobile; the default action is auto (SEMANTICS §5), so an enabled
// allowlist with no range admits every address (SEMANTICS §4.7). Comm100's
// documentation does not say what an empty enabled list does.
//
// Where the documentation is silent, this server chose: errors answer
// {"code": status, "message"} naming the field and value; createdTime is
// an RFC 3339 instant in UTC (the documentation's example shows a date);
// version 3's Location is absolute, from the request's host (https when
// the request came over TLS), and its PUT answers Content-Type
// application/json (the documentation shows a URL there, a typo);
// version 4's 201 has no Location, as documented; a site holds at most
// 10,000 ranges, which bounds the unpaged lists (a create past that is a
// 400).
//
// The guarded route is POST /login, with an agent's token: the site is
// the token's. "X-Comm100-Mobile: true" marks a login from the mobile
// app: that is the product's own client declaration (the mobile app says
// it is one, and the allowlist's mobile switch decides whether such
// logins are restricted), so it is kept as the client sends it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/internal/seed"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

func main() {
	seed.Main(seed.Server{Title: "Comm100 login IP allowlist", Addr: "127.0.0.1:8094", Data: "comm100", Account: "10000",
		Build: func(_ context.Context, cfg *seed.Config) (http.Handler, func(), error) {
			s, err := newServer(cfg, guid)
			if err != nil {
				return nil, nil, err
			}
			return s, s.close, nil
		}})
}

type server struct {
	*http.ServeMux
	st         store.Editor
	creds      *seed.Credentials
	followers  *seed.Tenants
	maxTenants int
	newID      func() string
}

// newServer serves the APIs over cfg; newID makes the ids of new ranges.
func newServer(cfg *seed.Config, newID func() string) (*server, error) {
	for _, a := range cfg.Credentials.Accounts() {
		if _, err := strconv.Atoi(a); err != nil {
			return nil, fmt.Errorf("credentials: site %s is not a siteId (an integer)", rangeset.Quote(a))
		}
	}
	max := cfg.MaxTenants
	if max <= 0 {
		max = len(cfg.Credentials.Accounts())
	}
	s := &server{ServeMux: http.NewServeMux(), st: cfg.Store, creds: cfg.Credentials, newID: newID, maxTenants: max,
		followers: seed.NewTenants(cfg.Store, func() policy.Policy {
			p := policy.New()
			p.Settings.Enabled, p.Settings.ApplyToMobile = false, false
			return p
		}, &follow.Options{MaxPolicies: max})}
	s.Handle("GET /v4/global/loginIpAllowlistConfig", s.admin(s.getConfig))
	s.Handle("PUT /v4/global/loginIpAllowlistConfig", s.admin(s.putConfig))
	s.Handle("POST /v4/global/loginIpAllowlistConfig:enable", s.admin(s.switchConfig(true)))
	s.Handle("POST /v4/global/loginIpAllowlistConfig:disable", s.admin(s.switchConfig(false)))
	for _, v := range []version{v4, v3} {
		s.Handle("GET "+v.path, s.admin(s.list(v)))
		s.Handle("POST "+v.path, s.admin(s.create(v)))
		s.Handle("GET "+v.path+"/{id}", s.admin(s.get(v)))
		s.Handle("PUT "+v.path+"/{id}", s.admin(s.update(v)))
		s.Handle("DELETE "+v.path+"/{id}", s.admin(s.remove))
	}
	s.Handle("POST /login", s.auth(s.login))
	return s, nil
}

func (s *server) close() { s.followers.Close() }

// who is the request's authenticated caller.
type who struct {
	siteID int
	admin  bool
}

func (w who) policy() string { return "comm100-site-" + strconv.Itoa(w.siteID) }

// auth passes on requests with a known Bearer token for a site.
func (s *server) auth(h func(http.ResponseWriter, *http.Request, who)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.creds.Lookup(seed.Bearer(r))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="Comm100"`)
			fail(w, http.StatusUnauthorized, "unauthorized: send a valid access token as Authorization: Bearer {access_token}")
			return
		}
		id, _ := strconv.Atoi(p.Account)
		if q := r.URL.Query().Get("siteId"); q != "" && q != p.Account {
			fail(w, http.StatusForbidden, fmt.Sprintf("siteId %s: the access token is not for this site", rangeset.Quote(q)))
			return
		}
		h(w, r, who{siteID: id, admin: p.Admin})
	})
}

// admin is auth for the allowlist API, which needs Manage Security.
func (s *server) admin(h func(http.ResponseWriter, *http.Request, who)) http.Handler {
	return s.auth(func(w http.ResponseWriter, r *http.Request, c who) {
		if !c.admin {
			fail(w, http.StatusForbidden, "forbidden: managing the login IP allowlist needs the Manage Security permission")
			return
		}
		h(w, r, c)
	})
}

func (s *server) login(w http.ResponseWriter, r *http.Request, c who) {
	f, ok := s.follower(w, r, c)
	if !ok {
		return
	}
	g, err := httpgate.New(f.Check, &httpgate.Options{
		Subject: func(r *http.Request) (bool, bool) { return false, r.Header.Get("X-Comm100-Mobile") == "true" },
		Deny: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fail(w, http.StatusForbidden, "login from this IP address is not allowed")
		}),
	})
	if err != nil {
		fail(w, http.StatusInternalServerError, "the login IP allowlist cannot be checked")
		return
	}
	g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]string{"result": "logged in"})
	})).ServeHTTP(w, r)
}

// follower returns the follower of c's site, creating the site's policy
// when it is new, or answers the error.
func (s *server) follower(w http.ResponseWriter, r *http.Request, c who) (*follow.Follower, bool) {
	f, err := s.followers.Get(r.Context(), c.policy())
	if errors.Is(err, seed.ErrTenantLimit) {
		fail(w, http.StatusServiceUnavailable, fmt.Sprintf("site %d: this server serves at most %d sites", c.siteID, s.maxTenants))
		return nil, false
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, "the login IP allowlist cannot be read")
		return nil, false
	}
	return f, true
}

// ServeHTTP answers a request no route takes in Comm100's error form.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	seed.Serve(s.ServeMux, w, r, fail)
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg string) {
	reply(w, code, map[string]any{"code": code, "message": msg})
}

// storeFail answers a store error in Comm100's terms.
func storeFail(w http.ResponseWriter, err error, id string) {
	switch {
	case errors.Is(err, store.ErrRuleNotFound), errors.Is(err, store.ErrNotFound):
		fail(w, http.StatusNotFound, fmt.Sprintf("id %s: no such login IP allowlist", rangeset.Quote(id)))
	case errors.Is(err, store.ErrRuleExists):
		fail(w, http.StatusConflict, fmt.Sprintf("id %s: already exists", rangeset.Quote(id)))
	case errors.Is(err, store.ErrInvalid):
		fail(w, http.StatusBadRequest, "the login IP allowlist would not be valid")
	default:
		fail(w, http.StatusInternalServerError, "the login IP allowlist cannot be written")
	}
}

type config struct {
	SiteID    int  `json:"siteId"`
	IsEnabled bool `json:"isEnabled"`
	Mobile    bool `json:"isLoginIpAllowlistApplicableForMobileAccess"`
}

func (s *server) settings(w http.ResponseWriter, r *http.Request, c who) (policy.Settings, bool) {
	if _, ok := s.follower(w, r, c); !ok {
		return policy.Settings{}, false
	}
	p, _, err := s.st.Load(r.Context(), c.policy())
	if err != nil {
		fail(w, http.StatusInternalServerError, "the login IP allowlist config cannot be read")
		return policy.Settings{}, false
	}
	return p.Settings, true
}

func (s *server) getConfig(w http.ResponseWriter, r *http.Request, c who) {
	if st, ok := s.settings(w, r, c); ok {
		reply(w, http.StatusOK, config{c.siteID, st.Enabled, st.ApplyToMobile})
	}
}

// setConfig applies change to the settings as stored: a change to one
// field never undoes a concurrent change to another.
func (s *server) setConfig(w http.ResponseWriter, r *http.Request, c who, change func(*policy.Settings)) {
	if _, ok := s.follower(w, r, c); !ok {
		return
	}
	var st policy.Settings
	rev, err := seed.Update(r.Context(), s.st, c.policy(), func(p policy.Policy, rev store.Revision) (store.Revision, error) {
		st = p.Settings
		change(&st)
		return s.st.SetSettings(r.Context(), c.policy(), st, rev)
	})
	if err != nil {
		storeFail(w, err, "")
		return
	}
	s.followers.Settle(r.Context(), c.policy(), rev)
	reply(w, http.StatusOK, config{c.siteID, st.Enabled, st.ApplyToMobile})
}

func (s *server) switchConfig(on bool) func(http.ResponseWriter, *http.Request, who) {
	return func(w http.ResponseWriter, r *http.Request, c who) {
		s.setConfig(w, r, c, func(st *policy.Settings) { st.Enabled = on })
	}
}

func (s *server) putConfig(w http.ResponseWriter, r *http.Request, c who) {
	var body struct {
		IsEnabled *bool `json:"isEnabled"`
		Mobile    *bool `json:"isLoginIpAllowlistApplicableForMobileAccess"`
	}
	// Both fields are optional, so is the body (the documented curl
	// sends none: -D is not -d).
	if err := seed.ReadJSON(w, r, &body, &seed.JSONOptions{Empty: true, TrailingCommas: true}); err != nil {
		bodyFail(w, err)
		return
	}
	s.setConfig(w, r, c, func(st *policy.Settings) {
		if body.IsEnabled != nil {
			st.Enabled = *body.IsEnabled
		}
		if body.Mobile != nil {
			st.ApplyToMobile = *body.Mobile
		}
	})
}

func bodyFail(w http.ResponseWriter, err error) {
	var be *seed.BodyError
	errors.As(err, &be)
	fail(w, be.Status, "invalid request body: "+be.Msg)
}

// version holds the differences between the two APIs' range objects.
type version struct {
	path, from, to string
	v3             bool
}

var (
	v4 = version{path: "/v4/global/loginIpAllowlists", from: "ipRangeFrom", to: "ipRangeTo"}
	v3 = version{path: "/api/v3/globalSettings/whitelistedLoginIPRanges", from: "ipFrom", to: "ipTo", v3: true}
)

func (v version) object(r policy.Rule) map[string]any {
	o := map[string]any{"id": r.ID, v.from: r.Target.From().String(), v.to: r.Target.To().String()}
	if v.v3 {
		o["createdTime"] = r.CreatedAt.UTC().Format(time.RFC3339)
	}
	return o
}

// target reads a range object's two ends, naming the bad field; ok false
// means the error has been answered.
func (v version) target(w http.ResponseWriter, r *http.Request) (rangeset.Range, bool) {
	body := map[string]json.RawMessage{}
	if err := seed.ReadJSON(w, r, &body, &seed.JSONOptions{TrailingCommas: true}); err != nil {
		bodyFail(w, err)
		return rangeset.Range{}, false
	}
	ends := map[string]string{}
	// In key order, so that the field named is always the same one.
	for _, k := range slices.Sorted(maps.Keys(body)) {
		raw := body[k]
		switch {
		case k == v.from || k == v.to:
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				fail(w, http.StatusBadRequest, fmt.Sprintf("%s must be a string holding an IP address, not %s", k, rangeset.Quote(string(raw))))
				return rangeset.Range{}, false
			}
			ends[k] = s
		case v.v3 && (k == "id" || k == "createdTime"): // read-only, ignored
		default:
			fail(w, http.StatusBadRequest, fmt.Sprintf("invalid request body: unknown field %s", rangeset.Quote(k)))
			return rangeset.Range{}, false
		}
	}
	for _, f := range []string{v.from, v.to} {
		e, ok := ends[f]
		if !ok {
			fail(w, http.StatusBadRequest, f+" is required")
			return rangeset.Range{}, false
		}
		if _, err := rangeset.ParseFromTo(e, e); err != nil {
			fail(w, http.StatusBadRequest, fmt.Sprintf("%s %s is not an IP address: %s", f, rangeset.Quote(e), seed.Reason(err)))
			return rangeset.Range{}, false
		}
	}
	t, err := rangeset.ParseFromTo(ends[v.from], ends[v.to])
	if err != nil {
		fail(w, http.StatusBadRequest, fmt.Sprintf("%s %s to %s %s: %s", v.from, rangeset.Quote(ends[v.from]), v.to, rangeset.Quote(ends[v.to]), seed.Reason(err)))
		return rangeset.Range{}, false
	}
	return t, true
}

func (s *server) list(v version) func(http.ResponseWriter, *http.Request, who) {
	return func(w http.ResponseWriter, r *http.Request, c who) {
		if _, ok := s.follower(w, r, c); !ok {
			return
		}
		rules, _, err := s.st.ListRules(r.Context(), c.policy(), store.Query{})
		if err != nil {
			fail(w, http.StatusInternalServerError, "the login IP allowlist cannot be read")
			return
		}
		out := []map[string]any{}
		for _, rule := range rules {
			out = append(out, v.object(rule))
		}
		reply(w, http.StatusOK, out)
	}
}

func (s *server) get(v version) func(http.ResponseWriter, *http.Request, who) {
	return func(w http.ResponseWriter, r *http.Request, c who) {
		if _, ok := s.follower(w, r, c); !ok {
			return
		}
		rule, _, err := s.st.GetRule(r.Context(), c.policy(), r.PathValue("id"))
		if err != nil {
			storeFail(w, err, r.PathValue("id"))
			return
		}
		reply(w, http.StatusOK, v.object(rule))
	}
}

// maxRanges bounds a site's allowlist, and so the unpaged list that
// returns it whole. Writes racing at the bound may pass it by a few.
const maxRanges = 10_000

func guid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (s *server) create(v version) func(http.ResponseWriter, *http.Request, who) {
	return func(w http.ResponseWriter, r *http.Request, c who) {
		t, ok := v.target(w, r)
		if !ok {
			return
		}
		f, ok := s.follower(w, r, c)
		if !ok {
			return
		}
		if f.Snapshot().Len() >= maxRanges {
			fail(w, http.StatusBadRequest, fmt.Sprintf("site %d: a login IP allowlist holds at most %d ranges", c.siteID, maxRanges))
			return
		}
		id := s.newID()
		rule, rev, err := s.st.CreateRule(r.Context(), c.policy(), policy.Rule{ID: id, Target: t, Action: policy.Allow}, store.Any)
		if err != nil {
			storeFail(w, err, id)
			return
		}
		s.followers.Settle(r.Context(), c.policy(), rev)
		if v.v3 {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			w.Header().Set("Location", scheme+"://"+r.Host+v.path+"/"+rule.ID)
		}
		reply(w, http.StatusCreated, v.object(rule))
	}
}

func (s *server) update(v version) func(http.ResponseWriter, *http.Request, who) {
	return func(w http.ResponseWriter, r *http.Request, c who) {
		t, ok := v.target(w, r)
		if !ok {
			return
		}
		if _, ok := s.follower(w, r, c); !ok {
			return
		}
		id := r.PathValue("id")
		rule, rev, err := s.st.UpdateRule(r.Context(), c.policy(), policy.Rule{ID: id, Target: t, Action: policy.Allow}, store.Any)
		if err != nil {
			storeFail(w, err, id)
			return
		}
		s.followers.Settle(r.Context(), c.policy(), rev)
		reply(w, http.StatusOK, v.object(rule))
	}
}

func (s *server) remove(w http.ResponseWriter, r *http.Request, c who) {
	if _, ok := s.follower(w, r, c); !ok {
		return
	}
	id := r.PathValue("id")
	rev, err := s.st.DeleteRule(r.Context(), c.policy(), id, store.Any)
	if err != nil {
		storeFail(w, err, id)
		return
	}
	s.followers.Settle(r.Context(), c.policy(), rev)
	w.WriteHeader(http.StatusNoContent)
}
