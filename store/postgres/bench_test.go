package postgres_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/storebench"
)

var benchSizes = []int{1_000, 100_000, 1_000_000}

// sizes runs f at each size, the largest only without -short.
func sizes(b *testing.B, f func(b *testing.B, n int)) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("rules=%dk", n/1000), func(b *testing.B) {
			if n >= 1_000_000 && testing.Short() {
				b.Skip("1M rules: skipped under -short")
			}
			f(b, n)
		})
	}
}

// timer times the runs of a benchmark, wall and client CPU.
type timer struct {
	wall, cpu []time.Duration
	cpu0      time.Duration
	t0        time.Time
}

func (t *timer) begin() { t.t0, t.cpu0 = time.Now(), cpu() }
func (t *timer) end() {
	t.wall = append(t.wall, time.Since(t.t0))
	t.cpu = append(t.cpu, cpu()-t.cpu0)
}

// report adds the median and the spread (p10, p90) of the timed runs, and
// the client's median CPU time.
func (t *timer) report(b *testing.B) {
	report(b, t.wall)
	if len(t.cpu) > 0 {
		slices.Sort(t.cpu)
		b.ReportMetric(float64(t.cpu[len(t.cpu)/2].Microseconds())/1000, "client-cpu-p50-ms")
	}
}

// report adds the median and the spread (p10, p90) of the timed runs.
func report(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	ms := func(q int) float64 { return float64(d[(len(d)-1)*q/100].Microseconds()) / 1000 }
	b.ReportMetric(ms(50), "p50-ms")
	b.ReportMetric(ms(10), "p10-ms")
	b.ReportMetric(ms(90), "p90-ms")
}

// BenchmarkLoad loads a policy of n rules.
func BenchmarkLoad(b *testing.B) {
	sizes(b, func(b *testing.B, n int) {
		s := openStore(b, nil)
		if _, err := s.Put(b.Context(), "large", storebench.Large(n), store.Any); err != nil {
			b.Fatal(err)
		}
		var t timer
		for b.Loop() {
			t.begin()
			if p, _, err := s.Load(b.Context(), "large"); err != nil || len(p.Rules) != n {
				b.Fatalf("Load = %d rules, %v", len(p.Rules), err)
			}
			t.end()
		}
		t.report(b)
	})
}

// BenchmarkReplaceAll puts a policy of n rules over one of n other rules
// (every action flipped), again and again.
func BenchmarkReplaceAll(b *testing.B) {
	sizes(b, func(b *testing.B, n int) {
		s := openStore(b, nil)
		ps := [2]policy.Policy{storebench.Large(n), storebench.Large(n)}
		for i := range ps[1].Rules {
			ps[1].Rules[i].Action = 3 - ps[1].Rules[i].Action
		}
		if _, err := s.Put(b.Context(), "large", ps[1], store.Any); err != nil {
			b.Fatal(err)
		}
		var t timer
		i := 0
		for b.Loop() {
			t.begin()
			if _, err := s.Put(b.Context(), "large", ps[i%2], store.Any); err != nil {
				b.Fatal(err)
			}
			t.end()
			i++
		}
		t.report(b)
	})
}

// BenchmarkSingleRuleWrite patches one rule of a policy of n rules.
func BenchmarkSingleRuleWrite(b *testing.B) {
	sizes(b, func(b *testing.B, n int) {
		s := openStore(b, nil)
		if _, err := s.Put(b.Context(), "large", storebench.Large(n), store.Any); err != nil {
			b.Fatal(err)
		}
		var t timer
		i := 0
		for b.Loop() {
			a := policy.Action(1 + i%2)
			id := fmt.Sprint("r", i*7919%n)
			t.begin()
			if _, _, err := s.PatchRule(b.Context(), "large", id, store.Patch{Action: &a}, store.Any); err != nil {
				b.Fatal(err)
			}
			t.end()
			i++
		}
		t.report(b)
	})
}
