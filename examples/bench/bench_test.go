package bench

import (
	"fmt"
	"iter"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gaissmai/bart"

	"github.com/ipgate/ipgate/check"
)

var sizes = []struct {
	name string
	n    int
}{{"1k", 1_000}, {"100k", 100_000}, {"1M", 1_000_000}}

var (
	workMu sync.Mutex
	works  = map[string]Workload{}
)

// work returns the cached workload of n rules.
func work(n int, o Options) Workload {
	workMu.Lock()
	defer workMu.Unlock()
	key := fmt.Sprint(n, o)
	w, ok := works[key]
	if !ok {
		w = Generate(n, uint64(n), o)
		works[key] = w
	}
	return w
}

func skipLarge(b testing.TB, n int) {
	if testing.Short() && n > 100_000 {
		b.Skip("1M rules: not in -short mode")
	}
}

const mask = 1<<20 - 1

// TestAgreement checks, before any timing, that every peer that can
// express the workload (prefix rules, longest match) gives ipgate's
// decisions on every query.
func TestAgreement(t *testing.T) {
	for _, size := range sizes[:2] {
		for _, o := range []Options{{PrefixOnly: true}, {PrefixOnly: true, OneAction: true}} {
			w := work(size.n, o)
			snap, err := check.Compile(w.Policy, w.At)
			if err != nil {
				t.Fatal(err)
			}
			peers := map[string]func(netip.Addr) bool{
				"bart":   NewBartTable(w.Policy).Allowed,
				"ipset":  NewIPSet(w.Policy).Allowed,
				"ranger": NewRanger(w.Policy).Allowed,
				"linear": NewLinear(w.Policy).Allowed,
			}
			if o.OneAction {
				peers["bart-lite"] = NewBartLite(w.Policy).Allowed
			}
			for name, allowed := range peers {
				queries := w.Queries[:1<<16]
				if name == "linear" {
					queries = queries[:1<<19/size.n*1000/512] // the linear scan is slow
				}
				bad := 0
				for _, q := range queries {
					want := snap.Check(check.Request{Addr: q}).Allowed
					if got := allowed(q); got != want {
						if bad++; bad < 5 {
							t.Errorf("rules=%s %+v: %s says %v for %v, ipgate %v", size.name, o, name, got, q, want)
						}
					}
				}
			}
		}
	}
}

// sink and psink keep results alive.
var (
	sink  bool
	psink atomic.Bool
)

func BenchmarkLookup(b *testing.B) {
	for _, size := range sizes {
		b.Run("rules="+size.name, func(b *testing.B) {
			skipLarge(b, size.n)
			w := work(size.n, Options{})
			qs := w.Queries
			snap, err := check.Compile(w.Policy, w.At)
			if err != nil {
				b.Fatal(err)
			}
			c, err := check.NewChecker(w.Policy, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			bt := NewBartTable(w.Policy)
			var lite bart.Lite
			for _, p := range prefixes(w.Policy) {
				lite.Insert(p)
			}
			impls := []impl{
				{"ipgate-snapshot", func(a netip.Addr) bool { return snap.Check(check.Request{Addr: a}).Allowed }},
				{"ipgate-checker", func(a netip.Addr) bool { return c.Check(check.Request{Addr: a}).Allowed }},
				{"bart", func(a netip.Addr) bool { v, _ := bt.T.Lookup(a); return v }},
				{"bart-lite", lite.Lookup},
			}
			// The same kind of policy with expiries still to come: each
			// request with a zero instant reads the clock (exact expiry).
			ew := work(size.n, Options{Expiring: true})
			esnap, err := check.Compile(ew.Policy, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			ec, err := check.NewChecker(ew.Policy, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer ec.Close()
			impls = append(impls,
				impl{"ipgate-snapshot-expiring", func(a netip.Addr) bool { return esnap.Check(check.Request{Addr: a}).Allowed }},
				impl{"ipgate-checker-expiring", func(a netip.Addr) bool { return ec.Check(check.Request{Addr: a}).Allowed }})
			// The peers that hold no rule ids, on the same queries.
			for _, peer := range []struct {
				name  string
				build func() func(netip.Addr) bool
				max   int
			}{
				{"netipx-ipset", func() func(netip.Addr) bool { return NewIPSet(w.Policy).Allowed }, 1_000_000},
				{"cidranger", func() func(netip.Addr) bool { return NewRanger(w.Policy).Allowed }, 1_000_000},
				{"linear", func() func(netip.Addr) bool { return NewLinear(w.Policy).Allowed }, 100_000},
			} {
				if size.n <= peer.max {
					impls = append(impls, impl{peer.name, peer.build()})
				}
			}
			runImpls(b, impls, qs)
		})
	}
}

// impl is one implementation's answer to "is this address allowed?".
type impl struct {
	name    string
	allowed func(netip.Addr) bool
}

// runImpls times every impl on the queries, serially and with
// b.RunParallel, starting with the impl at $BENCH_ROUND (modulo their
// number): run.sh runs the suite once per round with a new start, so that
// no impl is always the first one timed after the set-up, nor timed only in
// one stretch of this shared machine's noise.
//
// Every impl is called through a func value, the floor included, so that
// all pay the same call cost.
func runImpls(b *testing.B, impls []impl, qs []netip.Addr) {
	for im := range inRoundOrder(impls) {
		b.Run("impl="+im.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				sink = im.allowed(qs[i&mask])
			}
		})
		b.Run("impl="+im.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				// A local result, stored once: goroutines writing one
				// shared variable per call would time its cache line.
				var x bool
				for i := 0; pb.Next(); i++ {
					x = x != im.allowed(qs[i&mask])
				}
				psink.Store(x)
			})
		})
	}
}

// inRoundOrder yields the elements of s starting with the one at
// $BENCH_ROUND, modulo len(s).
func inRoundOrder[T any](s []T) iter.Seq[T] {
	round, _ := strconv.Atoi(os.Getenv("BENCH_ROUND"))
	return func(yield func(T) bool) {
		for k := range s {
			if !yield(s[(k+round)%len(s)]) {
				return
			}
		}
	}
}

// BenchmarkLookupOneAction is a pure denylist: ipgate's Snapshot.Check
// against a bart.Lite membership table, which needs no rule ids.
func BenchmarkLookupOneAction(b *testing.B) {
	for _, size := range sizes {
		b.Run("rules="+size.name, func(b *testing.B) {
			skipLarge(b, size.n)
			w := work(size.n, Options{OneAction: true})
			qs := w.Queries
			snap, _ := check.Compile(w.Policy, w.At)
			bt := NewBartTable(w.Policy)
			lite := NewBartLite(w.Policy)
			runImpls(b, []impl{
				{"ipgate-snapshot", func(a netip.Addr) bool { return snap.Check(check.Request{Addr: a}).Allowed }},
				{"bart", func(a netip.Addr) bool { v, _ := bt.T.Lookup(a); return v }},
				{"bart-lite", lite.L.Lookup},
			}, qs)
		})
	}
}

// heapOf reports the heap retained by what build returns.
func heapOf(build func() any) uint64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(v)
	return m1.HeapAlloc - m0.HeapAlloc
}

// BenchmarkCompile measures building each structure from the policy, and
// reports the heap it retains per rule. Like the lookups, run.sh runs it
// once per round and size, each in its own process, starting with another
// implementation.
func BenchmarkCompile(b *testing.B) {
	type build struct {
		name  string
		build func() any
	}
	for _, size := range sizes {
		b.Run("rules="+size.name, func(b *testing.B) {
			skipLarge(b, size.n)
			w := work(size.n, Options{})
			for impl := range inRoundOrder([]build{
				{"ipgate", func() any { s, _ := check.Compile(w.Policy, w.At); return s }},
				{"bart", func() any { return NewBartTable(w.Policy) }},
			}) {
				b.Run("impl="+impl.name, func(b *testing.B) {
					heap := heapOf(impl.build)
					b.ReportAllocs()
					for b.Loop() {
						impl.build()
					}
					b.ReportMetric(float64(heap)/float64(size.n), "heap-B/rule")
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size.n), "ns/rule")
				})
			}
		})
	}
}

// BenchmarkReference times what a decision is compared with: reading the
// clock and loading an atomic pointer.
func BenchmarkReference(b *testing.B) {
	b.Run("op=time.Now", func(b *testing.B) {
		var t time.Time
		for b.Loop() {
			t = time.Now()
		}
		sink = t.IsZero()
	})
	b.Run("op=atomic.Pointer.Load", func(b *testing.B) {
		var p atomic.Pointer[int]
		p.Store(new(int))
		for b.Loop() {
			sink = p.Load() == nil
		}
	})
}
