package check_test

import (
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

func rule(id, target string, a policy.Action) policy.Rule {
	return policy.Rule{ID: id, Target: rangeset.MustParseRange(target), Action: a}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	if _, err := check.Compile(policy.New(), time.Time{}); err == nil || err.Error() != "check.Compile: zero compile instant: pass time.Now()" {
		t.Errorf("Compile at the zero instant = %v, want the zero-instant error", err)
	}
	_, err := check.Compile(policy.New(rule("a", "10.0.0.1", policy.Allow), rule("a", "10.0.0.2", policy.Deny)), fuzzT0)
	var re *policy.RuleError
	if !errors.As(err, &re) || re.ID != "a" || re.Err.Error() != "duplicate id" || err.Error() != `check.Compile: rule "a": duplicate id` {
		t.Errorf("Compile(duplicate ids) = %v", err)
	}
	if _, err := check.Compile(policy.Policy{}, fuzzT0); err == nil || !strings.Contains(err.Error(), "invalid setting: Settings.DefaultAction is unset") {
		t.Errorf("Compile(zero Policy) = %v, want an invalid setting", err)
	}
	// A large policy is validated beside its preparation: the result is
	// the same, and its bad rules (a zero target among them) are harmless
	// to prepare.
	rules := make([]policy.Rule, 3000)
	for i := range rules {
		rules[i] = rule(fmt.Sprint("r", i), netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String(), policy.Allow)
	}
	rules[2500].Target = rangeset.Range{}
	rules[2999].ID = rules[0].ID
	large := policy.New(rules...)
	_, err = check.Compile(large, fuzzT0)
	if want := large.Validate(); want == nil || err == nil || err.Error() != "check.Compile: "+want.Error() {
		t.Errorf("Compile(large invalid policy) = %v, want check.Compile: %v", err, want)
	}
}

// TestRangeBeatsWiderCIDR pins the point of counting addresses: a from-to
// range inside a CIDR wins over it though it is not a prefix, and a CIDR
// beats a wider range whose cover holds longer prefixes.
func TestRangeBeatsWiderCIDR(t *testing.T) {
	t.Parallel()
	p := policy.New(
		rule("net", "10.0.0.0/24", policy.Allow),
		rule("odd", "10.0.0.1-10.0.0.200", policy.Deny), // cover ends in 10.0.0.200/32
		rule("small", "10.0.0.192/28", policy.Allow),
	)
	s, err := check.Compile(p, fuzzT0)
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]string{"10.0.0.0": "net", "10.0.0.5": "odd", "10.0.0.200": "small", "10.0.0.199": "small", "10.0.0.201": "small", "10.0.0.250": "net"} {
		if got := s.Check(check.Request{Addr: netip.MustParseAddr(ip)}); got.Rule != want {
			t.Errorf("Check(%s) = %v, want rule %s", ip, got, want)
		}
	}
}

func TestSnapshotAccessors(t *testing.T) {
	t.Parallel()
	r := rule("tmp", "192.0.2.1", policy.Allow)
	r.ExpiresAt = fuzzT0.Add(time.Hour)
	p := policy.New(rule("a", "10.0.0.0/8", policy.Allow), r)
	s, err := check.Compile(p, fuzzT0)
	if err != nil {
		t.Fatal(err)
	}
	if next, ok := s.NextChange(); !ok || !next.Equal(r.ExpiresAt) || !s.At().Equal(fuzzT0) {
		t.Errorf("NextChange() = %v, %v; At() = %v", next, ok, s.At())
	}
	var ids []string
	for r := range s.Rules() {
		ids = append(ids, r.ID)
	}
	if fmt.Sprint(ids) != "[a tmp]" {
		t.Errorf("Rules() = %v", ids)
	}
	p.Rules[0].ID = "changed"
	if first, _ := iterFirst(s.Rules()); first.ID != "a" {
		t.Error("the snapshot shares memory with the policy it was compiled from")
	}
	if s2, _ := check.Compile(policy.New(rule("a", "10.0.0.0/8", policy.Allow)), fuzzT0); func() bool { _, ok := s2.NextChange(); return ok }() {
		t.Error("a policy without expiry has a next change")
	}
}

func TestCheckerUpdate(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(fuzzT0)
	c, err := check.NewChecker(policy.New(rule("a", "10.0.0.0/8", policy.Allow)), clock.options())
	if err != nil {
		t.Fatal(err)
	}
	req := check.Request{Addr: netip.MustParseAddr("10.1.2.3")}
	if d := c.Check(req); !d.Allowed || d.Rule != "a" {
		t.Fatalf("Check = %v", d)
	}
	before := c.Snapshot()
	var re *policy.RuleError
	if err := c.Update(policy.New(rule("", "10.0.0.0/8", policy.Deny))); !errors.As(err, &re) || re.Err.Error() != "empty id" {
		t.Errorf("Update(invalid) = %v", err)
	}
	if c.Snapshot() != before || !c.Check(req).Allowed {
		t.Error("an invalid update replaced the served snapshot")
	}
	if err := c.Update(policy.New(rule("b", "10.0.0.0/8", policy.Deny))); err != nil {
		t.Fatal(err)
	}
	if d := c.Check(req); d.Allowed || d.Rule != "b" {
		t.Errorf("Check after Update = %v", d)
	}
	c.Close()
	if err := c.Update(policy.New()); !errors.Is(err, check.ErrClosed) {
		t.Errorf("Update after Close = %v", err)
	}
	if d := c.Check(req); d.Rule != "b" {
		t.Errorf("Check after Close = %v", d)
	}
}

// TestExpiryOneSwap shows that many rules expiring at one instant cause one
// recompile, and that Close disarms the timer.
func TestExpiryOneSwap(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(fuzzT0)
	p := policy.New()
	for i := range 100 {
		r := rule(fmt.Sprint("r", i), fmt.Sprintf("10.0.%d.0/24", i), policy.Allow)
		r.ExpiresAt = fuzzT0.Add(time.Minute)
		p.Rules = append(p.Rules, r)
	}
	c, err := check.NewChecker(p, clock.options())
	if err != nil {
		t.Fatal(err)
	}
	first := c.Snapshot()
	clock.Set(fuzzT0.Add(time.Minute))
	second := c.Snapshot()
	if second == first || !second.At().Equal(fuzzT0.Add(time.Minute)) {
		t.Fatal("no swap at the expiry")
	}
	if d := c.Check(check.Request{Addr: netip.MustParseAddr("10.0.5.1")}); d.Allowed || d.Reason != check.ReasonDefault {
		t.Errorf("after expiry: %v, want deny (default)", d)
	}
	clock.Set(fuzzT0.Add(time.Hour))
	if c.Snapshot() != second || clock.pending() != 0 {
		t.Errorf("more swaps or timers after the last expiry: pending %d", clock.pending())
	}
	r := rule("late", "192.0.2.1", policy.Allow)
	r.ExpiresAt = fuzzT0.Add(2 * time.Hour)
	_ = c.Update(policy.New(r))
	if clock.pending() != 1 {
		t.Fatalf("pending timers = %d, want 1", clock.pending())
	}
	c.Close()
	if clock.pending() != 0 {
		t.Error("Close left a timer armed")
	}
}

// TestCheckerRealClock runs the expiry timer on the real clock.
func TestCheckerRealClock(t *testing.T) {
	t.Parallel()
	r := rule("soon", "192.0.2.1", policy.Allow)
	r.ExpiresAt = time.Now().Add(50 * time.Millisecond)
	c, err := check.NewChecker(policy.New(r, rule("other", "198.51.100.0/24", policy.Allow)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := check.Request{Addr: netip.MustParseAddr("192.0.2.1")}
	if !c.Check(req).Allowed {
		t.Fatal("denied before expiry")
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Check(req).Allowed {
		if time.Now().After(deadline) {
			t.Fatal("the expiry timer never swapped the snapshot")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConcurrentSwap has readers check while a writer swaps two policies:
// every decision is one policy's or the other's, never a mix.
func TestConcurrentSwap(t *testing.T) {
	t.Parallel()
	mk := func(prefix string, a policy.Action) policy.Policy {
		p := policy.New()
		for i := range 256 {
			p.Rules = append(p.Rules, rule(fmt.Sprintf("%s-%d", prefix, i), fmt.Sprintf("10.%d.0.0/16", i), a))
		}
		return p
	}
	pa, pb := mk("a", policy.Allow), mk("b", policy.Deny)
	sa, _ := check.Compile(pa, fuzzT0)
	sb, _ := check.Compile(pb, fuzzT0)
	clock := newFakeClock(fuzzT0)
	c, err := check.NewChecker(pa, clock.options())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				req := check.Request{Addr: netip.AddrFrom4([4]byte{10, byte(rng.IntN(256)), 1, 1})}
				if got := c.Check(req); got != sa.Check(req) && got != sb.Check(req) {
					t.Errorf("Check(%v) = %v, neither policy's decision", req.Addr, got)
					return
				}
			}
		}()
	}
	for i := range 200 {
		if err := c.Update([]policy.Policy{pa, pb}[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestNoAllocs(t *testing.T) {
	p := randomPolicy(rand.New(rand.NewPCG(1, 2)), 20, fuzzT0)
	p.Settings.Enabled = true
	s, err := check.Compile(p, fuzzT0)
	if err != nil {
		t.Fatal(err)
	}
	large, err := check.CompileLarge(p, fuzzT0)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := check.NewChecker(p, nil)
	defer c.Close()
	addrs := probes(p)
	for _, tc := range []struct {
		name string
		f    func(check.Request) check.Decision
		at   time.Time
	}{
		{"Snapshot.Check", s.Check, fuzzT0},
		{"Snapshot.Check/zero At", s.Check, time.Time{}},
		{"Snapshot.Check/re-rank", s.Check, fuzzT0.Add(time.Hour)},
		{"Snapshot.Check/bart.Table", large.Check, fuzzT0},
		{"Snapshot.Check/bart.Table/re-rank", large.Check, fuzzT0.Add(time.Hour)},
		{"Checker.Check", c.Check, time.Time{}},
	} {
		i := 0
		if n := testing.AllocsPerRun(1000, func() {
			tc.f(check.Request{Addr: addrs[i%len(addrs)], Admin: i%2 == 0, At: tc.at})
			i++
		}); n != 0 {
			t.Errorf("%s allocates %.1f times per call", tc.name, n)
		}
	}
}

// TestExpiryBeforeRecompile shows that a checker whose clock reads the zero
// instant once the expiry timer fires (so that no re-ranking happens) does
// not revive the expired rule: a zero reading falls back to the system
// clock.
func TestExpiryBeforeRecompile(t *testing.T) {
	t.Parallel()
	var fire func()
	var broken bool
	opts := &check.Options{
		Now: func() time.Time {
			if broken {
				return time.Time{}
			}
			return fuzzT0
		},
		AfterFunc: func(d time.Duration, f func()) func() bool { fire = f; return func() bool { return true } },
	}
	c, req := contractorChecker(t, opts)
	if !c.Check(req).Allowed {
		t.Fatal("denied before expiry")
	}
	broken = true
	fire()
	if d := c.Check(req); d.Allowed || d.Reason != check.ReasonDefault {
		t.Errorf("after the timer fired: %v, want deny (default)", d)
	}
}

// TestServedSnapshotReadsCheckerClock shows that a snapshot a checker serves
// decides a zero At at the checker's clock, as the checker does, even when
// the expiry timer has not fired.
func TestServedSnapshotReadsCheckerClock(t *testing.T) {
	t.Parallel()
	now := fuzzT0
	opts := &check.Options{
		Now:       func() time.Time { return now },
		AfterFunc: func(time.Duration, func()) func() bool { return func() bool { return true } },
	}
	c, req := contractorChecker(t, opts)
	s := c.Snapshot()
	if !c.Check(req).Allowed || !s.Check(req).Allowed {
		t.Fatal("denied before expiry")
	}
	now = fuzzT0.Add(2 * time.Minute)
	if c.Check(req).Allowed || s.Check(req).Allowed {
		t.Errorf("after the expiry on the checker's clock: checker %v, snapshot %v, want deny", c.Check(req), s.Check(req))
	}
	now = fuzzT0.Add(-time.Hour) // the wall clock is set back
	if !s.Check(req).Allowed {
		t.Errorf("with the clock set back before the expiry: %v, want allow", s.Check(req))
	}
}

// contractorChecker returns a checker with opts serving one allow rule
// that expires a minute after fuzzT0, and a request that the rule decides.
func contractorChecker(t *testing.T, opts *check.Options) (*check.Checker, check.Request) {
	t.Helper()
	r := rule("contractor", "198.51.100.7", policy.Allow)
	r.ExpiresAt = fuzzT0.Add(time.Minute)
	c, err := check.NewChecker(policy.New(r), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, check.Request{Addr: netip.MustParseAddr("198.51.100.7")}
}

// iterFirst returns the first value of seq.
func iterFirst[V any](seq iter.Seq[V]) (V, bool) {
	for v := range seq {
		return v, true
	}
	var zero V
	return zero, false
}
