package check

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRadixSort checks the radix sort against a comparison sort, on
// prefixes that share many bytes, of both families, with repeats. The
// order among the entries of one prefix is sortEntries' to fix.
func TestRadixSort(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 31, 32, 33, 100, 5000, 70_000} {
		for _, v6 := range []int{0, 1, 3, 4} { // none, a quarter, three quarters, all
			all := randomEntries(rng, n, v6)
			want := slices.Clone(all)
			slices.SortStableFunc(want, entry.compare)
			radixSort(all)
			if !slices.IsSortedFunc(all, entry.compare) {
				t.Fatalf("n=%d v6=%d/4: radix sort left entries out of order", n, v6)
			}
			// The same entries, whatever order those of one prefix took.
			byRule := func(a, b entry) int { return cmp.Or(a.compare(b), cmp.Compare(a.rule, b.rule)) }
			if got := slices.SortedFunc(slices.Values(all), byRule); !slices.Equal(got, slices.SortedFunc(slices.Values(want), byRule)) {
				t.Fatalf("n=%d v6=%d/4: radix sort lost or changed entries", n, v6)
			}
			// Then the rules of one prefix, by the order given.
			sortEntries(all, func(a, b uint32) bool { return a > b })
			for i := 1; i < len(all); i++ {
				if c := all[i-1].compare(all[i]); c > 0 || c == 0 && all[i-1].rule < all[i].rule {
					t.Fatalf("n=%d v6=%d/4: entries %d and %d out of order: %+v %+v", n, v6, i-1, i, all[i-1], all[i])
				}
			}
		}
	}
}

// randomEntries returns n entries, v6 in 4 of them IPv6, that share many
// bytes, with repeats.
func randomEntries(rng *rand.Rand, n, v6 int) []entry {
	all := make([]entry, n)
	for i := range all {
		e := entry{lo: 0xffff<<32 | uint64(rng.Uint32()&0xff00ff00), fb: uint16(rng.IntN(33))}
		if rng.IntN(4) < v6 {
			e = entry{hi: rng.Uint64() & 0x2001_0db8_ffff_0000, lo: uint64(rng.IntN(3)), fb: 1<<8 | uint16(rng.IntN(129))}
		}
		if i > 0 && rng.IntN(8) == 0 {
			e = all[rng.IntN(i)]
		}
		e.rule = uint32(i)
		all[i] = e
	}
	return all
}

// BenchmarkRadixSort sorts the entries of a compile of about 100k rules,
// a seventh of them IPv6, as in the bench suite's workload.
func BenchmarkRadixSort(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := randomEntries(rng, 133_000, 0)
	for i := range src {
		if rng.IntN(7) == 0 {
			src[i] = entry{hi: rng.Uint64() & 0x2001_0db8_ffff_0000, fb: 1<<8 | uint16(32+rng.IntN(33)), rule: uint32(i)}
		}
	}
	all := make([]entry, len(src))
	b.ReportAllocs()
	for b.Loop() {
		copy(all, src)
		radixSort(all)
	}
}
