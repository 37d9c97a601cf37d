package docedit

import (
	"cmp"
	"slices"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
)

// Stamp returns a copy of np with the timestamps a whole-policy Put gives:
// a rule whose id old has keeps its CreatedAt, and its UpdatedAt too when
// nothing else changed; a changed rule gets UpdatedAt now; a new rule gets
// both now. old looks a rule up by id in the policy being replaced.
func Stamp(np policy.Policy, now time.Time, old func(id string) (policy.Rule, bool)) policy.Policy {
	np = np.Clone()
	for i := range np.Rules {
		r := &np.Rules[i]
		prev, ok := old(r.ID)
		if !ok {
			r.CreatedAt, r.UpdatedAt = now, now
			continue
		}
		// Unchanged but for timestamps: keep them.
		r.CreatedAt, r.UpdatedAt = prev.CreatedAt, prev.UpdatedAt
		if !prev.Equal(*r) {
			r.UpdatedAt = now
		}
	}
	return np
}

// Diff returns the changes, under revision rev, that turn the policy old
// into np: new settings first, then the rules deleted, in old's order,
// then the rules put, in np's order. It reports false, with no changes,
// when there are more than limit of them, so that a replacement of
// everything is not recorded rule by rule. The ids of each policy must be
// unique.
func Diff(rev store.Revision, old, np policy.Policy, limit int) ([]store.Change, bool) {
	var out []store.Change
	if old.Settings != np.Settings {
		s := np.Settings
		out = append(out, store.Change{Revision: rev, Settings: &s})
	}
	prev := make(map[string]int, len(old.Rules))
	for i, r := range old.Rules {
		prev[r.ID] = i
	}
	inNew := make(map[string]struct{}, len(np.Rules))
	for _, r := range np.Rules {
		inNew[r.ID] = struct{}{}
	}
	for _, r := range old.Rules {
		if _, ok := inNew[r.ID]; !ok {
			if len(out) >= limit {
				return nil, false
			}
			out = append(out, store.Change{Revision: rev, Deleted: r.ID})
		}
	}
	for i := range np.Rules {
		r := &np.Rules[i]
		if j, ok := prev[r.ID]; ok && old.Rules[j].Equal(*r) {
			continue
		}
		if len(out) >= limit {
			return nil, false
		}
		c := r.Clone()
		out = append(out, store.Change{Revision: rev, Rule: &c})
	}
	return out, true
}

// History keeps the latest changes of one policy, revision by revision,
// for [store.Feed]'s Changes. It holds at most its limit of changes (a
// revision that changed nothing counts as one), forgetting the oldest
// revisions first. The zero History knows nothing: every Since is a gap
// until Reset. It is not safe for concurrent use.
type History struct {
	limit int
	start store.Revision // the revision the first record starts from
	end   store.Revision // the revision the last record brings the policy to
	known bool           // start and end mean something
	recs  []record
	held  int // the weight of recs
}

// record is the changes that took a policy from one revision to the next
// one the history knows.
type record struct {
	from, to store.Revision
	changes  []store.Change
}

func (r record) weight() int { return max(1, len(r.changes)) }

// NewHistory returns a history that keeps about limit changes (at least
// one revision's worth).
func NewHistory(limit int) *History { return &History{limit: max(1, limit)} }

// Reset forgets every change: the history starts again at rev (the policy
// was created, or its changes are unknown).
func (h *History) Reset(rev store.Revision) {
	h.start, h.end, h.known, h.recs, h.held = rev, rev, true, nil, 0
}

// Add records the changes that took the policy from revision from to
// revision to. When from is not where the history ends, what came between
// is unknown and the history starts again at to. changes is kept: the
// caller must not modify it.
func (h *History) Add(from, to store.Revision, changes []store.Change, ok bool) {
	if !ok || !h.known || from != h.end || len(changes) > h.limit {
		h.Reset(to)
		return
	}
	r := record{from, to, changes}
	h.recs = append(h.recs, r)
	h.held += r.weight()
	h.end = to
	drop := 0
	for h.held > h.limit && drop < len(h.recs)-1 {
		h.held -= h.recs[drop].weight()
		drop++
	}
	if drop > 0 {
		// Not slices.Delete, which would move every record kept on each
		// write: the slice starts later instead, and append moves the
		// records once in a while, when it outgrows the array.
		clear(h.recs[:drop]) // let the dropped changes go
		h.recs = h.recs[drop:]
		h.start = h.recs[0].from
	}
}

// Since returns copies of the changes after revision after, in order, up
// to cur, the policy's current revision; [store.ErrGap] when they are not
// all kept, or after is not a revision the history knows.
func (h *History) Since(after, cur store.Revision) ([]store.Change, error) {
	if !h.known || h.end != cur {
		return nil, store.ErrGap
	}
	if after == cur {
		return nil, nil
	}
	i, found := slices.BinarySearchFunc(h.recs, after, func(r record, rev store.Revision) int {
		return cmp.Compare(r.from, rev)
	})
	if !found {
		return nil, store.ErrGap
	}
	var out []store.Change
	for _, r := range h.recs[i:] {
		for _, c := range r.changes {
			out = append(out, cloneChange(c))
		}
	}
	return out, nil
}

func cloneChange(c store.Change) store.Change {
	if c.Rule != nil {
		r := c.Rule.Clone()
		c.Rule = &r
	}
	if c.Settings != nil {
		s := *c.Settings
		c.Settings = &s
	}
	return c
}
