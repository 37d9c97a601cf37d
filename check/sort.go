package check

import "slices"

// sortEntries sorts all by prefix, as [entry] says, and the entries of one
// prefix by their rules, best first. The prefixes are radix sorted, each
// family apart, least significant byte first, skipping the bytes that
// every entry of the family shares (of an IPv4 prefix, five vary), so
// that a compile makes a few passes over the slice instead of n log n
// comparisons. The rules of one prefix are few, and ordered by comparison.
func sortEntries(all []entry, better func(a, b uint32) bool) {
	radixSort(all)
	for lo := 0; lo < len(all); {
		hi := lo + 1
		for hi < len(all) && all[hi].compare(all[lo]) == 0 {
			hi++
		}
		if hi-lo > 1 {
			slices.SortFunc(all[lo:hi], func(a, b entry) int {
				if better(a.rule, b.rule) {
					return -1
				}
				return 1
			})
		}
		lo = hi
	}
}

// The digits of an entry's sort key, least significant first: the prefix
// length, the 8 bytes of lo, the 8 bytes of hi, the family.
const (
	digitBits = 0
	digitLo   = 1
	digitHi   = 9
	digitFam  = 17
	digits    = 18
)

func (e entry) digit(d int) int {
	switch {
	case d == digitBits:
		return int(e.fb & 0xff)
	case d < digitHi:
		return int(e.lo >> (8 * (d - digitLo)) & 0xff)
	case d < digitFam:
		return int(e.hi >> (8 * (d - digitHi)) & 0xff)
	}
	return int(e.fb >> 8)
}

// radixSort sorts all stably by prefix. The family is the most
// significant digit: the entries are split by it first, and each family is
// sorted apart on the bytes that vary within it, so that the IPv4 entries
// skip the bytes that only IPv6 addresses set.
func radixSort(all []entry) {
	n4 := 0
	for _, e := range all {
		if e.fb>>8 == 0 {
			n4++
		}
	}
	if n4 == 0 || n4 == len(all) {
		if sorted := radixPasses(all, nil); len(sorted) > 0 && &sorted[0] != &all[0] {
			copy(all, sorted)
		}
		return
	}
	byFamily := make([]entry, len(all))
	i4, i6 := 0, n4
	for _, e := range all {
		if e.fb>>8 == 0 {
			byFamily[i4] = e
			i4++
		} else {
			byFamily[i6] = e
			i6++
		}
	}
	// Each family is sorted from byFamily, with its part of all as scratch.
	for _, part := range [][2]int{{0, n4}, {n4, len(all)}} {
		lo, hi := part[0], part[1]
		if sorted := radixPasses(byFamily[lo:hi], all[lo:hi]); &sorted[0] != &all[lo] {
			copy(all[lo:hi], sorted)
		}
	}
}

// radixPasses sorts src stably by prefix, least significant byte first,
// skipping the bytes that every entry shares, with scratch (allocated when
// nil and needed) of src's length, and returns the one of the two that
// holds the result.
func radixPasses(src, scratch []entry) []entry {
	if len(src) < 2 {
		return src
	}
	var counts [digits][256]int
	for _, e := range src {
		counts[digitBits][e.fb&0xff]++
		for i := range 8 {
			counts[digitLo+i][e.lo>>(8*i)&0xff]++
			counts[digitHi+i][e.hi>>(8*i)&0xff]++
		}
		counts[digitFam][e.fb>>8]++
	}
	dst := scratch
	for d := range digits {
		c := &counts[d]
		if c[src[0].digit(d)] == len(src) {
			continue // every entry has this byte
		}
		if dst == nil {
			dst = make([]entry, len(src))
		}
		var next [256]int
		sum := 0
		for b, n := range c {
			next[b] = sum
			sum += n
		}
		// One loop per word, so that the digit is one shift.
		switch {
		case d == digitBits || d == digitFam:
			shift := 8 * (d / digitFam)
			for _, e := range src {
				b := e.fb >> shift & 0xff
				dst[next[b]] = e
				next[b]++
			}
		case d < digitHi:
			shift := 8 * (d - digitLo)
			for _, e := range src {
				b := e.lo >> shift & 0xff
				dst[next[b]] = e
				next[b]++
			}
		default:
			shift := 8 * (d - digitHi)
			for _, e := range src {
				b := e.hi >> shift & 0xff
				dst[next[b]] = e
				next[b]++
			}
		}
		src, dst = dst, src
	}
	return src
}
