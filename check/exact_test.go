package check_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// expiringAllow is an allowlist whose one entry expires at exp.
func expiringAllow(exp time.Time) policy.Policy {
	r := policy.Rule{ID: "tmp", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow, ExpiresAt: exp}
	return policy.New(r)
}

var tenOne = netip.MustParseAddr("10.0.0.1")

// A request with a zero At is decided now, not at the compile instant: a
// bare snapshot never lets an expired rule decide, however old it is.
func TestZeroAtBareSnapshot(t *testing.T) {
	t.Parallel()
	now := time.Now()
	s, err := check.Compile(expiringAllow(now.Add(-time.Minute)), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Check(check.Request{Addr: tenOne, At: now.Add(-2 * time.Minute)}); !d.Allowed {
		t.Fatalf("before the expiry: %v, want allow", d)
	}
	want := check.Decision{Reason: check.ReasonDefault}
	if d := s.Check(check.Request{Addr: tenOne}); d != want {
		t.Errorf("zero At after the expiry: %v, want %v", d, want)
	}
	if e := s.Explain(check.Request{Addr: tenOne}); e.Decision != want || e.At.Before(now) {
		t.Errorf("Explain with zero At: %v at %v, want %v at now", e.Decision, e.At, want)
	}
}

// A checker decides exactly at its clock's instant even when its expiry
// timer never fires (late, suspended) and after Close.
func TestZeroAtLateTimerAndClose(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	late := &check.Options{
		Now:       func() time.Time { return now },
		AfterFunc: func(time.Duration, func()) func() bool { return func() bool { return true } }, // never fires
	}
	c, err := check.NewChecker(expiringAllow(t0.Add(time.Second)), late)
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Check(check.Request{Addr: tenOne}); !d.Allowed {
		t.Fatalf("before the expiry: %v, want allow", d)
	}
	now = t0.Add(time.Second) // exactly the expiry: expired (SEMANTICS §3)
	if d := c.Check(check.Request{Addr: tenOne}); d.Allowed {
		t.Errorf("at the expiry, timer not fired: %v, want deny", d)
	}
	now = t0
	c.Close()
	now = t0.Add(400*time.Millisecond + time.Second)
	if d := c.Check(check.Request{Addr: tenOne}); d.Allowed {
		t.Errorf("after Close, past the expiry: %v, want deny", d)
	}
}

// The zero Snapshot and the zero Checker deny every request and do not
// panic; the zero Checker becomes useful with Update.
func TestZeroValues(t *testing.T) {
	t.Parallel()
	req := check.Request{Addr: tenOne}
	// A nil *Snapshot, as a zero Checker's Snapshot returns, is the zero
	// Snapshot.
	for name, s := range map[string]*check.Snapshot{"zero": {}, "nil": nil} {
		if d := s.Check(req); d != (check.Decision{}) {
			t.Errorf("%s Snapshot: Check = %v, want the zero Decision", name, d)
		}
		if e := s.Explain(req); e.Decision != (check.Decision{}) || len(e.Matches) != 0 {
			t.Errorf("%s Snapshot: Explain = %+v", name, e)
		}
		var pieces []rangeset.Range
		for p := range s.Pieces(rangeset.MustParseRange("10.0.0.0/8")) {
			pieces = append(pieces, p)
		}
		if len(pieces) != 1 || pieces[0] != rangeset.MustParseRange("10.0.0.0/8") {
			t.Errorf("%s Snapshot: Pieces(10.0.0.0/8) = %v, want the range whole", name, pieces)
		}
		for r := range s.Rules() {
			t.Errorf("%s Snapshot: Rules yields %v", name, r)
		}
		if s.Len() != 0 || s.Settings() != (policy.Settings{}) || !s.At().IsZero() {
			t.Errorf("%s Snapshot: Len %d, Settings %+v, At %v", name, s.Len(), s.Settings(), s.At())
		}
	}
	var c check.Checker
	if d := c.Check(req); d != (check.Decision{}) {
		t.Errorf("zero Checker: Check = %v, want the zero Decision", d)
	}
	if c.Snapshot() != nil {
		t.Error("zero Checker: Snapshot is not nil")
	}
	if err := c.Put(policy.Rule{ID: "a", Target: rangeset.MustParseRange("10.0.0.1"), Action: policy.Allow}); err == nil {
		t.Error("zero Checker: Put before Update succeeded")
	}
	if err := c.Delete("a"); err == nil {
		t.Error("zero Checker: Delete before Update succeeded")
	}
	if err := c.Update(policy.New(rule("a", "10.0.0.0/8", policy.Allow))); err != nil {
		t.Fatal(err)
	}
	if d := c.Check(req); !d.Allowed || d.Rule != "a" {
		t.Errorf("zero Checker after Update: %v, want allow by a", d)
	}
	c.Close()
	if err := c.Update(policy.New()); !errors.Is(err, check.ErrClosed) {
		t.Errorf("Update after Close: %v, want ErrClosed", err)
	}
}

// maxExpiry is the latest expiry package policy lets a rule have.
var maxExpiry = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// never, the compiler's "no next change", is a second past the latest
// expiry policy accepts, where Rule.Expiry saturates.
func TestNeverPastMaxExpiry(t *testing.T) {
	t.Parallel()
	at := rule("at", "10.0.0.1", policy.Allow)
	at.ExpiresAt = maxExpiry
	past := rule("past", "10.0.0.2", policy.Allow)
	past.ExpiresAt = maxExpiry.Add(time.Second)
	err := policy.New(at, past).Validate()
	if want := `rule "past": expiry after 9999-12-31T23:59:59Z: 10000-01-01T00:00:00Z`; err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %s", err, want)
	}
	long := time.Duration(1<<63 - 1)
	sat := policy.Rule{ID: "long", TTL: &long, UpdatedAt: maxExpiry}
	if e, ok := sat.Expiry(); !ok || !e.Equal(check.Never) {
		t.Errorf("Expiry() of a ttl past the limit = %v, %v, want %v", e, ok, check.Never)
	}
}

// A rule that does not expire is live at every instant, after the last
// instant any rule may expire at (9999-12-31T23:59:59Z) too.
func TestFarFuture(t *testing.T) {
	t.Parallel()
	p := policy.New(rule("deny-all", "0.0.0.0/0", policy.Deny), rule("office", "10.0.0.0/8", policy.Allow))
	p.Settings.DefaultAction = policy.DefaultAllow
	soon := rule("soon", "192.0.2.0/24", policy.Allow)
	soon.ExpiresAt = maxExpiry
	p.Rules = append(p.Rules, soon)
	s, err := check.Compile(p, fuzzT0)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{maxExpiry, maxExpiry.Add(time.Second), time.Date(1<<20, 1, 1, 0, 0, 0, 0, time.UTC)} {
		for addr, want := range map[string]string{"1.2.3.4": "deny-all", "10.1.2.3": "office", "192.0.2.1": "deny-all"} {
			req := check.Request{Addr: netip.MustParseAddr(addr), At: at}
			if d := s.Check(req); d.Rule != want {
				t.Errorf("at %v, %s: %v, want rule %s", at, addr, d, want)
			}
			if e := s.Explain(req); e.Decision.Rule != want {
				t.Errorf("Explain at %v, %s: %v, want rule %s", at, addr, e.Decision, want)
			}
		}
	}
}

// Pieces cuts exactly where decisions may change and skips the IPv4-mapped
// block: every address of one piece is decided alike.
func TestPieces(t *testing.T) {
	t.Parallel()
	p := policy.New(
		rule("a", "10.0.0.0/8", policy.Allow),
		rule("b", "10.1.0.0-10.1.0.9", policy.Deny),
		rule("c", "::fffe:0:0/95", policy.Deny),
	)
	s, err := check.Compile(p, fuzzT0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for r := range s.Pieces(rangeset.MustParseRange("10.0.0.0-10.2.0.0")) {
		got = append(got, r.String())
	}
	// 10.1.0.0-10.1.0.9 is covered by several prefixes, each a cut.
	for _, piece := range got {
		r := rangeset.MustParseRange(piece)
		d0 := s.Check(check.Request{Addr: r.From(), At: fuzzT0})
		for a, n := r.From(), 0; n < 4096; a, n = a.Next(), n+1 {
			if d := s.Check(check.Request{Addr: a, At: fuzzT0}); d != d0 {
				t.Fatalf("piece %s: %v decided %v, its start %v", piece, a, d, d0)
			}
			if a == r.To() {
				break
			}
		}
	}
	if want := "[10.0.0.0/16 10.1.0.0/29 10.1.0.8/31 10.1.0.10-10.1.255.255 10.2.0.0]"; fmt.Sprint(got) != want {
		t.Errorf("Pieces = %v, want %s", got, want)
	}
	var v6 []string
	for r := range s.Pieces(rangeset.MustParseRange("::fffe:0:0-::1:0:0:0")) {
		v6 = append(v6, r.String())
	}
	if want := "[::fffe:0:0/96 ::1:0:0:0]"; fmt.Sprint(v6) != want {
		t.Errorf("Pieces across the mapped block = %v, want %s", v6, want)
	}
}

// A large policy's table is filled a batch at a time, and copied a batch
// at a time or whole. Nested prefixes that straddle the batches' ends must
// all land, each with its own decision.
func TestCompileManyBatches(t *testing.T) {
	t.Run("each", func(t *testing.T) { testCompileManyBatches(t) })
	t.Run("whole", func(t *testing.T) {
		defer check.CopyWhole()()
		testCompileManyBatches(t)
	})
}

func testCompileManyBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	var p policy.Policy
	p.Settings = policy.DefaultSettings()
	p.Settings.Enabled = true
	// An explicit default makes a decision depend on the rules containing
	// the address alone, so that the reference need only rank those.
	p.Settings.DefaultAction = policy.DefaultDeny
	// Prefixes of every length from /8 to /32 under two /8s (and some
	// IPv6), so that each batch ends inside subtrees that the next one
	// continues.
	distinct := map[netip.Prefix]bool{}
	for i := 0; len(distinct) <= 3*check.InsertBatch; i++ {
		var pfx netip.Prefix
		if i%10 == 9 {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))})
			pfx = netip.PrefixFrom(a, 32+rng.IntN(33)).Masked()
		} else {
			a := netip.AddrFrom4([4]byte{10 + byte(rng.IntN(2)), byte(rng.IntN(16)), byte(rng.IntN(256)), byte(rng.IntN(256))})
			pfx = netip.PrefixFrom(a, 8+rng.IntN(25)).Masked()
		}
		if distinct[pfx] {
			continue
		}
		distinct[pfx] = true
		r := policy.Rule{ID: fmt.Sprintf("r%d", i), Target: rangeset.PrefixRange(pfx), Action: policy.Deny, AdminOnly: rng.IntN(8) == 0}
		if rng.IntN(2) == 0 {
			r.Action = policy.Allow
		}
		p.Rules = append(p.Rules, r)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := check.Compile(p, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !s.UsesLargeTable() || s.TableSize() != len(distinct) {
		t.Fatalf("table holds %d prefixes (large %v), want %d", s.TableSize(), s.UsesLargeTable(), len(distinct))
	}
	for i := range 4000 {
		r := p.Rules[rng.IntN(len(p.Rules))]
		a := []netip.Addr{r.Target.From(), r.Target.To(), r.Target.From().Prev(), r.Target.To().Next()}[i%4]
		if !a.IsValid() {
			continue
		}
		req := check.Request{Addr: a, Admin: i%3 == 0}
		sub := policy.Policy{Settings: p.Settings}
		for _, r := range p.Rules {
			if r.Target.Contains(a) {
				sub.Rules = append(sub.Rules, r)
			}
		}
		if got, want := s.Check(req), decideSlow(sub, req); got != want {
			t.Fatalf("Check(%v, admin %v) = %v, want %v", a, req.Admin, got, want)
		}
	}
}
