package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

// fakeClock is the settable clock that Run hands the store under test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's instant.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Run checks that the stores newStore makes behave as [store.Editor] (and
// [store.Watcher] and [store.Feed], when they are one) says. Of a Feed it
// checks that the changes after every revision replay, in order, to the
// policy that Load returns (or are [store.ErrGap], and then those after
// every earlier revision too); that a whole-policy Put is recorded as its
// difference from the policy it replaced; that a policy deleted and
// created again keeps none of its changes from before; and that the
// changes of the latest revision are kept when it changed a few rules.
// Of every read and write it checks that changing what the read returned
// or the write was given, through a TTL pointer too, never reaches the
// store.
//
// newStore returns an empty store whose timestamps come from now. Each call
// must return a store that shares nothing with earlier ones.
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.Editor) {
	tests := []struct {
		name string
		f    func(*testing.T, store.Editor, *fakeClock)
	}{
		{"NotFound", testNotFound},
		{"PutLoad", testPutLoad},
		{"InvalidWriteStoresNothing", testInvalid},
		{"RuleCRUD", testRuleCRUD},
		{"Conflict", testConflict},
		{"Settings", testSettings},
		{"DeleteRules", testDeleteRules},
		{"ListRules", testListRules},
		{"SharesNoMemory", testSharesNoMemory},
		{"ConcurrentWriters", testConcurrent},
		{"Watch", testWatch},
		{"Feed", testFeed},
		{"FeedConcurrent", testFeedConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			tt.f(t, newStore(t, clock.Now), clock)
		})
	}
}

func rule(id, target string, a policy.Action) policy.Rule {
	return policy.Rule{ID: id, Target: rangeset.MustParseRange(target), Action: a}
}

func ids(rules []policy.Rule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.ID)
	}
	return out
}

func testNotFound(t *testing.T, s store.Editor, _ *fakeClock) {
	ctx := t.Context()
	if _, _, err := s.Load(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load(absent) = %v, want ErrNotFound", err)
	}
	if _, _, err := s.GetRule(ctx, "nope", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRule(absent policy) = %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteRule(ctx, "nope", "a", store.Any); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteRule(absent policy) = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "nope", store.Any); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete(absent) = %v, want ErrNotFound", err)
	}
}

func testPutLoad(t *testing.T, s store.Editor, clock *fakeClock) {
	ctx := t.Context()
	ttl := time.Hour
	p := policy.New(rule("office", "10.0.0.0/8", policy.Allow), rule("lab", "10.1.0.1-10.1.0.9", policy.Deny))
	p.Rules[1].TTL = &ttl // the store sets the timestamp the ttl counts from
	p.Settings.DefaultAction = policy.DefaultDeny
	rev, err := s.Put(ctx, "tenant", p, store.Any)
	if err != nil || rev == 0 {
		t.Fatalf("Put = %d, %v", rev, err)
	}
	got, lrev, err := s.Load(ctx, "tenant")
	if err != nil || lrev != rev {
		t.Fatalf("Load = rev %d, %v; want rev %d", lrev, err, rev)
	}
	if got.Settings != p.Settings || !slices.Equal(ids(got.Rules), []string{"office", "lab"}) {
		t.Errorf("Load = %+v, want %+v", got, p)
	}
	for _, r := range got.Rules {
		if !r.CreatedAt.Equal(clock.Now()) || !r.UpdatedAt.Equal(clock.Now()) {
			t.Errorf("rule %s timestamps %v, %v; want both %v", r.ID, r.CreatedAt, r.UpdatedAt, clock.Now())
		}
	}
	if e, ok := got.Rules[1].Expiry(); !ok || !e.Equal(clock.Now().Add(time.Hour)) {
		t.Errorf("ttl rule expires %v, %v", e, ok)
	}
	// A second Put: unchanged rules keep their timestamps, changed ones get
	// a new UpdatedAt, the revision grows.
	clock.Advance(time.Minute)
	p.Rules[0].Comment = "changed"
	rev2, err := s.Put(ctx, "tenant", p, rev)
	if err != nil || rev2 <= rev {
		t.Fatalf("second Put = %d, %v (after %d)", rev2, err, rev)
	}
	got, _, _ = s.Load(ctx, "tenant")
	if !got.Rules[0].UpdatedAt.Equal(clock.Now()) || !got.Rules[1].UpdatedAt.Equal(clock.Now().Add(-time.Minute)) ||
		!got.Rules[0].CreatedAt.Equal(clock.Now().Add(-time.Minute)) {
		t.Errorf("timestamps after a second Put: %+v", got.Rules)
	}
	// Policies are separate.
	if _, _, err := s.Load(ctx, "other"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load(other) = %v", err)
	}
	if err := s.Delete(ctx, "tenant", rev2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx, "tenant"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load after Delete = %v", err)
	}
	if rev3, err := s.Put(ctx, "tenant", p, store.Any); err != nil || rev3 <= rev2 {
		t.Errorf("Put after Delete = %d, %v; a revision must never be reused (last %d)", rev3, err, rev2)
	}
}

func testInvalid(t *testing.T, s store.Editor, _ *fakeClock) {
	ctx := t.Context()
	rev, err := s.Put(ctx, "p", policy.New(rule("a", "10.0.0.1", policy.Allow)), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	bad := policy.New(rule("a", "10.0.0.1", policy.Allow), rule("a", "10.0.0.2", policy.Deny), rule("b", "10.0.0.3", 9))
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s = %v, want ErrInvalid", what, err)
		}
		if p, now, _ := s.Load(ctx, "p"); now != rev || len(p.Rules) != 1 || p.Rules[0].Target.String() != "10.0.0.1" {
			t.Errorf("%s stored something: rev %d, %+v", what, now, p.Rules)
		}
	}
	_, err = s.Put(ctx, "p", bad, store.Any)
	var re *policy.RuleError
	if !errors.As(err, &re) || re.ID != "a" {
		t.Errorf("Put(invalid) error %v does not name rule a", err)
	}
	check("Put(invalid)", err)
	_, _, err = s.CreateRule(ctx, "p", policy.Rule{ID: "c", Action: policy.Allow}, store.Any)
	check("CreateRule(no target)", err)
	_, _, err = s.UpdateRule(ctx, "p", rule("a", "10.0.0.1", 0), store.Any)
	check("UpdateRule(no action)", err)
	neg := -5 * time.Second
	_, _, err = s.PatchRule(ctx, "p", "a", store.Patch{TTL: &neg}, store.Any)
	check("PatchRule(negative ttl)", err)
	frac := 1500 * time.Millisecond
	_, _, err = s.PatchRule(ctx, "p", "a", store.Patch{TTL: &frac}, store.Any)
	check("PatchRule(ttl of 1.5s)", err)
	_, err = s.SetSettings(ctx, "p", policy.Settings{}, store.Any)
	check("SetSettings(zero)", err)
}

func testRuleCRUD(t *testing.T, s store.Editor, clock *fakeClock) {
	ctx := t.Context()
	r, rev, err := s.CreateRule(ctx, "p", rule("a", "10.0.0.0/8", policy.Allow), store.Any)
	if err != nil || rev == 0 || !r.CreatedAt.Equal(clock.Now()) {
		t.Fatalf("CreateRule = %+v, %d, %v", r, rev, err)
	}
	if _, _, err := s.CreateRule(ctx, "p", rule("a", "10.0.0.1", policy.Deny), store.Any); !errors.Is(err, store.ErrRuleExists) {
		t.Errorf("CreateRule(duplicate) = %v, want ErrRuleExists", err)
	}
	got, grev, err := s.GetRule(ctx, "p", "a")
	if err != nil || grev != rev || got.Target != r.Target {
		t.Errorf("GetRule = %+v, %d, %v", got, grev, err)
	}
	clock.Advance(time.Hour)
	up, rev2, err := s.UpdateRule(ctx, "p", rule("a", "10.1.0.0/16", policy.Deny), rev)
	if err != nil || rev2 <= rev || up.Action != policy.Deny || !up.CreatedAt.Equal(r.CreatedAt) || !up.UpdatedAt.Equal(clock.Now()) {
		t.Errorf("UpdateRule = %+v, %d, %v", up, rev2, err)
	}
	comment := "patched"
	pr, rev3, err := s.PatchRule(ctx, "p", "a", store.Patch{Comment: &comment}, rev2)
	if err != nil || rev3 <= rev2 || pr.Comment != comment || pr.Action != policy.Deny || pr.Target.String() != "10.1.0.0/16" {
		t.Errorf("PatchRule = %+v, %d, %v", pr, rev3, err)
	}
	for _, err := range []error{
		func() error { _, _, err := s.GetRule(ctx, "p", "zz"); return err }(),
		func() error {
			_, _, err := s.UpdateRule(ctx, "p", rule("zz", "10.0.0.1", policy.Allow), store.Any)
			return err
		}(),
		func() error { _, _, err := s.PatchRule(ctx, "p", "zz", store.Patch{}, store.Any); return err }(),
		func() error { _, err := s.DeleteRule(ctx, "p", "zz", store.Any); return err }(),
	} {
		if !errors.Is(err, store.ErrRuleNotFound) {
			t.Errorf("edit of a missing rule = %v, want ErrRuleNotFound", err)
		}
	}
	rev4, err := s.DeleteRule(ctx, "p", "a", rev3)
	if err != nil || rev4 <= rev3 {
		t.Errorf("DeleteRule = %d, %v", rev4, err)
	}
	if p, _, _ := s.Load(ctx, "p"); len(p.Rules) != 0 {
		t.Errorf("rules after DeleteRule: %+v", p.Rules)
	}
}

func testConflict(t *testing.T, s store.Editor, _ *fakeClock) {
	ctx := t.Context()
	rev, _ := s.Put(ctx, "p", policy.New(rule("a", "10.0.0.1", policy.Allow)), store.Any)
	rev2, err := s.Put(ctx, "p", policy.New(rule("b", "10.0.0.2", policy.Allow)), rev)
	if err != nil {
		t.Fatal(err)
	}
	// An admin who read rev writes after another admin: refused.
	stale := []error{
		func() error { _, err := s.Put(ctx, "p", policy.New(), rev); return err }(),
		func() error { _, _, err := s.CreateRule(ctx, "p", rule("c", "10.0.0.3", policy.Deny), rev); return err }(),
		func() error { _, err := s.DeleteRule(ctx, "p", "b", rev); return err }(),
		func() error { _, _, err := s.DeleteRules(ctx, "p", store.Query{}, rev); return err }(),
		func() error { _, err := s.SetSettings(ctx, "p", policy.DefaultSettings(), rev); return err }(),
		func() error { return s.Delete(ctx, "p", rev) }(),
	}
	for i, err := range stale {
		var ce *store.ConflictError
		if !errors.Is(err, store.ErrConflict) || !errors.As(err, &ce) || ce.Current != rev2 || ce.Expected != rev {
			t.Errorf("stale write %d = %v, want a ConflictError %d -> %d", i, err, rev, rev2)
		}
	}
	if p, now, _ := s.Load(ctx, "p"); now != rev2 || !slices.Equal(ids(p.Rules), []string{"b"}) {
		t.Errorf("after refused writes: rev %d rules %v", now, ids(p.Rules))
	}
}

func testSettings(t *testing.T, s store.Editor, _ *fakeClock) {
	ctx := t.Context()
	st := policy.Settings{Enabled: false, DefaultAction: policy.DefaultAllow, DenyOverrides: true, ApplyToMobile: false}
	rev, err := s.SetSettings(ctx, "p", st, store.Any)
	if err != nil {
		t.Fatal(err)
	}
	if p, lrev, _ := s.Load(ctx, "p"); p.Settings != st || lrev != rev {
		t.Errorf("Load after SetSettings = %+v rev %d", p.Settings, lrev)
	}
}

func seed(t *testing.T, s store.Editor, clock *fakeClock) {
	t.Helper()
	ttl := 10 * time.Minute
	for i, r := range []policy.Rule{
		rule("net", "92.255.220.0/24", policy.Deny),
		rule("host", "92.255.221.10", policy.Deny),
		rule("office", "10.0.0.0/8", policy.Allow),
		{ID: "admin", Target: rangeset.MustParseRange("10.1.0.0/16"), Action: policy.Allow, AdminOnly: true, TTL: &ttl},
		{ID: "v6", Target: rangeset.MustParseRange("2001:db8::/32"), Action: policy.Allow, ExpiresAt: clock.Now().Add(time.Hour)},
	} {
		clock.Advance(time.Duration(i+1) * time.Second)
		if _, _, err := s.CreateRule(t.Context(), "p", r, store.Any); err != nil {
			t.Fatal(err)
		}
	}
}

// testSharesNoMemory changes what every read returned and what writes
// were given, through the TTL pointer too, and checks that the store still
// serves what was written.
func testSharesNoMemory(t *testing.T, s store.Editor, clock *fakeClock) {
	ctx := t.Context()
	seed(t, s, clock)
	want, _, err := s.GetRule(ctx, "p", "admin")
	if err != nil || want.TTL == nil {
		t.Fatalf("GetRule(admin) = %+v, %v; want a rule with a TTL", want, err)
	}
	want = want.Clone()
	spoil := func(r *policy.Rule) {
		if r.TTL != nil {
			*r.TTL += time.Hour
		}
		r.Comment = "spoiled"
	}
	got, _, _ := s.GetRule(ctx, "p", "admin")
	spoil(&got)
	page, _, _ := s.ListRules(ctx, "p", store.Query{})
	for i := range page {
		spoil(&page[i])
	}
	p, _, _ := s.Load(ctx, "p")
	for i := range p.Rules {
		spoil(&p.Rules[i])
	}
	if got, _, err := s.GetRule(ctx, "p", "admin"); err != nil || !got.Equal(want) {
		t.Errorf("after changing what reads returned, GetRule(admin) = %+v, %v; want %+v", got, err, want)
	}
	if page, _, err := s.ListRules(ctx, "p", store.Query{}); err != nil || len(page) != 5 || slices.ContainsFunc(page, func(r policy.Rule) bool { return r.Comment == "spoiled" }) {
		t.Errorf("after changing what reads returned, ListRules = %+v, %v", page, err)
	}
	// Nor does changing what a write was given.
	ttl := time.Hour
	r := policy.Rule{ID: "w", Target: rangeset.MustParseRange("192.0.2.0/24"), Action: policy.Deny, TTL: &ttl, Comment: "kept"}
	p, _, _ = s.Load(ctx, "p")
	p.Rules = append(p.Rules, r)
	if _, err := s.Put(ctx, "p", p, store.Any); err != nil {
		t.Fatal(err)
	}
	for i := range p.Rules {
		spoil(&p.Rules[i])
	}
	cttl := time.Hour
	if _, _, err := s.CreateRule(ctx, "p", policy.Rule{ID: "c", Target: rangeset.MustParseRange("192.0.3.0/24"), Action: policy.Deny, TTL: &cttl}, store.Any); err != nil {
		t.Fatal(err)
	}
	cttl = 7 * time.Hour
	for _, id := range []string{"w", "c"} {
		if got, _, err := s.GetRule(ctx, "p", id); err != nil || got.TTL == nil || *got.TTL != time.Hour || got.Comment == "spoiled" {
			t.Errorf("after changing what writes were given, GetRule(%s) = %+v, %v; want its TTL of 1h", id, got, err)
		}
	}
}

func testDeleteRules(t *testing.T, s store.Editor, clock *fakeClock) {
	ctx := t.Context()
	seed(t, s, clock)
	_, rev, _ := s.Load(ctx, "p")
	n, rev2, err := s.DeleteRules(ctx, "p", store.Query{Target: rangeset.MustParseRange("172.16.0.0/12")}, store.Any)
	if err != nil || n != 0 || rev2 != rev {
		t.Errorf("DeleteRules(no match) = %d, %d, %v; want 0 and no commit", n, rev2, err)
	}
	n, _, err = s.DeleteRules(ctx, "p", store.Query{Contains: netip.MustParseAddr("::ffff:10.1.2.3"), Action: policy.Allow}, store.Any)
	if err != nil || n != 2 {
		t.Errorf("DeleteRules(contains 10.1.2.3, allow) = %d, %v; want 2", n, err)
	}
	// DeleteRules ignores the sort, so a key that ListRules refuses is no error.
	n, _, err = s.DeleteRules(ctx, "p", store.Query{Target: rangeset.MustParseRange("92.255.220.0/24"), SortBy: "no such key", Descending: true}, store.Any)
	if err != nil || n != 1 {
		t.Errorf("DeleteRules(by network, unknown sort) = %d, %v; want 1", n, err)
	}
	n, _, err = s.DeleteRules(ctx, "p", store.Query{}, store.Any)
	if p, _, _ := s.Load(ctx, "p"); err != nil || n != 2 || len(p.Rules) != 0 {
		t.Errorf("DeleteRules(all) = %d, %v; left %v", n, err, ids(p.Rules))
	}
}

func testListRules(t *testing.T, s store.Editor, clock *fakeClock) {
	ctx := t.Context()
	seed(t, s, clock)
	// Touch "admin" last, so that updatedAt orders differently from createdAt.
	clock.Advance(time.Minute)
	comment := "touched"
	if _, _, err := s.PatchRule(ctx, "p", "admin", store.Patch{Comment: &comment}, store.Any); err != nil {
		t.Fatal(err)
	}
	yes := true
	ttlMin := time.Second
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		q     store.Query
		want  []string
		total int
	}{
		{store.Query{}, []string{"net", "host", "office", "admin", "v6"}, 5},
		{store.Query{Descending: true}, []string{"v6", "admin", "office", "host", "net"}, 5},
		{store.Query{SortBy: "ip"}, []string{"office", "admin", "net", "host", "v6"}, 5},
		{store.Query{SortBy: "action"}, []string{"admin", "office", "v6", "host", "net"}, 5},
		{store.Query{SortBy: "expiresAt"}, []string{"admin", "v6", "host", "net", "office"}, 5},
		{store.Query{SortBy: "ttl"}, []string{"admin", "host", "net", "office", "v6"}, 5},
		{store.Query{Limit: 2, Offset: 1}, []string{"host", "office"}, 5},
		{store.Query{Offset: 9}, nil, 5},
		{store.Query{Action: policy.Deny}, []string{"net", "host"}, 2},
		{store.Query{AdminOnly: &yes}, []string{"admin"}, 1},
		{store.Query{Contains: netip.MustParseAddr("10.1.0.1")}, []string{"office", "admin"}, 2},
		{store.Query{Target: rangeset.MustParseRange("10.0.0.0/8")}, []string{"office"}, 1},
		{store.Query{CreatedAt: store.TimeRange{From: base.Add(3 * time.Second), To: base.Add(10 * time.Second)}}, []string{"host", "office"}, 2},
		{store.Query{ExpiresAt: store.TimeRange{To: base.Add(24 * time.Hour)}}, []string{"admin", "v6"}, 2},
		{store.Query{MinTTL: &ttlMin}, []string{"admin"}, 1},
		{store.Query{MaxTTL: &ttlMin}, nil, 0},
		{store.Query{NoTTL: true}, []string{"net", "host", "office", "v6"}, 4},
		{store.Query{NoTTL: true, MinTTL: &ttlMin}, nil, 0},
		{store.Query{SortBy: "updatedAt", Descending: true, Limit: 2}, []string{"admin", "v6"}, 5},
		{store.Query{UpdatedAt: store.TimeRange{From: base.Add(6 * time.Second)}}, []string{"office", "admin", "v6"}, 3},
	}
	for i, tt := range tests {
		got, total, err := s.ListRules(ctx, "p", tt.q)
		if err != nil || total != tt.total || !slices.Equal(ids(got), tt.want) {
			t.Errorf("ListRules #%d (%+v) = %v, total %d, %v; want %v, total %d", i, tt.q, ids(got), total, err, tt.want, tt.total)
		}
	}
	// A sort key that Query.SortBy does not document fails closed, however
	// many rules match, and the key is quoted.
	for _, q := range []store.Query{
		{SortBy: "target"},
		{SortBy: "CreatedAt", Descending: true, Limit: 1},
		{SortBy: "ttl\n", Action: policy.Deny},
		{SortBy: "id", Target: rangeset.MustParseRange("192.0.2.0/24")}, // matching nothing
	} {
		got, total, err := s.ListRules(ctx, "p", q)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), rangeset.Quote(q.SortBy)) || len(got) != 0 || total != 0 {
			t.Errorf("ListRules(SortBy %s) = %v, total %d, %v; want no rules and an ErrInvalid quoting the key", rangeset.Quote(q.SortBy), ids(got), total, err)
		}
	}
}

func testConcurrent(t *testing.T, s store.Editor, _ *fakeClock) {
	ctx := t.Context()
	if _, err := s.Put(ctx, "p", policy.New(), store.Any); err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 10
	var wg sync.WaitGroup
	conflicts := make([]int, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Conditional read-modify-write, retried on conflict: no update
				// may be lost.
				for {
					p, rev, err := s.Load(ctx, "p")
					if err != nil {
						t.Error(err)
						return
					}
					p.Rules = append(p.Rules, rule(fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("10.%d.%d.0/24", w, i), policy.Allow))
					_, err = s.Put(ctx, "p", p, rev)
					if errors.Is(err, store.ErrConflict) {
						conflicts[w]++
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					break
				}
				// Unconditional writes never conflict.
				if _, _, err := s.CreateRule(ctx, "p", rule(fmt.Sprintf("u%d-%d", w, i), fmt.Sprintf("11.%d.%d.0/24", w, i), policy.Deny), store.Any); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	p, _, err := s.Load(ctx, "p")
	if err != nil || len(p.Rules) != 2*writers*each {
		t.Errorf("after concurrent writers: %d rules, %v; want %d (updates lost)", len(p.Rules), err, 2*writers*each)
	}
	t.Logf("conflicts reported and retried: %v", conflicts)
}

func testWatch(t *testing.T, s store.Editor, _ *fakeClock) {
	w, ok := s.(store.Watcher)
	if !ok {
		t.Skip("the store is not a store.Watcher")
	}
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := w.Watch(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	var last store.Revision
	for i := range 20 {
		rev, err := s.SetSettings(t.Context(), "p", policy.Settings{Enabled: i%2 == 0, DefaultAction: policy.DefaultAuto}, store.Any)
		if err != nil {
			t.Fatal(err)
		}
		last = rev
	}
	// Every committed revision, or a later one, is seen.
	deadline := time.After(10 * time.Second)
	for seen := store.Revision(0); seen < last; {
		select {
		case <-ch:
			_, seen, err = s.Load(t.Context(), "p")
			if err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatalf("watcher saw up to revision %d, want %d", seen, last)
		}
	}
	cancel()
	for range ch { // closed once ctx is done
	}
}
