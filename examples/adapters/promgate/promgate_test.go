package promgate_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/check/observe"
	"github.com/ipgate/ipgate/examples/adapters/promgate"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func office() policy.Policy {
	return policy.New(
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow},
		policy.Rule{ID: "guests", Target: rangeset.MustParseRange("198.51.100.128/25"), Action: policy.Deny},
	)
}

func compile(t *testing.T, p policy.Policy) *check.Snapshot {
	t.Helper()
	s, err := check.Compile(p, t0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func addr(s string) check.Request { return check.Request{Addr: netip.MustParseAddr(s)} }

const decisionsHead = `
# HELP ipgate_decisions_total Decisions made, by outcome and reason.
# TYPE ipgate_decisions_total counter
`

func TestDecisions(t *testing.T) {
	c := promgate.New(compile(t, office()).Check, nil)
	want := decisionsHead + `
ipgate_decisions_total{allowed="false",reason="default"} 0
ipgate_decisions_total{allowed="false",reason="invalid"} 0
ipgate_decisions_total{allowed="false",reason="rule"} 0
ipgate_decisions_total{allowed="true",reason="default"} 0
ipgate_decisions_total{allowed="true",reason="disabled"} 0
ipgate_decisions_total{allowed="true",reason="exempt"} 0
ipgate_decisions_total{allowed="true",reason="rule"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Errorf("before any decision: %v", err)
	}
	for _, r := range []check.Request{addr("198.51.100.1"), addr("198.51.100.2"), addr("198.51.100.200"), addr("203.0.113.1"), {}} {
		c.Check(r)
	}
	want = decisionsHead + `
ipgate_decisions_total{allowed="false",reason="default"} 1
ipgate_decisions_total{allowed="false",reason="invalid"} 1
ipgate_decisions_total{allowed="false",reason="rule"} 1
ipgate_decisions_total{allowed="true",reason="default"} 0
ipgate_decisions_total{allowed="true",reason="disabled"} 0
ipgate_decisions_total{allowed="true",reason="exempt"} 0
ipgate_decisions_total{allowed="true",reason="rule"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// decider returns the decision it holds, whatever the request.
type decider check.Decision

func (d decider) Check(check.Request) check.Decision { return check.Decision(d) }

// TestOddReasons counts decisions no policy makes, such as the zero
// Decision of a zero Checker: they get series of their own.
func TestOddReasons(t *testing.T) {
	c := promgate.New(decider{}.Check, nil)
	c.Check(check.Request{})
	c.Check(check.Request{})
	const want = `ipgate_decisions_total{allowed="false",reason="Reason(0)"} 2`
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(decisionsHead+want+"\n"+`
ipgate_decisions_total{allowed="false",reason="default"} 0
ipgate_decisions_total{allowed="false",reason="invalid"} 0
ipgate_decisions_total{allowed="false",reason="rule"} 0
ipgate_decisions_total{allowed="true",reason="default"} 0
ipgate_decisions_total{allowed="true",reason="disabled"} 0
ipgate_decisions_total{allowed="true",reason="exempt"} 0
ipgate_decisions_total{allowed="true",reason="rule"} 0
`)); err != nil {
		t.Error(err)
	}
}

func TestHits(t *testing.T) {
	now := t0.Add(1500 * time.Millisecond)
	hits := observe.NewHits(compile(t, office()).Check, &observe.HitsOptions{Now: func() time.Time { return now }})
	c := promgate.New(hits.Check, &promgate.Options{Hits: hits})
	for _, a := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.200", "203.0.113.1"} {
		c.Check(addr(a))
	}
	const want = `
# HELP ipgate_rule_hits_total Requests decided by each rule.
# TYPE ipgate_rule_hits_total counter
ipgate_rule_hits_total{rule="guests"} 1
ipgate_rule_hits_total{rule="office"} 2
# HELP ipgate_rule_last_hit_timestamp_seconds When each rule last decided a request, in seconds since the Unix epoch.
# TYPE ipgate_rule_last_hit_timestamp_seconds gauge
ipgate_rule_last_hit_timestamp_seconds{rule="guests"} 1.7672256015e+09
ipgate_rule_last_hit_timestamp_seconds{rule="office"} 1.7672256015e+09
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ipgate_rule_hits_total", "ipgate_rule_last_hit_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "ipgate_decisions_total"); n != 7 {
		t.Errorf("%d decision series, want 7", n)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// fixed decides every request alike.
type fixed check.Decision

func (d fixed) Check(check.Request) check.Decision { return check.Decision(d) }

// TestHitsInvalidUTF8 exports a rule id that is not UTF-8, which a label
// value must be, in its quoted form. A policy refuses such an id, but a
// decider of the caller's own may answer with one.
func TestHitsInvalidUTF8(t *testing.T) {
	d := fixed{Allowed: true, Rule: "bad\xff", Reason: check.ReasonRule}
	hits := observe.NewHits(d.Check, &observe.HitsOptions{Now: func() time.Time { return t0 }})
	c := promgate.New(hits.Check, &promgate.Options{Hits: hits})
	c.Check(addr("198.51.100.1"))
	const want = `
# HELP ipgate_rule_hits_total Requests decided by each rule.
# TYPE ipgate_rule_hits_total counter
ipgate_rule_hits_total{rule="\"bad\\xff\""} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ipgate_rule_hits_total"); err != nil {
		t.Error(err)
	}
}

// flaky is a store that cannot be watched and fails while fail is set.
type flaky struct {
	st   store.Store
	fail atomic.Bool
}

func (f *flaky) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	if f.fail.Load() {
		return policy.Policy{}, 0, errors.New("flaky: down")
	}
	return f.st.Load(ctx, name)
}

func TestFollower(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New(nil)
	rev, err := mem.Put(ctx, "acme", office(), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	st := &flaky{st: mem}
	var fnow, cnow atomic.Int64 // the follower's clock and the collector's
	fnow.Store(t0.UnixNano())
	errs := make(chan error, 1)
	f, err := follow.Follow(ctx, st, "acme", &follow.Options{
		Now:          func() time.Time { return time.Unix(0, fnow.Load()) },
		PollInterval: 5 * time.Millisecond,
		OnError: func(err error) {
			select {
			case errs <- err:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := promgate.New(f.Check, &promgate.Options{Follower: f, Now: func() time.Time { return time.Unix(0, cnow.Load()) }})
	want := func(rev store.Revision, failing, stale, age string) string {
		return `
# HELP ipgate_follower_error 1 while following the store fails, else 0.
# TYPE ipgate_follower_error gauge
ipgate_follower_error ` + failing + `
# HELP ipgate_follower_revision Store revision of the policy served.
# TYPE ipgate_follower_revision gauge
ipgate_follower_revision ` + strconv.FormatUint(uint64(rev), 10) + `
# HELP ipgate_follower_snapshot_age_seconds Seconds since the instant the served snapshot was compiled for.
# TYPE ipgate_follower_snapshot_age_seconds gauge
ipgate_follower_snapshot_age_seconds ` + age + `
# HELP ipgate_follower_stale_seconds Seconds for which following the store has failed, 0 while it works.
# TYPE ipgate_follower_stale_seconds gauge
ipgate_follower_stale_seconds ` + stale + `
`
	}
	names := []string{"ipgate_follower_error", "ipgate_follower_revision", "ipgate_follower_snapshot_age_seconds", "ipgate_follower_stale_seconds"}

	cnow.Store(t0.Add(90 * time.Second).UnixNano())
	if err := testutil.CollectAndCompare(c, strings.NewReader(want(rev, "0", "0", "90")), names...); err != nil {
		t.Errorf("first revision: %v", err)
	}

	// A new revision, compiled at t0+50s.
	fnow.Store(t0.Add(50 * time.Second).UnixNano())
	p := office()
	p.Rules = p.Rules[:1]
	if rev, err = mem.Put(ctx, "acme", p, rev); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := f.Wait(wctx, rev); err != nil {
		t.Fatal(err)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want(rev, "0", "0", "40")), names...); err != nil {
		t.Errorf("second revision: %v", err)
	}

	// The store fails from t0+100s; scraped at t0+130s.
	fnow.Store(t0.Add(100 * time.Second).UnixNano())
	st.fail.Store(true)
	select {
	case <-errs:
	case <-wctx.Done():
		t.Fatal("no error reported")
	}
	cnow.Store(t0.Add(130 * time.Second).UnixNano())
	if err := testutil.CollectAndCompare(c, strings.NewReader(want(rev, "1", "30", "80")), names...); err != nil {
		t.Errorf("failing: %v", err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestConstLabels registers two collectors, one per policy, in one
// registry, under another namespace.
func TestConstLabels(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a := promgate.New(compile(t, office()).Check, &promgate.Options{Namespace: "gate", ConstLabels: prometheus.Labels{"policy": "a"}})
	b := promgate.New(compile(t, office()).Check, &promgate.Options{Namespace: "gate", ConstLabels: prometheus.Labels{"policy": "b"}})
	reg.MustRegister(a, b)
	a.Check(addr("198.51.100.1"))
	b.Check(addr("203.0.113.1"))
	b.Check(addr("203.0.113.2"))
	var want strings.Builder
	want.WriteString("# HELP gate_decisions_total Decisions made, by outcome and reason.\n# TYPE gate_decisions_total counter\n")
	for _, pol := range []string{"a", "b"} {
		for _, s := range []string{`false",reason="default`, `false",reason="invalid`, `false",reason="rule`, `true",reason="default`, `true",reason="disabled`, `true",reason="exempt`, `true",reason="rule`} {
			n := 0
			switch pol + s {
			case `a` + `true",reason="rule`:
				n = 1
			case `b` + `false",reason="default`:
				n = 2
			}
			allowed, reason, _ := strings.Cut(s, `",reason="`)
			fmt.Fprintf(&want, "gate_decisions_total{allowed=%q,policy=%q,reason=%q} %d\n", allowed, pol, reason, n)
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want.String()), "gate_decisions_total"); err != nil {
		t.Error(err)
	}
}

func TestNoAllocs(t *testing.T) {
	c := promgate.New(compile(t, office()).Check, nil)
	r := addr("198.51.100.1")
	if n := testing.AllocsPerRun(1000, func() { c.Check(r) }); n != 0 {
		t.Errorf("Check allocates %v times, want 0", n)
	}
}

func TestZero(t *testing.T) {
	var c promgate.Collector
	if d := c.Check(addr("198.51.100.1")); d != (check.Decision{}) {
		t.Errorf("zero Collector: Check = %v, want the zero Decision", d)
	}
	if n := testutil.CollectAndCount(&c); n != 0 {
		t.Errorf("zero Collector collects %d metrics, want 0", n)
	}
}
