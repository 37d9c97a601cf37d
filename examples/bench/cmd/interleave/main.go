// Command interleave times lookups (and compiles) of every implementation
// in short slices back to back in one process: all tables are built once,
// each round visits the implementations in a random order, each slice
// follows an untimed warm-up, and the time is the thread's CPU time, so
// that the machine's noise falls on every implementation alike. It prints,
// per size and implementation, the median time per lookup and the median
// and interquartile range of the per-round ratio to bare bart.
//
//	go run ./cmd/interleave -sizes 1k,100k,1M,4M -rounds 40
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gaissmai/bart"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/examples/bench"
	"github.com/ipgate/ipgate/policy"
)

var sizeNames = map[string]int{"1k": 1_000, "10k": 10_000, "100k": 100_000, "1M": 1_000_000, "4M": 4_000_000}

func main() {
	sizes := flag.String("sizes", "1k,100k,1M", "comma-separated sizes (1k, 10k, 100k, 1M, 4M)")
	rounds := flag.Int("rounds", 40, "rounds of slices")
	slice := flag.Duration("slice", 30*time.Millisecond, "thread CPU time per timed slice")
	compiles := flag.Int("compiles", 5, "interleaved rounds of compile and decode timing (0: none)")
	expiring := flag.Bool("expiring", false, "also time a policy with expiries still to come (the exact-expiry path)")
	flag.BoolVar(&settle, "settle", false, "collect the heap and return it to the OS before building each table, so that all are built on the same heap state")
	flag.Parse()
	runtime.LockOSThread()
	fmt.Printf("# interleave: %s, rounds=%d slice=%s, GOMAXPROCS=%d\n", runtime.Version(), *rounds, *slice, runtime.GOMAXPROCS(0))
	for _, name := range strings.Split(*sizes, ",") {
		n, ok := sizeNames[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "interleave: unknown size %q\n", name)
			os.Exit(2)
		}
		w := bench.Generate(n, uint64(n), bench.Options{})
		var ew *bench.Workload
		if *expiring {
			e := bench.Generate(n, uint64(n), bench.Options{Expiring: true})
			ew = &e
		}
		lookups(name, w, ew, *rounds, *slice)
		if *compiles > 0 {
			compileTimes(name, w, *compiles)
			decodeTimes(name, w, *compiles)
		}
	}
}

// settle makes every table of lookups start on a collected heap whose
// free memory is returned to the OS. By default they are built one after
// another, as in a process, and the later ones land among what the earlier
// builds freed, which moves lookups at 100k rules by several percent.
var settle bool

func settleHeap() {
	if settle {
		debug.FreeOSMemory() // collects first
	}
}

type impl struct {
	name string
	f    func(netip.Addr) bool
}

func lookups(size string, w bench.Workload, ew *bench.Workload, rounds int, slice time.Duration) {
	settleHeap()
	bt := new(bart.Table[uint32])
	for i, r := range w.Policy.Rules {
		for pfx := range r.Target.Prefixes() {
			bt.Insert(pfx, uint32(i))
		}
	}
	settleHeap()
	snap, err := check.Compile(w.Policy, w.At)
	if err != nil {
		fatal(err)
	}
	settleHeap()
	c, err := check.NewChecker(w.Policy, &check.Options{Now: func() time.Time { return w.At }})
	if err != nil {
		fatal(err)
	}
	impls := []impl{
		{"bart", func(a netip.Addr) bool { _, ok := bt.Lookup(a); return ok }},
		{"snapshot", func(a netip.Addr) bool { return snap.Check(check.Request{Addr: a}).Allowed }},
		{"checker", func(a netip.Addr) bool { return c.Check(check.Request{Addr: a}).Allowed }},
	}
	if ew != nil {
		// Expiries still to come: a request with a zero instant reads the
		// clock.
		es, err := check.Compile(ew.Policy, time.Now())
		if err != nil {
			fatal(err)
		}
		ec, err := check.NewChecker(ew.Policy, nil)
		if err != nil {
			fatal(err)
		}
		impls = append(impls,
			impl{"snapshot-expiring", func(a netip.Addr) bool { return es.Check(check.Request{Addr: a}).Allowed }},
			impl{"checker-expiring", func(a netip.Addr) bool { return ec.Check(check.Request{Addr: a}).Allowed }})
	}
	qs := w.Queries
	ns := make([][]float64, len(impls))
	rng := rand.New(rand.NewPCG(1, 2))
	pos := 0
	run := func(f func(netip.Addr) bool, d time.Duration) float64 {
		start := threadCPU()
		ops := 0
		sink := false
		for time.Duration(threadCPU()-start) < d {
			for range 1024 {
				sink = sink != f(qs[pos&(len(qs)-1)])
				pos++
			}
			ops += 1024
		}
		_ = sink
		return float64(threadCPU()-start) / float64(ops)
	}
	order := make([]int, len(impls))
	for i := range order {
		order[i] = i
	}
	for range rounds {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			run(impls[i].f, slice/6) // warm-up
			ns[i] = append(ns[i], run(impls[i].f, slice))
		}
	}
	for i, im := range impls {
		ratios := make([]float64, rounds)
		for r := range rounds {
			ratios[r] = ns[i][r] / ns[0][r]
		}
		q1, med, q3 := quartiles(ratios)
		fmt.Printf("lookup rules=%s %-18s %8.1f ns  ratio %.3f  IQR %.3f-%.3f\n", size, im.name, median(ns[i]), med, q1, q3)
	}
}

func compileTimes(size string, w bench.Workload, rounds int) {
	type result struct{ ns, heap []float64 }
	var bartR, snapR result
	for r := range rounds {
		steps := []func(){
			func() {
				t, h := measure(func() any {
					bt := new(bart.Table[uint32])
					for i, r := range w.Policy.Rules {
						for pfx := range r.Target.Prefixes() {
							bt.Insert(pfx, uint32(i))
						}
					}
					return bt
				})
				bartR.ns, bartR.heap = append(bartR.ns, t), append(bartR.heap, h)
			},
			func() {
				t, h := measure(func() any {
					s, err := check.Compile(w.Policy, w.At)
					if err != nil {
						fatal(err)
					}
					return s
				})
				snapR.ns, snapR.heap = append(snapR.ns, t), append(snapR.heap, h)
			},
		}
		if r%2 == 1 {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, s := range steps {
			s()
		}
	}
	n := float64(len(w.Policy.Rules))
	ratios := make([]float64, rounds)
	for r := range ratios {
		ratios[r] = snapR.ns[r] / bartR.ns[r]
	}
	q1, med, q3 := quartiles(ratios)
	fmt.Printf("compile rules=%s bart %.0f ns/rule, Compile %.0f ns/rule, ratio %.3f IQR %.3f-%.3f\n",
		size, median(bartR.ns)/n, median(snapR.ns)/n, med, q1, q3)
	fmt.Printf("heap rules=%s bart %.0f B/rule, Snapshot %.0f B/rule, ratio %.2f\n",
		size, median(bartR.heap)/n, median(snapR.heap)/n, median(snapR.heap)/median(bartR.heap))
}

// plainRule is a rule document decoded by encoding/json into plain
// fields, with no validation: the floor for a decoder of this schema.
type plainRule struct {
	ID        string     `json:"id"`
	IP        string     `json:"ip"`
	From      string     `json:"from"`
	To        string     `json:"to"`
	Action    string     `json:"action"`
	AdminOnly bool       `json:"adminOnly"`
	CreatedAt *time.Time `json:"createdAt"`
	UpdatedAt *time.Time `json:"updatedAt"`
	TTL       *int64     `json:"ttl"`
	ExpiresAt *time.Time `json:"expiresAt"`
	Comment   string     `json:"comment"`
}

type plainPolicy struct {
	Enabled       *bool       `json:"enabled"`
	DefaultAction string      `json:"defaultAction"`
	Precedence    string      `json:"precedence"`
	ApplyToMobile *bool       `json:"applyToMobile"`
	Rules         []plainRule `json:"rules"`
}

// decodeTimes times policy.Decode against encoding/json decoding the same
// document into plain structs, in alternating rounds.
func decodeTimes(size string, w bench.Workload, rounds int) {
	doc, err := w.Policy.MarshalJSON()
	if err != nil {
		fatal(err)
	}
	var ours, std []float64
	for r := range rounds {
		steps := []func(){
			func() {
				t, _ := measure(func() any {
					p, err := policy.Decode(doc)
					if err != nil {
						fatal(err)
					}
					return p
				})
				ours = append(ours, t)
			},
			func() {
				t, _ := measure(func() any {
					var p plainPolicy
					if err := json.Unmarshal(doc, &p); err != nil {
						fatal(err)
					}
					return p
				})
				std = append(std, t)
			},
		}
		if r%2 == 1 {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, s := range steps {
			s()
		}
	}
	ratios := make([]float64, rounds)
	for r := range ratios {
		ratios[r] = ours[r] / std[r]
	}
	q1, med, q3 := quartiles(ratios)
	fmt.Printf("decode rules=%s %d bytes: policy.Decode %.0f ms, encoding/json %.0f ms, ratio %.3f IQR %.3f-%.3f\n",
		size, len(doc), median(ours)/1e6, median(std)/1e6, med, q1, q3)
	freshDecode(size, doc)
}

// freshDecode times policy.Decode of doc once on memory just returned to
// the OS, as the first decode of a process finds it: the kernel then
// faults in every page the policy takes. It prints the wall time, and the
// system CPU time and page faults the decode cost.
func freshDecode(size string, doc []byte) {
	runtime.GC()
	debug.FreeOSMemory()
	faults0, sys0 := faults()
	start := time.Now()
	p, err := policy.Decode(doc)
	wall := time.Since(start)
	faults1, sys1 := faults()
	if err != nil {
		fatal(err)
	}
	runtime.KeepAlive(p)
	fmt.Printf("decode rules=%s fresh memory: policy.Decode %.0f ms, of which system %.0f ms, %d page faults\n",
		size, float64(wall)/1e6, float64(sys1-sys0)/1e6, faults1-faults0)
}

// measure returns the wall time build takes and the heap its result
// retains. The heap is collected first but not returned to the OS, as in a
// process that has run for a while: see freshDecode for the first decode
// of a process.
func measure(build func() any) (ns, heap float64) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	v := build()
	ns = float64(time.Since(start))
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return ns, float64(after.HeapAlloc) - float64(before.HeapAlloc)
}

func median(x []float64) float64 { _, m, _ := quartiles(x); return m }

func quartiles(x []float64) (q1, med, q3 float64) {
	s := slices.Clone(x)
	slices.Sort(s)
	at := func(f float64) float64 { return s[int(f*float64(len(s)-1)+0.5)] }
	return at(0.25), at(0.5), at(0.75)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "interleave:", err)
	os.Exit(1)
}
