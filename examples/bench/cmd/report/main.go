// Command report reads `go test -bench` output of the ipgate benchmark
// suite on standard input and writes BENCHMARKS.md to standard output:
// medians per benchmark, ratios to bare bart, and the targets met or
// missed.
package main

import (
	"bufio"
	"cmp"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// results maps a benchmark name (without the -N suffix) to its metrics,
// each with every value seen.
type results map[string]map[string][]float64

var line = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

func main() {
	res := results{}
	var header []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		t := sc.Text()
		for _, k := range []string{"goos:", "goarch:", "cpu:"} {
			if strings.HasPrefix(t, k) && !slices.Contains(header, t) {
				header = append(header, t)
			}
		}
		m := line.FindStringSubmatch(t)
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			if res[m[1]] == nil {
				res[m[1]] = map[string][]float64{}
			}
			res[m[1]][f[i+1]] = append(res[m[1]][f[i+1]], v)
		}
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	report(w, res, header)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r results) get(name, metric string) (float64, bool) {
	v, ok := r[name][metric]
	return median(v), ok && len(v) > 0
}

func report(w *bufio.Writer, r results, header []string) {
	fmt.Fprintln(w, "# ipgate benchmarks")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Written by `examples/bench/run.sh`; every number is the median of the runs in one invocation,")
	fmt.Fprintln(w, "and every ratio is to bare `bart.Table.Lookup` over the same prefixes in the same run.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Machine:")
	fmt.Fprintln(w)
	for _, h := range header {
		fmt.Fprintln(w, "    "+h)
	}
	fmt.Fprintln(w)
	var targets []string
	check := func(ok bool, format string, args ...any) {
		mark := "met"
		if !ok {
			mark = "**missed**"
		}
		targets = append(targets, fmt.Sprintf("- %s: %s", mark, fmt.Sprintf(format, args...)))
	}
	for _, size := range []string{"1k", "100k", "1M"} {
		base := "BenchmarkLookup/rules=" + size + "/impl="
		floor, ok := r.get(base+"bart", "ns/op")
		if !ok {
			continue
		}
		fmt.Fprintf(w, "## %s rules\n\n", size)
		fmt.Fprintln(w, "| impl | ns/op | ratio to bart | allocs/op | parallel ns/op | parallel speed-up |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|")
		var names []string
		for name := range r {
			if strings.HasPrefix(name, base) && !strings.HasSuffix(name, "/parallel") {
				names = append(names, strings.TrimPrefix(name, base))
			}
		}
		slices.SortFunc(names, func(a, b string) int {
			x, _ := r.get(base+a, "ns/op")
			y, _ := r.get(base+b, "ns/op")
			return cmp.Compare(x, y)
		})
		for _, impl := range names {
			ns, _ := r.get(base+impl, "ns/op")
			allocs, _ := r.get(base+impl, "allocs/op")
			par, pok := r.get(base+impl+"/parallel", "ns/op")
			ps, sp := "", ""
			if pok {
				ps, sp = fmt.Sprintf("%.1f", par), fmt.Sprintf("%.2fx", ns/par)
			}
			fmt.Fprintf(w, "| %s | %.1f | %.2fx | %.0f | %s | %s |\n", impl, ns, ns/floor, allocs, ps, sp)
		}
		fmt.Fprintln(w)
		if s, ok := r.get(base+"ipgate-snapshot", "ns/op"); ok {
			check(s/floor <= 1.10, "`Snapshot.Check` at %s rules is %.2fx bart (target 1.10x)", size, s/floor)
		}
		if c, ok := r.get(base+"ipgate-checker", "ns/op"); ok {
			check(c/floor <= 1.15, "`Checker.Check` at %s rules is %.2fx bart (target 1.15x)", size, c/floor)
			if p, ok := r.get(base+"ipgate-checker/parallel", "ns/op"); ok {
				check(c/p >= 1.8, "`Checker.Check` on 2 cores at %s rules runs %.2fx the serial throughput (target 1.8x)", size, c/p)
			}
		}
		one := "BenchmarkLookupOneAction/rules=" + size + "/impl="
		if s, ok := r.get(one+"ipgate-snapshot", "ns/op"); ok {
			b, _ := r.get(one+"bart", "ns/op")
			l, _ := r.get(one+"bart-lite", "ns/op")
			fmt.Fprintf(w, "One action (a pure denylist): `Snapshot.Check` %.1f ns (%.2fx bart), bart %.1f ns, bart.Lite %.1f ns.\n\n",
				s, s/b, b, l)
		}
		comp := "BenchmarkCompile/rules=" + size + "/impl="
		if ic, ok := r.get(comp+"ipgate", "ns/rule"); ok {
			bc, _ := r.get(comp+"bart", "ns/rule")
			ih, _ := r.get(comp+"ipgate", "heap-B/rule")
			bh, _ := r.get(comp+"bart", "heap-B/rule")
			fmt.Fprintf(w, "Compile: ipgate %.0f ns/rule, bart %.0f ns/rule (%.2fx); retained heap: ipgate %.0f B/rule, bart %.0f B/rule (%.2fx).\n\n",
				ic, bc, ic/bc, ih, bh, ih/bh)
			check(ic/bc <= 2, "compile at %s rules is %.2fx bart's build time per rule (target 2x)", size, ic/bc)
			check(ih/bh <= 2, "retained heap at %s rules is %.2fx bart.Table's (target 2x)", size, ih/bh)
		}
		live := "BenchmarkLiveUpdate/rules=" + size
		if p50, ok := r.get(live, "p50-µs"); ok {
			p99, _ := r.get(live, "p99-µs")
			fmt.Fprintf(w, "Live update of one rule in a running Checker: median %.1f µs, p99 %.1f µs.\n\n", p50, p99)
			if size == "1M" {
				check(p50 <= 100 && p99 <= 1000, "one-rule live update at 1M rules: median %.1f µs (target 100), p99 %.1f µs (target 1000)", p50, p99)
			}
		}
	}
	fmt.Fprintln(w, "## Reference costs")
	fmt.Fprintln(w)
	for _, op := range []string{"time.Now", "atomic.Pointer.Load"} {
		if ns, ok := r.get("BenchmarkReference/op="+op, "ns/op"); ok {
			fmt.Fprintf(w, "- `%s`: %.2f ns\n", op, ns)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Targets")
	fmt.Fprintln(w)
	for _, t := range targets {
		fmt.Fprintln(w, t)
	}
}
