#!/usr/bin/env bash
# Profiles what the targets missed in BENCHMARKS.md are made of and writes
# PROFILES.md: compile at 1k and 100k rules, and Snapshot.Check at 1M rules.
#
#   ./profile.sh
set -euo pipefail
cd "$(dirname "$0")"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/bench.test" .
profile() { # name, benchmark, benchtime, pprof focus
	"$dir/bench.test" -test.run '^$' -test.bench "$2" -test.benchtime "$3" -test.benchmem \
		-test.cpuprofile "$dir/$1.prof" | grep '^Benchmark' || true
	echo
	echo '```'
	go tool pprof -top -cum -nodecount 30 ${4:+-focus "$4"} "$dir/bench.test" "$dir/$1.prof" 2>/dev/null |
		sed -n '/flat%/,$p'
	echo '```'
}
{
	echo "# Profiles"
	echo
	echo "Written by \`examples/bench/profile.sh\` ($(go version | cut -d' ' -f3), $(nproc) cores). CPU"
	echo "profiles (cumulative, focused on the code timed) of the benchmarks whose targets BENCHMARKS.md reports missed; the reading is in README.md."
	echo
	echo "## Compile, 100k rules (the compile function and what it calls)"
	echo
	profile compile100k 'BenchmarkCompile$/rules=100k/impl=ipgate' 20x 'check\.compile'
	echo
	echo "## Compile, 1k rules"
	echo
	profile compile1k 'BenchmarkCompile$/rules=1k/impl=ipgate' 2000x 'check\.compile'
	echo
	echo "## Snapshot.Check, 1M rules"
	echo
	profile check1M 'BenchmarkLookup$/rules=1M/impl=ipgate-snapshot$' 3s 'Snapshot\)\.Check'
} > PROFILES.md
echo "wrote PROFILES.md"
