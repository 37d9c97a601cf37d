// Package promgate exports ipgate's decisions and state as Prometheus
// metrics.
//
// A [Collector] wraps a decider (a snapshot's, checker's or follower's
// Check method), as the observers of package observe do, and is a
// prometheus.Collector. Its Check counts each decision by outcome and reason in atomic counters, with no labels to
// build and nothing to allocate; everything else is read when the
// collector is scraped:
//
//   - ipgate_decisions_total{allowed, reason}: the decisions made through
//     Check, by outcome ("true", "false") and reason ("rule", "default",
//     "invalid", "disabled", "exempt"). The pairs SEMANTICS §4 can
//     produce are always exported, from zero.
//   - ipgate_rule_hits_total{rule} and
//     ipgate_rule_last_hit_timestamp_seconds{rule}, from Options.Hits
//     (an [observe.Hits]): the requests each rule decided and the last
//     instant it decided one, for the rules that decided any. There is one
//     series per such rule: pass Hits only where that many series are
//     welcome.
//   - ipgate_follower_revision, ipgate_follower_error (1 while following
//     fails, else 0), ipgate_follower_stale_seconds (how long following
//     has failed: the seconds since Status.ErrSince while Status.Err is
//     not nil, else 0) and ipgate_follower_snapshot_age_seconds (the
//     seconds since the served snapshot's CompiledAt), from
//     Options.Follower (a [follow.Follower]).
//
// Options.Namespace replaces the "ipgate" prefix and Options.ConstLabels
// tells several collectors apart, one per policy of a follow.Group, say.
package promgate

import (
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/check/observe"
	"github.com/ipgate/ipgate/rangeset"
)

// Options configure a [Collector]. A nil *Options, and a zero field, mean
// the defaults: decisions counted, no rule hits, no follower.
type Options struct {
	// Namespace is the first part of every metric name; "" means "ipgate".
	Namespace string
	// ConstLabels are put on every metric.
	ConstLabels prometheus.Labels
	// Hits, when not nil, is read at every scrape for the per-rule metrics.
	Hits *observe.Hits
	// Follower, when not nil, is read at every scrape for the follower
	// metrics; a [*follow.Follower] is one.
	Follower interface{ Status() follow.Status }
	// Now reads the clock for the follower's ages; nil means time.Now.
	Now func() time.Time
}

// Collector counts the decisions of a decider and collects them, with the
// rule hits and follower state of its [Options], as Prometheus metrics.
// It is safe for concurrent use. Check adds an atomic increment to the
// wrapped decision and does not allocate.
//
// The zero Collector has no decider and no metrics: it denies every
// request with the zero Decision and collects nothing. Make one with [New].
type Collector struct {
	d        func(check.Request) check.Decision
	hits     *observe.Hits
	follower interface{ Status() follow.Status }
	now      func() time.Time

	decisions, hitsTotal, lastHit               *prometheus.Desc
	revision, failing, staleSeconds, ageSeconds *prometheus.Desc

	// counts holds one counter per outcome and Reason; a Reason is a byte,
	// so any decision has its counter, valid or not.
	counts [2][256]atomic.Uint64
}

// possible are the (allowed, reason) pairs SEMANTICS §4 produces: they are
// exported from zero, so that rates exist before the first such decision.
var possible = [...]struct {
	allowed bool
	reason  check.Reason
}{
	{true, check.ReasonRule}, {true, check.ReasonDefault}, {true, check.ReasonDisabled}, {true, check.ReasonExempt},
	{false, check.ReasonRule}, {false, check.ReasonDefault}, {false, check.ReasonInvalid},
}

// New returns a Collector serving d's decisions and counting them. A nil d
// decides the zero Decision, which denies: a collector used only for rule
// hits or a follower needs none, and its Check is not called.
func New(d func(check.Request) check.Decision, opts *Options) *Collector {
	var o Options
	if opts != nil {
		o = *opts
	}
	ns := o.Namespace
	if ns == "" {
		ns = "ipgate"
	}
	c := &Collector{d: d, hits: o.Hits, follower: o.Follower, now: o.Now}
	if c.now == nil {
		c.now = time.Now
	}
	desc := func(subsystem, name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, subsystem, name), help, labels, o.ConstLabels)
	}
	c.decisions = desc("", "decisions_total", "Decisions made, by outcome and reason.", "allowed", "reason")
	if c.hits != nil {
		c.hitsTotal = desc("rule", "hits_total", "Requests decided by each rule.", "rule")
		c.lastHit = desc("rule", "last_hit_timestamp_seconds", "When each rule last decided a request, in seconds since the Unix epoch.", "rule")
	}
	if c.follower != nil {
		c.revision = desc("follower", "revision", "Store revision of the policy served.")
		c.failing = desc("follower", "error", "1 while following the store fails, else 0.")
		c.staleSeconds = desc("follower", "stale_seconds", "Seconds for which following the store has failed, 0 while it works.")
		c.ageSeconds = desc("follower", "snapshot_age_seconds", "Seconds since the instant the served snapshot was compiled for.")
	}
	return c
}

// Check returns d's decision on r, and counts it.
func (c *Collector) Check(r check.Request) check.Decision {
	if c.d == nil {
		return check.Decision{}
	}
	d := c.d(r)
	i := 0
	if d.Allowed {
		i = 1
	}
	c.counts[i][d.Reason].Add(1)
	return d
}

// Describe sends the descriptions of the metrics c collects; it
// implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range [...]*prometheus.Desc{c.decisions, c.hitsTotal, c.lastHit, c.revision, c.failing, c.staleSeconds, c.ageSeconds} {
		if d != nil {
			ch <- d
		}
	}
}

// Collect sends the metrics, reading the counters, the hits and the
// follower's status now; it implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.decisions == nil { // the zero Collector
		return
	}
	var sent [2][256]bool
	send := func(allowed bool, r check.Reason) {
		i := 0
		if allowed {
			i = 1
		}
		sent[i][r] = true
		ch <- metric(c.decisions, prometheus.CounterValue, float64(c.counts[i][r].Load()), strconv.FormatBool(allowed), r.String())
	}
	for _, p := range possible {
		send(p.allowed, p.reason)
	}
	for i := range c.counts {
		for r := range c.counts[i] {
			if !sent[i][r] && c.counts[i][r].Load() != 0 {
				send(i == 1, check.Reason(r))
			}
		}
	}
	if c.hits != nil {
		for _, h := range c.hits.Hits() {
			rule := h.Rule
			if !utf8.ValidString(rule) {
				// Label values must be UTF-8; an id built in Go need
				// not be, and its quoted form is.
				rule = rangeset.Quote(rule)
			}
			ch <- metric(c.hitsTotal, prometheus.CounterValue, float64(h.Count), rule)
			ch <- metric(c.lastHit, prometheus.GaugeValue, float64(h.Last.UnixMicro())/1e6, rule)
		}
	}
	if c.follower != nil {
		s := c.follower.Status()
		now := c.now()
		var failing, stale float64
		if s.Err != nil {
			failing, stale = 1, max(0, now.Sub(s.ErrSince).Seconds())
		}
		ch <- metric(c.revision, prometheus.GaugeValue, float64(s.Revision))
		ch <- metric(c.failing, prometheus.GaugeValue, failing)
		ch <- metric(c.staleSeconds, prometheus.GaugeValue, stale)
		ch <- metric(c.ageSeconds, prometheus.GaugeValue, max(0, now.Sub(s.CompiledAt).Seconds()))
	}
}

// metric is NewConstMetric that reports an error (an invalid ConstLabels
// name, say) as an invalid metric rather than panicking in a scrape.
func metric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}
