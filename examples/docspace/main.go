// Command docspace serves ONLYOFFICE DocSpace's IP restriction API on
// ipgate, and guards a sample route with it.
//
//	go run ./examples/docspace -dir /tmp/docspace        # the file store
//	go run ./examples/docspace -postgres ''              # PostgreSQL ($IPGATE_POSTGRES_DSN, else the local server)
//
// The API (as DocSpace documents it):
//
//	GET /api/2.0/settings/iprestrictions            the list: [{id, tenantId, ip, forAdmin}]
//	PUT /api/2.0/settings/iprestrictions            {"ipRestrictions": [{"ip", "forAdmin"}], "enable"}: replaces the list atomically
//	GET /api/2.0/settings/iprestrictions/settings   {"enable"}
//	PUT /api/2.0/settings/iprestrictions/settings   the same handler as the PUT above
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
// The guarded sample route is GET /api/2.0/people/@self; the header
// "X-DocSpace-Admin: true" marks an admin (a stand-in for DocSpace's own
// authentication).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/examples/internal/seed"
	"github.com/ipgate/ipgate/examples/middleware"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

// portal is the policy name: one per tenant.
const portal = "docspace-portal"

func main() {
	seed.Main("DocSpace IP restrictions", "127.0.0.1:8092", "docspace-data", newServer)
}

// newServer returns the API and the guarded route over st, with a checker
// following the portal's policy (created empty and disabled when absent).
func newServer(ctx context.Context, st store.Editor) (http.Handler, func(), error) {
	followers := seed.NewTenants(st, func() policy.Policy {
		p := policy.New()
		p.Settings.Enabled = false // a new portal enforces nothing
		return p
	}, nil)
	c, err := followers.Get(ctx, portal)
	if err != nil {
		return nil, nil, err
	}
	guard := middleware.New(c, &middleware.Options{
		Subject: func(r *http.Request) (bool, bool) { return r.Header.Get("X-DocSpace-Admin") == "true", false },
		Deny: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reply(w, http.StatusForbidden, nil, "Access denied: your IP address is restricted")
		}),
	})
	a := &api{st: st, c: c}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/2.0/settings/iprestrictions", a.list)
	mux.HandleFunc("PUT /api/2.0/settings/iprestrictions", a.save)
	mux.HandleFunc("GET /api/2.0/settings/iprestrictions/settings", a.settings)
	mux.HandleFunc("PUT /api/2.0/settings/iprestrictions/settings", a.save)
	mux.Handle("GET /api/2.0/people/@self", guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, client, _ := middleware.FromContext(r.Context())
		reply(w, http.StatusOK, map[string]string{"displayName": "Sample User", "ip": client.String()}, "")
	})))
	return mux, followers.Close, nil
}

type api struct {
	st store.Editor
	c  *follow.Follower
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
		reply(w, http.StatusInternalServerError, nil, err.Error())
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
		reply(w, http.StatusInternalServerError, nil, err.Error())
		return
	}
	reply(w, http.StatusOK, map[string]bool{"enable": p.Settings.Enabled}, "")
}

type saveRequest struct {
	IPRestrictions []struct {
		IP       *string `json:"ip"`
		ForAdmin bool    `json:"forAdmin"`
	} `json:"ipRestrictions"`
	Enable *bool `json:"enable"`
}

// save replaces the whole list and the enforcement flag in one write.
func (a *api) save(w http.ResponseWriter, r *http.Request) {
	var req saveRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		reply(w, http.StatusBadRequest, nil, "invalid request body: "+err.Error())
		return
	}
	p, _, err := a.st.Load(r.Context(), portal)
	if err != nil {
		reply(w, http.StatusInternalServerError, nil, err.Error())
		return
	}
	p.Rules = nil
	seen := map[netip.Addr]bool{}
	for i, e := range req.IPRestrictions {
		field := fmt.Sprintf("ipRestrictions[%d].ip", i)
		if e.IP == nil {
			reply(w, http.StatusBadRequest, nil, field+" is required")
			return
		}
		t, err := rangeset.ParseRange(*e.IP)
		if err != nil {
			reply(w, http.StatusBadRequest, nil, fmt.Sprintf("%s %q: %v", field, *e.IP, err))
			return
		}
		if t.From() != t.To() {
			reply(w, http.StatusBadRequest, nil, fmt.Sprintf("%s %q: only single IPv4 or IPv6 addresses can be stored", field, *e.IP))
			return
		}
		if seen[t.From()] {
			reply(w, http.StatusBadRequest, nil, fmt.Sprintf("%s %q: listed twice", field, *e.IP))
			return
		}
		seen[t.From()] = true
		p.Rules = append(p.Rules, policy.Rule{ID: strconv.Itoa(i + 1), Target: t, Action: policy.Allow, AdminOnly: e.ForAdmin})
	}
	// An omitted enable follows the list: on with addresses, off without.
	enable := len(p.Rules) > 0
	if req.Enable != nil {
		enable = *req.Enable
	}
	if enable && len(p.Rules) == 0 {
		reply(w, http.StatusBadRequest, nil, "enable: true needs at least one address in ipRestrictions")
		return
	}
	p.Settings.Enabled, p.Settings.DefaultAction = enable, policy.DefaultAuto
	if _, err := a.st.Put(r.Context(), portal, p, store.Any); err != nil {
		reply(w, http.StatusBadRequest, nil, err.Error())
		return
	}
	// DocSpace answers with the request as sent.
	echo := map[string]any{"ipRestrictions": req.IPRestrictions}
	if req.Enable != nil {
		echo["enable"] = *req.Enable
	}
	reply(w, http.StatusOK, echo, "")
}
