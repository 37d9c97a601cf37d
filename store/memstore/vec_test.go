package memstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ipgate/ipgate/policy"
)

// TestVec compares the trie with a slice: every set, append and walk, and
// every older version kept unchanged by later writes.
func TestVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	steps := 20_000
	if testing.Short() {
		steps = 3000
	}
	var v vec
	var ref []policy.Rule
	type version struct {
		v   vec
		ref []policy.Rule
	}
	var kept []version
	for i := range steps {
		r := policy.Rule{ID: fmt.Sprint("r", i)}
		if rng.IntN(8) == 0 {
			r.ID = "" // an empty slot
		}
		if len(ref) == 0 || rng.IntN(3) == 0 {
			v, ref = v.set(len(ref), r), append(ref, r)
		} else {
			j := rng.IntN(len(ref))
			v = v.set(j, r)
			ref[j] = r
		}
		if i%(steps/40) == 0 {
			kept = append(kept, version{v, slices.Clone(ref)})
		}
		if i%(steps/7) == 0 {
			kept = append(kept, version{build(ref), slices.Clone(ref)})
		}
	}
	kept = append(kept, version{v, ref})
	for _, k := range kept {
		var want, got []string
		for _, r := range k.ref {
			if r.ID != "" {
				want = append(want, r.ID)
			}
		}
		for r := range k.v.all {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, want) || k.v.n != len(k.ref) {
			t.Fatalf("version of %d slots walks %d rules, want %d", k.v.n, len(got), len(want))
		}
		for j := range k.ref {
			if k.v.get(j).ID != k.ref[j].ID {
				t.Fatalf("get(%d) = %q, want %q", j, k.v.get(j).ID, k.ref[j].ID)
			}
		}
	}
}
