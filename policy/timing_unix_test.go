//go:build unix

package policy_test

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
)

// cpuNow returns the CPU time the process has used, garbage collection
// included.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestDecodeTiming times Decode, DecodeReader and encoding/json (into plain
// structs) on the same documents, in slices back to back in one process:
// each round runs every implementation once in a random order, after an
// untimed collection and warm-up, and measures process CPU time, so that
// the ratios hold on a loaded machine. It logs medians and quartiles. Set
// IPGATE_DECODE_TIMING=1 (and optionally IPGATE_DECODE_SIZES=1000,1000000
// and IPGATE_DECODE_ROUNDS) to run it, with -v.
func TestDecodeTiming(t *testing.T) {
	if os.Getenv("IPGATE_DECODE_TIMING") == "" {
		t.Skip("set IPGATE_DECODE_TIMING=1 to time decoding against encoding/json")
	}
	sizes := []int{1000, 100000, 1000000}
	if s := os.Getenv("IPGATE_DECODE_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	rounds := 15
	if s := os.Getenv("IPGATE_DECODE_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	type impl struct {
		name string
		run  func(doc []byte) int
	}
	impls := []impl{
		{"Decode", func(doc []byte) int {
			p, err := policy.Decode(doc)
			if err != nil {
				t.Fatal(err)
			}
			return len(p.Rules)
		}},
		{"DecodeReader", func(doc []byte) int {
			p, err := policy.DecodeReader(struct{ io.Reader }{bytes.NewReader(doc)}) // a stream: no seeking
			if err != nil {
				t.Fatal(err)
			}
			return len(p.Rules)
		}},
		{"DecodeReader/seek", func(doc []byte) int {
			p, err := policy.DecodeReader(bytes.NewReader(doc)) // counted first, as a file is
			if err != nil {
				t.Fatal(err)
			}
			return len(p.Rules)
		}},
		{"encoding/json", func(doc []byte) int {
			var p plainDoc
			if err := json.Unmarshal(doc, &p); err != nil {
				t.Fatal(err)
			}
			return len(p.Rules)
		}},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range sizes {
		doc := benchDoc(n)
		ops := max(1, 100000/n) // per slice, so that a slice lasts tens of ms
		cpu := make([][]float64, len(impls))
		wall := make([][]float64, len(impls))
		for range rounds {
			for _, i := range rng.Perm(len(impls)) {
				im := impls[i]
				runtime.GC()
				im.run(doc) // warm-up
				runtime.GC()
				c0, w0 := cpuNow(), time.Now()
				for range ops {
					if got := im.run(doc); got != n {
						t.Fatalf("%s decoded %d rules, want %d", im.name, got, n)
					}
				}
				cpu[i] = append(cpu[i], float64(cpuNow()-c0)/float64(ops))
				wall[i] = append(wall[i], float64(time.Since(w0))/float64(ops))
			}
		}
		t.Logf("%d rules, %d bytes, %d rounds of %d ops:", n, len(doc), rounds, ops)
		for i, im := range impls {
			q := quartiles(cpu[i])
			t.Logf("  %-14s CPU %8.2f ms [%.2f, %.2f]  wall %8.2f ms", im.name, q[1]/1e6, q[0]/1e6, q[2]/1e6, quartiles(wall[i])[1]/1e6)
		}
		for i := range impls[:len(impls)-1] {
			ratio := make([]float64, rounds)
			for r := range ratio {
				ratio[r] = cpu[i][r] / cpu[len(impls)-1][r]
			}
			q := quartiles(ratio)
			t.Logf("  %s / encoding/json: %.2fx [%.2f, %.2f]", impls[i].name, q[1], q[0], q[2])
		}
	}
}

// quartiles returns the first quartile, the median and the third quartile.
func quartiles(v []float64) [3]float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	at := func(f float64) float64 { return s[int(f*float64(len(s)-1)+0.5)] }
	return [3]float64{at(0.25), at(0.5), at(0.75)}
}

// TestDecodePeakMemory reports the peak resident memory of decoding the
// document in the file IPGATE_DECODE_FILE with IPGATE_DECODE_IMPL (Decode,
// which reads the file whole first, DecodeReader or encoding/json), for
// one process per implementation. With IPGATE_DECODE_WRITE=n it writes a
// document of n rules to that file instead.
func TestDecodePeakMemory(t *testing.T) {
	name := os.Getenv("IPGATE_DECODE_FILE")
	if name == "" {
		t.Skip("set IPGATE_DECODE_FILE (and IPGATE_DECODE_WRITE or IPGATE_DECODE_IMPL)")
	}
	if s := os.Getenv("IPGATE_DECODE_WRITE"); s != "" {
		n, _ := strconv.Atoi(s)
		if err := os.WriteFile(name, benchDoc(n), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	var rules int
	switch impl := os.Getenv("IPGATE_DECODE_IMPL"); impl {
	case "Decode":
		doc, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := policy.Decode(doc)
		if err != nil {
			t.Fatal(err)
		}
		rules = len(p.Rules)
	case "DecodeReader":
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		p, err := policy.DecodeReader(f)
		if err != nil {
			t.Fatal(err)
		}
		rules = len(p.Rules)
	default:
		doc, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var p plainDoc
		if err := json.Unmarshal(doc, &p); err != nil {
			t.Fatal(err)
		}
		rules = len(p.Rules)
	}
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			t.Logf("%d rules: peak %s", rules, strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")))
		}
	}
}
