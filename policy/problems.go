package policy

import (
	"errors"
	"hash/maphash"
	"slices"
	"strconv"
)

// maxProblems is how many problems [Policy.Validate] and [Decode] report
// before they only count the rest.
const maxProblems = 100

// The place of a problem among those of one rule: those found while
// decoding come first, then the id's, then the rest.
const (
	phaseBeforeID = iota
	phaseID
	phaseAfterID
)

// problems collects the first maxProblems errors, in the order of their
// keys (rule index and phase), and counts the rest. Duplicate ids, found
// only once every rule has been seen, are merged in at the end.
type problems struct {
	errs []error
	keys []int // 4*index + phase; -1 for a settings error
	more int
}

func (ps *problems) add(i, phase int, id string, err error) {
	ps.addKeyed(4*i+phase, &RuleError{Index: i, ID: id, Err: err})
}

func (ps *problems) addErr(err error) { ps.addKeyed(-1, err) }

func (ps *problems) addKeyed(key int, err error) {
	if len(ps.errs) < maxProblems {
		ps.errs = append(ps.errs, err)
		ps.keys = append(ps.keys, key)
	} else {
		ps.more++
	}
}

// addDuplicates merges in ErrDuplicateID for each rule in dups (indices in
// increasing order, with their ids).
func (ps *problems) addDuplicates(dups []int, idOf func(int) string) {
	if len(dups) == 0 {
		return
	}
	total := len(ps.errs) + ps.more + len(dups)
	var errs []error
	var keys []int
	k := 0
	for _, i := range dups {
		key := 4*i + phaseID
		for k < len(ps.errs) && ps.keys[k] < key && len(errs) < maxProblems {
			errs, keys = append(errs, ps.errs[k]), append(keys, ps.keys[k])
			k++
		}
		if len(errs) == maxProblems {
			break
		}
		errs, keys = append(errs, &RuleError{Index: i, ID: idOf(i), Err: ErrDuplicateID}), append(keys, key)
	}
	for ; k < len(ps.errs) && len(errs) < maxProblems; k++ {
		errs, keys = append(errs, ps.errs[k]), append(keys, ps.keys[k])
	}
	ps.errs, ps.keys, ps.more = errs, keys, total-len(errs)
}

func (ps *problems) err() error {
	if ps.more > 0 {
		return errors.Join(append(ps.errs, moreProblems(ps.more))...)
	}
	return errors.Join(ps.errs...)
}

// moreProblems is the last line of a long list of problems.
type moreProblems int

func (n moreProblems) Error() string {
	if n == 1 {
		return "and 1 more problem"
	}
	return "and " + strconv.Itoa(int(n)) + " more problems"
}

// idHashes finds duplicate ids among many rules without a map of a
// million strings: it keeps a hash of each id, sorts the hashes, and
// compares ids only where two hashes are equal.
type idHashes struct {
	seed   maphash.Seed
	hashes []uint64 // by rule index
}

func newIDHashes(n int) idHashes {
	return idHashes{seed: maphash.MakeSeed(), hashes: make([]uint64, 0, n)}
}

// add notes the id of the next rule.
func (h *idHashes) add(id string) { h.hashes = append(h.hashes, maphash.String(h.seed, id)) }

// duplicates returns, in increasing order, the index of every rule whose
// non-empty id an earlier rule has, and idOf, which returns rule i's id.
// It sorts h's hashes in place: h is spent.
func (h *idHashes) duplicates(idOf func(int) string) ([]int, func(int) string) {
	n := len(h.hashes)
	sorted := sortHashes(h.hashes)
	var twice []uint64 // the hashes that occur more than once
	for k := 1; k < len(sorted); k++ {
		if sorted[k] == sorted[k-1] && (len(twice) == 0 || twice[len(twice)-1] != sorted[k]) {
			twice = append(twice, sorted[k])
		}
	}
	h.hashes = nil
	if len(twice) == 0 {
		return nil, idOf
	}
	// Rare: hash each id again, as the sort kept no order by rule.
	var dups []int
	seen := make(map[uint64][]string, len(twice)) // the distinct ids of each such hash
	for i := range n {
		id := idOf(i)
		x := maphash.String(h.seed, id)
		if _, ok := slices.BinarySearch(twice, x); !ok || id == "" {
			continue // an empty id is reported as empty
		}
		if slices.Contains(seen[x], id) {
			dups = append(dups, i)
		} else {
			seen[x] = append(seen[x], id)
		}
	}
	return dups, idOf
}

// sortHashes sorts v, with a radix sort when v is long, and returns it.
func sortHashes(v []uint64) []uint64 {
	if len(v) < 1<<12 {
		slices.Sort(v)
		return v
	}
	// Six passes of 11 bits: an even number ends in v, and the counts
	// stay small enough for the stack.
	const bits = 11
	tmp := make([]uint64, len(v))
	src, dst := v, tmp
	var count [1 << bits]int
	for shift := 0; shift < 64; shift += bits {
		clear(count[:])
		for _, x := range src {
			count[(x>>shift)&(1<<bits-1)]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, x := range src {
			d := (x >> shift) & (1<<bits - 1)
			dst[count[d]] = x
			count[d]++
		}
		src, dst = dst, src
	}
	return src
}
