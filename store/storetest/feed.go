package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

// replica is a follower's copy of a policy, kept by applying changes.
type replica struct {
	settings policy.Settings
	rules    map[string]policy.Rule
	rev      store.Revision
	gaps     int // how often it had to load instead
}

func (r *replica) load(t *testing.T, s store.Store, name string) {
	t.Helper()
	p, rev, err := s.Load(t.Context(), name)
	if err != nil {
		t.Fatalf("Load(%q) = %v", name, err)
	}
	r.settings, r.rules, r.rev = p.Settings, map[string]policy.Rule{}, rev
	for _, x := range p.Rules {
		r.rules[x.ID] = x
	}
}

// apply checks and applies changes that bring the replica to rev.
func (r *replica) apply(changes []store.Change, rev store.Revision) error {
	if rev < r.rev {
		return fmt.Errorf("Changes(after %d) brings the policy back to revision %d", r.rev, rev)
	}
	last := r.rev
	for i, c := range changes {
		set := 0
		if c.Rule != nil {
			set++
		}
		if c.Deleted != "" {
			set++
		}
		if c.Settings != nil {
			set++
		}
		if set != 1 {
			return fmt.Errorf("change #%d %+v sets %d of Rule, Deleted and Settings, want exactly one", i, c, set)
		}
		if c.Revision <= r.rev || c.Revision > rev || c.Revision < last {
			return fmt.Errorf("change #%d has revision %d, out of order or outside (%d, %d]", i, c.Revision, r.rev, rev)
		}
		last = c.Revision
		switch {
		case c.Rule != nil:
			r.rules[c.Rule.ID] = c.Rule.Clone()
		case c.Deleted != "":
			if _, ok := r.rules[c.Deleted]; !ok {
				return fmt.Errorf("change #%d deletes rule %s, which the policy does not have", i, rangeset.Quote(c.Deleted))
			}
			delete(r.rules, c.Deleted)
		default:
			r.settings = *c.Settings
		}
	}
	r.rev = rev
	return nil
}

// follow brings the replica up to date from the feed, loading after a gap.
func (r *replica) follow(t *testing.T, f store.Feed, name string) []store.Change {
	t.Helper()
	changes, rev, err := f.Changes(t.Context(), name, r.rev)
	if errors.Is(err, store.ErrGap) {
		r.gaps++
		r.load(t, f, name)
		return nil
	}
	if err != nil {
		t.Fatalf("Changes(%q, %d) = %v", name, r.rev, err)
	}
	if err := r.apply(changes, rev); err != nil {
		t.Fatal(err)
	}
	return changes
}

// same reports how the replica differs from what Load returns, if it does.
func (r *replica) same(t *testing.T, s store.Store, name string) {
	t.Helper()
	p, rev, err := s.Load(t.Context(), name)
	if err != nil {
		t.Fatalf("Load(%q) = %v", name, err)
	}
	if rev != r.rev {
		t.Errorf("the feed brought the policy to revision %d, Load returns %d", r.rev, rev)
		return
	}
	if p.Settings != r.settings {
		t.Errorf("revision %d: replayed settings %+v, Load %+v", rev, r.settings, p.Settings)
	}
	if len(p.Rules) != len(r.rules) {
		t.Errorf("revision %d: replayed %d rules %v, Load %d %v", rev, len(r.rules), slices.Sorted(maps.Keys(r.rules)), len(p.Rules), ids(p.Rules))
	}
	for _, x := range p.Rules {
		if got, ok := r.rules[x.ID]; !ok || !got.Equal(x) {
			t.Errorf("revision %d: replayed rule %s is %+v, Load has %+v", rev, rangeset.Quote(x.ID), got, x)
		}
	}
}

// testFeed follows a policy through every kind of write and checks that
// the changes replay to what Load returns, revision by revision.
func testFeed(t *testing.T, s store.Editor, clock *fakeClock) {
	f, ok := s.(store.Feed)
	if !ok {
		t.Skip("the store is not a store.Feed")
	}
	ctx := t.Context()
	if _, _, err := f.Changes(ctx, "p", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Changes(absent) = %v, want ErrNotFound", err)
	}
	if _, _, err := s.CreateRule(ctx, "p", rule("a", "10.0.0.0/8", policy.Allow), store.Any); err != nil {
		t.Fatal(err)
	}
	var follower, lagging replica
	follower.load(t, s, "p")
	lagging = replica{settings: follower.settings, rules: maps.Clone(follower.rules), rev: follower.rev}
	if ch, rev, err := f.Changes(ctx, "p", follower.rev); err != nil || len(ch) != 0 || rev != follower.rev {
		t.Errorf("Changes(current %d) = %d changes, %d, %v; want none", follower.rev, len(ch), rev, err)
	}
	revs := []store.Revision{follower.rev}
	comment := "patched"
	ttl := time.Minute
	steps := []struct {
		name string
		// small writes change at most this many rules; the change of the
		// latest revision must then be kept.
		want  int
		write func() error
	}{
		{"CreateRule", 1, func() error {
			_, _, err := s.CreateRule(ctx, "p", rule("b", "10.1.0.0/16", policy.Deny), store.Any)
			return err
		}},
		{"UpdateRule", 1, func() error {
			_, _, err := s.UpdateRule(ctx, "p", rule("a", "10.0.0.0/9", policy.Deny), store.Any)
			return err
		}},
		{"PatchRule", 1, func() error {
			_, _, err := s.PatchRule(ctx, "p", "b", store.Patch{Comment: &comment, TTL: &ttl}, store.Any)
			return err
		}},
		{"SetSettings", 1, func() error {
			_, err := s.SetSettings(ctx, "p", policy.Settings{Enabled: true, DefaultAction: policy.DefaultDeny, DenyOverrides: true, ApplyToMobile: false}, store.Any)
			return err
		}},
		{"DeleteRule", 1, func() error { _, err := s.DeleteRule(ctx, "p", "a", store.Any); return err }},
		{"CreateRuleAgain", 1, func() error {
			_, _, err := s.CreateRule(ctx, "p", rule("a", "10.2.0.0/16", policy.Allow), store.Any)
			return err
		}},
		{"CreateMore", 1, func() error {
			for _, r := range []policy.Rule{rule("c", "192.0.2.0/24", policy.Deny), rule("d", "2001:db8::/32", policy.Allow), rule("e", "198.51.100.7", policy.Deny)} {
				if _, _, err := s.CreateRule(ctx, "p", r, store.Any); err != nil {
					return err
				}
			}
			return nil
		}},
		// A Put keeping a, c and d as they are, changing b, adding f and
		// dropping e: three rule changes, not six puts.
		{"PutDiff", 3, func() error {
			p, _, err := s.Load(ctx, "p")
			if err != nil {
				return err
			}
			p.Rules = slices.DeleteFunc(p.Rules, func(r policy.Rule) bool { return r.ID == "e" })
			for i := range p.Rules {
				if p.Rules[i].ID == "b" {
					p.Rules[i].Action = policy.Allow
				}
			}
			p.Rules = append(p.Rules, rule("f", "203.0.113.0/24", policy.Allow))
			_, err = s.Put(ctx, "p", p, store.Any)
			return err
		}},
		{"PutSame", 0, func() error {
			p, _, err := s.Load(ctx, "p")
			if err != nil {
				return err
			}
			_, err = s.Put(ctx, "p", p, store.Any)
			return err
		}},
		{"DeleteRules", 2, func() error {
			_, _, err := s.DeleteRules(ctx, "p", store.Query{Action: policy.Deny}, store.Any)
			return err
		}},
	}
	for _, st := range steps {
		clock.Advance(time.Second)
		before := follower.rev
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		changes := follower.follow(t, f, "p")
		if follower.gaps > 0 {
			t.Fatalf("%s: Changes(%d), the revision before a write of %d rules, = ErrGap: a feed keeps at least that", st.name, before, st.want)
		}
		follower.same(t, s, "p")
		revs = append(revs, follower.rev)
		if st.name == "PutDiff" {
			var got []string
			for _, c := range changes {
				switch {
				case c.Rule != nil:
					got = append(got, "put "+c.Rule.ID)
				case c.Deleted != "":
					got = append(got, "delete "+c.Deleted)
				default:
					got = append(got, "settings")
				}
			}
			slices.Sort(got)
			if want := []string{"delete e", "put b", "put f"}; !slices.Equal(got, want) {
				t.Errorf("a Put changing b, adding f and dropping e was recorded as %q, want %q", got, want)
			}
		}
	}
	// A follower that slept through every write catches up in one call,
	// the changes in order (a was deleted and created again), or is told
	// to load.
	lagging.follow(t, f, "p")
	lagging.same(t, s, "p")
	// Gaps are monotone: if the changes after a revision are no longer
	// kept, neither are those after any earlier one.
	kept := false
	for _, rev := range revs {
		_, _, err := f.Changes(ctx, "p", rev)
		switch {
		case errors.Is(err, store.ErrGap) && kept:
			t.Errorf("Changes(%d) = ErrGap, but the changes after an earlier revision are kept", rev)
		case err == nil:
			kept = true
		case !errors.Is(err, store.ErrGap):
			t.Errorf("Changes(%d) = %v", rev, err)
		}
	}
	// A policy deleted and created again keeps no changes from before.
	if err := s.Delete(ctx, "p", store.Any); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Changes(ctx, "p", follower.rev); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Changes(deleted policy) = %v, want ErrNotFound", err)
	}
	rev, err := s.Put(ctx, "p", policy.New(rule("a", "10.2.0.0/16", policy.Allow)), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	if ch, got, err := f.Changes(ctx, "p", follower.rev); !errors.Is(err, store.ErrGap) {
		t.Errorf("Changes(revision %d of a deleted policy) after it was created again = %d changes, %d, %v; want ErrGap", follower.rev, len(ch), got, err)
	}
	if ch, got, err := f.Changes(ctx, "p", rev); err != nil || len(ch) != 0 || got != rev {
		t.Errorf("Changes(current %d) after re-creation = %d changes, %d, %v", rev, len(ch), got, err)
	}
}

// testFeedConcurrent follows a policy while writers change it: every
// revision's changes are committed with it, so the follower ends equal to
// Load.
func testFeedConcurrent(t *testing.T, s store.Editor, _ *fakeClock) {
	f, ok := s.(store.Feed)
	if !ok {
		t.Skip("the store is not a store.Feed")
	}
	ctx := t.Context()
	if _, err := s.Put(ctx, "p", policy.New(), store.Any); err != nil {
		t.Fatal(err)
	}
	var follower replica
	follower.load(t, s, "p")
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				if _, _, err := s.CreateRule(ctx, "p", rule(id, fmt.Sprintf("10.%d.%d.0/24", w, i), policy.Allow), store.Any); err != nil {
					t.Error(err)
					return
				}
				if i%2 == 1 {
					if _, err := s.DeleteRule(ctx, "p", fmt.Sprintf("w%d-%d", w, i-1), store.Any); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		default:
		}
		follower.follow(t, f, "p")
	}
	follower.same(t, s, "p")
	t.Logf("the follower loaded %d times after a gap", follower.gaps)
}
