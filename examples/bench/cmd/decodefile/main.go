//go:build unix

// Command decodefile times the first decode of a policy document in a
// process of its own, as a service starting up meets it: the time, the
// kernel's share of it, the page faults and the peak resident memory.
//
//	go run ./cmd/decodefile -write /tmp/1m.json -rules 1000000   # once
//	go run ./cmd/decodefile /tmp/1m.json                          # streamed by policy.DecodeReader
//	go run ./cmd/decodefile -whole /tmp/1m.json                   # os.ReadFile, then policy.Decode
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/ipgate/ipgate/examples/bench"
	"github.com/ipgate/ipgate/policy"
)

func main() {
	write := flag.String("write", "", "write the workload's policy document to this file and exit")
	rules := flag.Int("rules", 1_000_000, "rules in the document -write writes")
	whole := flag.Bool("whole", false, "read the file whole, then decode it, instead of streaming it")
	flag.Parse()
	if *write != "" {
		b, err := json.Marshal(bench.Generate(*rules, 1, bench.Options{}).Policy)
		if err == nil {
			err = os.WriteFile(*write, b, 0o644)
		}
		check(err)
		return
	}
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: decodefile [-whole] file | decodefile -write file [-rules n]")
		os.Exit(2)
	}
	var before, after syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &before))
	start := time.Now()
	p, err := decode(flag.Arg(0), *whole)
	took := time.Since(start)
	check(err)
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &after))
	sys := time.Duration(after.Stime.Nano() - before.Stime.Nano())
	fmt.Printf("%d rules in %v, of which system %v, %d page faults, peak RSS %d MB\n",
		len(p.Rules), took.Round(time.Millisecond), sys.Round(time.Millisecond),
		after.Minflt-before.Minflt, maxRSS(after)>>20)
}

func decode(name string, whole bool) (policy.Policy, error) {
	if whole {
		b, err := os.ReadFile(name)
		if err != nil {
			return policy.Policy{}, err
		}
		return policy.Decode(b)
	}
	f, err := os.Open(name)
	if err != nil {
		return policy.Policy{}, err
	}
	defer f.Close()
	return policy.DecodeReader(f)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "decodefile:", err)
		os.Exit(1)
	}
}
