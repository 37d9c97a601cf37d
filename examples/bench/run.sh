#!/usr/bin/env bash
# Runs the benchmark suite and writes BENCHMARKS.md (and the raw results,
# with benchstat's summary, to bench.txt and benchstat.txt).
#
#   ./run.sh            # 1k, 100k and 1M rules, COUNT=6 runs each
#   COUNT=10 ./run.sh
#   SHORT=1 ./run.sh    # 1k and 100k only
set -euo pipefail
cd "$(dirname "$0")"
count=${COUNT:-6}
short=()
[ -n "${SHORT:-}" ] && short=(-short)
binshort=()
[ -n "${SHORT:-}" ] && binshort=(-test.short)
command -v benchstat >/dev/null || GOFLAGS= go install golang.org/x/perf/cmd/benchstat@latest
export PATH=$PATH:$(go env GOPATH)/bin

go test "${short[@]}" -run TestAgreement -count 1 .
# The lookups run once per round, each round in its own process starting
# with another implementation (BENCH_ROUND), so that none is always timed
# first after the set-up or only in one stretch of the machine's noise.
go test -c -o bench.test .
{
	for round in $(seq 0 $((count - 1))); do
		BENCH_ROUND=$round ./bench.test "${binshort[@]}" -test.run '^$' -test.bench 'BenchmarkLookup' -test.benchmem -test.count 1 -test.timeout 60m
	done
	# Compiles likewise, each size in a process of its own, so that no
	# other size's workload is on the heap the garbage collector scans.
	sizes=(1k 100k 1M)
	[ -n "${SHORT:-}" ] && sizes=(1k 100k)
	for round in $(seq 0 $((count - 1))); do
		for size in "${sizes[@]}"; do
			BENCH_ROUND=$round ./bench.test -test.run '^$' -test.bench "BenchmarkCompile\$/^rules=$size\$" -test.benchmem -test.count 1 -test.timeout 60m
		done
	done
	go test "${short[@]}" -run '^$' -bench 'BenchmarkCompileWorst' -benchmem -count 5 -timeout 60m .
	go test "${short[@]}" -run '^$' -bench 'BenchmarkLiveUpdate' -benchtime 3000x -count 3 -timeout 60m .
	go test -run '^$' -bench 'BenchmarkReference' -count "$count" .
} | tee bench.txt
benchstat bench.txt > benchstat.txt
{
	go run ./cmd/report < bench.txt
	echo
	echo "Go: $(go version); cores: $(nproc)."
	echo
	echo "Exact command: \`cd examples/bench && COUNT=$count ./run.sh\`. benchstat's own summary is in \`benchstat.txt\`."
} > BENCHMARKS.md
echo "wrote BENCHMARKS.md"
