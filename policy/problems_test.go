package policy

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestIDHashes checks the duplicate ids found against a map, for lists
// long enough for the radix sort and short enough for the comparison one.
func TestIDHashes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 100, 1 << 12, 70_000} {
		for _, dupEvery := range []int{0, 2, 500} {
			ids := make([]string, n)
			for i := range ids {
				ids[i] = "r" + strconv.Itoa(rng.IntN(1<<40))
				switch {
				case i > 0 && dupEvery > 0 && rng.IntN(dupEvery) == 0:
					ids[i] = ids[rng.IntN(i)]
				case i%997 == 5:
					ids[i] = "" // empty ids are reported as empty, not as duplicates
				}
			}
			h := newIDHashes(n)
			for _, id := range ids {
				h.add(id)
			}
			got, _ := h.duplicates(func(i int) string { return ids[i] })
			var want []int
			first := make(map[string]bool)
			for i, id := range ids {
				if id != "" && first[id] {
					want = append(want, i)
				}
				first[id] = true
			}
			if !slices.Equal(got, want) {
				t.Errorf("n=%d dupEvery=%d: duplicates = %d indices, want %d", n, dupEvery, len(got), len(want))
			}
		}
	}
}
