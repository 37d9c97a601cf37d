package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations are the schema's versions in order; %[1]s is the schema. The
// applied ones are rows of schema_migrations. Never edit one that has
// shipped: add the next.
var migrations = []struct{ name, sql string }{
	// 1 is the schema of the first release, which had no version table: its
	// statements are idempotent, so that a schema of that release is
	// recognized as version 1 and upgraded from there.
	{"rules as text", `
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
);`},
	// 2: native types. Targets as inet ends plus their covering cidr, which
	// an index turns into a containment search; instants as timestamptz
	// plus the nanoseconds the server does not keep; the change feed. The
	// rows of rules and changes name their policy without a foreign key:
	// every writer holds the policy's row lock, which never goes away, and
	// a per-row check would slow COPY down. Names and ids compare as bytes
	// (COLLATE "C"): the keys need equality, not a language's order, and
	// byte comparison is the fastest.
	{"native types, change feed", `
CREATE OR REPLACE FUNCTION pg_temp.ts(t text) RETURNS timestamptz LANGUAGE sql IMMUTABLE
	AS $$ SELECT regexp_replace(t, '(\.\d{6})\d+', '\1')::timestamptz $$;
CREATE OR REPLACE FUNCTION pg_temp.ns(t text) RETURNS smallint LANGUAGE sql IMMUTABLE
	AS $$ SELECT coalesce(substring(rpad(substring(t from '\.(\d+)'), 9, '0') from 7 for 3)::smallint, 0) $$;
CREATE OR REPLACE FUNCTION pg_temp.tfrom(t text) RETURNS inet LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN t LIKE '%%-%%' THEN split_part(t, '-', 1)::inet
		WHEN t LIKE '%%/%%' THEN host(t::cidr)::inet ELSE t::inet END $$;
CREATE OR REPLACE FUNCTION pg_temp.tto(t text) RETURNS inet LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN t LIKE '%%-%%' THEN split_part(t, '-', 2)::inet
		WHEN t LIKE '%%/%%' THEN host(broadcast(t::cidr))::inet ELSE t::inet END $$;

ALTER TABLE %[1]s.rules RENAME TO rules_v1;
ALTER TABLE %[1]s.rules_v1 RENAME CONSTRAINT rules_pkey TO rules_v1_pkey;
ALTER TABLE %[1]s.policies
	ALTER COLUMN name TYPE text COLLATE "C",
	ADD COLUMN next_pos bigint NOT NULL DEFAULT 0,
	ADD COLUMN feed_from bigint NOT NULL DEFAULT 0,
	ADD COLUMN rule_count bigint NOT NULL DEFAULT 0,
	ADD CHECK (default_action IN ('auto', 'allow', 'deny')),
	ADD CHECK (precedence IN ('mostSpecific', 'denyOverrides'));
COMMENT ON COLUMN %[1]s.policies.next_pos IS 'pos of the next rule created';
COMMENT ON COLUMN %[1]s.policies.feed_from IS 'changes table holds every change after this revision';
COMMENT ON COLUMN %[1]s.policies.rule_count IS 'number of rows in rules';

CREATE TABLE %[1]s.rules (
	policy      text COLLATE "C" NOT NULL,
	id          text COLLATE "C" NOT NULL,
	target_from inet NOT NULL,
	target_to   inet NOT NULL,
	cover       cidr NOT NULL,
	action      text NOT NULL CHECK (action IN ('allow', 'deny')),
	admin_only  boolean NOT NULL,
	expires_at  timestamptz,
	expires_ns  smallint NOT NULL DEFAULT 0,
	ttl         bigint,
	created_at  timestamptz,
	created_ns  smallint NOT NULL DEFAULT 0,
	updated_at  timestamptz,
	updated_ns  smallint NOT NULL DEFAULT 0,
	comment     text NOT NULL,
	pos         bigint NOT NULL,
	PRIMARY KEY (policy, id),
	CHECK (family(target_from) = family(target_to) AND target_from <= target_to
		AND cover >>= target_from AND cover >>= target_to)
);
COMMENT ON COLUMN %[1]s.rules.cover IS 'smallest prefix holding the target: rules containing an address have one of its supernets';
COMMENT ON COLUMN %[1]s.rules.pos IS 'order of the rules in the policy';
CREATE INDEX rules_cover ON %[1]s.rules (policy, cover);

INSERT INTO %[1]s.rules
SELECT policy, id, pg_temp.tfrom(target), pg_temp.tto(target), inet_merge(pg_temp.tfrom(target), pg_temp.tto(target)),
	action, admin_only, pg_temp.ts(expires_at), pg_temp.ns(expires_at), ttl,
	pg_temp.ts(created_at), pg_temp.ns(created_at), pg_temp.ts(updated_at), pg_temp.ns(updated_at), comment, pos
FROM %[1]s.rules_v1;
DROP TABLE %[1]s.rules_v1;
UPDATE %[1]s.policies SET enabled = true, default_action = 'auto', precedence = 'mostSpecific', apply_to_mobile = true
	WHERE deleted;
UPDATE %[1]s.policies p SET feed_from = revision,
	next_pos = coalesce((SELECT max(pos) + 1 FROM %[1]s.rules r WHERE r.policy = p.name), 0),
	rule_count = (SELECT count(*) FROM %[1]s.rules r WHERE r.policy = p.name);

CREATE TABLE %[1]s.changes (
	policy          text COLLATE "C" NOT NULL,
	revision        bigint NOT NULL,
	seq             integer NOT NULL,
	kind            text NOT NULL CHECK (kind IN ('put', 'delete', 'settings')),
	id              text,
	target_from     inet,
	target_to       inet,
	action          text,
	admin_only      boolean,
	expires_at      timestamptz,
	expires_ns      smallint,
	ttl             bigint,
	created_at      timestamptz,
	created_ns      smallint,
	updated_at      timestamptz,
	updated_ns      smallint,
	comment         text,
	enabled         boolean,
	default_action  text,
	precedence      text,
	apply_to_mobile boolean,
	PRIMARY KEY (policy, revision, seq)
);
COMMENT ON TABLE %[1]s.changes IS 'per-rule changes of each revision, pruned to the store''s retention';`},
	// 3: a policy rewritten whole with many rules gets a table of its own,
	// rules_<n>, created without indexes, filled with COPY and indexed
	// after: far cheaper than inserting into the indexes of the shared
	// table row by row, and the old rows go with a DROP instead of a
	// DELETE. Its indexes leave out the policy, the same in every row.
	{"tables of their own", `
ALTER TABLE %[1]s.policies ADD COLUMN rules_table bigint;
COMMENT ON COLUMN %[1]s.policies.rules_table IS 'the rules are in rules_<rules_table> when set, else in rules';
CREATE SEQUENCE %[1]s.rules_tables;`},
}

// migrate brings the schema to the last version, each migration in a
// transaction of its own, under an advisory lock so that stores opening
// together take turns.
func (d *db) migrate(ctx context.Context) error {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres.Open: %w", err)
	}
	defer conn.Release()
	lock := "ipgate schema " + d.name
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext($1))`, lock); err != nil {
		return fmt.Errorf("postgres.Open: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext($1))`, lock)
	schema := d.schema
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA IF NOT EXISTS %[1]s;
CREATE TABLE IF NOT EXISTS %[1]s.schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`, schema)); err != nil {
		return fmt.Errorf("postgres.Open: creating schema %s: %w", d.schema, err)
	}
	var have int
	if err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(max(version), 0) FROM %s.schema_migrations`, schema)).Scan(&have); err != nil {
		return fmt.Errorf("postgres.Open: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("postgres.Open: schema %s is at version %d, newer than this release knows (%d)", d.schema, have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		m := migrations[v-1]
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, fmt.Sprintf(m.sql, schema)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.schema_migrations (version, name) VALUES ($1, $2)`, schema), v, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres.Open: migrating schema %s to version %d (%s): %w", d.schema, v, m.name, err)
		}
	}
	return nil
}
