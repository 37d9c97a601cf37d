package check

import (
	"cmp"
	"encoding/binary"
	"math/bits"
)

// appendCover appends to all the entries of the fewest prefixes that
// together hold exactly the rule's target, in address order: what
// [rangeset.Range.Prefixes] yields, computed on the record's two 16-byte
// ends rather than through netip values, which a compile of many rules
// would spend a seventh of its time converting.
func (ri *ruleInfo) appendCover(all []entry, rule uint32) []entry {
	a, b := ri.ends()
	fam, base := uint16(1<<8), 0
	if ri.is4 {
		fam, base = 0, 96 // the ends are IPv4-mapped
	}
	return appendRange(all, a, b, fam, base, rule)
}

// appendRange appends the prefixes of [a, b], as netipx does: [a, b] is
// one prefix, or splits where a and b first differ.
func appendRange(all []entry, a, b u128, fam uint16, base int, rule uint32) []entry {
	n, one := split(a, b)
	if one {
		return append(all, entry{hi: a.hi, lo: a.lo, fb: fam | uint16(n-base), rule: rule})
	}
	half := ones.shr(n + 1)
	all = appendRange(all, a, a.or(half), fam, base, rule)
	return appendRange(all, b.and(half.not()), b, fam, base, rule)
}

// split returns how many leading bits a and b share, and whether [a, b] is
// the one prefix of that length: whether a and b differ only in bits that
// are all 0 in a and all 1 in b.
func split(a, b u128) (n int, one bool) {
	n = a.xor(b).leadingZeros()
	host := ones.shr(n) // the bits after the first n
	return n, a.and(host) == (u128{}) && b.and(host) == host
}

// coverLen returns how many entries appendCover appends: a compile sizes
// its prefix list exactly instead of growing it by copies. A range that is
// not one prefix splits where its ends first differ, into a lower half
// that ends a block of 2^k addresses and an upper half that starts the
// next one. Covering the last 2^k-l addresses of a block takes one prefix
// for each 1 bit of 2^k-l, and covering its first r+1 one for each 1 bit
// of r+1.
func (ri *ruleInfo) coverLen() int {
	a, b := ri.ends()
	n, one := split(a, b)
	if one {
		return 1
	}
	low := ones.shr(n + 1) // the k = 127-n bits below the one that differs
	block := low.add(u128{0, 1})
	return block.sub(a.and(low)).onesCount() + b.and(low).add(u128{0, 1}).onesCount()
}

// ends returns the two ends of the rule's target.
func (ri *ruleInfo) ends() (from, to u128) {
	return u128{binary.BigEndian.Uint64(ri.from[:8]), binary.BigEndian.Uint64(ri.from[8:])},
		u128{binary.BigEndian.Uint64(ri.to[:8]), binary.BigEndian.Uint64(ri.to[8:])}
}

// compareSize compares the sizes of a's and b's targets, as
// [rangeset.Size.Compare] does: by their last address less their first,
// which the records hold, so that ranking needs no size of its own.
func compareSize(a, b *ruleInfo) int {
	af, at := a.ends()
	bf, bt := b.ends()
	return at.sub(af).compare(bt.sub(bf))
}

// u128 is a 128-bit address, hi the first 8 bytes.
type u128 struct{ hi, lo uint64 }

var ones = u128{^uint64(0), ^uint64(0)}

func (u u128) and(o u128) u128 { return u128{u.hi & o.hi, u.lo & o.lo} }
func (u u128) or(o u128) u128  { return u128{u.hi | o.hi, u.lo | o.lo} }
func (u u128) xor(o u128) u128 { return u128{u.hi ^ o.hi, u.lo ^ o.lo} }
func (u u128) not() u128       { return u128{^u.hi, ^u.lo} }

func (u u128) sub(o u128) u128 {
	lo, borrow := bits.Sub64(u.lo, o.lo, 0)
	hi, _ := bits.Sub64(u.hi, o.hi, borrow)
	return u128{hi, lo}
}

func (u u128) add(o u128) u128 {
	lo, carry := bits.Add64(u.lo, o.lo, 0)
	hi, _ := bits.Add64(u.hi, o.hi, carry)
	return u128{hi, lo}
}

func (u u128) onesCount() int { return bits.OnesCount64(u.hi) + bits.OnesCount64(u.lo) }

func (u u128) compare(o u128) int {
	if c := cmp.Compare(u.hi, o.hi); c != 0 {
		return c
	}
	return cmp.Compare(u.lo, o.lo)
}

// shr shifts u right by n bits, 0 <= n <= 128.
func (u u128) shr(n int) u128 {
	switch {
	case n >= 128:
		return u128{}
	case n >= 64:
		return u128{0, u.hi >> (n - 64)}
	case n == 0:
		return u
	}
	return u128{u.hi >> n, u.lo>>n | u.hi<<(64-n)}
}

func (u u128) leadingZeros() int {
	if u.hi != 0 {
		return bits.LeadingZeros64(u.hi)
	}
	return 64 + bits.LeadingZeros64(u.lo)
}
