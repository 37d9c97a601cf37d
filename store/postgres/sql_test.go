package postgres_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
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

// randomPolicy returns n rules over a small address space of both
// families, so that targets overlap and nest: hosts, prefixes of every
// length and ranges that are not prefixes.
func randomPolicy(rng *rand.Rand, n int) policy.Policy {
	addr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			b[0], b[1], b[14], b[15] = 0x20, 0x01, byte(rng.IntN(4)), byte(rng.IntN(256))
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(256))})
	}
	p := policy.New()
	for i := range n {
		v6 := rng.IntN(3) == 0
		a, b := addr(v6), addr(v6)
		if b.Less(a) {
			a, b = b, a
		}
		var t rangeset.Range
		switch rng.IntN(3) {
		case 0:
			t = rangeset.RangeFrom(a, a)
		case 1:
			t = rangeset.PrefixRange(netip.PrefixFrom(a, a.BitLen()-rng.IntN(12)))
		default:
			t = rangeset.RangeFrom(a, b)
		}
		r := policy.Rule{ID: fmt.Sprint("r", i), Target: t, Action: policy.Action(1 + rng.IntN(2)), AdminOnly: rng.IntN(4) == 0}
		p.Rules = append(p.Rules, r)
	}
	return p
}

// TestContainsInSQL lists and deletes by address on random policies and
// compares with Query.Match over the loaded policy.
func TestContainsInSQL(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	p := randomPolicy(rng, 3000)
	if _, err := s.Put(ctx, "p", p, store.Any); err != nil {
		t.Fatal(err)
	}
	loaded, _, err := s.Load(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	queries := 300
	if testing.Short() {
		queries = 60
	}
	for i := range queries {
		var a netip.Addr
		if i%3 == 0 {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 14: byte(rng.IntN(5)), 15: byte(rng.IntN(256))})
		} else {
			a = netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(5)), byte(rng.IntN(256))})
		}
		if i%7 == 0 {
			a = netip.AddrFrom16(a.As16()) // mapped: matched as IPv4
		}
		q := store.Query{Contains: a, SortBy: "ip"}
		if i%5 == 0 {
			yes := true
			q.AdminOnly, q.Action = &yes, policy.Deny
		}
		got, total, err := s.ListRules(ctx, "p", q)
		if err != nil {
			t.Fatal(err)
		}
		want, wantTotal, err := q.Apply(loaded.Rules)
		if err != nil {
			t.Fatal(err)
		}
		if total != wantTotal || !cmp.Equal(got, want, cmpopts.EquateEmpty()) {
			t.Fatalf("ListRules(contains %v) = %d rules, want %d: %s", a, total, wantTotal, cmp.Diff(want, got, cmpopts.EquateEmpty()))
		}
	}
	// Deleting by address removes exactly what Match selects.
	for range 20 {
		a := netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(256))})
		q := store.Query{Contains: a}
		n, _, err := s.DeleteRules(ctx, "p", q, store.Any)
		if err != nil {
			t.Fatal(err)
		}
		before := len(loaded.Rules)
		loaded.Rules = slices.DeleteFunc(loaded.Rules, q.Match)
		if n != before-len(loaded.Rules) {
			t.Fatalf("DeleteRules(contains %v) = %d, want %d", a, n, before-len(loaded.Rules))
		}
	}
	after, _, err := s.Load(ctx, "p")
	if err != nil || !cmp.Equal(after.Rules, loaded.Rules, cmpopts.EquateEmpty()) {
		t.Errorf("after DeleteRules, Load = %d rules, %v; want %d", len(after.Rules), err, len(loaded.Rules))
	}
}

// TestContainsUsesIndex: on a large table the candidates of an address or
// target query come from the rules_cover index.
func TestContainsUsesIndex(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil)
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	large := storebench.Large(n)
	for _, name := range []string{"big", "other"} {
		if _, err := s.Put(ctx, name, large, store.Any); err != nil {
			t.Fatal(err)
		}
	}
	exec(t, fmt.Sprintf("ANALYZE %s.rules", lastSchema()))
	for _, q := range []store.Query{
		{Contains: netip.MustParseAddr("10.1.2.5")},
		{Contains: netip.MustParseAddr("2001:db8:0:7::1")},
		{Target: rangeset.MustParseRange("10.1.2.1-10.1.2.77")},
	} {
		plan, err := postgres.ExplainList(ctx, s, "big", q)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, "rules_cover") || strings.Contains(plan, "Seq Scan") {
			t.Errorf("plan of %+v reads no index:\n%s", q, plan)
		}
	}
	q := store.Query{Contains: netip.MustParseAddr("10.1.2.5")}
	_, want, err := q.Apply(large.Rules)
	if err != nil {
		t.Fatal(err)
	}
	before := postgres.RowsRead()
	got, total, err := s.ListRules(ctx, "big", q)
	if err != nil || total != want || got[0].Target.String() != "10.1.2.1-10.1.2.77" {
		t.Errorf("ListRules(contains 10.1.2.5) = %v, %d, %v; want %d rules", got, total, err, want)
	}
	if read := postgres.RowsRead() - before; read != int64(want) {
		t.Errorf("ListRules by address read %d rows of %d, want the %d that match", read, n, want)
	}
}

// TestSingleRuleWritesReadOneRow: without a guard, a rule write reads the
// row it changes, not the policy.
func TestSingleRuleWritesReadOneRow(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil)
	const n = 5000
	if _, err := s.Put(ctx, "p", storebench.Large(n), store.Any); err != nil {
		t.Fatal(err)
	}
	checkRuleWrites(t, s, "p", n, "10.0.5.5", map[string]func() error{
		"SetSettings": func() error {
			_, err := s.SetSettings(ctx, "p", policy.DefaultSettings(), store.Any)
			return err
		},
	})
	before := postgres.RowsRead()
	if p, _, err := s.Load(ctx, "p"); err != nil || postgres.RowsRead()-before != int64(len(p.Rules)) {
		t.Errorf("Load read %d rows of %d (%v): the counter counts nothing", postgres.RowsRead()-before, len(p.Rules), err)
	}
}

// TestOutageClosesWatchers ends the LISTEN connection: every watch
// channel, of every policy, is closed at once; watching again reconnects
// and sees the next commit.
func TestOutageClosesWatchers(t *testing.T) {
	ctx := t.Context()
	openStore(t, nil)
	app := fmt.Sprintf("ipgate_outage_%d", time.Now().UnixNano())
	s := reopen(t, postgres.Options{DSN: withApp(dsn(), app)})
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var chans []<-chan struct{}
	for _, name := range []string{"a", "b", "c", "a"} {
		ch, err := s.Watch(wctx, name)
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	conn, err := pgx.Connect(ctx, dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var killed int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE 'LISTEN%'`, app).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d LISTEN connections, %v; want 1", killed, err)
	}
	start := time.Now()
	for i, ch := range chans {
		for open := true; open; {
			select {
			case _, open = <-ch:
			case <-time.After(5 * time.Second):
				t.Fatalf("watch channel %d still open 5s after its connection ended", i)
			}
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("watchers learnt of the outage after %v", d)
	}
	ch, err := s.Watch(wctx, "a")
	if err != nil {
		t.Fatalf("Watch after the outage: %v", err)
	}
	if _, err := s.SetSettings(ctx, "a", policy.DefaultSettings(), store.Any); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification after reconnecting")
	}
}

// TestWatchBacksOff: while the server refuses connections, Watch fails
// at once with the dial's error, then fails without dialing until the
// backoff has passed, then reconnects. A role of the test's own, denied
// login, is the refusing server.
func TestWatchBacksOff(t *testing.T) {
	ctx := t.Context()
	openStore(t, nil) // skips without a server
	role := fmt.Sprintf("ipgate_test_role_%d", time.Now().UnixNano())
	if err := tryExec(fmt.Sprintf("CREATE ROLE %s LOGIN", role)); err != nil {
		t.Skipf("cannot create a role: %v", err)
	}
	t.Cleanup(func() {
		exec(t, fmt.Sprintf("DROP OWNED BY %s", role))
		exec(t, fmt.Sprintf("DROP ROLE %s", role))
	})
	exec(t, fmt.Sprintf("GRANT CREATE ON DATABASE %s TO %s", dbName(t), role))
	s, closeS, err := postgres.Open(ctx, &postgres.Options{DSN: withUser(dsn(), role), Schema: role, Retry: 400 * time.Millisecond})
	if err != nil {
		t.Skipf("cannot log in as a new role (the server may want a password): %v", err)
	}
	defer closeS()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.(store.Watcher).Watch(wctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	exec(t, fmt.Sprintf("ALTER ROLE %s NOLOGIN", role))
	exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role)
	for range ch {
	}
	if _, err := s.(store.Watcher).Watch(wctx, "p"); err == nil {
		t.Fatal("Watch succeeded while logins are refused")
	}
	start := time.Now()
	_, err = s.(store.Watcher).Watch(wctx, "p")
	if err == nil || !strings.Contains(err.Error(), "next attempt in") || time.Since(start) > 100*time.Millisecond {
		t.Errorf("second Watch = %v after %v; want the last error at once, naming the next attempt", err, time.Since(start))
	}
	exec(t, fmt.Sprintf("ALTER ROLE %s LOGIN", role))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err = s.(store.Watcher).Watch(wctx, "p"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Watch still failing 5s after logins were allowed again: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("reconnected after %v, before the backoff (at least half of 400ms)", waited)
	}
}

func tryExec(sql string) error {
	conn, err := pgx.Connect(context.Background(), dsn())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), sql)
	return err
}

func dbName(t *testing.T) string {
	c, err := pgx.ParseConfig(dsn())
	if err != nil {
		t.Fatal(err)
	}
	return c.Database
}

// withUser returns dsn connecting as user.
func withUser(dsn, user string) string {
	c, err := pgx.ParseConfig(dsn)
	if err != nil {
		return dsn
	}
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s sslmode=disable", c.Host, c.Port, c.Database, user)
}

// checkRuleWrites makes one of each single-rule write, and the writes of
// more, on policy name (storebench.Large of n rules; contains is an address
// one of them holds), and fails t when one reads more than two rows: a
// write pays for what it changes, not for the policy's size.
func checkRuleWrites(t *testing.T, s pgStore, name string, n int, contains string, more map[string]func() error) {
	t.Helper()
	ctx := t.Context()
	deny := policy.Deny
	writes := map[string]func() error{
		"CreateRule": func() error {
			_, _, err := s.CreateRule(ctx, name, rule("new", "192.0.2.1", policy.Deny), store.Any)
			return err
		},
		"UpdateRule": func() error {
			_, _, err := s.UpdateRule(ctx, name, rule("r7", "192.0.2.7", policy.Deny), store.Any)
			return err
		},
		"PatchRule": func() error {
			_, _, err := s.PatchRule(ctx, name, "r8", store.Patch{Action: &deny}, store.Any)
			return err
		},
		"DeleteRule": func() error {
			_, err := s.DeleteRule(ctx, name, "r9", store.Any)
			return err
		},
		"DeleteRules": func() error {
			_, _, err := s.DeleteRules(ctx, name, store.Query{Contains: netip.MustParseAddr(contains)}, store.Any)
			return err
		},
	}
	maps.Copy(writes, more)
	for what, write := range writes {
		before := postgres.RowsRead()
		if err := write(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if read := postgres.RowsRead() - before; read > 2 {
			t.Errorf("%s read %d rows of a %d-rule policy", what, read, n)
		}
	}
}
