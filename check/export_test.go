package check

import (
	"time"

	"github.com/ipgate/ipgate/policy"
)

// CompileLarge is Compile with a bart.Table whatever the policy's size, so
// that tests of small policies reach the table large policies use.
func CompileLarge(p policy.Policy, t0 time.Time) (*Snapshot, error) {
	s, _, err := compile(p, t0, true)
	return s, err
}

// LargeTables makes every compile of a checker made with o use a
// bart.Table, as CompileLarge does.
func LargeTables(o *Options) *Options {
	o.largeTables = true
	return o
}

// CopyEarly makes every edit of a checker made with o copy its table
// after two writes through bart's copy-on-write operations, so that tests
// of small policies reach both ways an edit of a large one writes.
func CopyEarly(o *Options) *Options {
	o.copyEarly = true
	return o
}

// FastMax is the most prefixes a compile puts in a bart.Fast table.
const FastMax = fastMax

// InsertBatch is how many prefixes a large compile inserts at a time.
const InsertBatch = insertBatch

// CopyWhole makes every large compile copy its table whole, as one of more
// than copyEach prefixes does, until the returned function is called.
func CopyWhole() (restore func()) {
	old := copyEach
	copyEach = 0
	return func() { copyEach = old }
}

// TableSize returns how many prefixes s's table holds.
func (s *Snapshot) TableSize() int { return s.table.Size() }

// UsesLargeTable reports whether s looks up in a bart.Table.
func (s *Snapshot) UsesLargeTable() bool { return s.table.large != nil }

// Nodes returns how many nodes s's store holds, replaced ones included.
func (s *Snapshot) Nodes() int { return s.nodes.n }

// NextChange returns the snapshot's next change, as the checker's timer
// sees it.
func (s *Snapshot) NextChange() (time.Time, bool) { return s.nextChange() }

// Never is the compiler's "no next change", for TestNeverPastMaxExpiry.
var Never = never
