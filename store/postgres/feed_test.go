package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/storebench"
	"github.com/ipgate/ipgate/store/postgres"
)

// lastSchema is the schema of the store openStore made last.
func lastSchema() string { return fmt.Sprintf("ipgate_test_%d_%d", os.Getpid(), schemas.Load()) }

// reopen opens another store over the schema of the last openStore.
func reopen(t testing.TB, opts postgres.Options) pgStore {
	t.Helper()
	if opts.DSN == "" {
		opts.DSN = dsn()
	}
	opts.Schema = lastSchema()
	s, closeS, err := postgres.Open(t.Context(), &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeS)
	return s.(pgStore)
}

func exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// firstSchema is the schema of the first release, which had no version
// table, as it created it.
const firstSchema = `
CREATE SCHEMA %[1]s;
CREATE TABLE %[1]s.policies (
	name            text PRIMARY KEY,
	revision        bigint NOT NULL,
	deleted         boolean NOT NULL,
	enabled         boolean NOT NULL,
	default_action  text NOT NULL,
	precedence      text NOT NULL,
	apply_to_mobile boolean NOT NULL
);
CREATE TABLE %[1]s.rules (
	policy     text NOT NULL REFERENCES %[1]s.policies(name) ON DELETE CASCADE,
	id         text NOT NULL,
	target     text NOT NULL,
	action     text NOT NULL,
	admin_only boolean NOT NULL,
	expires_at text,
	ttl        bigint,
	created_at text,
	updated_at text,
	comment    text NOT NULL,
	pos        integer NOT NULL,
	PRIMARY KEY (policy, id)
);
INSERT INTO %[1]s.policies VALUES ('t', 7, false, true, 'deny', 'denyOverrides', false), ('gone', 3, true, false, 'deny', 'denyOverrides', false);
INSERT INTO %[1]s.rules VALUES
	('t', 'host', '203.0.113.7', 'deny', true, '2030-01-02T03:04:05.123456789+05:00', NULL, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00.5Z', 'a host', 2),
	('t', 'net', '10.0.0.0/8', 'allow', false, NULL, 3600, '2026-01-01T00:00:00.000000001Z', NULL, '', 0),
	('t', 'span', '10.1.0.1-10.1.0.9', 'deny', false, NULL, NULL, NULL, NULL, '', 1),
	('t', 'v6', '2001:db8::/32', 'allow', false, NULL, NULL, NULL, NULL, '', 3),
	('t', 'v6span', '2001:db8::1-2001:db8::ff', 'deny', false, '2031-05-06T07:08:09.987654321-03:30', NULL, NULL, NULL, 'x', 4);
`

// TestMigrateFromFirstSchema creates the first release's schema with data,
// then opens a store over it: the schema is upgraded in place and every
// rule reads back exactly, instants to the nanosecond.
func TestMigrateFromFirstSchema(t *testing.T) {
	openStore(t, nil) // a schema name, dropped at the end
	schema := lastSchema()
	exec(t, "DROP SCHEMA "+schema+" CASCADE")
	exec(t, fmt.Sprintf(firstSchema, schema))
	s := reopen(t, postgres.Options{})
	p, rev, err := s.Load(t.Context(), "t")
	if err != nil || rev != 7 {
		t.Fatalf("Load = rev %d, %v", rev, err)
	}
	ttl := time.Hour
	want := policy.Policy{
		Settings: policy.Settings{Enabled: true, DefaultAction: policy.DefaultDeny, DenyOverrides: true},
		Rules: []policy.Rule{
			{ID: "net", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow, TTL: &ttl,
				CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 1, time.UTC)},
			{ID: "span", Target: rangeset.MustParseRange("10.1.0.1-10.1.0.9"), Action: policy.Deny},
			{ID: "host", Target: rangeset.MustParseRange("203.0.113.7"), Action: policy.Deny, AdminOnly: true,
				ExpiresAt: time.Date(2030, 1, 1, 22, 4, 5, 123456789, time.UTC), CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
				UpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 5e8, time.UTC), Comment: "a host"},
			{ID: "v6", Target: rangeset.MustParseRange("2001:db8::/32"), Action: policy.Allow},
			{ID: "v6span", Target: rangeset.MustParseRange("2001:db8::1-2001:db8::ff"), Action: policy.Deny,
				ExpiresAt: time.Date(2031, 5, 6, 10, 38, 9, 987654321, time.UTC), Comment: "x"},
		},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("migrated policy (-want +got):\n%s", diff)
	}
	if _, _, err := s.Load(t.Context(), "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load(deleted) = %v, want ErrNotFound", err)
	}
	// The feed starts at the migration: nothing older is kept.
	if _, _, err := s.Changes(t.Context(), "t", 6); !errors.Is(err, store.ErrGap) {
		t.Errorf("Changes(6) = %v, want ErrGap", err)
	}
	if ch, now, err := s.Changes(t.Context(), "t", 7); err != nil || now != 7 || len(ch) != 0 {
		t.Errorf("Changes(7) = %v, %d, %v; want none at 7", ch, now, err)
	}
	// Writes continue the revisions and append after the last rule.
	if _, rev, err := s.CreateRule(t.Context(), "t", rule("new", "192.0.2.0/24", policy.Allow), store.Any); err != nil || rev != 8 {
		t.Fatalf("CreateRule = %d, %v", rev, err)
	}
	if p, _, _ := s.Load(t.Context(), "t"); p.Rules[len(p.Rules)-1].ID != "new" {
		t.Errorf("created rule not last: %v", p.Rules)
	}
	// A policy deleted before the migration is created again afresh.
	if _, rev, err := s.CreateRule(t.Context(), "gone", rule("a", "192.0.2.1", policy.Deny), store.Any); err != nil || rev != 4 {
		t.Fatalf("CreateRule(gone) = %d, %v; want revision 4", rev, err)
	}
	if p, _, err := s.Load(t.Context(), "gone"); err != nil || p.Settings != policy.DefaultSettings() || len(p.Rules) != 1 {
		t.Errorf("recreated policy = %+v, %v; want one rule under the default settings", p, err)
	}
	// Opening again finds the schema current and leaves it alone.
	again := reopen(t, postgres.Options{})
	if p2, rev, err := again.Load(t.Context(), "t"); err != nil || rev != 8 || len(p2.Rules) != 6 {
		t.Errorf("Load after reopening = %d rules, rev %d, %v", len(p2.Rules), rev, err)
	}
	exec(t, fmt.Sprintf("INSERT INTO %s.schema_migrations (version, name) VALUES (99, 'future')", schema))
	if _, _, err := postgres.Open(t.Context(), &postgres.Options{DSN: dsn(), Schema: schema}); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("Open of a newer schema = %v, want an error naming version 99", err)
	}
}

// replica applies a feed to a copy of a policy, as a follower would: a put
// replaces the rule with its id in place or appends it.
type replica struct {
	p   policy.Policy
	rev store.Revision
}

func (r *replica) apply(changes []store.Change) {
	for _, c := range changes {
		switch {
		case c.Rule != nil:
			if i := slices.IndexFunc(r.p.Rules, func(x policy.Rule) bool { return x.ID == c.Rule.ID }); i >= 0 {
				r.p.Rules[i] = *c.Rule
			} else {
				r.p.Rules = append(r.p.Rules, *c.Rule)
			}
		case c.Settings != nil:
			r.p.Settings = *c.Settings
		default:
			r.p.Rules = slices.DeleteFunc(r.p.Rules, func(x policy.Rule) bool { return x.ID == c.Deleted })
		}
	}
}

// TestFeedReplaysLoad makes random writes of every kind and checks, after
// each, that the changes applied to a replica give what Load gives, and
// that every change belongs to a revision the replica had not seen.
func TestFeedReplaysLoad(t *testing.T) {
	ctx := t.Context()
	var mu sync.Mutex // the store reads the clock from its own goroutines too
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openStore(t, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	rng := rand.New(rand.NewPCG(1, 2))
	target := func() rangeset.Range {
		a := netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), 0})
		switch rng.IntN(3) {
		case 0:
			return rangeset.RangeFrom(a, a)
		case 1:
			return rangeset.PrefixRange(netip.PrefixFrom(a, 16+rng.IntN(9)))
		}
		b := a.As4()
		b[3] = byte(1 + rng.IntN(255))
		return rangeset.RangeFrom(a, netip.AddrFrom4(b))
	}
	newRule := func() policy.Rule {
		return policy.Rule{ID: fmt.Sprint("r", rng.IntN(60)), Target: target(), Action: policy.Action(1 + rng.IntN(2)), Comment: fmt.Sprint(rng.IntN(3))}
	}
	var rep replica
	steps := 300
	if testing.Short() {
		steps = 80
	}
	for step := range steps {
		mu.Lock()
		now = now.Add(time.Duration(rng.IntN(1e9)))
		mu.Unlock()
		var err error
		r := newRule()
		switch k := rng.IntN(10); k {
		case 0, 1, 2:
			_, _, err = s.CreateRule(ctx, "p", r, store.Any)
		case 3:
			_, _, err = s.UpdateRule(ctx, "p", r, store.Any)
		case 4:
			c := fmt.Sprint("patched ", step)
			_, _, err = s.PatchRule(ctx, "p", r.ID, store.Patch{Comment: &c}, store.Any)
		case 5:
			_, err = s.DeleteRule(ctx, "p", r.ID, store.Any)
		case 6:
			_, _, err = s.DeleteRules(ctx, "p", store.Query{Contains: netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), 9})}, store.Any)
		case 7:
			st := policy.DefaultSettings()
			st.Enabled = rng.IntN(2) == 0
			_, err = s.SetSettings(ctx, "p", st, store.Any)
		default: // a Put that keeps some rules, changes some, adds and drops others
			cur, _, lerr := s.Load(ctx, "p")
			if lerr != nil && !errors.Is(lerr, store.ErrNotFound) {
				t.Fatal(lerr)
			}
			if lerr != nil {
				cur = policy.New()
			}
			var next []policy.Rule
			for _, x := range cur.Rules {
				switch rng.IntN(4) {
				case 0: // dropped
				case 1:
					x.Action = 3 - x.Action
					next = append(next, x)
				default:
					next = append(next, x)
				}
			}
			for range rng.IntN(4) {
				if x := newRule(); !slices.ContainsFunc(next, func(y policy.Rule) bool { return y.ID == x.ID }) {
					next = append(next, x)
				}
			}
			rng.Shuffle(len(next), func(i, j int) { next[i], next[j] = next[j], next[i] })
			cur.Rules = next
			cur.Settings.ApplyToMobile = rng.IntN(2) == 0
			_, err = s.Put(ctx, "p", cur, store.Any)
		}
		if err != nil && !errors.Is(err, store.ErrRuleExists) && !errors.Is(err, store.ErrRuleNotFound) && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("step %d: %v", step, err)
		}
		want, wrev, err := s.Load(ctx, "p")
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		changes, rev, err := s.Changes(ctx, "p", rep.rev)
		if err != nil || rev != wrev {
			t.Fatalf("step %d: Changes(%d) = rev %d, %v; Load says %d", step, rep.rev, rev, err, wrev)
		}
		for _, c := range changes {
			if c.Revision <= rep.rev || c.Revision > rev {
				t.Fatalf("step %d: change of revision %d after %d, up to %d", step, c.Revision, rep.rev, rev)
			}
		}
		if rep.rev == 0 {
			rep.p = policy.New()
		}
		rep.apply(changes)
		rep.rev = rev
		if diff := cmp.Diff(want, rep.p, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("step %d: replayed feed differs from Load (-load +replay):\n%s", step, diff)
		}
	}
}

// TestFeedGaps: past the retention, after a deletion and after a revision
// too large to record, Changes answers ErrGap.
func TestFeedGaps(t *testing.T) {
	ctx := t.Context()
	openStore(t, nil)
	s := reopen(t, postgres.Options{Retention: 3})
	if _, _, err := s.Changes(ctx, "p", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Changes(absent) = %v, want ErrNotFound", err)
	}
	for i := range 6 {
		if _, _, err := s.CreateRule(ctx, "p", rule(fmt.Sprint("r", i), fmt.Sprintf("10.0.0.%d", i), policy.Deny), store.Any); err != nil {
			t.Fatal(err)
		}
	}
	for _, after := range []store.Revision{0, 1, 2} {
		if _, _, err := s.Changes(ctx, "p", after); !errors.Is(err, store.ErrGap) {
			t.Errorf("Changes(%d) with 3 of 6 revisions kept = %v, want ErrGap", after, err)
		}
	}
	if ch, rev, err := s.Changes(ctx, "p", 3); err != nil || rev != 6 || len(ch) != 3 || ch[0].Revision != 4 || ch[0].Rule.ID != "r3" {
		t.Errorf("Changes(3) = %+v, %d, %v", ch, rev, err)
	}
	if _, _, err := s.Changes(ctx, "p", 7); !errors.Is(err, store.ErrGap) {
		t.Errorf("Changes(7) beyond revision 6 = %v, want ErrGap", err)
	}
	var n int
	conn, err := pgx.Connect(ctx, dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s.changes", lastSchema())).Scan(&n); err != nil || n != 3 {
		t.Errorf("change rows kept = %d, %v; want 3 (retention)", n, err)
	}
	// A revision changing more rules than recorded.
	if _, err := s.Put(ctx, "p", storebench.Large(10_001), store.Any); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Changes(ctx, "p", 6); !errors.Is(err, store.ErrGap) {
		t.Errorf("Changes across a 10,001-rule Put = %v, want ErrGap", err)
	}
	if ch, _, err := s.Changes(ctx, "p", 7); err != nil || len(ch) != 0 {
		t.Errorf("Changes(7) after the Put = %v, %v", ch, err)
	}
	// Deleted, then created again.
	if err := s.Delete(ctx, "p", store.Any); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Changes(ctx, "p", 7); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Changes(deleted) = %v, want ErrNotFound", err)
	}
	if _, _, err := s.CreateRule(ctx, "p", rule("again", "10.9.9.9", policy.Allow), store.Any); err != nil {
		t.Fatal(err)
	}
	for _, after := range []store.Revision{0, 7} {
		if _, _, err := s.Changes(ctx, "p", after); !errors.Is(err, store.ErrGap) {
			t.Errorf("Changes(%d) across delete and create = %v, want ErrGap", after, err)
		}
	}
	if p, _, err := s.Load(ctx, "p"); err != nil || len(p.Rules) != 1 || p.Settings != policy.DefaultSettings() {
		t.Errorf("recreated policy = %+v, %v; want one rule, default settings", p, err)
	}
	// Retention below zero keeps nothing.
	none := reopen(t, postgres.Options{Retention: -1})
	_, rev, err := none.CreateRule(ctx, "q", rule("a", "10.0.0.1", policy.Allow), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := none.Changes(ctx, "q", rev-1); !errors.Is(err, store.ErrGap) {
		t.Errorf("Changes with no retention = %v, want ErrGap", err)
	}
}
