package sloggate_test

import (
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/examples/adapters/sloggate"
	"github.com/ipgate/ipgate/policy"
)

// Denials logged at most once a second, after a burst of two; the record
// that follows a gap says how many were left out.
func Example() {
	p, err := policy.Allowlist("198.51.100.0/24")
	if err != nil {
		panic(err)
	}
	snap, err := check.Compile(p, time.Now())
	if err != nil {
		panic(err)
	}
	// A fixed clock and no time attribute, so that the output is stable.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}}))
	d := sloggate.New(snap.Check, logger, &sloggate.Options{PerSecond: 1, Burst: 2, Now: func() time.Time { return now }})

	for _, a := range []string{"198.51.100.7", "203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"} {
		d.Check(check.Request{Addr: netip.MustParseAddr(a)})
	}
	now = now.Add(time.Second)
	d.Check(check.Request{Addr: netip.MustParseAddr("203.0.113.5")})
	// Output:
	// level=INFO msg="ipgate: denied" addr=203.0.113.1 reason=default
	// level=INFO msg="ipgate: denied" addr=203.0.113.2 reason=default
	// level=INFO msg="ipgate: denied" addr=203.0.113.5 reason=default suppressed=2
}
