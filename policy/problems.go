package policy

import (
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
)

// maxProblems is how many problems the text of a [Policy.Validate] or
// [Decode] error lists before it only counts the rest.
const maxProblems = 100

// maxKept is how many problems such an error keeps, for errors.Is and
// errors.As; the rest are only counted, so that a small document of a
// million bad rules does not take a million errors.
const maxKept = 10_000

// The place of a problem among those of one rule: those found while
// decoding come first, then the id's, then the rest.
const (
	phaseBeforeID = iota
	phaseID
	phaseAfterID
)

// problems collects errors in the order of their keys (rule index and
// phase). Duplicate ids, found only once every rule has been seen, are
// merged in at the end.
type problems struct {
	errs []error
	keys []int // 4*index + phase; -1 for a settings error
	lead int   // how many settings errors lead errs
	more int   // problems past maxKept, not kept
}

func (ps *problems) add(i, phase int, id string, err error) {
	ps.addKeyed(4*i+phase, &RuleError{Index: i, ID: id, Err: err})
}

// addErr adds a settings error: after the settings errors already added,
// before every rule's, as a document may give its settings after its rules.
func (ps *problems) addErr(err error) {
	if ps.lead == maxKept {
		ps.more++
		return
	}
	ps.errs = slices.Insert(ps.errs, ps.lead, err)
	ps.keys = slices.Insert(ps.keys, ps.lead, -1)
	ps.lead++
	ps.keep()
}

func (ps *problems) addKeyed(key int, err error) {
	if len(ps.errs) == maxKept {
		ps.more++
		return
	}
	ps.errs = append(ps.errs, err)
	ps.keys = append(ps.keys, key)
}

// keep drops the problems past maxKept, counting them.
func (ps *problems) keep() {
	if n := len(ps.errs); n > maxKept {
		ps.more += n - maxKept
		ps.errs, ps.keys = ps.errs[:maxKept], ps.keys[:maxKept]
	}
}

// addDuplicates merges in errDuplicateID for each rule in dups (indices in
// increasing order, with their ids).
func (ps *problems) addDuplicates(dups []int, idOf func(int) string) {
	if len(dups) == 0 {
		return
	}
	errs := make([]error, 0, len(ps.errs)+len(dups))
	keys := make([]int, 0, cap(errs))
	k := 0
	for _, i := range dups {
		key := 4*i + phaseID
		for ; k < len(ps.errs) && ps.keys[k] < key; k++ {
			errs, keys = append(errs, ps.errs[k]), append(keys, ps.keys[k])
		}
		errs, keys = append(errs, &RuleError{Index: i, ID: idOf(i), Err: errDuplicateID}), append(keys, key)
	}
	ps.errs, ps.keys = append(errs, ps.errs[k:]...), append(keys, ps.keys[k:]...)
	ps.keep()
}

func (ps *problems) err() error {
	if len(ps.errs) == 0 {
		return nil
	}
	return &problemList{ps.errs, ps.more}
}

// problemList is the problems of a policy. Like an errors.Join it unwraps
// to those it keeps (the first maxKept), so that errors.Is and errors.As
// see each, but its text lists only the first maxProblems, one per line,
// and then a line counting the rest.
type problemList struct {
	errs []error
	more int // problems not kept
}

func (l *problemList) Error() string {
	var b strings.Builder
	for i, err := range l.errs[:min(len(l.errs), maxProblems)] {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(err.Error())
	}
	switch n := len(l.errs) + l.more - maxProblems; {
	case n == 1:
		b.WriteString("\nand 1 more problem")
	case n > 1:
		b.WriteString("\nand " + strconv.Itoa(n) + " more problems")
	}
	return b.String()
}

// Unwrap returns the problems kept.
func (l *problemList) Unwrap() []error { return l.errs }

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
