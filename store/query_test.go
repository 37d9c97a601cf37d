package store

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// TestApply checks Apply against a reference that copies and sorts every
// matching rule, on rules with many ties, for every sort key, both
// directions and pages inside and outside the result; and that the page
// shares no memory with the rules.
func TestApply(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rules := make([]policy.Rule, 300)
	for i := range rules {
		r := policy.Rule{
			ID:        "r" + strconv.Itoa(rng.IntN(1_000_000)) + "-" + strconv.Itoa(i),
			Target:    rangeset.PrefixRange(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(4))}), 32)),
			Action:    policy.Action(1 + rng.IntN(2)),
			CreatedAt: t0.Add(time.Duration(rng.IntN(5)) * time.Hour),
			UpdatedAt: t0.Add(time.Duration(rng.IntN(5)) * time.Hour),
		}
		switch rng.IntN(3) {
		case 0:
			ttl := time.Duration(1+rng.IntN(3)) * time.Hour
			r.TTL = &ttl
		case 1:
			r.ExpiresAt = t0.Add(time.Duration(1+rng.IntN(3)) * 24 * time.Hour)
		}
		rules[i] = r
	}
	before := make([]policy.Rule, len(rules))
	for i, r := range rules {
		before[i] = r.Clone()
	}
	allow := policy.Allow
	for _, key := range []string{"", "createdAt", "ip", "updatedAt", "expiresAt", "ttl", "action"} {
		for _, desc := range []bool{false, true} {
			for _, pg := range [][2]int{{0, 0}, {0, 7}, {5, 10}, {140, 50}, {290, 0}, {400, 3}, {-3, 2}} {
				for _, action := range []policy.Action{0, allow} {
					q := Query{Action: action, SortBy: key, Descending: desc, Offset: pg[0], Limit: pg[1]}
					page, total, err := q.Apply(rules)
					want, wantTotal := applySlow(q, rules)
					if err != nil || total != wantTotal || !slices.EqualFunc(page, want, policy.Rule.Equal) {
						t.Fatalf("%+v: Apply = %d rules of %d, %v; want %d of %d", q, len(page), total, err, len(want), wantTotal)
					}
					for _, r := range page {
						if r.TTL != nil {
							*r.TTL += time.Minute // must not reach rules
						}
					}
				}
			}
		}
	}
	if !slices.EqualFunc(rules, before, policy.Rule.Equal) {
		t.Error("Apply or a change to its page modified the rules")
	}
}

// applySlow is Apply as first written: copy every matching rule, sort the
// copies, then page.
func applySlow(q Query, rules []policy.Rule) ([]policy.Rule, int) {
	compare, err := q.order()
	if err != nil {
		panic(err)
	}
	var out []policy.Rule
	for _, r := range rules {
		if q.Match(r) {
			out = append(out, r.Clone())
		}
	}
	slices.SortStableFunc(out, func(a, b policy.Rule) int {
		c := compare(&a, &b)
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if q.Descending {
			return -c
		}
		return c
	})
	total := len(out)
	out = out[min(max(q.Offset, 0), total):]
	if q.Limit > 0 && q.Limit < len(out) {
		out = out[:q.Limit]
	}
	return out, total
}

// TestApplyUnknownSort checks that a SortBy that is not a sort key fails
// closed: an error that is an ErrInvalid quoting it, and no rules, even
// when no rule matches or the key differs from one only in case.
func TestApplyUnknownSort(t *testing.T) {
	t.Parallel()
	rules := []policy.Rule{{ID: "a", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow}}
	for _, key := range []string{"target", "from", "CreatedAt", "createdat", " ip", "id", "comment", "\x00", "ttl\n"} {
		for _, q := range []Query{{SortBy: key}, {SortBy: key, Descending: true, Action: policy.Deny}} {
			page, total, err := q.Apply(rules)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), rangeset.Quote(key)) || page != nil || total != 0 {
				t.Errorf("%+v: Apply = %v, %d, %v; want no rules and an ErrInvalid quoting the key", q, page, total, err)
			}
		}
	}
}
