package check

import "unsafe"

// leaf is the value stored for an inserted prefix: 16 bytes, since the
// lookup's cost at large sizes is mostly cache misses that grow with the
// size of bart's values. It holds the decision for subjects who are not
// administrators, and for administrators too unless an admin-only rule
// makes theirs differ (split); their winner is then read from the node.
// The winner's id is reachable without a further load: its bytes and
// length are in the leaf.
type leaf struct {
	id   *byte  // the winner's id bytes (unsafe.StringData); nil when none wins
	meta uint64 // id length<<32 | node index<<2 | split<<1 | allow
}

// The most nodes a snapshot's store can index.
const maxNodes = 1 << 30

func (lf leaf) allow() bool    { return lf.meta&1 != 0 }
func (lf leaf) split() bool    { return lf.meta&2 != 0 }
func (lf leaf) node() uint32   { return uint32(lf.meta>>2) & (maxNodes - 1) }
func (lf leaf) winner() string { return unsafe.String(lf.id, int(lf.meta>>32)) }

// node holds the rules whose cover holds exactly a prefix, best first, and
// the prefix's winners at the compile instant.
type node struct {
	rules []*ruleInfo
	win   [2]*ruleInfo
}

// nodes is an append-only store of nodes in chunks of up to nodeChunk,
// indexed by the leaves. A snapshot derived by an edit shares its parent's
// store and appends to it: the parent's leaves only index the slots it
// had, and a slot once written never changes, so readers of the parent are
// never disturbed. A chunk that must grow is copied into the deriving
// snapshot's own list of chunks. Edits form one chain under the Checker's
// mutex, so only one snapshot ever appends to a given store.
type nodes struct {
	chunks [][]node
	n      int // slots used
}

const nodeChunk = 1024

func (ns *nodes) at(i uint32) *node { return &ns.chunks[i/nodeChunk][i%nodeChunk] }

// add stores n and returns the leaf that indexes it. Every chunk is
// allocated at its full length, so that no chunk's slice is ever written
// again once shared; only the first may be short, for a small policy, and
// grows by doubling into a copy.
func (ns *nodes) add(n node) leaf {
	i := ns.n
	c, off := i/nodeChunk, i%nodeChunk
	switch {
	case c == len(ns.chunks):
		ns.chunks = append(ns.chunks, make([]node, min(nodeChunk, max(8, i))))
	case off == len(ns.chunks[c]):
		grown := make([]node, min(nodeChunk, 2*len(ns.chunks[c])))
		copy(grown, ns.chunks[c])
		ns.chunks = append(ns.chunks[:c:c], grown)
	}
	ns.chunks[c][off] = n
	ns.n++
	return leafOf(&n, uint32(i))
}

// reserve sizes the first chunk for a compile of about n nodes.
func (ns *nodes) reserve(n int) {
	if len(ns.chunks) == 0 {
		ns.chunks = append(ns.chunks, make([]node, min(nodeChunk, max(8, n))))
	}
}

// leafOf returns the leaf of n, stored at index i, with its winners'
// decisions.
func leafOf(n *node, i uint32) leaf {
	lf := leaf{meta: uint64(i) << 2}
	if n.win[0] != n.win[1] {
		lf.meta |= 2
	}
	if w := n.win[0]; w != nil {
		lf.id = unsafe.StringData(w.id)
		lf.meta |= uint64(len(w.id)) << 32
		if w.allow {
			lf.meta |= 1
		}
	}
	return lf
}
