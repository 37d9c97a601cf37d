// Command ippolicies serves a generic IP address policy API on ipgate:
// addresses with an allow or deny policy, a time to live or an expiry
// instant that take effect on time, and a list with filters, sorting and
// paging. It guards a sample route with the addresses.
//
//	go run ./examples/ippolicies -dir /tmp/ippolicies    # the file store
//	go run ./examples/ippolicies -postgres ''            # PostgreSQL
//
// The API:
//
//	POST   /addresses        {"ipAddress", "policy": "allow"|"deny", "ttl"?, "expireTime"?, "description"?} -> 201
//	GET    /addresses/{id}
//	PUT    /addresses/{id}   the whole address (createTime kept)
//	PATCH  /addresses/{id}   only the fields sent
//	DELETE /addresses/{id}   -> 204
//	GET    /addresses?filter[ipAddress]=&filter[policy]=&filter[containsIp]=
//	       &filter[createTimeFrom]=&filter[createTimeTo]=&filter[updateTimeFrom]=&filter[updateTimeTo]=
//	       &filter[expireTimeFrom]=&filter[expireTimeTo]=&filter[ttlMin]=&filter[ttlMax]=
//	       &sort_by=ipAddress|createTime|updateTime|expireTime|ttl|policy&sort_order=asc|desc&limit=&offset=
//	       -> {"data": [...], "total", "limit", "offset"}
//
// An address is a rule: ipAddress its target (an address, a CIDR or a
// range), policy its action, ttl (seconds, counted from the last update)
// or expireTime its expiry. A checker following the store swaps in a new
// snapshot when an expiry passes, so the guarded route GET /protected
// sees expiry on time. Bad input answers 400 with {"error": {"field",
// "message"}} naming the field and value; nothing is half-applied.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

const name = "ip-address-policies"

func main() {
	seed.Main("IP address policies", "127.0.0.1:8095", "ippolicies-data",
		func(ctx context.Context, st store.Editor) (http.Handler, func(), error) {
			s, err := newServer(ctx, st, nil)
			if err != nil {
				return nil, nil, err
			}
			return s, s.followers.Close, nil
		})
}

type server struct {
	*http.ServeMux
	st        store.Editor
	followers *seed.Tenants
	c         *follow.Follower
}

// newServer serves the API over st, with a checker made with opts.
func newServer(ctx context.Context, st store.Editor, opts *follow.GroupOptions) (*server, error) {
	followers := seed.NewTenants(st, func() policy.Policy { return policy.New() }, opts)
	c, err := followers.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	s := &server{ServeMux: http.NewServeMux(), st: st, followers: followers, c: c}
	s.HandleFunc("POST /addresses", s.create)
	s.HandleFunc("GET /addresses", s.list)
	s.HandleFunc("GET /addresses/{id}", s.get)
	s.HandleFunc("PUT /addresses/{id}", s.put)
	s.HandleFunc("PATCH /addresses/{id}", s.patch)
	s.HandleFunc("DELETE /addresses/{id}", s.delete)
	s.Handle("GET /protected", middleware.New(c, nil).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _, _ := middleware.FromContext(r.Context())
		reply(w, http.StatusOK, map[string]string{"decidedBy": d.Rule})
	})))
	return s, nil
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if v != nil {
		json.NewEncoder(w).Encode(v)
	}
}

// badField is input that names its field.
type badField struct{ field, msg string }

func (e *badField) Error() string { return e.field + ": " + e.msg }

func fail(w http.ResponseWriter, err error) {
	var bf *badField
	switch {
	case errors.As(err, &bf):
		reply(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"field": bf.field, "message": bf.msg}})
	case errors.Is(err, store.ErrRuleNotFound):
		reply(w, http.StatusNotFound, map[string]any{"error": map[string]string{"message": err.Error()}})
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrRuleExists):
		reply(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"message": err.Error()}})
	default:
		reply(w, http.StatusInternalServerError, map[string]any{"error": map[string]string{"message": err.Error()}})
	}
}

// settle waits, briefly, until the checker serves revision rev.
func (s *server) settle(rev store.Revision) { s.followers.Settle(context.Background(), name, rev) }

func address(r policy.Rule) map[string]any {
	a := map[string]any{"id": r.ID, "ipAddress": r.Target.String(), "policy": r.Action.String(),
		"description": r.Comment, "createTime": r.CreatedAt.UTC().Format(time.RFC3339Nano),
		"updateTime": r.UpdatedAt.UTC().Format(time.RFC3339Nano)}
	if r.TTL != nil {
		a["ttl"] = *r.TTL
	}
	if e, ok := r.Expiry(); ok {
		a["expireTime"] = e.UTC().Format(time.RFC3339Nano)
	}
	return a
}

// body is an address as sent; nil fields were not sent.
type body struct {
	IPAddress   *string `json:"ipAddress"`
	Policy      *string `json:"policy"`
	TTL         *int64  `json:"ttl"`
	ExpireTime  *string `json:"expireTime"`
	Description *string `json:"description"`
}

func readBody(r *http.Request) (body, error) {
	var b body
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return b, &badField{"body", err.Error()}
	}
	return b, nil
}

// patch turns the fields sent into a store patch, checking each.
func (b body) patch() (store.Patch, error) {
	var p store.Patch
	if b.IPAddress != nil {
		t, err := rangeset.ParseRange(*b.IPAddress)
		if err != nil {
			return p, &badField{"ipAddress", fmt.Sprintf("%q: %v", *b.IPAddress, err)}
		}
		p.Target = &t
	}
	if b.Policy != nil {
		var a policy.Action
		if err := a.UnmarshalText([]byte(*b.Policy)); err != nil {
			return p, &badField{"policy", fmt.Sprintf("%q: want \"allow\" or \"deny\"", *b.Policy)}
		}
		p.Action = &a
	}
	if b.TTL != nil && b.ExpireTime != nil {
		return p, &badField{"ttl", "ttl and expireTime together: send one"}
	}
	if b.TTL != nil {
		if *b.TTL < 0 {
			return p, &badField{"ttl", fmt.Sprintf("%d: want a whole number of seconds, not negative", *b.TTL)}
		}
		p.TTL = b.TTL
	}
	if b.ExpireTime != nil {
		t, err := time.Parse(time.RFC3339Nano, *b.ExpireTime)
		if err != nil {
			return p, &badField{"expireTime", fmt.Sprintf("%q: want an RFC 3339 instant", *b.ExpireTime)}
		}
		p.ExpiresAt = &t
	}
	p.Comment = b.Description
	return p, nil
}

// write reads an address from the body (whole when whole is set), hands
// it to do as a patch, and answers with the written address.
func (s *server) write(w http.ResponseWriter, r *http.Request, whole bool, code int,
	do func(store.Patch) (policy.Rule, store.Revision, error)) {
	b, err := readBody(r)
	if err == nil && whole && (b.IPAddress == nil || b.Policy == nil) {
		err = &badField{"ipAddress", "a whole address needs ipAddress and policy"}
	}
	var p store.Patch
	if err == nil {
		p, err = b.patch()
	}
	var rule policy.Rule
	var rev store.Revision
	if err == nil {
		rule, rev, err = do(p)
	}
	if err != nil {
		fail(w, err)
		return
	}
	s.settle(rev)
	reply(w, code, address(rule))
}

func (s *server) create(w http.ResponseWriter, r *http.Request) {
	s.write(w, r, true, http.StatusCreated, func(p store.Patch) (policy.Rule, store.Revision, error) {
		var id [8]byte
		rand.Read(id[:])
		return s.st.CreateRule(r.Context(), name, p.Apply(policy.Rule{ID: hex.EncodeToString(id[:])}), store.Any)
	})
}

func (s *server) get(w http.ResponseWriter, r *http.Request) {
	rule, _, err := s.st.GetRule(r.Context(), name, r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, address(rule))
}

// put replaces the whole address.
func (s *server) put(w http.ResponseWriter, r *http.Request) {
	s.write(w, r, true, http.StatusOK, func(p store.Patch) (policy.Rule, store.Revision, error) {
		return s.st.UpdateRule(r.Context(), name, p.Apply(policy.Rule{ID: r.PathValue("id")}), store.Any)
	})
}

// patch changes only the fields sent.
func (s *server) patch(w http.ResponseWriter, r *http.Request) {
	s.write(w, r, false, http.StatusOK, func(p store.Patch) (policy.Rule, store.Revision, error) {
		return s.st.PatchRule(r.Context(), name, r.PathValue("id"), p, store.Any)
	})
}

func (s *server) delete(w http.ResponseWriter, r *http.Request) {
	rev, err := s.st.DeleteRule(r.Context(), name, r.PathValue("id"), store.Any)
	if err != nil {
		fail(w, err)
		return
	}
	s.settle(rev)
	reply(w, http.StatusNoContent, nil)
}

var sortKeys = map[string]store.SortKey{
	"ipAddress": store.SortTarget, "createTime": store.SortCreatedAt, "updateTime": store.SortUpdatedAt,
	"expireTime": store.SortExpiresAt, "ttl": store.SortTTL, "policy": store.SortAction,
}

// query reads the list's filters, sort and paging.
func query(r *http.Request) (store.Query, error) {
	var q store.Query
	v := r.URL.Query()
	if s := v.Get("filter[ipAddress]"); s != "" {
		t, err := rangeset.ParseRange(s)
		if err != nil {
			return q, &badField{"filter[ipAddress]", fmt.Sprintf("%q: %v", s, err)}
		}
		q.Target = t
	}
	if s := v.Get("filter[containsIp]"); s != "" {
		a, err := rangeset.ParseAddr(s)
		if err != nil {
			return q, &badField{"filter[containsIp]", fmt.Sprintf("%q: %v", s, err)}
		}
		q.Contains = a
	}
	if s := v.Get("filter[policy]"); s != "" {
		if err := q.Action.UnmarshalText([]byte(s)); err != nil {
			return q, &badField{"filter[policy]", fmt.Sprintf("%q: want \"allow\" or \"deny\"", s)}
		}
	}
	for _, f := range []struct {
		key string
		to  *time.Time
	}{
		{"createTimeFrom", &q.CreatedAt.From}, {"createTimeTo", &q.CreatedAt.To},
		{"updateTimeFrom", &q.UpdatedAt.From}, {"updateTimeTo", &q.UpdatedAt.To},
		{"expireTimeFrom", &q.ExpiresAt.From}, {"expireTimeTo", &q.ExpiresAt.To},
	} {
		if s := v.Get("filter[" + f.key + "]"); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return q, &badField{"filter[" + f.key + "]", fmt.Sprintf("%q: want an RFC 3339 instant", s)}
			}
			*f.to = t
		}
	}
	for _, f := range []struct {
		key string
		to  **int64
	}{{"ttlMin", &q.MinTTL}, {"ttlMax", &q.MaxTTL}} {
		if s := v.Get("filter[" + f.key + "]"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return q, &badField{"filter[" + f.key + "]", fmt.Sprintf("%q: want whole seconds", s)}
			}
			*f.to = &n
		}
	}
	if s := v.Get("sort_by"); s != "" {
		k, ok := sortKeys[s]
		if !ok {
			return q, &badField{"sort_by", fmt.Sprintf("%q: want ipAddress, createTime, updateTime, expireTime, ttl or policy", s)}
		}
		q.SortBy = k
	}
	switch s := v.Get("sort_order"); s {
	case "", "asc":
	case "desc":
		q.Descending = true
	default:
		return q, &badField{"sort_order", fmt.Sprintf("%q: want asc or desc", s)}
	}
	q.Limit = 100
	for _, f := range []struct {
		key string
		to  *int
	}{{"limit", &q.Limit}, {"offset", &q.Offset}} {
		if s := v.Get(f.key); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || f.key == "limit" && n == 0 {
				return q, &badField{f.key, fmt.Sprintf("%q: want a positive count", s)}
			}
			*f.to = n
		}
	}
	return q, nil
}

func (s *server) list(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		fail(w, err)
		return
	}
	rules, total, err := s.st.ListRules(r.Context(), name, q)
	if err != nil {
		fail(w, err)
		return
	}
	data := []map[string]any{}
	for _, rule := range rules {
		data = append(data, address(rule))
	}
	reply(w, http.StatusOK, map[string]any{"data": data, "total": total, "limit": q.Limit, "offset": q.Offset})
}
