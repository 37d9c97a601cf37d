// Package postgres is the store for a fleet of instances: policies live in
// PostgreSQL, rules as rows, and every commit bumps the policy's revision
// in the same transaction and sends a NOTIFY, which watchers LISTEN for.
// After a lost connection a watcher reconnects, listens again and announces
// a change, so that its reader reloads and no change is missed.
//
// The store creates its schema itself; creating it again is harmless.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

// DefaultDSN is the server used when neither Options.DSN nor the
// environment variable IPGATE_POSTGRES_DSN names one: the local test server.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Options configure a [Store]. A nil *Options means the defaults.
type Options struct {
	// DSN is the connection string; empty means $IPGATE_POSTGRES_DSN, then
	// [DefaultDSN].
	DSN string
	// Schema holds the store's tables; empty means "ipgate". Stores with
	// different schemas share nothing.
	Schema string
	// Now sets CreatedAt and UpdatedAt; nil means time.Now.
	Now func() time.Time
	// Retry is how long a watcher waits between reconnection attempts;
	// zero means one second.
	Retry time.Duration
}

var validSchema = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Store is a PostgreSQL-backed [store.Editor] and [store.Watcher]. It is
// safe for concurrent use. Close releases its connections.
type Store struct {
	store.DocEditor
	db *db
}

// Open connects to the server, creates the schema when it is missing, and
// returns the store.
func Open(ctx context.Context, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.DSN == "" {
		o.DSN = os.Getenv("IPGATE_POSTGRES_DSN")
	}
	if o.DSN == "" {
		o.DSN = DefaultDSN
	}
	if o.Schema == "" {
		o.Schema = "ipgate"
	}
	if !validSchema.MatchString(o.Schema) {
		return nil, fmt.Errorf("postgres: invalid schema name %q", o.Schema)
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	pool, err := pgxpool.New(ctx, o.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	d := &db{pool: pool, dsn: o.DSN, schema: o.Schema, retry: o.Retry}
	if err := d.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{DocEditor: store.DocEditor{Backend: d, Now: o.Now}, db: d}, nil
}

// Close closes the store's connections.
func (s *Store) Close() { s.db.pool.Close() }

// Watch listens for commits of the named policy on a connection of its
// own; see [store.Watcher]. The channel is closed when ctx is done.
func (s *Store) Watch(ctx context.Context, name string) (<-chan struct{}, error) {
	return s.db.watch(ctx, name)
}

type db struct {
	pool   *pgxpool.Pool
	dsn    string
	schema string
	retry  time.Duration
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
			return fmt.Errorf("%w: policy %q: %w", store.ErrInvalid, name, err)
		}
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT id, target, action, admin_only, expires_at, ttl, created_at, updated_at, comment
			FROM %s.rules WHERE policy = $1 ORDER BY pos`, d.schema), name)
		if err != nil {
			return err
		}
		p.Rules, err = pgx.CollectRows(rows, scanRule)
		if err != nil {
			return fmt.Errorf("%w: policy %q: %w", store.ErrInvalid, name, err)
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid) {
			err = fmt.Errorf("postgres: loading %q: %w", name, err)
		}
		return policy.Policy{}, 0, err
	}
	if err := p.Validate(); err != nil {
		return policy.Policy{}, 0, fmt.Errorf("%w: policy %q: %w", store.ErrInvalid, name, err)
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
		return r, fmt.Errorf("rule %q: %w", r.ID, err)
	}
	return r, nil
}

// Swap replaces the policy's settings and rows, or deletes it, in one
// transaction that bumps the revision and notifies watchers.
func (d *db) Swap(ctx context.Context, name string, cur store.Revision, p *policy.Policy) (store.Revision, error) {
	var next store.Revision
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		// The row lock serializes writers of one policy across the fleet.
		_, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.policies VALUES ($1, 0, true, true, 'auto', 'mostSpecific', true)
			ON CONFLICT (name) DO NOTHING`, d.schema), name)
		if err != nil {
			return err
		}
		var last store.Revision
		var deleted bool
		if err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT revision, deleted FROM %s.policies WHERE name = $1 FOR UPDATE`, d.schema), name).
			Scan(&last, &deleted); err != nil {
			return err
		}
		now := last
		if deleted {
			now = 0
		}
		if now != cur {
			return &store.ConflictError{Name: name, Expected: cur, Current: now}
		}
		if p == nil && deleted {
			return store.ErrNotFound
		}
		next = last + 1
		if _, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s.rules WHERE policy = $1`, d.schema), name); err != nil {
			return err
		}
		if p == nil {
			_, err = tx.Exec(ctx, fmt.Sprintf(`UPDATE %s.policies SET revision = $2, deleted = true WHERE name = $1`, d.schema), name, next)
		} else {
			s := p.Settings
			_, err = tx.Exec(ctx, fmt.Sprintf(`UPDATE %s.policies SET revision = $2, deleted = false, enabled = $3,
				default_action = $4, precedence = $5, apply_to_mobile = $6 WHERE name = $1`, d.schema),
				name, next, s.Enabled, s.DefaultAction.String(), s.Precedence.String(), s.ApplyToMobile)
			if err == nil {
				_, err = tx.CopyFrom(ctx, pgx.Identifier{d.schema, "rules"},
					[]string{"policy", "id", "target", "action", "admin_only", "expires_at", "ttl", "created_at", "updated_at", "comment", "pos"},
					pgx.CopyFromSlice(len(p.Rules), func(i int) ([]any, error) {
						r := p.Rules[i]
						return []any{name, r.ID, r.Target.String(), r.Action.String(), r.AdminOnly, instantText(r.ExpiresAt),
							r.TTL, instantText(r.CreatedAt), instantText(r.UpdatedAt), r.Comment, i}, nil
					}))
			}
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, d.schema, name)
		return err
	})
	if err != nil {
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			return ce.Current, err
		}
		if errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
		return 0, fmt.Errorf("postgres: writing %q: %w", name, err)
	}
	if p == nil {
		return 0, nil
	}
	return next, nil
}

// watch LISTENs on a connection of its own, reconnecting after any loss.
func (d *db) watch(ctx context.Context, name string) (<-chan struct{}, error) {
	conn, err := d.listen(ctx)
	if err != nil {
		return nil, err
	}
	ch := make(chan struct{}, 1)
	send := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(ch)
		for {
			for conn != nil {
				n, err := conn.WaitForNotification(ctx)
				if err != nil {
					conn.Close(context.Background())
					conn = nil
					break
				}
				if n.Payload == name {
					send()
				}
			}
			if ctx.Err() != nil {
				return
			}
			// Lost the connection: listen again, then announce a change, since
			// one may have been committed while nobody listened.
			for conn == nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d.retry):
				}
				conn, _ = d.listen(ctx)
			}
			send()
		}
	}()
	return ch, nil
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
