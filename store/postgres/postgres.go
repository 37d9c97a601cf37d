package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/docedit"
	"github.com/ipgate/ipgate/store/internal/fanout"
)

// Options configure a [Store]. Open needs at least a DSN.
type Options struct {
	// DSN is the connection string, a URL or key=value pairs, as pgx
	// reads it (for example "postgres://ipgate@db.internal:5432/policies").
	// It must be set: the store never guesses a server.
	DSN string
	// Schema holds the store's tables; empty means "ipgate". Stores with
	// different schemas share nothing.
	Schema string
	// Now sets CreatedAt and UpdatedAt; nil means time.Now.
	Now func() time.Time
	// Guard, when not nil, sees every write as the policy before and after
	// it and refuses it with an error, nothing stored (check/lockout.Guard). With a guard, rule
	// edits load the whole policy, as the guard needs it.
	Guard func(old, new policy.Policy) error
	// Retry is how long watchers wait before the first attempt to
	// reconnect after losing the server; zero means one second. Each
	// failed attempt doubles the wait, up to a minute, with jitter.
	Retry time.Duration
}

var validSchema = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// docEditor names the embedded editor without exporting it.
type docEditor = docedit.Editor

// Store is a PostgreSQL-backed [store.Editor] and [store.Watcher]. Rule
// edits without a guard run in SQL on the rule's row; the other methods
// are those of [docedit.Editor]. It is safe for concurrent use. Close
// releases its connections. Make one with [Open].
type Store struct {
	*docEditor
	db      *db
	now     func() time.Time
	guarded bool
}

var (
	_ store.Editor  = (*Store)(nil)
	_ store.Watcher = (*Store)(nil)
)

// Open connects to the server named by opts.DSN, creates the schema when
// it is missing, and returns the store.
func Open(ctx context.Context, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.DSN == "" {
		return nil, errors.New("postgres.Open: Options.DSN is empty; name the server, as in \"postgres://user@host:5432/db\"")
	}
	if o.Schema == "" {
		o.Schema = "ipgate"
	}
	if !validSchema.MatchString(o.Schema) {
		return nil, fmt.Errorf("postgres.Open: invalid schema name %s", rangeset.Quote(o.Schema))
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	pool, err := pgxpool.New(ctx, o.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres.Open: %w", err)
	}
	d := &db{pool: pool, dsn: o.DSN, schema: o.Schema, retry: o.Retry}
	d.hub = fanout.New(d.source)
	if err := d.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	ed := docedit.New(d, &docedit.Options{Now: o.Now, Guard: o.Guard})
	return &Store{docEditor: ed, db: d, now: o.Now, guarded: o.Guard != nil}, nil
}

// Close closes the store's connection pool. Watchers keep their
// connection until their context is done.
func (s *Store) Close() { s.db.pool.Close() }

// Watch returns a channel that receives a value after every commit of the
// named policy; see [store.Watcher]. All the watchers of a Store share
// one LISTEN connection, opened by the first Watch (whose error it
// returns) and closed when the last watcher's ctx is done. After a lost
// connection it reconnects, listens again and announces a change to every
// watcher, since one may have been committed while nobody listened.
func (s *Store) Watch(ctx context.Context, name string) (<-chan struct{}, error) {
	return s.db.hub.Watch(ctx, name)
}

type db struct {
	pool   *pgxpool.Pool
	dsn    string
	schema string
	retry  time.Duration
	hub    *fanout.Hub

	// names counts the watched names; the hub serializes its changes.
	names int
	// stop ends the LISTEN loop and waits for it.
	stop func()
}

func (d *db) migrate(ctx context.Context) error {
	// One schema at a time: concurrent CREATE ... IF NOT EXISTS can still
	// collide in the catalog, so take an advisory lock first.
	_, err := d.pool.Exec(ctx, fmt.Sprintf(`
SELECT pg_advisory_lock(hashtext('ipgate schema %[1]s'));
CREATE SCHEMA IF NOT EXISTS %[1]s;
CREATE TABLE IF NOT EXISTS %[1]s.policies (
	name            text PRIMARY KEY,
	revision        bigint NOT NULL,
	deleted         boolean NOT NULL,
	enabled         boolean NOT NULL,
	default_action  text NOT NULL,
	precedence      text NOT NULL,
	apply_to_mobile boolean NOT NULL
);
CREATE TABLE IF NOT EXISTS %[1]s.rules (
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
SELECT pg_advisory_unlock(hashtext('ipgate schema %[1]s'));`, d.schema))
	if err != nil {
		return fmt.Errorf("postgres: creating schema %s: %w", d.schema, err)
	}
	return nil
}

// Instants are stored as RFC 3339 text, so that nanoseconds and offsets
// survive the round trip exactly.
func instantText(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format(time.RFC3339Nano)
	return &s
}

func parseInstant(s *string) (time.Time, error) {
	if s == nil {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, *s)
}

// Load reads the policy and its rules in one repeatable-read transaction.
func (d *db) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	var p policy.Policy
	var rev store.Revision
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var deleted bool
		var def, prec string
		err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT revision, deleted, enabled, default_action, precedence, apply_to_mobile
			FROM %s.policies WHERE name = $1`, d.schema), name).
			Scan(&rev, &deleted, &p.Settings.Enabled, &def, &prec, &p.Settings.ApplyToMobile)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && deleted {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := errors.Join(p.Settings.DefaultAction.UnmarshalText([]byte(def)), p.Settings.Precedence.UnmarshalText([]byte(prec))); err != nil {
			return fmt.Errorf("%w: policy %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
		}
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT id, target, action, admin_only, expires_at, ttl, created_at, updated_at, comment
			FROM %s.rules WHERE policy = $1 ORDER BY pos`, d.schema), name)
		if err != nil {
			return err
		}
		p.Rules, err = pgx.CollectRows(rows, scanRule)
		if err != nil {
			return fmt.Errorf("%w: policy %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid) {
			err = fmt.Errorf("postgres: loading %s: %w", rangeset.Quote(name), err)
		}
		return policy.Policy{}, 0, err
	}
	if err := p.Validate(); err != nil {
		return policy.Policy{}, 0, fmt.Errorf("%w: policy %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
	}
	return p, rev, nil
}

func scanRule(row pgx.CollectableRow) (policy.Rule, error) {
	var r policy.Rule
	var target, action string
	var exp, created, updated *string
	if err := row.Scan(&r.ID, &target, &action, &r.AdminOnly, &exp, &r.TTL, &created, &updated, &r.Comment); err != nil {
		return r, err
	}
	var errs [5]error
	r.Target, errs[0] = rangeset.ParseRange(target)
	errs[1] = r.Action.UnmarshalText([]byte(action))
	r.ExpiresAt, errs[2] = parseInstant(exp)
	r.CreatedAt, errs[3] = parseInstant(created)
	r.UpdatedAt, errs[4] = parseInstant(updated)
	if err := errors.Join(errs[:]...); err != nil {
		return r, fmt.Errorf("rule %s: %w", rangeset.Quote(r.ID), err)
	}
	return r, nil
}

// write runs change in a transaction holding the policy's row lock, which
// serializes writers of one policy across the fleet. change sees the
// current revision (0 when the policy is absent) and says whether it
// changed anything and whether the policy is now deleted; a change bumps
// the revision in the same transaction and notifies the watchers. create
// says an absent policy may be written.
func (d *db) write(ctx context.Context, name string, create bool,
	change func(tx pgx.Tx, cur store.Revision) (changed, deleted bool, err error)) (store.Revision, error) {
	var result store.Revision
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if create {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.policies VALUES ($1, 0, true, true, 'auto', 'mostSpecific', true)
				ON CONFLICT (name) DO NOTHING`, d.schema), name); err != nil {
				return err
			}
		}
		var last store.Revision
		var deleted bool
		err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT revision, deleted FROM %s.policies WHERE name = $1 FOR UPDATE`, d.schema), name).
			Scan(&last, &deleted)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && deleted && !create {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		cur := last
		if deleted {
			cur = 0
		}
		changed, nowDeleted, err := change(tx, cur)
		if err != nil || !changed {
			result = cur
			return err
		}
		result = last + 1
		if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s.policies SET revision = $2, deleted = $3 WHERE name = $1`, d.schema),
			name, result, nowDeleted); err != nil {
			return err
		}
		if nowDeleted {
			result = 0
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, d.schema, name)
		return err
	})
	if err != nil {
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			return ce.Current, err
		}
		if isStoreError(err) {
			return result, err
		}
		return 0, fmt.Errorf("postgres: writing %s: %w", rangeset.Quote(name), err)
	}
	return result, nil
}

// isStoreError reports whether err is one of the store's own answers, not
// a database failure.
func isStoreError(err error) bool {
	for _, e := range []error{store.ErrNotFound, store.ErrRuleNotFound, store.ErrRuleExists, store.ErrInvalid, store.ErrConflict} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func conflict(name string, expected, cur store.Revision) error {
	if expected != store.Any && expected != cur {
		return &store.ConflictError{Name: name, Expected: expected, Current: cur}
	}
	return nil
}

// Swap replaces the policy's settings and rows, or deletes it, provided its
// revision is still cur.
func (d *db) Swap(ctx context.Context, name string, cur store.Revision, p *policy.Policy) (store.Revision, error) {
	return d.write(ctx, name, p != nil, func(tx pgx.Tx, now store.Revision) (bool, bool, error) {
		if now != cur {
			return false, false, &store.ConflictError{Name: name, Expected: cur, Current: now}
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s.rules WHERE policy = $1`, d.schema), name); err != nil {
			return false, false, err
		}
		if p == nil {
			return true, true, nil
		}
		if err := d.setSettings(ctx, tx, name, p.Settings); err != nil {
			return false, false, err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{d.schema, "rules"},
			[]string{"policy", "id", "target", "action", "admin_only", "expires_at", "ttl", "created_at", "updated_at", "comment", "pos"},
			pgx.CopyFromSlice(len(p.Rules), func(i int) ([]any, error) {
				return ruleRow(name, p.Rules[i], i), nil
			}))
		return err == nil, false, err
	})
}

func ruleRow(name string, r policy.Rule, pos int) []any {
	return []any{name, r.ID, r.Target.String(), r.Action.String(), r.AdminOnly, instantText(r.ExpiresAt),
		r.TTL, instantText(r.CreatedAt), instantText(r.UpdatedAt), r.Comment, pos}
}

func (d *db) setSettings(ctx context.Context, tx pgx.Tx, name string, s policy.Settings) error {
	_, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s.policies SET enabled = $2, default_action = $3, precedence = $4,
		apply_to_mobile = $5 WHERE name = $1`, d.schema),
		name, s.Enabled, s.DefaultAction.String(), s.Precedence.String(), s.ApplyToMobile)
	return err
}

// validRule checks r as a policy of its own would be checked: with the
// other rules valid and ids unique (the primary key), the policy stays valid.
func validRule(name string, r policy.Rule) error {
	if err := policy.New(r).Validate(); err != nil {
		return fmt.Errorf("%w %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
	}
	return nil
}

// SetSettings replaces the policy's settings, leaving its rows alone.
func (s *Store) SetSettings(ctx context.Context, name string, st policy.Settings, expected store.Revision) (store.Revision, error) {
	if s.guarded {
		return s.docEditor.SetSettings(ctx, name, st, expected)
	}
	if err := (policy.Policy{Settings: st}).Validate(); err != nil {
		return 0, fmt.Errorf("%w %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
	}
	return s.db.write(ctx, name, true, func(tx pgx.Tx, cur store.Revision) (bool, bool, error) {
		if err := conflict(name, expected, cur); err != nil {
			return false, false, err
		}
		return true, false, s.db.setSettings(ctx, tx, name, st)
	})
}

// CreateRule inserts one row.
func (s *Store) CreateRule(ctx context.Context, name string, r policy.Rule, expected store.Revision) (policy.Rule, store.Revision, error) {
	if s.guarded {
		return s.docEditor.CreateRule(ctx, name, r, expected)
	}
	r = r.Clone()
	r.CreatedAt = s.now()
	r.UpdatedAt = r.CreatedAt
	if err := validRule(name, r); err != nil {
		return policy.Rule{}, 0, err
	}
	rev, err := s.db.write(ctx, name, true, func(tx pgx.Tx, cur store.Revision) (bool, bool, error) {
		if err := conflict(name, expected, cur); err != nil {
			return false, false, err
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %[1]s.rules
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce(max(pos) + 1, 0) FROM %[1]s.rules WHERE policy = $1
			ON CONFLICT (policy, id) DO NOTHING`, s.db.schema), ruleRow(name, r, 0)[:10]...)
		if err == nil && tag.RowsAffected() == 0 {
			err = fmt.Errorf("%w: %s", store.ErrRuleExists, rangeset.Quote(r.ID))
		}
		return err == nil, false, err
	})
	if err != nil {
		return policy.Rule{}, rev, err
	}
	return r, rev, nil
}

// GetRule reads one row.
func (s *Store) GetRule(ctx context.Context, name, id string) (policy.Rule, store.Revision, error) {
	var r policy.Rule
	var rev store.Revision
	err := pgx.BeginTxFunc(ctx, s.db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var deleted bool
		err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT revision, deleted FROM %s.policies WHERE name = $1`, s.db.schema), name).Scan(&rev, &deleted)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && deleted {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		r, err = s.db.rule(ctx, tx, name, id, false)
		return err
	})
	if err != nil && !isStoreError(err) {
		err = fmt.Errorf("postgres: reading %s: %w", rangeset.Quote(name), err)
	}
	return r, rev, err
}

// rule reads the row of one rule, locking it for update when asked.
func (d *db) rule(ctx context.Context, tx pgx.Tx, name, id string, lock bool) (policy.Rule, error) {
	q := fmt.Sprintf(`SELECT id, target, action, admin_only, expires_at, ttl, created_at, updated_at, comment
		FROM %s.rules WHERE policy = $1 AND id = $2`, d.schema)
	if lock {
		q += " FOR UPDATE"
	}
	rows, err := tx.Query(ctx, q, name, id)
	if err != nil {
		return policy.Rule{}, err
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanRule)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("%w: %s", store.ErrRuleNotFound, rangeset.Quote(id))
	}
	return r, err
}

// UpdateRule replaces one row, keeping its CreatedAt.
func (s *Store) UpdateRule(ctx context.Context, name string, r policy.Rule, expected store.Revision) (policy.Rule, store.Revision, error) {
	if s.guarded {
		return s.docEditor.UpdateRule(ctx, name, r, expected)
	}
	r = r.Clone()
	return s.modify(ctx, name, r.ID, expected, func(policy.Rule) policy.Rule { return r })
}

// PatchRule changes the fields patch sets in one row.
func (s *Store) PatchRule(ctx context.Context, name, id string, patch store.Patch, expected store.Revision) (policy.Rule, store.Revision, error) {
	if s.guarded {
		return s.docEditor.PatchRule(ctx, name, id, patch, expected)
	}
	return s.modify(ctx, name, id, expected, patch.Apply)
}

func (s *Store) modify(ctx context.Context, name, id string, expected store.Revision, change func(policy.Rule) policy.Rule) (policy.Rule, store.Revision, error) {
	var out policy.Rule
	now := s.now()
	rev, err := s.db.write(ctx, name, false, func(tx pgx.Tx, cur store.Revision) (bool, bool, error) {
		if err := conflict(name, expected, cur); err != nil {
			return false, false, err
		}
		old, err := s.db.rule(ctx, tx, name, id, true)
		if err != nil {
			return false, false, err
		}
		out = change(old.Clone())
		out.ID, out.CreatedAt, out.UpdatedAt = id, old.CreatedAt, now
		if err := validRule(name, out); err != nil {
			return false, false, err
		}
		_, err = tx.Exec(ctx, fmt.Sprintf(`UPDATE %s.rules SET target = $3, action = $4, admin_only = $5, expires_at = $6,
			ttl = $7, created_at = $8, updated_at = $9, comment = $10 WHERE policy = $1 AND id = $2`, s.db.schema),
			ruleRow(name, out, 0)[:10]...)
		return err == nil, false, err
	})
	if err != nil {
		return policy.Rule{}, rev, err
	}
	return out, rev, nil
}

// DeleteRule deletes one row.
func (s *Store) DeleteRule(ctx context.Context, name, id string, expected store.Revision) (store.Revision, error) {
	if s.guarded {
		return s.docEditor.DeleteRule(ctx, name, id, expected)
	}
	return s.db.write(ctx, name, false, func(tx pgx.Tx, cur store.Revision) (bool, bool, error) {
		if err := conflict(name, expected, cur); err != nil {
			return false, false, err
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s.rules WHERE policy = $1 AND id = $2`, s.db.schema), name, id)
		if err == nil && tag.RowsAffected() == 0 {
			err = fmt.Errorf("%w: %s", store.ErrRuleNotFound, rangeset.Quote(id))
		}
		return err == nil, false, err
	})
}

// DeleteRules deletes the rows of the rules that q matches, chosen under
// the row lock, so no rule written meanwhile is touched unseen.
func (s *Store) DeleteRules(ctx context.Context, name string, q store.Query, expected store.Revision) (int, store.Revision, error) {
	if s.guarded {
		return s.docEditor.DeleteRules(ctx, name, q, expected)
	}
	n := 0
	rev, err := s.db.write(ctx, name, false, func(tx pgx.Tx, cur store.Revision) (bool, bool, error) {
		if err := conflict(name, expected, cur); err != nil {
			return false, false, err
		}
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT id, target, action, admin_only, expires_at, ttl, created_at, updated_at, comment
			FROM %s.rules WHERE policy = $1`, s.db.schema), name)
		if err != nil {
			return false, false, err
		}
		rules, err := pgx.CollectRows(rows, scanRule)
		if err != nil {
			return false, false, err
		}
		var ids []string
		for _, r := range rules {
			if q.Match(r) {
				ids = append(ids, r.ID)
			}
		}
		if len(ids) == 0 {
			return false, false, nil
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s.rules WHERE policy = $1 AND id = ANY($2)`, s.db.schema), name, ids)
		n = int(tag.RowsAffected())
		return err == nil, false, err
	})
	return n, rev, err
}

// source is the hub's source: the first watched name opens the LISTEN
// connection, the last one to leave closes it.
func (d *db) source(ctx context.Context, _ string) (func(), error) {
	if d.names == 0 {
		conn, err := d.listen(ctx)
		if err != nil {
			return nil, err
		}
		lctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.loop(lctx, conn)
		}()
		d.stop = func() { cancel(); wg.Wait() }
	}
	d.names++
	return func() {
		if d.names--; d.names == 0 {
			d.stop()
		}
	}, nil
}

// loop hands every notification to the hub until ctx is done,
// reconnecting after any loss.
func (d *db) loop(ctx context.Context, conn *pgx.Conn) {
	closeConn := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn.Close(cctx)
		cancel()
		conn = nil
	}
	for {
		for conn != nil {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				closeConn()
				break
			}
			d.hub.Notify(n.Payload)
		}
		if ctx.Err() != nil {
			return
		}
		wait := d.retry
		for conn == nil {
			// Jitter keeps a fleet that lost one server from coming back in
			// step.
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait/2 + rand.N(wait/2+1)):
			}
			wait = min(2*wait, time.Minute)
			conn, _ = d.listen(ctx)
		}
		d.hub.NotifyAll()
	}
}

func (d *db) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, d.dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{d.schema}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("postgres: listen: %w", err)
	}
	return conn, nil
}
