package memstore

import "github.com/ipgate/ipgate/policy"

// vec is an immutable sequence of rule slots, a persistent trie indexed by
// position: set copies only the path to one slot, so a write costs
// O(log n) and every older vec stays valid for the readers holding it. A
// slot whose rule has no id is empty (a deleted rule).
type vec struct {
	root   *node
	height uint // inner levels above the leaves
	n      int  // slots in use: positions 0 to n-1
}

const (
	shift = 5
	width = 1 << shift
	mask  = width - 1
)

// node is an inner node (kids) or a leaf (rules).
type node struct {
	kids  *[width]*node
	rules *[width]policy.Rule
}

func (v vec) capacity() int { return width << (shift * v.height) }

// get returns the rule in slot i < v.n.
func (v vec) get(i int) policy.Rule {
	nd := v.root
	for h := v.height; h > 0; h-- {
		nd = nd.kids[i>>(shift*h)&mask]
	}
	return nd.rules[i&mask]
}

// set returns v with slot i (at most v.n: appending) holding r.
func (v vec) set(i int, r policy.Rule) vec {
	if i == v.n {
		v.n++
		if v.root != nil && v.n > v.capacity() {
			v.root = &node{kids: &[width]*node{v.root}}
			v.height++
		}
	}
	v.root = setNode(v.root, v.height, i, r)
	return v
}

func setNode(nd *node, h uint, i int, r policy.Rule) *node {
	c := &node{}
	if h == 0 {
		c.rules = new([width]policy.Rule)
		if nd != nil {
			*c.rules = *nd.rules
		}
		c.rules[i&mask] = r
		return c
	}
	c.kids = new([width]*node)
	if nd != nil {
		*c.kids = *nd.kids
	}
	k := i >> (shift * h) & mask
	c.kids[k] = setNode(c.kids[k], h-1, i, r)
	return c
}

// all calls yield with the rule of every non-empty slot, in order.
func (v vec) all(yield func(policy.Rule) bool) {
	for leaf := range v.leaves {
		for i := range leaf {
			if r := &leaf[i]; r.ID != "" && !yield(*r) {
				return
			}
		}
	}
}

// leaves calls yield with the slots in use of each leaf, in order; they
// are shared and must not be modified.
func (v vec) leaves(yield func([]policy.Rule) bool) {
	if v.root != nil {
		walk(v.root, v.height, v.n, yield)
	}
}

// walk yields the leaves under nd, of which the first left slots are in
// use; it returns the slots in use left after them, or -1 when yield
// stopped.
func walk(nd *node, h uint, left int, yield func([]policy.Rule) bool) int {
	if h == 0 {
		k := min(left, width)
		if !yield(nd.rules[:k]) {
			return -1
		}
		return left - k
	}
	for k := 0; k < width && left > 0; k++ {
		if left = walk(nd.kids[k], h-1, left, yield); left < 0 {
			return -1
		}
	}
	return left
}

// build returns a vec of rules, in O(len(rules)).
func build(rules []policy.Rule) vec {
	v := vec{n: len(rules)}
	if len(rules) == 0 {
		return v
	}
	var level []*node
	for i := 0; i < len(rules); i += width {
		leaf := &node{rules: new([width]policy.Rule)}
		copy(leaf.rules[:], rules[i:])
		level = append(level, leaf)
	}
	for len(level) > 1 {
		var up []*node
		for i := 0; i < len(level); i += width {
			in := &node{kids: new([width]*node)}
			copy(in.kids[:], level[i:])
			up = append(up, in)
		}
		level = up
		v.height++
	}
	v.root = level[0]
	return v
}
