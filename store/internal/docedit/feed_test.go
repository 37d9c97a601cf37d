package docedit_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/docedit"
)

func put(rev store.Revision, id string) store.Change {
	r := policy.Rule{ID: id, Target: rangeset.MustParseRange("10.0.0.1"), Action: policy.Allow}
	return store.Change{Revision: rev, Rule: &r}
}

func describe(changes []store.Change) []string {
	var out []string
	for _, c := range changes {
		switch {
		case c.Rule != nil:
			out = append(out, fmt.Sprintf("%d put %s", c.Revision, c.Rule.ID))
		case c.Deleted != "":
			out = append(out, fmt.Sprintf("%d delete %s", c.Revision, c.Deleted))
		default:
			out = append(out, fmt.Sprintf("%d settings", c.Revision))
		}
	}
	return out
}

func TestHistory(t *testing.T) {
	var zero docedit.History
	if _, err := zero.Since(0, 0); !errors.Is(err, store.ErrGap) {
		t.Errorf("zero History: Since = %v, want ErrGap", err)
	}
	h := docedit.NewHistory(3)
	h.Reset(10)
	h.Add(10, 11, []store.Change{put(11, "a")}, true)
	h.Add(11, 12, nil, true) // a revision that changed nothing
	h.Add(12, 14, []store.Change{put(14, "b"), {Revision: 14, Deleted: "a"}}, true)
	tests := []struct {
		after, cur store.Revision
		want       []string
		gap        bool
	}{
		{10, 14, nil, true}, // 4 changes held > 3: revision 11 forgotten
		{11, 14, []string{"14 put b", "14 delete a"}, false},
		{12, 14, []string{"14 put b", "14 delete a"}, false},
		{13, 14, nil, true}, // never a revision of the policy
		{14, 14, nil, false},
		{12, 15, nil, true}, // the history is behind
	}
	for _, tt := range tests {
		got, err := h.Since(tt.after, tt.cur)
		if errors.Is(err, store.ErrGap) != tt.gap || !slices.Equal(describe(got), tt.want) {
			t.Errorf("Since(%d, %d) = %q, %v; want %q, gap %v", tt.after, tt.cur, describe(got), err, tt.want, tt.gap)
		}
	}
	// What Since returns is a copy.
	got, _ := h.Since(12, 14)
	got[0].Rule.ID = "changed"
	if again, _ := h.Since(12, 14); again[0].Rule.ID != "b" {
		t.Errorf("Since returned shared memory")
	}
	// A record that does not follow on, or is not kept, starts afresh.
	h.Add(15, 16, []store.Change{put(16, "c")}, true)
	if _, err := h.Since(14, 16); !errors.Is(err, store.ErrGap) {
		t.Errorf("after a record from 15 (history at 14): Since(14) = %v, want ErrGap", err)
	}
	if got, err := h.Since(16, 16); err != nil || got != nil {
		t.Errorf("Since(16, 16) = %v, %v", got, err)
	}
	h.Add(16, 17, []store.Change{put(17, "a"), put(17, "b"), put(17, "c"), put(17, "d")}, true)
	if _, err := h.Since(16, 17); !errors.Is(err, store.ErrGap) {
		t.Errorf("a record over the limit was kept: %v", err)
	}
	h.Add(17, 18, nil, false)
	if _, err := h.Since(17, 18); !errors.Is(err, store.ErrGap) {
		t.Errorf("a record not recorded was kept: %v", err)
	}
}

func TestDiffAndStamp(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := func(id, target string) policy.Rule {
		return policy.Rule{ID: id, Target: rangeset.MustParseRange(target), Action: policy.Allow, CreatedAt: t0, UpdatedAt: t0}
	}
	old := policy.New(r("a", "10.0.0.1"), r("b", "10.0.0.2"), r("c", "10.0.0.3"))
	np := policy.New(r("c", "10.0.0.3"), r("b", "10.0.0.9"), r("d", "10.0.0.4"))
	np.Settings.Enabled = false
	byID := func(id string) (policy.Rule, bool) {
		i := slices.IndexFunc(old.Rules, func(r policy.Rule) bool { return r.ID == id })
		if i < 0 {
			return policy.Rule{}, false
		}
		return old.Rules[i], true
	}
	now := t0.Add(time.Hour)
	np = docedit.Stamp(np, now, byID)
	if !np.Rules[0].UpdatedAt.Equal(t0) || !np.Rules[1].UpdatedAt.Equal(now) || !np.Rules[1].CreatedAt.Equal(t0) || !np.Rules[2].CreatedAt.Equal(now) {
		t.Errorf("Stamp: %+v", np.Rules)
	}
	got, ok := docedit.Diff(7, old, np, 10)
	if want := []string{"7 settings", "7 delete a", "7 put b", "7 put d"}; !ok || !slices.Equal(describe(got), want) {
		t.Errorf("Diff = %q, %v; want %q", describe(got), ok, want)
	}
	if got, ok := docedit.Diff(7, old, np, 3); ok || got != nil {
		t.Errorf("Diff over its limit = %q, %v; want nothing, false", describe(got), ok)
	}
	if got, ok := docedit.Diff(7, np, np, 0); !ok || len(got) != 0 {
		t.Errorf("Diff of a policy with itself = %q, %v", describe(got), ok)
	}
}

// BenchmarkHistoryAdd adds one change a revision to a full history: the
// cost of a write must not grow with the retention.
func BenchmarkHistoryAdd(b *testing.B) {
	for _, limit := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("retention=%dk", limit/1000), func(b *testing.B) {
			h := docedit.NewHistory(limit)
			h.Reset(0)
			changes := []store.Change{{Deleted: "a"}}
			rev := store.Revision(0)
			for range limit {
				h.Add(rev, rev+1, changes, true)
				rev++
			}
			b.ReportAllocs()
			for b.Loop() {
				h.Add(rev, rev+1, changes, true)
				rev++
			}
		})
	}
}
