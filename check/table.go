package check

import (
	"iter"
	"net/netip"

	"github.com/gaissmai/bart"
)

// fastMax is the most prefixes a compile puts in a bart.Fast table. Fast's
// nodes carry a 256-byte rank cache that makes small tables faster than
// bart.Table, while in larger ones the bigger nodes cost more in cache
// misses than the cache saves; examples/bench/README.md has the crossover
// as measured.
const fastMax = 1 << 11

// table is the snapshot's lookup table: a bart.Fast for small policies, a
// bart.Table for large ones. Exactly one of its fields is set. Both are
// used as persistent tables: the copy-on-write methods return a new table
// and leave the receiver unchanged.
type table struct {
	fast  *bart.Fast[leaf]
	large *bart.Table[leaf]
}

// Lookup returns the value of the longest prefix containing a.
func (t table) Lookup(a netip.Addr) (leaf, bool) {
	if t.fast != nil {
		return t.fast.Lookup(a)
	}
	return t.large.Lookup(a)
}

// Get returns the value of exactly pfx.
func (t table) Get(pfx netip.Prefix) (leaf, bool) {
	if t.fast != nil {
		return t.fast.Get(pfx)
	}
	return t.large.Get(pfx)
}

// LookupPrefixLPM returns the longest prefix containing pfx, and its value.
func (t table) LookupPrefixLPM(pfx netip.Prefix) (netip.Prefix, leaf, bool) {
	if t.fast != nil {
		return t.fast.LookupPrefixLPM(pfx)
	}
	return t.large.LookupPrefixLPM(pfx)
}

// Insert sets the value of pfx in place: only in a table not yet shared,
// which a compile builds or an edit has copied.
func (t table) Insert(pfx netip.Prefix, lf leaf) {
	if t.fast != nil {
		t.fast.Insert(pfx, lf)
		return
	}
	t.large.Insert(pfx, lf)
}

// Delete removes pfx in place, like Insert.
func (t table) Delete(pfx netip.Prefix) {
	if t.fast != nil {
		t.fast.Delete(pfx)
		return
	}
	t.large.Delete(pfx)
}

// clone returns a copy of t that shares nothing with it.
func (t table) clone() table {
	if t.fast != nil {
		return table{fast: t.fast.Clone()}
	}
	return table{large: t.large.Clone()}
}

// InsertPersist returns a table in which pfx has the value lf.
func (t table) InsertPersist(pfx netip.Prefix, lf leaf) table {
	if t.fast != nil {
		return table{fast: t.fast.InsertPersist(pfx, lf)}
	}
	return table{large: t.large.InsertPersist(pfx, lf)}
}

// DeletePersist returns a table without pfx.
func (t table) DeletePersist(pfx netip.Prefix) table {
	if t.fast != nil {
		return table{fast: t.fast.DeletePersist(pfx)}
	}
	return table{large: t.large.DeletePersist(pfx)}
}

// All yields every prefix and its value, in no particular order.
func (t table) All() iter.Seq2[netip.Prefix, leaf] {
	if t.fast != nil {
		return t.fast.All()
	}
	return t.large.All()
}

// Supernets yields the prefixes containing pfx, longest first.
func (t table) Supernets(pfx netip.Prefix) iter.Seq2[netip.Prefix, leaf] {
	if t.fast != nil {
		return t.fast.Supernets(pfx)
	}
	return t.large.Supernets(pfx)
}

// eachSupernet calls f with the values of the prefixes containing pfx,
// longest first, until f returns false. Unlike ranging over Supernets, it
// does not allocate: the request path uses it.
func (t table) eachSupernet(pfx netip.Prefix, f func(leaf) bool) {
	if t.fast != nil {
		for _, lf := range t.fast.Supernets(pfx) {
			if !f(lf) {
				return
			}
		}
		return
	}
	for _, lf := range t.large.Supernets(pfx) {
		if !f(lf) {
			return
		}
	}
}

// Subnets yields pfx and the prefixes it contains, in CIDR order: a
// prefix before those it contains.
func (t table) Subnets(pfx netip.Prefix) iter.Seq2[netip.Prefix, leaf] {
	if t.fast != nil {
		return t.fast.Subnets(pfx)
	}
	return t.large.Subnets(pfx)
}

// Size returns the number of prefixes.
func (t table) Size() int {
	if t.fast != nil {
		return t.fast.Size()
	}
	return t.large.Size()
}

// inserter fills a table that a compile builds, before it is shared. A
// large table is filled a batch at a time by a goroutine of its own, while
// the compile's walk computes the next batch, and then copied: the copy
// lays the nodes out in tree order, without the arrays that the inserts
// outgrew, and lookups in it measure faster than in bare bart. A table of
// up to copyEach prefixes is copied a batch at a time, each batch's small
// table (which stays in the cache) into the whole, on the walk's
// goroutine while the next batch is inserted; a larger one, whose lookups
// pay for every page its nodes spread over, is copied whole at the end.
type inserter struct {
	t      table
	batch  []pending
	work   chan []pending // batches to insert; nil when inserting in place
	filled chan filled    // batches inserted, in order
	free   [][]pending    // batches to fill
}

// pending is an insert waiting in a batch.
type pending struct {
	pfx netip.Prefix
	lf  leaf
}

// filled is a batch inserted, and the table it was inserted into when
// that is to be copied now.
type filled struct {
	t     *bart.Table[leaf]
	batch []pending
}

// insertBatch is how many inserts a batch holds.
const insertBatch = 1 << 12

// copyEach is the most prefixes of a table copied a batch at a time (a
// variable so that tests reach both ways).
var copyEach = 1 << 18

// inserter returns an inserter of n prefixes into t, which must be empty.
func (t table) inserter(n int) *inserter {
	in := &inserter{t: t}
	if t.large == nil {
		return in
	}
	const batches = 3
	in.work, in.filled = make(chan []pending, batches), make(chan filled, batches)
	for range batches - 1 {
		in.free = append(in.free, make([]pending, 0, insertBatch))
	}
	in.batch = make([]pending, 0, insertBatch)
	each := n <= copyEach
	go func() {
		defer close(in.filled)
		t := new(bart.Table[leaf])
		for b := range in.work {
			for _, p := range b {
				t.Insert(p.pfx, p.lf)
			}
			f := filled{batch: b[:0]}
			if each {
				f.t, t = t, new(bart.Table[leaf])
			}
			in.filled <- f
		}
		if !each {
			in.filled <- filled{t: t}
		}
	}()
	return in
}

// insert sets the value of pfx.
func (in *inserter) insert(pfx netip.Prefix, lf leaf) {
	if in.work == nil {
		in.t.Insert(pfx, lf)
		return
	}
	in.batch = append(in.batch, pending{pfx, lf})
	if len(in.batch) < insertBatch {
		return
	}
	in.work <- in.batch
	if len(in.free) == 0 {
		in.merge(<-in.filled)
	}
	in.batch, in.free = in.free[len(in.free)-1], in.free[:len(in.free)-1]
}

// merge copies what was inserted into the table and keeps the buffer.
func (in *inserter) merge(f filled) {
	if f.t != nil {
		in.t.large.Union(f.t)
	}
	if f.batch != nil {
		in.free = append(in.free, f.batch)
	}
}

// wait returns the table once every insert is done.
func (in *inserter) wait() table {
	if in.work != nil {
		in.work <- in.batch
		close(in.work)
		for f := range in.filled {
			in.merge(f)
		}
	}
	return in.t
}
