package postgres

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// ruleCols are the columns of a rule, in the order of ruleValues and
// scanRule, shared by the rules and changes tables. An instant is a
// timestamptz (microseconds, as the server keeps them) plus the remaining
// nanoseconds in a column of its own, so that it survives exactly.
const ruleCols = `id, target_from, target_to, action, admin_only, expires_at, expires_ns, ttl,
	created_at, created_ns, updated_at, updated_ns, comment`

// rowsRead counts the rule rows decoded, so that tests can tell how much of
// a policy a write read.
var rowsRead atomic.Int64

// instant splits t into the server's microseconds and the nanoseconds
// below them; the zero time is NULL.
func instant(t time.Time) (any, int16) {
	if t.IsZero() {
		return nil, 0
	}
	return t, int16(t.Nanosecond() % 1000)
}

// ruleValues returns r's values in the order of ruleCols.
func ruleValues(r policy.Rule) []any { return appendRuleValues(nil, r) }

// appendRuleValues appends r's values in the order of ruleCols to row.
func appendRuleValues(row []any, r policy.Rule) []any {
	exp, expNs := instant(r.ExpiresAt)
	created, createdNs := instant(r.CreatedAt)
	updated, updatedNs := instant(r.UpdatedAt)
	var ttl *int64
	if r.TTL != nil {
		s := int64(*r.TTL / time.Second) // validated: whole seconds
		ttl = &s
	}
	return append(row, r.ID, r.Target.From(), r.Target.To(), r.Action.String(), r.AdminOnly, exp, expNs, ttl,
		created, createdNs, updated, updatedNs, r.Comment)
}

// cover is the smallest prefix holding r: the key of the index that finds
// the rules containing an address (see containsArgs).
func cover(r rangeset.Range) netip.Prefix {
	from, to := r.From().As16(), r.To().As16()
	bits := 0
	for bits < 128 && from[bits/8]&(0x80>>(bits%8)) == to[bits/8]&(0x80>>(bits%8)) {
		bits++
	}
	if r.Is4() {
		bits -= 96
	}
	p, _ := r.From().Prefix(bits)
	return p
}

// supernets returns every prefix holding a, one per length: a rule holds a
// only if its cover is one of them.
func supernets(a netip.Addr) []netip.Prefix {
	out := make([]netip.Prefix, 0, a.BitLen()+1)
	for bits := 0; bits <= a.BitLen(); bits++ {
		p, _ := a.Prefix(bits)
		out = append(out, p)
	}
	return out
}

// ruleScan holds the destinations of one row of ruleCols.
type ruleScan struct {
	r                           policy.Rule
	from, to                    netip.Prefix
	action                      string
	exp, created, updated       *time.Time
	expNs, createdNs, updatedNs int16
	ttl                         *int64 // seconds
}

func (s *ruleScan) dest() []any {
	return []any{&s.r.ID, &s.from, &s.to, &s.action, &s.r.AdminOnly, &s.exp, &s.expNs, &s.ttl,
		&s.created, &s.createdNs, &s.updated, &s.updatedNs, &s.r.Comment}
}

func fromInstant(t *time.Time, ns int16) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC().Add(time.Duration(ns))
}

// rule returns the rule scanned, or an error naming it when the row holds
// what no rule can.
func (s *ruleScan) rule() (policy.Rule, error) {
	rowsRead.Add(1)
	r := s.r
	s.r = policy.Rule{}
	r.Target = rangeset.RangeFrom(s.from.Addr(), s.to.Addr())
	var errs [3]error
	if !r.Target.IsValid() {
		errs[0] = fmt.Errorf("invalid target %s-%s", s.from.Addr(), s.to.Addr())
	}
	errs[1] = r.Action.UnmarshalText([]byte(s.action))
	if s.ttl != nil {
		if ttl := time.Duration(*s.ttl) * time.Second; ttl/time.Second == time.Duration(*s.ttl) {
			r.TTL = &ttl
		} else {
			errs[2] = fmt.Errorf("ttl %d out of range", *s.ttl)
		}
		s.ttl = nil
	}
	r.ExpiresAt = fromInstant(s.exp, s.expNs)
	r.CreatedAt = fromInstant(s.created, s.createdNs)
	r.UpdatedAt = fromInstant(s.updated, s.updatedNs)
	if err := errors.Join(errs[:]...); err != nil {
		return r, fmt.Errorf("rule %s: %w", rangeset.Quote(r.ID), err)
	}
	return r, nil
}

// scanRule reads one row of ruleCols.
func scanRule(row pgx.CollectableRow) (policy.Rule, error) {
	var s ruleScan
	if err := row.Scan(s.dest()...); err != nil {
		return policy.Rule{}, err
	}
	return s.rule()
}
