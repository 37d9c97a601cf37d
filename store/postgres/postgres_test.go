package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/storebench"
	"github.com/ipgate/ipgate/store/postgres"
	"github.com/ipgate/ipgate/store/storetest"
)

var schemas atomic.Int64

// pgStore is what postgres.Open returns: an Editor that is also a Watcher
// and a Feed.
type pgStore interface {
	store.Editor
	store.Watcher
	store.Feed
}

// openStore opens a store in a fresh schema, dropped at the end of the
// test. Outside CI an unreachable server skips the test; in CI it fails.
func openStore(t testing.TB, now func() time.Time) pgStore {
	t.Helper()
	schema := fmt.Sprintf("ipgate_test_%d_%d", os.Getpid(), schemas.Add(1))
	s, closeS, err := postgres.Open(context.Background(), &postgres.Options{DSN: dsn(), Schema: schema, Now: now, Retry: 20 * time.Millisecond})
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("PostgreSQL unreachable (%v); set IPGATE_POSTGRES_DSN or start the local server. In CI this fails.", err)
		}
		t.Fatalf("PostgreSQL unreachable in CI: %v", err)
	}
	t.Cleanup(func() {
		closeS()
		if conn, err := pgx.Connect(context.Background(), dsn()); err == nil {
			conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(context.Background())
		}
	})
	return s.(pgStore)
}

// dsn is the test server: $IPGATE_POSTGRES_DSN, or the local one.
func dsn() string {
	if d := os.Getenv("IPGATE_POSTGRES_DSN"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test"
}

// follower follows a policy as a checker would: it loads once, then
// again after every notification, retrying failed loads, and keeps the
// last revision. When the store ends the watch (a lost connection), it
// watches again and reloads, as check/follow does.
type follower struct {
	rev  atomic.Uint64
	deny atomic.Bool // the first rule denies
}

func follow(t testing.TB, st store.Watcher, name string) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := st.Watch(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	f := &follower{}
	load := func() {
		for try := 0; try < 1000 && ctx.Err() == nil; try++ {
			p, rev, err := st.Load(ctx, name)
			if err != nil { // a pooled connection that was lost: retry
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if uint64(rev) > f.rev.Load() && len(p.Rules) > 0 {
				f.deny.Store(p.Rules[0].Action == policy.Deny)
				f.rev.Store(uint64(rev))
			}
			return
		}
	}
	load()
	go func() {
		for ctx.Err() == nil {
			for range ch {
				load()
			}
			for ctx.Err() == nil {
				if ch, err = st.Watch(ctx, name); err == nil {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			load()
		}
	}()
	return f
}

func TestOpenNeedsDSN(t *testing.T) {
	t.Setenv("IPGATE_POSTGRES_DSN", dsn()) // the environment is not read
	for _, opts := range []*postgres.Options{nil, {Schema: "x"}} {
		_, _, err := postgres.Open(t.Context(), opts)
		if err == nil || !strings.Contains(err.Error(), "Options.DSN") {
			t.Errorf("Open(%+v) = %v, want an error naming Options.DSN", opts, err)
		}
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Editor { return openStore(t, now) })
}

func rule(id, target string, a policy.Action) policy.Rule {
	return policy.Rule{ID: id, Target: rangeset.MustParseRange(target), Action: a}
}

func TestSchemaIdempotent(t *testing.T) {
	s := openStore(t, nil)
	if _, err := s.Put(t.Context(), "p", policy.New(rule("a", "10.0.0.1", policy.Allow)), store.Any); err != nil {
		t.Fatal(err)
	}
	// Opening again over the same schema keeps the data.
	schema := fmt.Sprintf("ipgate_test_%d_%d", os.Getpid(), schemas.Load())
	again, closeAgain, err := postgres.Open(t.Context(), &postgres.Options{DSN: dsn(), Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAgain()
	if p, rev, err := again.Load(t.Context(), "p"); err != nil || rev != 1 || len(p.Rules) != 1 {
		t.Errorf("Load after reopening = %+v rev %d, %v", p, rev, err)
	}
	if _, _, err := postgres.Open(t.Context(), &postgres.Options{DSN: dsn(), Schema: "Robert'); DROP TABLE x;--"}); err == nil {
		t.Error("an invalid schema name was accepted")
	}
}

func TestExactInstants(t *testing.T) {
	s := openStore(t, nil)
	r := rule("a", "2001:db8::1-2001:db8::ff", policy.Deny)
	r.ExpiresAt = time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("", 5*3600))
	if _, _, err := s.CreateRule(t.Context(), "p", r, store.Any); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.GetRule(t.Context(), "p", "a")
	if err != nil || !got.ExpiresAt.Equal(r.ExpiresAt) || got.ExpiresAt.Nanosecond() != 123456789 || got.Target != r.Target {
		t.Errorf("GetRule = %+v, %v; want the instant to the nanosecond", got, err)
	}
}

// appName tags the connections that terminate may end, so that it never
// touches anyone else's.
var appName = fmt.Sprintf("ipgate_test_%d", os.Getpid())

func withAppName(dsn string) string { return withApp(dsn, appName) }

// withApp adds application_name=app to dsn, in a URL or key=value form.
func withApp(dsn, app string) string {
	sep := " "
	if strings.Contains(dsn, "://") {
		sep = "&"
		if !strings.Contains(dsn, "?") {
			sep = "?"
		}
	}
	return dsn + sep + "application_name=" + app
}

// terminate ends the connections tagged with appName.
func terminate(t *testing.T) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid()`, appName).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFollowersSurviveLostConnections terminates every connection, again
// and again, under a stream of writes: the followers serve the last good
// snapshot throughout and converge on the final revision.
func TestFollowersSurviveLostConnections(t *testing.T) {
	ctx := t.Context()
	openStore(t, nil) // a fresh schema, dropped at the end
	schema := fmt.Sprintf("ipgate_test_%d_%d", os.Getpid(), schemas.Load())
	writer, closeWriter, err := postgres.Open(ctx, &postgres.Options{DSN: withAppName(dsn()), Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer closeWriter()
	if _, err := writer.Put(ctx, "fleet", policy.New(rule("r", "10.0.0.0/8", policy.Allow)), store.Any); err != nil {
		t.Fatal(err)
	}
	var followers []*follower
	for range 2 {
		st, closeSt, err := postgres.Open(ctx, &postgres.Options{DSN: withAppName(dsn()), Schema: schema, Retry: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer closeSt()
		followers = append(followers, follow(t, st.(store.Watcher), "fleet"))
	}
	var last store.Revision
	for i := range 60 {
		if i%10 == 5 {
			if n := terminate(t); n == 0 {
				t.Fatal("terminated no connection: the test would prove nothing")
			}
		}
		a := []policy.Action{policy.Allow, policy.Deny}[i%2]
		var err error
		for try := 0; try < 50; try++ { // the writer's own pool loses connections too
			if _, last, err = writer.UpdateRule(ctx, "fleet", rule("r", "10.0.0.0/8", a), store.Any); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, f := range followers {
		for store.Revision(f.rev.Load()) != last {
			if time.Now().After(deadline) {
				t.Fatalf("a follower stayed at revision %d, want %d", f.rev.Load(), last)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if !f.deny.Load() { // the last write (i = 59) denies
			t.Error("final policy allows, want deny")
		}
	}
}

func BenchmarkStore(b *testing.B) {
	storebench.Bench(b, 100_000, func(b *testing.B) store.Editor { return openStore(b, nil) })
}

// BenchmarkPropagation measures, over the fleet of two checkers following
// one policy on connections of their own, how long a write through one
// store takes to be loaded by the followers. Run it with
// -benchtime=1000x for the 1,000 writes the issue asks for.
func BenchmarkPropagation(b *testing.B) {
	writer := openStore(b, nil)
	ctx := b.Context()
	if _, err := writer.Put(ctx, "fleet", policy.New(rule("r", "10.0.0.0/8", policy.Allow)), store.Any); err != nil {
		b.Fatal(err)
	}
	schema := fmt.Sprintf("ipgate_test_%d_%d", os.Getpid(), schemas.Load())
	var followers []*follower
	for range 2 {
		st, closeSt, err := postgres.Open(ctx, &postgres.Options{DSN: dsn(), Schema: schema})
		if err != nil {
			b.Fatal(err)
		}
		defer closeSt()
		followers = append(followers, follow(b, st.(store.Watcher), "fleet"))
	}
	var delays []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		_, rev, err := writer.UpdateRule(ctx, "fleet", rule("r", "10.0.0.0/8", policy.Action(1+i%2)), store.Any)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range followers {
			for store.Revision(f.rev.Load()) < rev {
				time.Sleep(20 * time.Microsecond)
			}
		}
		delays = append(delays, time.Since(start))
		i++
	}
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1000, "p99-ms")
}

// TestGuard shows that with a guard, rule edits go through the whole-policy
// path, so the guard sees them and a refused write stores nothing.
// TestKeyLimits checks that a policy name or rule id too long for the
// indexes is refused with ErrInvalid naming the limit (the server's own
// errors name neither the rule nor a limit), on every write, and that one
// at the limit is stored. Incompressible text: the server compresses keys.
func TestKeyLimits(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openStore(t, nil)
	text := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[(i*7919+i/36)%36]
		}
		return string(b)
	}
	rule := func(id string) policy.Rule {
		return policy.Rule{ID: id, Target: rangeset.MustParseRange("10.0.0.1"), Action: policy.Allow}
	}
	long, max := text(1025), text(1024)
	if _, err := s.Put(ctx, long, policy.New(), store.Any); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "at most 1024 bytes") {
		t.Errorf("Put(name of 1025 bytes) = %v, want ErrInvalid naming the limit", err)
	}
	for _, w := range []struct {
		what string
		err  func() error
	}{
		{"Put", func() error { _, err := s.Put(ctx, "p", policy.New(rule("a"), rule(long)), store.Any); return err }},
		{"CreateRule", func() error { _, _, err := s.CreateRule(ctx, "p", rule(long), store.Any); return err }},
	} {
		err := w.err()
		var re *policy.RuleError
		if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &re) || re.ID != long || !strings.Contains(err.Error(), "id of 1025 bytes: at most 1024") {
			t.Errorf("%s(rule id of 1025 bytes) = %.200v, want ErrInvalid naming the rule and the limit", w.what, err)
		}
	}
	if _, err := s.Put(ctx, max, policy.New(rule(max)), store.Any); err != nil {
		t.Fatalf("Put(name and id of 1024 bytes): %.200v", err)
	}
	if p, _, err := s.Load(ctx, max); err != nil || len(p.Rules) != 1 || p.Rules[0].ID != max {
		t.Errorf("Load(name of 1024 bytes) = %d rules, %.200v", len(p.Rules), err)
	}
}

// TestUnstorableText: what PostgreSQL's text and timestamptz cannot hold
// is refused before any SQL, naming the rule, and a lookup by such a name
// or id finds nothing, as in every other store, instead of failing with
// the server's error.
func TestUnstorableText(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openStore(t, nil)
	rule := func(id string) policy.Rule {
		return policy.Rule{ID: id, Target: rangeset.MustParseRange("10.0.0.1"), Action: policy.Allow}
	}
	withComment, early := rule("c"), rule("e")
	withComment.Comment = "a\x00b"
	early.ExpiresAt = time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		r    policy.Rule
		want string
	}{
		{rule("a\x00b"), "id: PostgreSQL text holds no NUL byte"},
		{withComment, "comment: PostgreSQL text holds no NUL byte"},
		{early, "before 4713 BC"},
	} {
		for what, write := range map[string]func() error{
			"Put":        func() error { _, err := s.Put(ctx, "p", policy.New(rule("ok"), c.r), store.Any); return err },
			"CreateRule": func() error { _, _, err := s.CreateRule(ctx, "p", c.r, store.Any); return err },
		} {
			err := write()
			var re *policy.RuleError
			if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &re) || re.ID != c.r.ID || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s(%q) = %v, want ErrInvalid naming the rule and %q", what, c.r.ID, err, c.want)
			}
		}
	}
	if _, err := s.Put(ctx, "p\x00", policy.New(), store.Any); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "no NUL byte") {
		t.Errorf("Put(a name with a NUL byte) = %v, want ErrInvalid saying why", err)
	}
	if _, err := s.Put(ctx, "p", policy.New(rule("ok")), store.Any); err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"GetRule":    func() error { _, _, err := s.GetRule(ctx, "p", "a\x00b"); return err }(),
		"DeleteRule": func() error { _, err := s.DeleteRule(ctx, "p", "a\x00b", store.Any); return err }(),
		"PatchRule":  func() error { _, _, err := s.PatchRule(ctx, "p", "\xff", store.Patch{}, store.Any); return err }(),
	} {
		if !errors.Is(err, store.ErrRuleNotFound) {
			t.Errorf("%s of an id PostgreSQL cannot hold = %v, want ErrRuleNotFound", what, err)
		}
	}
	for what, err := range map[string]error{
		"Load":       func() error { _, _, err := s.Load(ctx, "p\x00"); return err }(),
		"GetRule":    func() error { _, _, err := s.GetRule(ctx, "\xff", "ok"); return err }(),
		"Changes":    func() error { _, _, err := s.Changes(ctx, "p\x00", 0); return err }(),
		"DeleteRule": func() error { _, err := s.DeleteRule(ctx, "p\x00", "ok", store.Any); return err }(),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of a name PostgreSQL cannot hold = %v, want ErrNotFound", what, err)
		}
	}
}

// TestSchemaNewerAfterOpen: a process keeps checking the schema's
// version after Open. Once a newer release has migrated it, reads and
// writes fail, saying so, instead of reading a layout they do not know
// (an empty policy, for a moved one) and losing writes.
func TestSchemaNewerAfterOpen(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil) // not parallel: the schema is the last one made
	schema := fmt.Sprintf("ipgate_test_%d_%d", os.Getpid(), schemas.Load())
	rule := policy.Rule{ID: "a", Target: rangeset.MustParseRange("10.0.0.1"), Action: policy.Allow}
	if _, err := s.Put(ctx, "p", policy.New(rule), store.Any); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "INSERT INTO "+schema+".schema_migrations (version, name) VALUES (1000, 'a future layout')"); err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"Load":    func() error { _, _, err := s.Load(ctx, "p"); return err }(),
		"GetRule": func() error { _, _, err := s.GetRule(ctx, "p", "a"); return err }(),
		"Changes": func() error { _, _, err := s.Changes(ctx, "p", 0); return err }(),
		"Put":     func() error { _, err := s.Put(ctx, "p", policy.New(), store.Any); return err }(),
		"Put new": func() error { _, err := s.Put(ctx, "q", policy.New(), store.Any); return err }(),
		"CreateRule": func() error {
			_, _, err := s.CreateRule(ctx, "p", policy.Rule{ID: "b", Target: rule.Target, Action: policy.Deny}, store.Any)
			return err
		}(),
	} {
		if err == nil || !strings.Contains(err.Error(), "newer than this release knows") {
			t.Errorf("%s on a schema migrated past this release = %v, want an error saying so", what, err)
		}
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+schema+".policies WHERE name = 'q'").Scan(&n); err != nil || n != 0 {
		t.Errorf("the refused Put of a new policy left %d rows (%v)", n, err)
	}
}

func TestGuard(t *testing.T) {
	ctx := t.Context()
	openStore(t, nil) // a fresh schema, dropped at the end
	schema := fmt.Sprintf("ipgate_test_%d_%d", os.Getpid(), schemas.Load())
	refuse := errors.New("no denies here")
	s, closeS, err := postgres.Open(ctx, &postgres.Options{DSN: dsn(), Schema: schema, Guard: func(old, new policy.Policy) error {
		for _, r := range new.Rules {
			if r.Action == policy.Deny {
				return refuse
			}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer closeS()
	_, rev, err := s.CreateRule(ctx, "p", rule("ok", "10.0.0.0/8", policy.Allow), store.Any)
	if err != nil {
		t.Fatal(err)
	}
	for name, write := range map[string]func() error{
		"CreateRule": func() error {
			_, _, err := s.CreateRule(ctx, "p", rule("bad", "10.1.0.0/16", policy.Deny), store.Any)
			return err
		},
		"UpdateRule": func() error {
			_, _, err := s.UpdateRule(ctx, "p", rule("ok", "10.0.0.0/8", policy.Deny), store.Any)
			return err
		},
		"PatchRule": func() error {
			a := policy.Deny
			_, _, err := s.PatchRule(ctx, "p", "ok", store.Patch{Action: &a}, store.Any)
			return err
		},
	} {
		if err := write(); !errors.Is(err, store.ErrRefused) || !errors.Is(err, refuse) {
			t.Errorf("%s = %v, want the guard's refusal", name, err)
		}
	}
	if p, now, _ := s.Load(ctx, "p"); now != rev || len(p.Rules) != 1 || p.Rules[0].Action != policy.Allow {
		t.Errorf("refused writes changed the policy: rev %d -> %d, %+v", rev, now, p.Rules)
	}
}

// TestOneListenConnection watches several policies, each twice: the store
// listens on one connection, which it closes after the last watcher.
func TestOneListenConnection(t *testing.T) {
	openStore(t, nil) // a fresh schema, dropped at the end
	schema := fmt.Sprintf("ipgate_test_%d_%d", os.Getpid(), schemas.Load())
	app := fmt.Sprintf("ipgate_listen_%d", os.Getpid())
	e, closeSt, err := postgres.Open(t.Context(), &postgres.Options{DSN: withApp(dsn(), app), Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer closeSt()
	st := e.(pgStore)
	listening := func() int {
		conn, err := pgx.Connect(context.Background(), dsn())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND query LIKE 'LISTEN%'`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctx, cancel := context.WithCancel(t.Context())
	var chans []<-chan struct{}
	for _, name := range []string{"a", "b", "c", "a", "b", "c"} {
		ch, err := st.Watch(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	if n := listening(); n != 1 {
		t.Errorf("6 watchers of 3 policies listen on %d connections, want 1", n)
	}
	if _, err := st.Put(t.Context(), "b", policy.New(), store.Any); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 4} {
		select {
		case <-chans[i]:
		case <-time.After(10 * time.Second):
			t.Fatalf("watcher %d of b was not told of a commit", i)
		}
	}
	cancel()
	for _, ch := range chans {
		for range ch {
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for listening() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the LISTEN connection outlived its watchers")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
