package sloggate_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/adapters/sloggate"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
)

// decider returns the decision it holds, whatever the request.
type decider check.Decision

func (d decider) Check(check.Request) check.Decision { return check.Decision(d) }

// clock is a fake clock, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// textLogger logs to a buffer in slog's text form, without the time.
func textLogger(level slog.Leveler) (*slog.Logger, *syncBuffer) {
	buf := new(syncBuffer)
	h := slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}})
	return slog.New(h), buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// lines returns the lines written since the last call.
func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSuffix(b.b.String(), "\n")
	b.b.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func snapshot(t *testing.T) *check.Snapshot {
	t.Helper()
	p := policy.New(
		policy.Rule{ID: "office", Target: rangeset.MustParseRange("198.51.100.0/24"), Action: policy.Allow},
		policy.Rule{ID: "guest\nnet", Target: rangeset.MustParseRange("198.51.100.128/25"), Action: policy.Deny},
	)
	s, err := check.Compile(p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheck(t *testing.T) {
	l, buf := textLogger(nil)
	x := sloggate.New(snapshot(t).Check, l, nil)
	for _, tt := range []struct {
		req  check.Request
		want check.Decision
		line string // "" for none
	}{
		{check.Request{Addr: netip.MustParseAddr("198.51.100.1")}, check.Decision{Allowed: true, Rule: "office", Reason: check.ReasonRule}, ""},
		{check.Request{Addr: netip.MustParseAddr("203.0.113.9")}, check.Decision{Reason: check.ReasonDefault},
			`level=INFO msg="ipgate: denied" addr=203.0.113.9 reason=default`},
		{check.Request{Addr: netip.MustParseAddr("198.51.100.200"), Admin: true, Mobile: true}, check.Decision{Rule: "guest\nnet", Reason: check.ReasonRule},
			`level=INFO msg="ipgate: denied" addr=198.51.100.200 rule="guest\nnet" reason=rule admin=true mobile=true`},
		{check.Request{}, check.Decision{Reason: check.ReasonInvalid},
			`level=INFO msg="ipgate: denied" addr="invalid IP" reason=invalid`},
	} {
		if got := x.Check(tt.req); got != tt.want {
			t.Errorf("Check(%+v) = %v, want %v", tt.req, got, tt.want)
		}
		var want []string
		if tt.line != "" {
			want = []string{tt.line}
		}
		if got := buf.lines(); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("Check(%+v) logged %q, want %q", tt.req, got, want)
		}
	}
}

func TestSampling(t *testing.T) {
	l, buf := textLogger(nil)
	c := new(clock)
	x := sloggate.New(decider{Reason: check.ReasonDefault}.Check, l, &sloggate.Options{PerSecond: 2, Burst: 3, Now: c.now})
	deny := func(n int) {
		for range n {
			x.Check(check.Request{Addr: netip.MustParseAddr("192.0.2.1")})
		}
	}
	const rec = `level=INFO msg="ipgate: denied" addr=192.0.2.1 reason=default`
	steps := []struct {
		wait time.Duration
		n    int
		want []string
	}{
		{0, 10, []string{rec, rec, rec}}, // the burst, then 7 suppressed
		{250 * time.Millisecond, 1, nil}, // half an interval: no token yet
		{250 * time.Millisecond, 2, []string{rec + " suppressed=8"}},
		{2 * time.Second, 5, []string{rec + " suppressed=1", rec, rec}}, // the bucket refilled to its burst
		{time.Hour, 1, []string{rec + " suppressed=2"}},
	}
	for i, s := range steps {
		c.advance(s.wait)
		deny(s.n)
		if got := buf.lines(); strings.Join(got, "|") != strings.Join(s.want, "|") {
			t.Errorf("step %d: logged %q, want %q", i, got, s.want)
		}
	}
}

// TestSlowRate logs one denial every ten seconds.
func TestSlowRate(t *testing.T) {
	l, buf := textLogger(nil)
	c := new(clock)
	x := sloggate.New(decider{Reason: check.ReasonDefault}.Check, l, &sloggate.Options{PerSecond: 0.1, Now: c.now})
	var logged int
	for range 100 { // 100 s, a denial each second
		x.Check(check.Request{})
		logged += len(buf.lines())
		c.advance(time.Second)
	}
	if logged != 10 {
		t.Errorf("logged %d records in 100 s at 0.1/s, want 10", logged)
	}
}

// TestDisabled checks that a level the handler drops neither logs nor
// uses up the sample.
func TestDisabled(t *testing.T) {
	var level slog.LevelVar
	level.Set(slog.LevelWarn)
	l, buf := textLogger(&level)
	x := sloggate.New(decider{Reason: check.ReasonDefault}.Check, l, &sloggate.Options{Burst: 1, Now: new(clock).now})
	for range 5 {
		x.Check(check.Request{})
	}
	if got := buf.lines(); got != nil {
		t.Errorf("logged %q below the handler's level", got)
	}
	level.Set(slog.LevelInfo)
	x.Check(check.Request{})
	if got, want := buf.lines(), []string{`level=INFO msg="ipgate: denied" addr="invalid IP" reason=default`}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("logged %q, want %q", got, want)
	}
}

// TestConcurrent checks that the bucket hands out exactly its burst to
// racing denials at one instant, and that none goes uncounted.
func TestConcurrent(t *testing.T) {
	l, buf := textLogger(nil)
	c := new(clock)
	x := sloggate.New(decider{Reason: check.ReasonDefault}.Check, l, &sloggate.Options{PerSecond: 1, Burst: 5, Now: c.now})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				x.Check(check.Request{})
			}
		}()
	}
	wg.Wait()
	if got := len(buf.lines()); got != 5 {
		t.Errorf("logged %d records, want the burst of 5", got)
	}
	c.advance(time.Second)
	x.Check(check.Request{})
	if got, want := buf.lines(), `level=INFO msg="ipgate: denied" addr="invalid IP" reason=default suppressed=795`; len(got) != 1 || got[0] != want {
		t.Errorf("logged %q, want %q", got, want)
	}
}

// TestOnDecision hooks a Logger into an HTTP gate: the record has the
// peer and the gate's error, with the header value quoted, on one line.
func TestOnDecision(t *testing.T) {
	l, buf := textLogger(nil)
	x := sloggate.New(nil, l, nil)
	g, err := httpgate.New(snapshot(t).Check, &httpgate.Options{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		OnDecision:     x.OnDecision,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, xff := range []string{"198.51.100.1", "203.0.113.9", "198.51.100.1, \x1b[2Jforged"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.0.0.1:4711"
		r.Header.Set("X-Forwarded-For", xff)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	want := []string{
		`level=INFO msg="ipgate: denied" addr=203.0.113.9 reason=default peer=10.0.0.1:4711`,
		`level=INFO msg="ipgate: denied" addr="invalid IP" reason=invalid peer=10.0.0.1:4711 error="httpgate: unusable forwarding header: X-Forwarded-For element \" \\x1b[2Jforged\""`,
	}
	if got := buf.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Its Check has no decider: it denies, and has no decision to log.
	if d := x.Check(check.Request{Addr: netip.MustParseAddr("198.51.100.1")}); d != (check.Decision{}) {
		t.Errorf("Check without a decider = %v, want the zero Decision", d)
	}
	if got := buf.lines(); got != nil {
		t.Errorf("Check without a decider logged %q", got)
	}
}

func TestZero(t *testing.T) {
	var x sloggate.Logger
	if d := x.Check(check.Request{Addr: netip.MustParseAddr("198.51.100.1")}); d != (check.Decision{}) {
		t.Errorf("zero Logger: Check = %v, want the zero Decision", d)
	}
	x.OnDecision(httptest.NewRequest("GET", "/", nil), check.Decision{}, netip.Addr{}, nil) // must not panic
}
