// Command ippolicies serves the IP address policies API on ipgate:
// addresses with an allow or deny policy and a time to live that takes
// effect on time, and a list with filters, sorting and paging. It guards
// a sample route with the addresses.
//
//	IPGATE_API_TOKEN=secret go run ./examples/ippolicies                 # the file store, in the user's cache directory
//	IPGATE_API_TOKEN=secret go run ./examples/ippolicies -postgres ''    # PostgreSQL
//
// The API, as documented (every request with "Authorization: Bearer
// TOKEN"):
//
//	GET    /addresses                 an array of IP address policy objects
//	GET    /addresses/{addressId}     one object
//	POST   /addresses                 {"ipAddress", "policy": "allow"|"deny", "ttl"} -> 201 and the object
//	PUT    /addresses/{addressId}     the fields sent -> 200 and the object
//	PATCH  /addresses/{addressId}     the same as PUT
//	DELETE /addresses/{addressId}     -> 204, no body
//
// The object is exactly {"addressId", "ipAddress", "policy", "ttl",
// "expireTime", "createTime", "updateTime"}. The list takes
// filter[ip], filter[createTime], filter[expireTime], filter[policy],
// filter[ttl], filter[updateTime]; sort_by=ip|createTime|expireTime|
// policy|ttl|updateTime (createTime by default) and sort_order=asc|desc;
// limit and offset.
//
// Credentials: the token in $IPGATE_API_TOKEN is the administrator's;
// -credentials FILE adds more, one per line, "TOKEN admin|user ACCOUNT"
// (the account is ignored: the server has one list). No token, or an
// unknown one, gets 401; a user's token may read but not write (403).
//
// An address is a rule: ipAddress its target (an address, a CIDR or a
// range "from-to"), policy its action, ttl (seconds, counted from the
// last update) its expiry. A follower of the store swaps in a new
// snapshot when an expiry passes, so the guarded route GET /protected
// sees expiry on time.
//
// Where the documentation is silent, this server chose:
//   - Times are RFC 3339 in UTC with a numeric offset, as documented
//     ("2021-01-01T00:00:00+00:00"); expireTime is the instant the policy
//     stops applying, "" when it never does; ttl is 0 when the policy has
//     none, and sending "ttl": 0 removes its expiry. An "expireTime" may be
//     sent instead of a ttl (an RFC 3339 instant from year 1 to
//     9999-12-31T23:59:59Z, not the zero instant); not both.
//   - POST answers 201 Created; PUT, like PATCH, changes only the fields
//     sent (the documentation lists them as "values that can be updated").
//   - filter[ip] matches the entries whose ipAddress is that address,
//     CIDR or range; filter[ttl] the entries with that ttl (0: those
//     without one); a time filter
//     that is a date (2021-01-01) matches that UTC day, an RFC 3339
//     instant that second. sort_order is asc unless desc; sort_by=ttl and
//     sort_by=expireTime put the entries without one (ttl 0, expireTime
//     "") after the others, and desc reverses the whole order. limit is
//     100 unless given, at most 1000. The policies hold at most 10,000
//     entries: a POST past that is a 400.
//   - An unknown query parameter (filter[bogus] among them) is refused
//     with 400 naming it, as is an unknown body field (names match
//     exactly, letter case included) and a field given twice; a body is
//     one JSON object of at most 1 MiB (413 past it), with nothing after
//     it.
//   - Errors answer {"error": {"field", "message"}} naming the field and
//     value ("field" is absent when no single field is at fault).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/internal/seed"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

const name = "ip-address-policies"

// timeLayout is RFC 3339 with a numeric offset, as the documentation
// writes times.
const timeLayout = "2006-01-02T15:04:05-07:00"

// maxExpiry is the latest expiry package policy lets a rule have
// (SEMANTICS §3): 9999-12-31T23:59:59Z.
var maxExpiry = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// maxTTL is the largest ttl in seconds: the most a time.Duration holds.
const maxTTL = math.MaxInt64 / int64(time.Second)

func main() {
	seed.Main(seed.Server{Title: "IP address policies", Addr: "127.0.0.1:8095", Data: "ippolicies", Account: "policies",
		Build: func(ctx context.Context, cfg *seed.Config) (http.Handler, func(), error) {
			s, err := newServer(ctx, cfg, newID)
			if err != nil {
				return nil, nil, err
			}
			return s, s.followers.Close, nil
		}})
}

type server struct {
	*http.ServeMux
	st        store.Editor
	creds     *seed.Credentials
	followers *seed.Tenants
	newID     func() string
}

func newID() string {
	var id [12]byte
	rand.Read(id[:])
	return hex.EncodeToString(id[:])
}

// newServer serves the API over cfg; newID makes the ids of new entries.
func newServer(ctx context.Context, cfg *seed.Config, newID func() string) (*server, error) {
	followers := seed.NewTenants(cfg.Store, func() policy.Policy { return policy.New() }, nil)
	c, err := followers.Get(ctx, name)
	if err != nil {
		followers.Close()
		return nil, err
	}
	g, err := httpgate.New(c.Check, nil)
	if err != nil {
		followers.Close()
		return nil, err
	}
	s := &server{ServeMux: http.NewServeMux(), st: cfg.Store, creds: cfg.Credentials, followers: followers, newID: newID}
	s.Handle("POST /addresses", s.auth(true, s.create))
	s.Handle("GET /addresses", s.auth(false, s.list))
	s.Handle("GET /addresses/{addressId}", s.auth(false, s.get))
	s.Handle("PUT /addresses/{addressId}", s.auth(true, s.update))
	s.Handle("PATCH /addresses/{addressId}", s.auth(true, s.update))
	s.Handle("DELETE /addresses/{addressId}", s.auth(true, s.delete))
	s.Handle("GET /protected", g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _, _ := httpgate.FromContext(r.Context())
		reply(w, http.StatusOK, map[string]string{"decidedBy": d.Rule})
	})))
	return s, nil
}

// auth passes on requests with a known Bearer token, an admin's when
// write is set.
func (s *server) auth(write bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.creds.Lookup(seed.Bearer(r))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer`)
			reply(w, http.StatusUnauthorized, errorBody("", "send a valid token as Authorization: Bearer <token>"))
			return
		}
		if write && !p.Admin {
			reply(w, http.StatusForbidden, errorBody("", "this token may read the IP address policies, not change them"))
			return
		}
		h(w, r)
	})
}

// ServeHTTP answers a request no route takes in the API's error form.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	seed.Serve(s.ServeMux, w, r, func(w http.ResponseWriter, code int, msg string) { reply(w, code, errorBody("", msg)) })
}

func reply(w http.ResponseWriter, code int, v any) {
	if v == nil {
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func errorBody(field, msg string) map[string]any {
	e := map[string]string{"message": msg}
	if field != "" {
		e["field"] = seed.Clip(field) // a query parameter's name is the client's
	}
	return map[string]any{"error": e}
}

// badField is input that names its field.
type badField struct{ field, msg string }

func (e *badField) Error() string { return e.field + ": " + e.msg }

func fail(w http.ResponseWriter, err error, id string) {
	var bf *badField
	var be *seed.BodyError
	switch {
	case errors.As(err, &bf):
		reply(w, http.StatusBadRequest, errorBody(bf.field, bf.msg))
	case errors.As(err, &be):
		reply(w, be.Status, errorBody(be.Field, be.Msg))
	case errors.Is(err, store.ErrRuleNotFound):
		reply(w, http.StatusNotFound, errorBody("addressId", fmt.Sprintf("%s: no such IP address policy", rangeset.Quote(id))))
	case errors.Is(err, store.ErrRuleExists):
		reply(w, http.StatusConflict, errorBody("addressId", fmt.Sprintf("%s: already exists", rangeset.Quote(id))))
	case errors.Is(err, store.ErrInvalid):
		reply(w, http.StatusBadRequest, errorBody("", "the IP address policy would not be valid"))
	default:
		reply(w, http.StatusInternalServerError, errorBody("", "the IP address policies cannot be read or written now"))
	}
}

// settle waits, briefly, until the follower serves revision rev.
func (s *server) settle(r *http.Request, rev store.Revision) {
	s.followers.Settle(r.Context(), name, rev)
}

type object struct {
	AddressID  string `json:"addressId"`
	IPAddress  string `json:"ipAddress"`
	Policy     string `json:"policy"`
	TTL        int64  `json:"ttl"`
	ExpireTime string `json:"expireTime"`
	CreateTime string `json:"createTime"`
	UpdateTime string `json:"updateTime"`
}

func address(r policy.Rule) object {
	o := object{AddressID: r.ID, IPAddress: r.Target.String(), Policy: r.Action.String(),
		CreateTime: r.CreatedAt.UTC().Format(timeLayout), UpdateTime: r.UpdatedAt.UTC().Format(timeLayout)}
	if r.TTL != nil {
		o.TTL = int64(*r.TTL / time.Second)
	}
	if e, ok := r.Expiry(); ok {
		o.ExpireTime = e.UTC().Format(timeLayout)
	}
	return o
}

// body is an address as sent; nil fields were not sent.
type body struct {
	IPAddress  *string `json:"ipAddress"`
	Policy     *string `json:"policy"`
	TTL        *int64  `json:"ttl"`
	ExpireTime *string `json:"expireTime"`
}

// patch turns the fields sent into a store patch, checking each.
func (b body) patch() (store.Patch, error) {
	var p store.Patch
	if b.IPAddress != nil {
		t, err := rangeset.ParseRange(*b.IPAddress)
		if err != nil {
			return p, &badField{"ipAddress", fmt.Sprintf("%s is not an IP address, CIDR or range: %s", rangeset.Quote(*b.IPAddress), seed.Reason(err))}
		}
		p.Target = &t
	}
	if b.Policy != nil {
		var a policy.Action
		if err := a.UnmarshalText([]byte(*b.Policy)); err != nil {
			return p, &badField{"policy", fmt.Sprintf("%s: want \"allow\" or \"deny\"", rangeset.Quote(*b.Policy))}
		}
		p.Action = &a
	}
	if b.TTL != nil && b.ExpireTime != nil {
		return p, &badField{"ttl", "ttl and expireTime together: send one"}
	}
	if b.TTL != nil {
		switch {
		case *b.TTL < 0 || *b.TTL > maxTTL:
			return p, &badField{"ttl", fmt.Sprintf("%d: want a whole number of seconds from 0 to %d", *b.TTL, maxTTL)}
		case *b.TTL == 0:
			p.ExpiresAt = &time.Time{} // no expiry
		default:
			ttl := time.Duration(*b.TTL) * time.Second
			p.TTL = &ttl
		}
	}
	if b.ExpireTime != nil {
		t, err := time.Parse(time.RFC3339, *b.ExpireTime)
		q := rangeset.Quote(*b.ExpireTime)
		switch {
		case err != nil:
			return p, &badField{"expireTime", q + ": want an RFC 3339 instant such as 2021-01-01T00:00:00+00:00"}
		case t.IsZero():
			return p, &badField{"expireTime", q + ": the zero instant; send \"ttl\": 0 for no expiry"}
		case t.UTC().Year() < 1:
			return p, &badField{"expireTime", q + ": before 0001-01-01T00:00:00+00:00"}
		case t.After(maxExpiry):
			return p, &badField{"expireTime", q + ": after " + maxExpiry.Format(timeLayout) + ", the latest expiry"}
		}
		p.ExpiresAt = &t
	}
	return p, nil
}

// read reads the body's fields into a patch.
func read(w http.ResponseWriter, r *http.Request, whole bool) (store.Patch, error) {
	var b body
	if err := seed.ReadJSON(w, r, &b, nil); err != nil {
		return store.Patch{}, err
	}
	if whole && b.IPAddress == nil {
		return store.Patch{}, &badField{"ipAddress", "is required"}
	}
	if whole && b.Policy == nil {
		return store.Patch{}, &badField{"policy", "is required: \"allow\" or \"deny\""}
	}
	return b.patch()
}

// maxAddresses bounds the entries, so that clients cannot grow the policy,
// and every compile of it, without end. Counted on the policy served, it
// is a bound, not an exact limit: creates racing each other may pass it by
// a few.
const maxAddresses = 10_000

func (s *server) create(w http.ResponseWriter, r *http.Request) {
	p, err := read(w, r, true)
	if err != nil {
		fail(w, err, "")
		return
	}
	f, err := s.followers.Get(r.Context(), name)
	if err != nil {
		fail(w, err, "")
		return
	}
	if f.Snapshot().Len() >= maxAddresses {
		reply(w, http.StatusBadRequest, errorBody("", fmt.Sprintf("the IP address policies hold at most %d entries", maxAddresses)))
		return
	}
	id := s.newID()
	rule, rev, err := s.st.CreateRule(r.Context(), name, p.Apply(policy.Rule{ID: id}), store.Any)
	if err != nil {
		fail(w, err, id)
		return
	}
	s.settle(r, rev)
	reply(w, http.StatusCreated, address(rule))
}

func (s *server) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("addressId")
	rule, _, err := s.st.GetRule(r.Context(), name, id)
	if err != nil {
		fail(w, err, id)
		return
	}
	reply(w, http.StatusOK, address(rule))
}

// update changes the fields sent.
func (s *server) update(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("addressId")
	p, err := read(w, r, false)
	if err != nil {
		fail(w, err, id)
		return
	}
	rule, rev, err := s.st.PatchRule(r.Context(), name, id, p, store.Any)
	if err != nil {
		fail(w, err, id)
		return
	}
	s.settle(r, rev)
	reply(w, http.StatusOK, address(rule))
}

func (s *server) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("addressId")
	rev, err := s.st.DeleteRule(r.Context(), name, id, store.Any)
	if err != nil {
		fail(w, err, id)
		return
	}
	s.settle(r, rev)
	reply(w, http.StatusNoContent, nil)
}

// sortKeys maps the API's sort_by names to the rule document's keys that
// store.Query.SortBy takes.
var sortKeys = map[string]string{
	"ip": "ip", "createTime": "createdAt", "updateTime": "updatedAt",
	"expireTime": "expiresAt", "ttl": "ttl", "policy": "action",
}

// timeFilter reads a time filter: a date is that UTC day, an instant
// that second.
func timeFilter(key, s string) (store.TimeRange, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return store.TimeRange{From: d, To: d.AddDate(0, 0, 1)}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return store.TimeRange{}, &badField{key, fmt.Sprintf("%s: want a date such as 2021-01-01 or an RFC 3339 instant", rangeset.Quote(s))}
	}
	t = t.Truncate(time.Second)
	return store.TimeRange{From: t, To: t.Add(time.Second)}, nil
}

// query reads the list's filters, sort and paging.
func query(r *http.Request) (store.Query, error) {
	var q store.Query
	q.Limit = 100
	v := r.URL.Query()
	// In key order, so that the parameter named is always the same one.
	for _, key := range slices.Sorted(maps.Keys(v)) {
		vs := v[key]
		s := vs[len(vs)-1]
		if len(vs) > 1 {
			return q, &badField{key, "given more than once"}
		}
		switch key {
		case "filter[ip]":
			t, err := rangeset.ParseRange(s)
			if err != nil {
				return q, &badField{key, fmt.Sprintf("%s is not an IP address, CIDR or range: %s", rangeset.Quote(s), seed.Reason(err))}
			}
			q.Target = t
		case "filter[policy]":
			if err := q.Action.UnmarshalText([]byte(s)); err != nil {
				return q, &badField{key, fmt.Sprintf("%s: want \"allow\" or \"deny\"", rangeset.Quote(s))}
			}
		case "filter[ttl]":
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 || n > maxTTL {
				return q, &badField{key, fmt.Sprintf("%s: want whole seconds from 0 to %d", rangeset.Quote(s), maxTTL)}
			}
			if n == 0 {
				q.NoTTL = true // shown as ttl 0
				break
			}
			ttl := time.Duration(n) * time.Second
			q.MinTTL, q.MaxTTL = &ttl, &ttl
		case "filter[createTime]", "filter[updateTime]", "filter[expireTime]":
			tr, err := timeFilter(key, s)
			if err != nil {
				return q, err
			}
			switch key {
			case "filter[createTime]":
				q.CreatedAt = tr
			case "filter[updateTime]":
				q.UpdatedAt = tr
			default:
				q.ExpiresAt = tr
			}
		case "sort_by":
			k, ok := sortKeys[s]
			if !ok {
				return q, &badField{key, fmt.Sprintf("%s: want ip, createTime, expireTime, policy, ttl or updateTime", rangeset.Quote(s))}
			}
			q.SortBy = k
		case "sort_order":
			switch s {
			case "asc":
			case "desc":
				q.Descending = true
			default:
				return q, &badField{key, fmt.Sprintf("%s: want asc or desc", rangeset.Quote(s))}
			}
		case "limit", "offset":
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || key == "limit" && (n == 0 || n > 1000) {
				return q, &badField{key, fmt.Sprintf("%s: want a count (a limit from 1 to 1000)", rangeset.Quote(s))}
			}
			if key == "limit" {
				q.Limit = n
			} else {
				q.Offset = n
			}
		default:
			what := "unknown query parameter"
			if strings.HasPrefix(key, "filter") {
				what = "unknown filter: want filter[ip], filter[createTime], filter[expireTime], filter[policy], filter[ttl] or filter[updateTime]"
			}
			return q, &badField{key, what}
		}
	}
	return q, nil
}

func (s *server) list(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		fail(w, err, "")
		return
	}
	rules, _, err := s.st.ListRules(r.Context(), name, q)
	if err != nil {
		fail(w, err, "")
		return
	}
	out := []object{}
	for _, rule := range rules {
		out = append(out, address(rule))
	}
	reply(w, http.StatusOK, out)
}
