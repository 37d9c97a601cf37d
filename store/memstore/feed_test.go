package memstore_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/storebench"
	"github.com/ipgate/ipgate/store/memstore"
)

func allow(id, target string) policy.Rule {
	return policy.Rule{ID: id, Target: rangeset.MustParseRange(target), Action: policy.Allow}
}

// TestChangesRetention keeps the latest Retention changes: older
// revisions are a gap, newer ones replay; a Put changing more rules than
// the retention is a gap too.
func TestChangesRetention(t *testing.T) {
	ctx := t.Context()
	st := memstore.New(&memstore.Options{Retention: 3})
	var revs []store.Revision
	for i := range 6 {
		_, rev, err := st.CreateRule(ctx, "p", allow(fmt.Sprint("r", i), fmt.Sprintf("10.0.%d.0/24", i)), store.Any)
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
	}
	for i, rev := range revs {
		ch, cur, err := st.(store.Feed).Changes(ctx, "p", rev)
		wantGap := i < len(revs)-4 // the last 3 changes follow revs[2]
		if gap := errors.Is(err, store.ErrGap); gap != wantGap || !gap && (err != nil || cur != revs[5] || len(ch) != len(revs)-1-i) {
			t.Errorf("Changes(%d) = %d changes, %d, %v; want gap %v", rev, len(ch), cur, err, wantGap)
		}
	}
	for _, after := range []store.Revision{0, revs[5] + 1} {
		if _, _, err := st.(store.Feed).Changes(ctx, "p", after); !errors.Is(err, store.ErrGap) {
			t.Errorf("Changes(%d) = %v, want ErrGap (not a revision it had)", after, err)
		}
	}
	rev, err := st.Put(ctx, "p", storebench.Large(10), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.(store.Feed).Changes(ctx, "p", revs[5]); !errors.Is(err, store.ErrGap) {
		t.Errorf("Changes across a Put of 16 changes, retention 3 = %v, want ErrGap", err)
	}
	if ch, cur, err := st.(store.Feed).Changes(ctx, "p", rev); err != nil || cur != rev || len(ch) != 0 {
		t.Errorf("Changes(current) after the Put = %d, %d, %v", len(ch), cur, err)
	}
}

// TestSingleRuleWriteValidatesTheRuleOnly counts the rules each write
// validates: one for a single-rule write, whatever the policy's size,
// none for a delete, all of them for a Put.
func TestSingleRuleWriteValidatesTheRuleOnly(t *testing.T) {
	ctx := t.Context()
	st := memstore.New(nil)
	const n = 1000
	if _, err := st.Put(ctx, "p", storebench.Large(n), store.Any); err != nil {
		t.Fatal(err)
	}
	if got := memstore.Validated(st); got != n+1 {
		t.Errorf("a Put of %d rules validated %d, want %d (the rules and the settings)", n, got, n+1)
	}
	comment := "x"
	for _, w := range []struct {
		name  string
		want  int64
		write func() error
	}{
		{"CreateRule", 1, func() error { _, _, err := st.CreateRule(ctx, "p", allow("new", "192.0.2.1"), store.Any); return err }},
		{"UpdateRule", 1, func() error { _, _, err := st.UpdateRule(ctx, "p", allow("r7", "192.0.2.2"), store.Any); return err }},
		{"PatchRule", 1, func() error {
			_, _, err := st.PatchRule(ctx, "p", "r8", store.Patch{Comment: &comment}, store.Any)
			return err
		}},
		{"DeleteRule", 0, func() error { _, err := st.DeleteRule(ctx, "p", "r9", store.Any); return err }},
		{"SetSettings", 1, func() error { _, err := st.SetSettings(ctx, "p", policy.DefaultSettings(), store.Any); return err }},
		{"CreateRule(duplicate)", 0, func() error {
			_, _, err := st.CreateRule(ctx, "p", allow("r1", "192.0.2.3"), store.Any)
			if !errors.Is(err, store.ErrRuleExists) {
				return fmt.Errorf("CreateRule(duplicate) = %v, want ErrRuleExists", err)
			}
			return nil
		}},
	} {
		before := memstore.Validated(st)
		if err := w.write(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if got := memstore.Validated(st) - before; got != w.want {
			t.Errorf("%s validated %d rules, want %d", w.name, got, w.want)
		}
	}
	p, _, _ := st.Load(ctx, "p")
	if err := p.Validate(); err != nil || len(p.Rules) != n {
		t.Errorf("after the writes: %d rules, %v", len(p.Rules), err)
	}
}

// TestSingleRuleInvalid: a rule validated alone is refused as the whole
// policy would refuse it, naming the rule and its position.
func TestSingleRuleInvalid(t *testing.T) {
	ctx := t.Context()
	st := memstore.New(nil)
	for i := range 3 {
		if _, _, err := st.CreateRule(ctx, "p", allow(fmt.Sprint("r", i), "10.0.0.1"), store.Any); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := st.CreateRule(ctx, "p", policy.Rule{Action: policy.Allow, Target: rangeset.MustParseRange("10.0.0.2")}, store.Any)
	var re *policy.RuleError
	if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &re) || re.Index != 3 || re.Err.Error() != "empty id" {
		t.Errorf("CreateRule(no id) = %v, want ErrInvalid, an empty id at index 3", err)
	}
	want := `store: invalid policy "p": rule #3: empty id`
	if err == nil || err.Error() != want {
		t.Errorf("CreateRule(no id) error %q, want %q", err, want)
	}
	_, _, err = st.UpdateRule(ctx, "p", policy.Rule{ID: "r1", Action: policy.Allow}, store.Any)
	if !errors.As(err, &re) || re.ID != "r1" || !strings.HasPrefix(re.Err.Error(), "invalid target: ") {
		t.Errorf("UpdateRule(no target) = %v, want an invalid target naming r1", err)
	}
}

// TestGuardSeesWholePolicies: with a Guard, single-rule writes show it the
// whole policy before and after.
func TestGuardSeesWholePolicies(t *testing.T) {
	ctx := t.Context()
	var seen [][2]int
	st := memstore.New(&memstore.Options{Guard: func(old, new policy.Policy) error {
		seen = append(seen, [2]int{len(old.Rules), len(new.Rules)})
		for _, r := range new.Rules {
			if r.ID == "lockout" {
				return errors.New("would lock the admin out")
			}
		}
		return nil
	}})
	st.CreateRule(ctx, "p", allow("a", "10.0.0.1"), store.Any)
	st.CreateRule(ctx, "p", allow("b", "10.0.0.2"), store.Any)
	st.DeleteRule(ctx, "p", "a", store.Any)
	_, rev, err := st.CreateRule(ctx, "p", allow("lockout", "10.0.0.3"), store.Any)
	if !errors.Is(err, store.ErrRefused) {
		t.Errorf("guarded CreateRule = %v, want ErrRefused", err)
	}
	if _, _, err := st.GetRule(ctx, "p", "lockout"); !errors.Is(err, store.ErrRuleNotFound) {
		t.Errorf("a refused rule was stored: %v", err)
	}
	if _, _, err := st.CreateRule(ctx, "p", allow("lockout2", "10.0.0.3"), rev); err != nil {
		t.Errorf("CreateRule after a refused one: %v (index left dirty?)", err)
	}
	want := [][2]int{{0, 1}, {1, 2}, {2, 1}, {1, 2}, {1, 2}}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("guard saw %v, want %v", seen, want)
	}
}

// TestCompaction deletes most rules of a policy one by one: the slots
// are compacted and the rules that remain stay addressable.
func TestCompaction(t *testing.T) {
	ctx := t.Context()
	st := memstore.New(&memstore.Options{Now: func() time.Time { return time.Unix(0, 0) }})
	const n = 2000
	if _, err := st.Put(ctx, "p", storebench.Large(n), store.Any); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if i%10 == 3 {
			continue
		}
		if _, err := st.DeleteRule(ctx, "p", fmt.Sprint("r", i), store.Any); err != nil {
			t.Fatal(err)
		}
	}
	p, _, _ := st.Load(ctx, "p")
	if len(p.Rules) != n/10 || p.Rules[0].ID != "r3" || p.Rules[len(p.Rules)-1].ID != fmt.Sprint("r", n-7) {
		t.Fatalf("after deletes: %d rules", len(p.Rules))
	}
	for i := 3; i < n; i += 10 {
		id := fmt.Sprint("r", i)
		if r, _, err := st.GetRule(ctx, "p", id); err != nil || r.ID != id {
			t.Fatalf("GetRule(%s) = %v, %v", id, r.ID, err)
		}
	}
	comment := "c"
	if _, _, err := st.PatchRule(ctx, "p", "r13", store.Patch{Comment: &comment}, store.Any); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := st.GetRule(ctx, "p", "r13"); r.Comment != "c" {
		t.Errorf("patched rule after compaction: %+v", r)
	}
}

// BenchmarkSingleRuleWrite measures one single-rule write (a create, a
// patch or a delete, in turn) on a policy of 1k, 100k and 1M rules.
func BenchmarkSingleRuleWrite(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		name := fmt.Sprintf("rules=%dk", n/1000)
		if n >= 1_000_000 {
			name = fmt.Sprintf("rules=%dM", n/1_000_000)
		}
		b.Run(name, func(b *testing.B) {
			if testing.Short() && n >= 1_000_000 {
				b.Skip("1M rules under -short")
			}
			ctx := b.Context()
			st := memstore.New(nil)
			if _, err := st.Put(ctx, "p", storebench.Large(n), store.Any); err != nil {
				b.Fatal(err)
			}
			comment := "patched"
			ids := make([]string, 1024)
			for i := range ids {
				ids[i] = fmt.Sprint("r", i*(n/len(ids)))
			}
			var took []time.Duration
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				var err error
				start := time.Now()
				switch k := i / 3; i % 3 {
				case 0:
					_, _, err = st.CreateRule(ctx, "p", allow(fmt.Sprint("x", k), "192.0.2.1"), store.Any)
				case 1:
					_, _, err = st.PatchRule(ctx, "p", ids[k%len(ids)], store.Patch{Comment: &comment}, store.Any)
				default:
					_, err = st.DeleteRule(ctx, "p", fmt.Sprint("x", k), store.Any)
				}
				took = append(took, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}

// TestSlowGuardBlocksNoReader: a write held up by its Guard (a lockout
// guard compiling a large policy) holds up other writers only: Load,
// GetRule, ListRules and Changes go on.
func TestSlowGuardBlocksNoReader(t *testing.T) {
	ctx := t.Context()
	entered, release := make(chan struct{}), make(chan struct{})
	var slow bool
	st := memstore.New(&memstore.Options{Guard: func(_, new policy.Policy) error {
		if slow {
			close(entered)
			<-release
		}
		return nil
	}})
	_, rev, err := st.CreateRule(ctx, "p", allow("a", "10.0.0.1"), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	slow = true
	done := make(chan error)
	go func() {
		_, _, err := st.CreateRule(ctx, "p", allow("b", "10.0.0.2"), store.Any)
		done <- err
	}()
	<-entered
	read := make(chan error)
	go func() {
		_, got, err := st.Load(ctx, "p")
		if err == nil && got != rev {
			err = fmt.Errorf("Load during a guarded write = revision %d, want %d", got, rev)
		}
		if err == nil {
			_, _, err = st.GetRule(ctx, "p", "a")
		}
		if err == nil {
			_, _, err = st.ListRules(ctx, "p", store.Query{})
		}
		if err == nil {
			_, _, err = st.(store.Feed).Changes(ctx, "p", rev)
		}
		read <- err
	}()
	select {
	case err := <-read:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("readers waited for a write held up by its guard")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
