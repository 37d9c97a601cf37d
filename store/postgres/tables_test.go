package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/storebench"
	"github.com/ipgate/ipgate/store/postgres"
)

// bigRules is more rules than a revision records: a Put of that many new
// rules rewrites the policy into a table of its own.
const bigRules = 10_100

// ownTables returns the tables of their own that the policies of the last
// schema have, and how many rows of the shared table name policy.
func ownTables(t *testing.T, name string) (tables []string, shared int) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename ~ '^rules_[0-9]+$'`, lastSchema())
	if err != nil {
		t.Fatal(err)
	}
	if tables, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT count(*) FROM %s.rules WHERE policy = $1`, lastSchema()), name).Scan(&shared); err != nil {
		t.Fatal(err)
	}
	return tables, shared
}

// TestOwnTable walks a policy into a table of its own and out again: every
// read and write works on it, a Put of few changes edits it in place and
// records them, a Put of many moves the policy to a new table (keeping the
// timestamps of the rules it keeps) and drops the old one, and a small or
// deleted policy leaves no table behind.
func TestOwnTable(t *testing.T) {
	ctx := t.Context()
	clock := time.Date(2030, 1, 1, 0, 0, 0, 123456789, time.UTC)
	now := func() time.Time { return clock }
	s := openStore(t, now)
	large := storebench.Large(bigRules)
	rev, err := s.Put(ctx, "big", large, store.Any)
	if err != nil {
		t.Fatal(err)
	}
	tables, shared := ownTables(t, "big")
	if len(tables) != 1 || shared != 0 {
		t.Fatalf("after a Put of %d rules: own tables %v, %d shared rows; want one table, no shared rows", bigRules, tables, shared)
	}
	first := tables[0]
	loaded, got, err := s.Load(ctx, "big")
	if err != nil || got != rev || len(loaded.Rules) != bigRules || !loaded.Rules[7].CreatedAt.Equal(clock) {
		t.Fatalf("Load = %d rules at %d, %v", len(loaded.Rules), got, err)
	}
	for i, r := range loaded.Rules {
		if r.ID != large.Rules[i].ID || r.Target != large.Rules[i].Target {
			t.Fatalf("rule %d = %+v, want %+v", i, r, large.Rules[i])
		}
	}

	// Reads.
	if r, _, err := s.GetRule(ctx, "big", "r42"); err != nil || r.Target != large.Rules[42].Target {
		t.Errorf("GetRule = %+v, %v", r, err)
	}
	q := store.Query{Contains: netip.MustParseAddr("10.1.2.5")}
	want, wantTotal, err := q.Apply(loaded.Rules)
	if err != nil {
		t.Fatal(err)
	}
	if page, total, err := s.ListRules(ctx, "big", q); err != nil || total != wantTotal || !cmp.Equal(page, want, cmpopts.EquateEmpty()) {
		t.Errorf("ListRules(contains) = %d of %d, %v; want %d", len(page), total, err, wantTotal)
	}
	if plan, err := postgres.ExplainList(ctx, s, "big", q); err != nil || !strings.Contains(plan, "rules_cover") || strings.Contains(plan, "Seq Scan") {
		t.Errorf("plan of a query by address on an own table reads no index (%v):\n%s", err, plan)
	}

	// Rule writes, each reading one row and recorded in the feed.
	clock = clock.Add(time.Hour)
	checkRuleWrites(t, s, "big", bigRules, "10.0.6.5", nil)
	if _, _, err := s.CreateRule(ctx, "big", rule("new", "192.0.2.2", policy.Allow), store.Any); !errors.Is(err, store.ErrRuleExists) {
		t.Errorf("CreateRule of an existing id = %v, want ErrRuleExists", err)
	}
	if ch, now, err := s.Changes(ctx, "big", rev); err != nil || now != rev+5 || len(ch) != 5 {
		t.Errorf("Changes after 5 rule writes = %d changes to %d, %v", len(ch), now, err)
	}
	edited, _, err := s.Load(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}

	// A Put of few changes edits the table in place and records them.
	clock = clock.Add(time.Hour)
	p := edited.Clone()
	p.Rules[0].Comment = "changed"
	if rev, err = s.Put(ctx, "big", p, store.Any); err != nil {
		t.Fatal(err)
	}
	if tables, _ := ownTables(t, "big"); len(tables) != 1 || tables[0] != first {
		t.Errorf("a Put of one change moved the policy: tables %v, want [%s]", tables, first)
	}
	if ch, _, err := s.Changes(ctx, "big", rev-1); err != nil || len(ch) != 1 || ch[0].Rule == nil || ch[0].Rule.ID != p.Rules[0].ID {
		t.Errorf("Changes of a one-rule Put = %+v, %v", ch, err)
	}
	after, _, err := s.Load(ctx, "big")
	if err != nil || !after.Rules[0].UpdatedAt.Equal(clock) || !after.Rules[1].UpdatedAt.Equal(edited.Rules[1].UpdatedAt) {
		t.Errorf("after a one-rule Put: %+v, %+v, %v", after.Rules[0], after.Rules[1], err)
	}

	// A Put of many changes moves the policy to a new table.
	clock = clock.Add(time.Hour)
	flipped := after.Clone()
	for i := range flipped.Rules {
		flipped.Rules[i].Action = 3 - flipped.Rules[i].Action
	}
	if rev, err = s.Put(ctx, "big", flipped, rev); err != nil {
		t.Fatal(err)
	}
	if tables, shared := ownTables(t, "big"); len(tables) != 1 || tables[0] == first || shared != 0 {
		t.Errorf("after a Put of every rule changed: tables %v (first %s), %d shared rows; want one new table", tables, first, shared)
	}
	if _, _, err := s.Changes(ctx, "big", rev-1); !errors.Is(err, store.ErrGap) {
		t.Errorf("Changes across a rewrite = %v, want ErrGap", err)
	}
	moved, got, err := s.Load(ctx, "big")
	if err != nil || got != rev || len(moved.Rules) != len(flipped.Rules) {
		t.Fatalf("Load after the move = %d rules at %d, %v", len(moved.Rules), got, err)
	}
	for i, r := range moved.Rules {
		o := after.Rules[i]
		if r.ID != o.ID || r.Action == o.Action || !r.CreatedAt.Equal(o.CreatedAt) || !r.UpdatedAt.Equal(clock) {
			t.Fatalf("rule %d after the move = %+v, from %+v", i, r, o)
		}
	}
	if _, err := s.Put(ctx, "big", flipped, rev-1); !errors.Is(err, store.ErrConflict) {
		t.Errorf("Put at a stale revision = %v, want ErrConflict", err)
	}

	// Few rules go back to the shared table, the own one dropped.
	if _, err := s.Put(ctx, "big", policy.New(rule("a", "10.0.0.1", policy.Allow)), store.Any); err != nil {
		t.Fatal(err)
	}
	if tables, shared := ownTables(t, "big"); len(tables) != 0 || shared != 1 {
		t.Errorf("after a Put of one rule: tables %v, %d shared rows; want none, 1", tables, shared)
	}
	if p, _, err := s.Load(ctx, "big"); err != nil || len(p.Rules) != 1 {
		t.Errorf("Load of the small policy = %+v, %v", p, err)
	}

	// Deleting a policy drops its table.
	if _, err := s.Put(ctx, "big", large, store.Any); err != nil {
		t.Fatal(err)
	}
	if tables, shared := ownTables(t, "big"); len(tables) != 1 || shared != 0 {
		t.Errorf("after a large Put over a small policy: tables %v, %d shared rows", tables, shared)
	}
	if err := s.Delete(ctx, "big", store.Any); err != nil {
		t.Fatal(err)
	}
	if tables, _ := ownTables(t, "big"); len(tables) != 0 {
		t.Errorf("Delete left tables %v", tables)
	}
	if _, _, err := s.Load(ctx, "big"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load after Delete = %v, want ErrNotFound", err)
	}
	if _, _, err := s.CreateRule(ctx, "big", rule("again", "10.9.9.9", policy.Allow), store.Any); err != nil {
		t.Fatal(err)
	}
	if p, _, err := s.Load(ctx, "big"); err != nil || len(p.Rules) != 1 {
		t.Errorf("recreated policy = %+v, %v", p, err)
	}
}

// TestReadsDuringMoves reads a policy while a writer moves it from table
// to table, dropping each old one: every read sees one whole version,
// never a mix and never an error.
func TestReadsDuringMoves(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil)
	ps := [2]policy.Policy{storebench.Large(bigRules), storebench.Large(bigRules)}
	for i := range ps[1].Rules {
		ps[1].Rules[i].Action = 3 - ps[1].Rules[i].Action
	}
	if _, err := s.Put(ctx, "p", ps[0], store.Any); err != nil {
		t.Fatal(err)
	}
	// version says which of ps the rules are, or -1 for a mix.
	version := func(rules []policy.Rule) int {
		v := 0
		if rules[0].Action != ps[0].Rules[0].Action {
			v = 1
		}
		for i, r := range rules {
			if r.Action != ps[v].Rules[i].Action {
				return -1
			}
		}
		return v
	}
	moves := 6
	if testing.Short() {
		moves = 3
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	reads := 0
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		t.Errorf(format, args...)
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				switch i % 3 {
				case 0:
					p, rev, err := s.Load(ctx, "p")
					if err != nil {
						fail("Load during moves: %v", err)
						return
					}
					if v := version(p.Rules); v < 0 || int(rev%2) != 1-v {
						fail("Load at revision %d read version %d", rev, v)
					}
				case 1:
					q := store.Query{Contains: netip.MustParseAddr("10.1.2.5")}
					if page, _, err := s.ListRules(ctx, "p", q); err != nil || len(page) == 0 {
						fail("ListRules during moves = %d rules, %v", len(page), err)
						return
					}
				default:
					if _, _, err := s.GetRule(ctx, "p", "r42"); err != nil {
						fail("GetRule during moves: %v", err)
						return
					}
				}
				mu.Lock()
				reads++
				mu.Unlock()
			}
		}()
	}
	for i := range moves {
		if _, err := s.Put(ctx, "p", ps[(i+1)%2], store.Any); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if reads < moves {
		t.Errorf("%d reads during %d moves: the readers hardly raced", reads, moves)
	}
	if tables, _ := ownTables(t, "p"); len(tables) != 1 {
		t.Errorf("after %d moves: tables %v, want one", moves, tables)
	}
}

// TestMigrateKeepsSharedRules downgrades a schema holding rules to
// version 2, before tables of their own, and opens a store over it: the
// upgrade keeps the rules where they are, and a large Put then moves them.
func TestMigrateKeepsSharedRules(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil)
	small := policy.New(rule("a", "10.0.0.1", policy.Allow), rule("b", "2001:db8::/32", policy.Deny))
	if _, err := s.Put(ctx, "p", small, store.Any); err != nil {
		t.Fatal(err)
	}
	before, rev, err := s.Load(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	schema := lastSchema()
	exec(t, fmt.Sprintf(`ALTER TABLE %[1]s.policies DROP COLUMN rules_table; DROP SEQUENCE %[1]s.rules_tables;
		DELETE FROM %[1]s.schema_migrations WHERE version = 3`, schema))
	up := reopen(t, postgres.Options{})
	after, got, err := up.Load(ctx, "p")
	if err != nil || got != rev || !cmp.Equal(after, before) {
		t.Fatalf("Load after the upgrade = %+v at %d, %v; want %+v at %d", after, got, err, before, rev)
	}
	if _, err := up.Put(ctx, "p", storebench.Large(bigRules), store.Any); err != nil {
		t.Fatal(err)
	}
	if tables, shared := ownTables(t, "p"); len(tables) != 1 || shared != 0 {
		t.Errorf("after a large Put: tables %v, %d shared rows; want one table, none shared", tables, shared)
	}
}
