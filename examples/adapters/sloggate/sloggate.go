// Package sloggate logs denied requests to a [*slog.Logger], sampled so
// that a flood of denials cannot flood the log.
//
// A [Logger] wraps a decider (a snapshot's, checker's or follower's
// Check method), as the observers of package observe do, and has a Check
// method itself, so it fits under any guard: an HTTP gate, the framework
// adapters, the gRPC interceptors. It returns the wrapped decision
// unchanged and logs the denials, at most Options.PerSecond a second on
// average with bursts of Options.Burst, by a token bucket kept in one
// atomic word: no lock, no goroutine, no timer. A record that the bucket
// lets through says how many denials were left out since the previous one.
// [Logger.OnDecision] logs the same way from [httpgate.Options.OnDecision],
// with the error that made the client address unreadable.
//
// Records carry attributes, never raw request text: "addr" (the client
// address decided on), "rule" (the winning rule's id, when a rule decided),
// "reason", "admin" and "mobile" (when true), "suppressed" (when denials
// were left out) and, from OnDecision, "peer" (the connection's address)
// and "error" (whose header values package httpgate quotes). The slog
// handler escapes each value.
package sloggate

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/ipgate/ipgate/check"
)

// Options configure a [Logger]. A nil *Options, and a zero field, mean the
// defaults.
type Options struct {
	// PerSecond is how many denials are logged a second, on average; zero
	// means 10. A rate below one logs one every 1/PerSecond seconds.
	PerSecond float64
	// Burst is how many denials may be logged at once after a quiet
	// spell; zero means PerSecond, rounded up.
	Burst int
	// Level is the level of the records; the zero Level is slog.LevelInfo.
	Level slog.Level
	// Now reads the clock; nil means time.Now. Tests inject a fake clock.
	Now func() time.Time
}

// Logger logs the denials of a decider, sampled. It is safe for concurrent
// use. Its cost on an allowed request is nothing beyond the wrapped
// decision; on a denied one, a check that the logger is enabled, a clock
// reading and an atomic compare-and-swap, and the record when one is made.
//
// The zero Logger has no decider and no logger: it denies every request
// with the zero Decision and logs nothing.
type Logger struct {
	d          func(check.Request) check.Decision
	l          *slog.Logger
	level      slog.Level
	now        func() time.Time
	start      time.Time
	interval   int64 // nanoseconds between records, on average
	tolerance  int64 // how far ahead of now the bucket's clock may run
	tat        atomic.Int64
	suppressed atomic.Int64
}

// New returns a Logger serving d's decisions and logging its denials to l.
// A nil d decides the zero Decision, which denies; a Logger used only as
// an OnDecision hook needs none. A nil l means slog.Default().
func New(d func(check.Request) check.Decision, l *slog.Logger, opts *Options) *Logger {
	x := &Logger{d: d, l: l, now: time.Now}
	if x.l == nil {
		x.l = slog.Default()
	}
	rate, burst := 10.0, 0
	if opts != nil {
		if opts.PerSecond > 0 {
			rate = opts.PerSecond
		}
		burst = opts.Burst
		x.level = opts.Level
		if opts.Now != nil {
			x.now = opts.Now
		}
	}
	if burst <= 0 {
		burst = int(math.Ceil(rate))
	}
	x.interval = max(1, int64(float64(time.Second)/rate))
	x.tolerance = int64(burst-1) * x.interval
	x.start = x.now()
	return x
}

// Check returns d's decision on r, and logs it when it denies and the
// sample has room.
func (x *Logger) Check(r check.Request) check.Decision {
	if x.d == nil {
		return check.Decision{}
	}
	d := x.d(r)
	if !d.Allowed && x.l != nil {
		x.log(d, r.Addr, r.Admin, r.Mobile, "", nil)
	}
	return d
}

// OnDecision logs a denial made by an HTTP gate, when the sample has room,
// with the peer address and the error, if any, that made the client
// address unreadable. It has the shape of [httpgate.Options.OnDecision];
// use it or [Logger.Check], not both, or each denial is logged twice.
func (x *Logger) OnDecision(r *http.Request, d check.Decision, client netip.Addr, err error) {
	if !d.Allowed && x.l != nil {
		x.log(d, client, false, false, r.RemoteAddr, err)
	}
}

func (x *Logger) log(d check.Decision, addr netip.Addr, admin, mobile bool, peer string, err error) {
	ctx := context.Background()
	if !x.l.Enabled(ctx, x.level) {
		return
	}
	if !x.take() {
		x.suppressed.Add(1)
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("addr", addr.String()))
	if d.Rule != "" {
		attrs = append(attrs, slog.String("rule", d.Rule))
	}
	attrs = append(attrs, slog.String("reason", d.Reason.String()))
	if admin {
		attrs = append(attrs, slog.Bool("admin", true))
	}
	if mobile {
		attrs = append(attrs, slog.Bool("mobile", true))
	}
	if peer != "" {
		attrs = append(attrs, slog.String("peer", peer))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	if n := x.suppressed.Swap(0); n > 0 {
		attrs = append(attrs, slog.Int64("suppressed", n))
	}
	x.l.LogAttrs(ctx, x.level, "ipgate: denied", attrs...)
}

// take reports whether the bucket has a token, and takes it. The bucket is
// kept as the instant its next token would be due (GCRA): a record is
// allowed while that instant is at most tolerance ahead of now, and each
// record moves it one interval on.
func (x *Logger) take() bool {
	now := int64(x.now().Sub(x.start))
	for {
		tat := x.tat.Load()
		t := max(tat, now)
		if t-now > x.tolerance {
			return false
		}
		if x.tat.CompareAndSwap(tat, t+x.interval) {
			return true
		}
	}
}
