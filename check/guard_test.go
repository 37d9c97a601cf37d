package check_test

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

// TestDeniesBruteForce compares Snapshot.Denies with per-address
// decisions over random kept ranges.
func TestDeniesBruteForce(t *testing.T) {
	t.Parallel()
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 13))
		p := randomPolicy(rng, rng.IntN(10), fuzzT0)
		s, err := check.Compile(p, fuzzT0)
		if err != nil {
			t.Fatal(err)
		}
		k := check.Keep{Range: randTarget(rng), Admin: rng.IntN(2) == 0, Mobile: rng.IntN(2) == 0}
		addr, d, denied := s.Denies(k, fuzzT0)
		var first netip.Addr
		// The probes, and where the mapped block ends: decisions change at
		// rule ends and there.
		for _, a := range append(probes(p), netip.MustParseAddr("::1:0:0:0")) {
			a = a.Unmap().WithZone("")
			if k.Range.Contains(a) && !a.Is4In6() && !s.Check(check.Request{Addr: a, Admin: k.Admin, Mobile: k.Mobile, At: fuzzT0}).Allowed {
				if !first.IsValid() || a.Less(first) {
					first = a
				}
			}
		}
		if from := k.Range.From(); !from.Is4In6() && !s.Check(check.Request{Addr: from, Admin: k.Admin, Mobile: k.Mobile, At: fuzzT0}).Allowed {
			first = from
		}
		if denied != first.IsValid() || denied && (addr != first || d.Allowed) {
			t.Fatalf("seed %d: Denies(%v) = %v, %v, %v; brute force finds %v\n%s", seed, k, addr, d, denied, first, rulesText(p))
		}
	}
}

func TestGuardedStore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := func() time.Time { return fuzzT0 }
	guard := check.Guard([]check.Keep{
		{Range: rangeset.MustParseRange("203.0.113.5"), Admin: true}, // the admin's own address
		{Range: rangeset.MustParseRange("198.51.100.0/24")},          // the break-glass network
	}, now)
	st := memstore.New(&memstore.Options{Now: now, Guard: guard})
	rev, err := st.Put(ctx, "p", policy.New(
		rule("admins", "203.0.113.0/24", policy.Allow),
		rule("glass", "198.51.100.0/24", policy.Allow),
	), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = st.CreateRule(ctx, "p", rule("oops", "203.0.113.0/28", policy.Deny), store.Any)
	var le *check.LockoutError
	if !errors.Is(err, store.ErrRefused) || !errors.As(err, &le) || le.Addr != netip.MustParseAddr("203.0.113.5") || le.Decision.Rule != "oops" {
		t.Fatalf("CreateRule(lockout) = %v", err)
	}
	if got := err.Error(); got != `store: write refused by the guard "p": check: lockout: 203.0.113.5 (admin=true mobile=false, kept as 203.0.113.5) would be denied by rule oops` {
		t.Errorf("error text %q", got)
	}
	_, err = st.DeleteRule(ctx, "p", "glass", store.Any) // glass falls to the default: denied
	if !errors.As(err, &le) || le.Addr != netip.MustParseAddr("198.51.100.0") || le.Decision.Reason != check.ReasonDefault {
		t.Errorf("DeleteRule(glass) = %v", err)
	}
	if _, now, _ := st.Load(ctx, "p"); now != rev {
		t.Errorf("refused writes moved the revision from %d to %d", rev, now)
	}
	// Deleting every allow rule of an auto allowlist would allow everything.
	_, _, err = st.DeleteRules(ctx, "p", store.Query{Action: policy.Allow}, store.Any)
	if !errors.Is(err, check.ErrOpensAllowlist) {
		t.Errorf("DeleteRules(every allow) = %v, want ErrOpensAllowlist", err)
	}
	// Said explicitly, it is accepted.
	open := policy.New()
	open.Settings.DefaultAction = policy.DefaultAllow
	if _, err := st.Put(ctx, "p", open, store.Any); err != nil {
		t.Errorf("Put(explicit allow-all) = %v", err)
	}
}
