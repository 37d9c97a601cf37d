package store

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// TimeRange bounds an instant: From <= t < To, each bound ignored when zero.
type TimeRange struct{ From, To time.Time }

func (r TimeRange) match(t time.Time, ok bool) bool {
	if r.From.IsZero() && r.To.IsZero() {
		return true
	}
	return ok && (r.From.IsZero() || !t.Before(r.From)) && (r.To.IsZero() || t.Before(r.To))
}

// Query selects, orders and pages rules. The zero Query matches every rule,
// sorted by createdAt, unpaged. Every filter that is set must match.
type Query struct {
	// Target, when valid, matches rules whose target is exactly it.
	Target rangeset.Range
	// Contains, when valid, matches rules whose target holds this address
	// (canonicalized as a query address: unmapped, zone dropped).
	Contains netip.Addr
	// Action, when not zero, matches rules with this action.
	Action policy.Action
	// AdminOnly, when not nil, matches rules with this AdminOnly.
	AdminOnly *bool
	// CreatedAt, UpdatedAt and ExpiresAt bound the rules' timestamps; a
	// rule without the timestamp matches only unbounded ranges. ExpiresAt
	// bounds the rule's effective expiry (see policy.Rule.Expiry).
	CreatedAt, UpdatedAt, ExpiresAt TimeRange
	// MinTTL and MaxTTL, when not nil, bound the TTL, inclusive; a rule
	// without a TTL does not match them.
	MinTTL, MaxTTL *time.Duration
	// NoTTL, when true, matches only rules without a TTL.
	NoTTL bool

	// SortBy orders the result by one of the rule document's keys (see
	// policy.Decode): "createdAt" (the default, also written ""),
	// "updatedAt", "expiresAt" (the rule's expiry as policy.Rule.Expiry
	// gives it, a TTL's included; rules that never expire last), "ttl"
	// (rules without one last), "action" (allow before deny) or "ip" (the
	// target, in address order: a document may write a range as "from"
	// and "to", but every rule has a target and "ip" is the key
	// policy.Rule.MarshalJSON writes it under). Ties are broken by rule
	// id, so every order is total. Any other value, "target" or "from"
	// included, makes Apply and ListRules fail with an error wrapping
	// [ErrInvalid]; DeleteRules, which does not sort, ignores it.
	// Descending reverses the whole order, ties and missing values too:
	// rules without a TTL come first by "ttl".
	SortBy     string
	Descending bool
	// Offset skips that many matching rules; Limit, when positive, caps the
	// page.
	Offset, Limit int
}

// Match reports whether r passes every filter of q.
func (q Query) Match(r policy.Rule) bool {
	if q.Target.IsValid() && r.Target != q.Target {
		return false
	}
	if q.Contains.IsValid() && !r.Target.Contains(rangeset.Canonical(q.Contains)) {
		return false
	}
	if q.Action != 0 && r.Action != q.Action {
		return false
	}
	if q.AdminOnly != nil && r.AdminOnly != *q.AdminOnly {
		return false
	}
	exp, expires := r.Expiry()
	if !q.CreatedAt.match(r.CreatedAt, !r.CreatedAt.IsZero()) ||
		!q.UpdatedAt.match(r.UpdatedAt, !r.UpdatedAt.IsZero()) ||
		!q.ExpiresAt.match(exp, expires) {
		return false
	}
	if q.MinTTL != nil && (r.TTL == nil || *r.TTL < *q.MinTTL) {
		return false
	}
	if q.MaxTTL != nil && (r.TTL == nil || *r.TTL > *q.MaxTTL) {
		return false
	}
	return !q.NoTTL || r.TTL == nil
}

// Apply returns the page of rules that q selects, in q's order, and the
// number of matching rules before paging. It does not modify rules, and
// copies only the page: a page of a large policy costs its matching
// rules' indices, not copies of them. An unknown q.SortBy is an error
// wrapping [ErrInvalid] that quotes it, and no rules, however many match.
func (q Query) Apply(rules []policy.Rule) (page []policy.Rule, total int, err error) {
	compare, err := q.order()
	if err != nil {
		return nil, 0, err
	}
	var match []int
	for i := range rules {
		if q.Match(rules[i]) {
			match = append(match, i)
		}
	}
	slices.SortStableFunc(match, func(i, j int) int {
		a, b := &rules[i], &rules[j]
		c := compare(a, b)
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if q.Descending {
			return -c
		}
		return c
	})
	total = len(match)
	match = match[min(max(q.Offset, 0), total):]
	if q.Limit > 0 && q.Limit < len(match) {
		match = match[:q.Limit]
	}
	page = make([]policy.Rule, len(match))
	for k, i := range match {
		page[k] = rules[i].Clone()
	}
	return page, total, nil
}

// order returns the comparison of q.SortBy, ties not yet broken, or an
// error wrapping ErrInvalid when it is not a key that SortBy documents.
func (q Query) order() (func(a, b *policy.Rule) int, error) {
	switch q.SortBy {
	case "", "createdAt":
		return func(a, b *policy.Rule) int { return a.CreatedAt.Compare(b.CreatedAt) }, nil
	case "updatedAt":
		return func(a, b *policy.Rule) int { return a.UpdatedAt.Compare(b.UpdatedAt) }, nil
	case "expiresAt":
		return func(a, b *policy.Rule) int {
			ea, oka := a.Expiry()
			eb, okb := b.Expiry()
			return lastIfMissing(oka, okb, func() int { return ea.Compare(eb) })
		}, nil
	case "ttl":
		return func(a, b *policy.Rule) int {
			return lastIfMissing(a.TTL != nil, b.TTL != nil, func() int { return cmp.Compare(*a.TTL, *b.TTL) })
		}, nil
	case "action":
		return func(a, b *policy.Rule) int { return cmp.Compare(a.Action, b.Action) }, nil
	case "ip":
		return func(a, b *policy.Rule) int { return a.Target.Compare(b.Target) }, nil
	}
	return nil, sortError(q.SortBy)
}

// sortError reports a [Query.SortBy] that is not a sort key. It is an
// [ErrInvalid], whose own text, "invalid policy", would say the policy
// is at fault.
type sortError string

// Error quotes the key and lists the ones there are.
func (e sortError) Error() string {
	return "store: cannot sort rules by " + rangeset.Quote(string(e)) + ": want createdAt, updatedAt, expiresAt, ttl, action or ip"
}

// Is reports whether target is [ErrInvalid].
func (sortError) Is(target error) bool { return target == ErrInvalid }

func lastIfMissing(a, b bool, both func() int) int {
	switch {
	case a && b:
		return both()
	case a:
		return -1
	case b:
		return 1
	}
	return 0
}

// Patch changes some fields of a rule; nil fields are left alone. Setting
// TTL clears ExpiresAt and the other way round, so that a patched rule
// keeps at most one expiry.
type Patch struct {
	Target    *rangeset.Range
	Action    *policy.Action
	AdminOnly *bool
	// ExpiresAt sets the expiry instant; a pointer to the zero time clears
	// every expiry.
	ExpiresAt *time.Time
	// TTL sets the TTL, counted from the patch's updatedAt; like
	// policy.Rule.TTL it is whole seconds.
	TTL     *time.Duration
	Comment *string
}

// Apply returns r with the fields of p set.
func (p Patch) Apply(r policy.Rule) policy.Rule {
	if p.Target != nil {
		r.Target = *p.Target
	}
	if p.Action != nil {
		r.Action = *p.Action
	}
	if p.AdminOnly != nil {
		r.AdminOnly = *p.AdminOnly
	}
	if p.ExpiresAt != nil {
		r.ExpiresAt, r.TTL = *p.ExpiresAt, nil
	}
	if p.TTL != nil {
		ttl := *p.TTL
		r.TTL, r.ExpiresAt = &ttl, time.Time{}
	}
	if p.Comment != nil {
		r.Comment = *p.Comment
	}
	return r
}
