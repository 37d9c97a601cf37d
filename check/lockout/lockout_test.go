package lockout_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/internal/checktest"
	"github.com/ipgate/ipgate/check/lockout"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

// TestDeniesBruteForce compares Denies with per-address decisions over
// random kept ranges.
func TestDeniesBruteForce(t *testing.T) {
	t.Parallel()
	seeds := uint64(400)
	if testing.Short() {
		seeds = 100
	}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 13))
		p := randomPolicy(rng, rng.IntN(10))
		s, err := check.Compile(p, t0)
		if err != nil {
			t.Fatal(err)
		}
		k := lockout.Keep{Range: randTarget(rng), Admin: rng.IntN(2) == 0, Mobile: rng.IntN(2) == 0}
		addr, d, denied := lockout.Denies(s, k, t0)
		// Decisions change only at rule ends and at the mapped block's, so
		// the first denied address is the range's start or one of the probes.
		var first netip.Addr
		for _, a := range append(probes(p), k.Range.From()) {
			if k.Range.Contains(a) && !a.Is4In6() && !s.Check(check.Request{Addr: a, Admin: k.Admin, Mobile: k.Mobile, At: t0}).Allowed {
				if !first.IsValid() || a.Less(first) {
					first = a
				}
			}
		}
		if denied != first.IsValid() || denied && (addr != first || d.Allowed) {
			t.Fatalf("seed %d: Denies(%v) = %v, %v, %v; brute force finds %v\n%+v", seed, k, addr, d, denied, first, p)
		}
	}
}

// TestDeniesMappedBlock pins that the mapped block inside a kept IPv6
// range is not checked as IPv6 (no request is decided there), while the
// addresses around it are.
func TestDeniesMappedBlock(t *testing.T) {
	t.Parallel()
	s, err := check.Compile(policy.New(rule("v6", "::/1", policy.Allow), rule("v4", "0.0.0.0/0", policy.Allow),
		rule("above", "::1:0:0:0/112", policy.Deny)), t0)
	if err != nil {
		t.Fatal(err)
	}
	k := lockout.Keep{Range: rangeset.MustParseRange("::fffe:0:0-::1:0:0:0")}
	if a, d, ok := lockout.Denies(s, k, t0); !ok || a != netip.MustParseAddr("::1:0:0:0") || d.Rule != "above" {
		t.Errorf("Denies(%v) = %v, %v, %v; want ::1:0:0:0 denied by above", k.Range, a, d, ok)
	}
	if _, _, ok := lockout.Denies(s, lockout.Keep{}, t0); ok {
		t.Error("Denies(invalid range) reported a denial")
	}
}

func TestGuardedStore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := func() time.Time { return t0 }
	guard := lockout.Guard([]lockout.Keep{
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
	_, _, err = st.CreateRule(ctx, "p", rule("oops\nallow", "203.0.113.0/28", policy.Deny), store.Any)
	var le *lockout.Error
	if !errors.Is(err, store.ErrRefused) || !errors.As(err, &le) || le.Addr != netip.MustParseAddr("203.0.113.5") || le.Decision.Rule != "oops\nallow" {
		t.Fatalf("CreateRule(lockout) = %v", err)
	}
	if got, want := le.Error(), `lockout.Guard: 203.0.113.5 (admin=true mobile=false, kept as 203.0.113.5) would be denied by rule "oops\nallow"`; got != want {
		t.Errorf("error text\n%s\nwant\n%s", got, want)
	}
	_, err = st.DeleteRule(ctx, "p", "glass", store.Any) // glass falls to the default: denied
	if !errors.As(err, &le) || le.Addr != netip.MustParseAddr("198.51.100.0") || le.Decision.Reason != check.ReasonDefault {
		t.Errorf("DeleteRule(glass) = %v", err)
	}
	if got, want := le.Error(), "lockout.Guard: 198.51.100.0 (admin=false mobile=false, kept as 198.51.100.0/24) would be denied by the default action"; got != want {
		t.Errorf("error text\n%s\nwant\n%s", got, want)
	}
	if _, now, _ := st.Load(ctx, "p"); now != rev {
		t.Errorf("refused writes moved the revision from %d to %d", rev, now)
	}
	// Deleting every allow rule of an auto allowlist would allow everything.
	_, _, err = st.DeleteRules(ctx, "p", store.Query{Action: policy.Allow}, store.Any)
	if !errors.Is(err, lockout.ErrOpensAllowlist) {
		t.Errorf("DeleteRules(every allow) = %v, want ErrOpensAllowlist", err)
	}
	// Said explicitly, it is accepted.
	open := policy.New()
	open.Settings.DefaultAction = policy.DefaultAllow
	if _, err := st.Put(ctx, "p", open, store.Any); err != nil {
		t.Errorf("Put(explicit allow-all) = %v", err)
	}
	// An invalid policy is refused with its compile error.
	if _, err := st.Put(ctx, "p", policy.New(rule("", "10.0.0.0/8", policy.Allow)), store.Any); err == nil {
		t.Error("Put(invalid policy) succeeded")
	}
}

// An invalid new policy is refused with its compile error, even when it
// also has no allow rule left.
func TestGuardInvalid(t *testing.T) {
	t.Parallel()
	guard := lockout.Guard(nil, nil)
	err := guard(policy.New(rule("a", "10.0.0.0/8", policy.Allow)), policy.New(policy.Rule{ID: "q"}))
	var re *policy.RuleError
	if !errors.As(err, &re) || re.ID != "q" || !strings.HasPrefix(re.Err.Error(), "invalid target: ") || errors.Is(err, lockout.ErrOpensAllowlist) {
		t.Errorf("Guard(allowlist, invalid without allow) = %v, want the compile error", err)
	}
}

// A write after which a kept address would be denied once a rule expires
// is refused, naming the instant.
func TestGuardLaterExpiry(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return t0 }
	keep := []lockout.Keep{{Range: rangeset.MustParseRange("203.0.113.5"), Admin: true}}
	guard := lockout.Guard(keep, now)
	old := policy.New(rule("admins", "203.0.113.0/24", policy.Allow))
	soon := rule("desk", "203.0.113.5", policy.Allow)
	soon.ExpiresAt = t0.Add(time.Hour)
	// The expiring allow alone: the auto allowlist denies the admin in an hour.
	err := guard(old, policy.New(soon))
	var le *lockout.Error
	if !errors.As(err, &le) || !le.At.Equal(t0.Add(time.Hour)) || le.Decision.Reason != check.ReasonDefault {
		t.Fatalf("Guard(expiring allow alone) = %v, want a denial from %v", err, t0.Add(time.Hour))
	}
	if got, want := le.Error(), "lockout.Guard: 203.0.113.5 (admin=true mobile=false, kept as 203.0.113.5) would be denied from 2026-01-01T01:00:00Z, as rules expire, by the default action"; got != want {
		t.Errorf("error text\n%s\nwant\n%s", got, want)
	}
	// Beside a rule that outlives it, it is harmless.
	if err := guard(old, policy.New(soon, rule("admins", "203.0.113.0/24", policy.Allow))); err != nil {
		t.Errorf("Guard(expiring allow beside a lasting one) = %v", err)
	}
	// An expiring allow over a lasting deny: denied once the allow expires.
	deny := rule("ban", "203.0.113.0/24", policy.Deny)
	if err := guard(old, policy.New(soon, deny, rule("rest", "0.0.0.0/0", policy.Allow))); !errors.As(err, &le) || le.Decision.Rule != "ban" || !le.At.Equal(t0.Add(time.Hour)) {
		t.Errorf("Guard(expiring allow over a deny) = %v, want rule ban from %v", err, t0.Add(time.Hour))
	}
	// An expiring deny is no threat once it is past, but is one now.
	ban := rule("ban", "203.0.113.5", policy.Deny)
	ban.ExpiresAt = t0.Add(time.Hour)
	if err := guard(old, policy.New(ban, rule("admins", "203.0.113.0/24", policy.Allow))); !errors.As(err, &le) || !le.At.IsZero() {
		t.Errorf("Guard(deny expiring later) = %v, want a denial at once", err)
	}
}

// Disabling a policy while removing its last allow rule is refused too:
// enabling it again, a write that removes no allow rule, would then make
// it allow-all.
func TestGuardDisable(t *testing.T) {
	t.Parallel()
	guard := lockout.Guard(nil, nil)
	old := policy.New(rule("a", "10.0.0.0/8", policy.Allow))
	off := policy.New()
	off.Settings.Enabled = false
	if err := guard(old, off); !errors.Is(err, lockout.ErrOpensAllowlist) {
		t.Errorf("Guard(disable, removing the allow rules) = %v, want ErrOpensAllowlist", err)
	}
	if err := guard(old, policy.New()); !errors.Is(err, lockout.ErrOpensAllowlist) {
		t.Errorf("Guard(enabled, removing the allow rules) = %v, want ErrOpensAllowlist", err)
	}
	offKept := old
	offKept.Settings.Enabled = false
	if err := guard(old, offKept); err != nil {
		t.Errorf("Guard(disable, keeping the allow rules) = %v", err)
	}
}

// manyExpiries returns a kept /8 and a policy of 3,000 allow rules inside
// it, each expiring at its own instant, under an allow of the whole /8.
func manyExpiries() ([]lockout.Keep, policy.Policy) {
	keep := []lockout.Keep{{Range: rangeset.MustParseRange("10.0.0.0/8"), Admin: true}}
	p := policy.New(rule("all", "10.0.0.0/8", policy.Allow))
	for i := range 3000 {
		r := rule(fmt.Sprint("r", i), fmt.Sprintf("10.%d.%d.0/24", i/256, i%256), policy.Allow)
		r.ExpiresAt = t0.Add(time.Duration(i+1) * time.Minute)
		p.Rules = append(p.Rules, r)
	}
	return keep, p
}

// A guard's work grows with the expiring rules plus the pieces of the
// kept ranges, not with their product: at each expiry it decides only the
// expiring rule's part of the range. The bytes it allocates, which Pieces
// allocates in proportion to the prefixes it cuts at, show which (about
// 4 MB here, and 1.5 GB for the product).
func TestGuardManyExpiries(t *testing.T) {
	keep, p := manyExpiries()
	guard := lockout.Guard(keep, func() time.Time { return t0 })
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	if err := guard(p, p); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&m1)
	if n := m1.TotalAlloc - m0.TotalAlloc; n > 100<<20 {
		t.Errorf("Guard over %d expiring rules allocates %d bytes", len(p.Rules), n)
	}
}

func BenchmarkGuardManyExpiries(b *testing.B) {
	keep, p := manyExpiries()
	guard := lockout.Guard(keep, func() time.Time { return t0 })
	for b.Loop() {
		if err := guard(p, p); err != nil {
			b.Fatal(err)
		}
	}
}

// A Keep that keeps nothing, such as the IPv4-mapped address a dual-stack
// listener reports, makes the guard refuse every write rather than
// protect nothing.
func TestGuardInvalidKeep(t *testing.T) {
	t.Parallel()
	a := netip.MustParseAddr("::ffff:203.0.113.5")
	mapped := rangeset.RangeFrom(a, a)
	guard := lockout.Guard([]lockout.Keep{{Range: rangeset.MustParseRange("10.0.0.1")}, {Range: mapped}}, nil)
	err := guard(policy.New(), policy.New(rule("all", "0.0.0.0/0", policy.Deny)))
	if err == nil || !strings.Contains(err.Error(), "keep[1] has an invalid Range") {
		t.Errorf("Guard(invalid keep) = %v, want a refusal naming keep[1]", err)
	}
}

// TestGuardBruteForce checks that the guard refuses exactly the policies
// that deny some kept address, decided by the reference, at the write's
// instant or at any later one.
func TestGuardBruteForce(t *testing.T) {
	t.Parallel()
	seeds := uint64(1000)
	if testing.Short() {
		seeds = 200
	}
	now := func() time.Time { return t0 }
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 17))
		p := randomPolicy(rng, rng.IntN(8))
		k := lockout.Keep{Range: randTarget(rng), Admin: rng.IntN(2) == 0, Mobile: rng.IntN(2) == 0}
		instants := []time.Time{t0, t0.Add(100 * 365 * 24 * time.Hour)}
		for _, r := range p.Rules {
			if e, ok := r.Expiry(); ok && e.After(t0) {
				instants = append(instants, e, e.Add(-time.Nanosecond), e.Add(time.Nanosecond))
			}
		}
		denied := false
		for _, a := range append(probes(p), k.Range.From(), k.Range.To()) {
			for _, at := range instants {
				if k.Range.Contains(a) && !a.Is4In6() && !at.Before(t0) &&
					!checktest.DecideSlow(p, check.Request{Addr: a, Admin: k.Admin, Mobile: k.Mobile, At: at}).Allowed {
					denied = true
				}
			}
		}
		// The old policy has no allow rule, so that ErrOpensAllowlist
		// never applies.
		err := lockout.Guard([]lockout.Keep{k}, now)(policy.New(), p)
		var le *lockout.Error
		if refused := errors.As(err, &le); refused != denied || err != nil && !refused {
			t.Fatalf("seed %d: Guard(%v) = %v; the reference denies some kept address: %v\n%+v", seed, k, err, denied, p)
		}
	}
}
