// Command docspace serves ONLYOFFICE DocSpace's IP restriction API on
// ipgate, and guards a sample route with it.
//
//	IPGATE_API_TOKEN=secret go run ./examples/docspace                 # the file store, in the user's cache directory
//	IPGATE_API_TOKEN=secret go run ./examples/docspace -postgres ''    # PostgreSQL ($IPGATE_POSTGRES_DSN, else the local server)
//
// The API, as DocSpace documents it (every request with "Authorization:
// Bearer TOKEN"):
//
//	GET /api/2.0/settings/iprestrictions            the list: [{id, tenantId, ip, forAdmin}]
//	PUT /api/2.0/settings/iprestrictions            {"enable", "ipRestrictions": [{"ip", "forAdmin"}]}: replaces the list atomically
//	GET /api/2.0/settings/iprestrictions/settings   {"enable"}
//	PUT /api/2.0/settings/iprestrictions/settings   {"enable"}: switches enforcement, the list kept
//
// Every answer is DocSpace's envelope, {"response", "count", "status": 0,
// "statusCode"}, or {"error": {"message"}, "status": 1, "statusCode"}
// for an error.
//
// Credentials: the token in $IPGATE_API_TOKEN is the portal
// administrator's; -credentials FILE adds more, one per line, "TOKEN
// admin|user ACCOUNT" (the account is ignored: the server has one
// portal). A request without a known token is answered 401; the
// restriction settings are an administrator's, so a user's token gets
// 403 there. Whether a request comes from an administrator is decided by
// whose token it carries, never by a header the client writes.
//
// How DocSpace's behaviour maps onto ipgate: each entry is an allow rule
// for its single address, adminOnly when forAdmin; "enable" is the policy's
// enabled switch; the default action is auto. A non-empty list therefore
// admits only listed addresses (an allowlist denies the rest), and an
// entry marked forAdmin binds admins alone: an admin may come from any
// listed address, a user only from the entries not marked forAdmin, and a
// user is unrestricted when every entry is forAdmin (no allow rule applies
// to users, so auto allows them).
//
// Where the documentation is silent, this server chose: the PUT answers
// with the request as sent; an omitted "enable" follows the list (on with
// entries, off without), and "enable": true with no entry is refused;
// entries are single addresses, each listed once; the settings PUT needs
// "enable" and refuses true while the list is empty; a body is one JSON
// object of at most 1 MiB (413 past it) with no unknown field, no key
// given twice and nothing after it (400).
//
// The guarded sample route is GET /api/2.0/people/@self: it needs a
// token too, and the token says whether the caller is an admin.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/internal/seed"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

// portal is the policy name: one per tenant.
const portal = "docspace-portal"

func main() {
	seed.Main(seed.Server{Title: "DocSpace IP restrictions", Addr: "127.0.0.1:8092", Data: "docspace", Account: "portal", Build: newServer})
}

// newServer returns the API and the guarded route over cfg's store, with
// a follower of the portal's policy (created empty and disabled when
// absent).
func newServer(ctx context.Context, cfg *seed.Config) (http.Handler, func(), error) {
	followers := seed.NewTenants(cfg.Store, func() policy.Policy {
		p := policy.New()
		p.Settings.Enabled = false // a new portal enforces nothing
		return p
	}, nil)
	c, err := followers.Get(ctx, portal)
	if err != nil {
		followers.Close()
		return nil, nil, err
	}
	guard, err := httpgate.New(c.Check, &httpgate.Options{
		Subject: func(r *http.Request) (bool, bool) { return principal(r).Admin, false },
		Deny: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reply(w, http.StatusForbidden, nil, "Access denied: your IP address is restricted")
		}),
	})
	if err != nil {
		followers.Close()
		return nil, nil, err
	}
	a := &api{st: cfg.Store, creds: cfg.Credentials, followers: followers}
	mux := http.NewServeMux()
	mux.Handle("GET /api/2.0/settings/iprestrictions", a.admin(a.list))
	mux.Handle("PUT /api/2.0/settings/iprestrictions", a.admin(a.save))
	mux.Handle("GET /api/2.0/settings/iprestrictions/settings", a.admin(a.settings))
	mux.Handle("PUT /api/2.0/settings/iprestrictions/settings", a.admin(a.saveSettings))
	mux.Handle("GET /api/2.0/people/@self", a.auth(guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, client, _ := httpgate.FromContext(r.Context())
		reply(w, http.StatusOK, map[string]any{"displayName": "Sample User", "isAdmin": principal(r).Admin, "ip": client.String()}, "")
	}))))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seed.Serve(mux, w, r, func(w http.ResponseWriter, code int, msg string) { reply(w, code, nil, msg) })
	})
	return h, followers.Close, nil
}

type api struct {
	st        store.Editor
	creds     *seed.Credentials
	followers *seed.Tenants // to answer a write once the guarded route serves it
}

type ctxKey struct{}

func principal(r *http.Request) seed.Principal {
	p, _ := r.Context().Value(ctxKey{}).(seed.Principal)
	return p
}

// auth passes on requests with a known Bearer token, with its principal
// in the context.
func (a *api) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.creds.Lookup(seed.Bearer(r))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="DocSpace"`)
			reply(w, http.StatusUnauthorized, nil, "Unauthorized: send a valid personal access token as Authorization: Bearer TOKEN")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
	})
}

// admin is auth for the portal administrators' calls.
func (a *api) admin(h http.HandlerFunc) http.Handler {
	return a.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !principal(r).Admin {
			reply(w, http.StatusForbidden, nil, "Access denied: only portal administrators manage IP restrictions")
			return
		}
		h(w, r)
	}))
}

// reply writes DocSpace's envelope: {"response", "count", "status",
// "statusCode"}, or {"error": {"message"}, ...} for an error.
func reply(w http.ResponseWriter, code int, v any, msg string) {
	body := map[string]any{"status": 0, "statusCode": code}
	if msg != "" {
		body["status"] = 1
		body["error"] = map[string]string{"message": msg}
	} else {
		body["response"] = v
		if l, ok := v.([]restriction); ok {
			body["count"] = len(l)
		} else {
			body["count"] = 1
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

type restriction struct {
	ID       int    `json:"id"`
	TenantID int    `json:"tenantId"`
	IP       string `json:"ip"`
	ForAdmin bool   `json:"forAdmin"`
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	p, _, err := a.st.Load(r.Context(), portal)
	if err != nil {
		reply(w, http.StatusInternalServerError, nil, "the IP restrictions could not be read")
		return
	}
	out := []restriction{}
	for _, rule := range p.Rules {
		id, _ := strconv.Atoi(rule.ID)
		out = append(out, restriction{ID: id, TenantID: 1, IP: rule.Target.String(), ForAdmin: rule.AdminOnly})
	}
	reply(w, http.StatusOK, out, "")
}

func (a *api) settings(w http.ResponseWriter, r *http.Request) {
	p, _, err := a.st.Load(r.Context(), portal)
	if err != nil {
		reply(w, http.StatusInternalServerError, nil, "the IP restriction settings could not be read")
		return
	}
	reply(w, http.StatusOK, map[string]bool{"enable": p.Settings.Enabled}, "")
}

type entry struct {
	IP       *string `json:"ip"`
	ForAdmin bool    `json:"forAdmin"`
}

type saveRequest struct {
	IPRestrictions []entry `json:"ipRestrictions"`
	Enable         *bool   `json:"enable"`
}

// save replaces the whole list and the enforcement flag in one write.
func (a *api) save(w http.ResponseWriter, r *http.Request) {
	var req saveRequest
	if err := seed.ReadJSON(w, r, &req, nil); err != nil {
		var be *seed.BodyError
		errors.As(err, &be)
		reply(w, be.Status, nil, "Invalid request body: "+be.Msg)
		return
	}
	var rules []policy.Rule
	seen := map[netip.Addr]bool{}
	for i, e := range req.IPRestrictions {
		field := fmt.Sprintf("ipRestrictions[%d].ip", i)
		if e.IP == nil {
			reply(w, http.StatusBadRequest, nil, field+" is required")
			return
		}
		t, err := rangeset.ParseRange(*e.IP)
		if err != nil {
			reply(w, http.StatusBadRequest, nil, fmt.Sprintf("%s %s is not an IP address: %s", field, rangeset.Quote(*e.IP), seed.Reason(err)))
			return
		}
		if t.From() != t.To() {
			reply(w, http.StatusBadRequest, nil, fmt.Sprintf("%s %s: only single IPv4 or IPv6 addresses can be stored", field, rangeset.Quote(*e.IP)))
			return
		}
		if seen[t.From()] {
			reply(w, http.StatusBadRequest, nil, fmt.Sprintf("%s %s: listed twice", field, rangeset.Quote(*e.IP)))
			return
		}
		seen[t.From()] = true
		rules = append(rules, policy.Rule{ID: strconv.Itoa(i + 1), Target: t, Action: policy.Allow, AdminOnly: e.ForAdmin})
	}
	// An omitted enable follows the list: on with addresses, off without.
	enable := len(rules) > 0
	if req.Enable != nil {
		enable = *req.Enable
	}
	if enable && len(rules) == 0 {
		reply(w, http.StatusBadRequest, nil, errEmptyList.Error())
		return
	}
	rev, err := seed.Update(r.Context(), a.st, portal, func(p policy.Policy, rev store.Revision) (store.Revision, error) {
		p.Rules = rules
		p.Settings.Enabled, p.Settings.DefaultAction = enable, policy.DefaultAuto
		return a.st.Put(r.Context(), portal, p, rev)
	})
	if err != nil {
		writeFail(w, err)
		return
	}
	a.followers.Settle(r.Context(), portal, rev)
	// DocSpace answers with the request as sent.
	echo := map[string]any{"ipRestrictions": req.IPRestrictions}
	if req.IPRestrictions == nil {
		echo["ipRestrictions"] = []entry{}
	}
	if req.Enable != nil {
		echo["enable"] = *req.Enable
	}
	reply(w, http.StatusOK, echo, "")
}

// errEmptyList refuses enforcement switched on over an empty list, which
// would admit every address.
var errEmptyList = errors.New("enable: true needs at least one address in the IP restrictions")

// saveSettings switches enforcement on or off, keeping the list.
func (a *api) saveSettings(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Enable *bool `json:"enable"`
	}
	if err := seed.ReadJSON(w, r, &req, nil); err != nil {
		var be *seed.BodyError
		errors.As(err, &be)
		reply(w, be.Status, nil, "Invalid request body: "+be.Msg)
		return
	}
	if req.Enable == nil {
		reply(w, http.StatusBadRequest, nil, "enable is required")
		return
	}
	rev, err := seed.Update(r.Context(), a.st, portal, func(p policy.Policy, rev store.Revision) (store.Revision, error) {
		if *req.Enable && len(p.Rules) == 0 {
			return 0, errEmptyList
		}
		p.Settings.Enabled = *req.Enable
		return a.st.SetSettings(r.Context(), portal, p.Settings, rev)
	})
	if err != nil {
		writeFail(w, err)
		return
	}
	a.followers.Settle(r.Context(), portal, rev)
	reply(w, http.StatusOK, map[string]bool{"enable": *req.Enable}, "")
}

// writeFail answers a write that did not land.
func writeFail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errEmptyList):
		reply(w, http.StatusBadRequest, nil, err.Error())
	case errors.Is(err, store.ErrInvalid):
		reply(w, http.StatusBadRequest, nil, "the IP restrictions are not valid")
	default:
		reply(w, http.StatusInternalServerError, nil, "the IP restrictions could not be saved")
	}
}
