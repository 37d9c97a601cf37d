package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
)

// changeCols are the columns of the changes table, in changeRow's order.
var changeCols = append(append([]string{"policy", "revision", "seq", "kind"},
	strings.Fields(strings.ReplaceAll(ruleCols, ",", " "))...),
	"enabled", "default_action", "precedence", "apply_to_mobile")

func changeRow(name string, rev store.Revision, seq int, c store.Change) []any {
	row := make([]any, len(changeCols))
	row[0], row[1], row[2] = name, rev, seq
	switch {
	case c.Rule != nil:
		row[3] = "put"
		copy(row[4:], ruleValues(*c.Rule))
	case c.Settings != nil:
		row[3] = "settings"
		s := c.Settings
		copy(row[len(row)-4:], []any{s.Enabled, s.DefaultAction.String(), precedenceText(s.DenyOverrides), s.ApplyToMobile})
	default:
		row[3], row[4] = "delete", c.Deleted
	}
	return row
}

// Changes returns the changes committed after revision after; see
// [store.Feed]. The store keeps those of the last revisions that
// Options.Retention says, except a revision that changed too many rules
// (see Options.Retention), a deletion and what came before it: asked for
// those, it returns [store.ErrGap].
func (s *pgStore) Changes(ctx context.Context, name string, after store.Revision) ([]store.Change, store.Revision, error) {
	d := s.db
	if !storable(name) {
		return nil, 0, store.ErrNotFound // no row can have it
	}
	var changes []store.Change
	var rev store.Revision
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var deleted bool
		var from store.Revision
		var version int
		err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT revision, deleted, feed_from, %s FROM %s.policies WHERE name = $1`, d.versionQuery(), d.schema), name).
			Scan(&rev, &deleted, &from, &version)
		if err == nil {
			err = d.known(version)
		}
		switch {
		case err == pgx.ErrNoRows || err == nil && deleted:
			return store.ErrNotFound
		case err != nil:
			return err
		case after == rev:
			return nil
		case after < from || after > rev:
			return fmt.Errorf("%w: policy %s at revision %d keeps the changes after revision %d, not after %d",
				store.ErrGap, rangeset.Quote(name), rev, from, after)
		}
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT revision, kind, coalesce(id, ''), coalesce(target_from, '0.0.0.0'), coalesce(target_to, '0.0.0.0'),
			coalesce(action, ''), coalesce(admin_only, false), expires_at, coalesce(expires_ns, 0), ttl,
			created_at, coalesce(created_ns, 0), updated_at, coalesce(updated_ns, 0), coalesce(comment, ''),
			coalesce(enabled, false), coalesce(default_action, ''), coalesce(precedence, ''), coalesce(apply_to_mobile, false)
			FROM %s.changes WHERE policy = $1 AND revision > $2 ORDER BY revision, seq`, d.schema), binaryResults, name, after)
		if err != nil {
			return err
		}
		defer rows.Close()
		var c store.Change
		var kind, def, prec string
		var st policy.Settings
		// The rule's columns are decoded from the raw values; nil skips them here.
		dest := append(append([]any{&c.Revision, &kind}, make([]any, 13)...), &st.Enabled, &def, &prec, &st.ApplyToMobile)
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			out := store.Change{Revision: c.Revision}
			switch kind {
			case "put":
				r, err := decodeRule(rows.RawValues()[2:15])
				if err != nil {
					return fmt.Errorf("%w: policy %s: change of revision %d: %w", store.ErrInvalid, rangeset.Quote(name), c.Revision, err)
				}
				out.Rule = &r
			case "delete":
				out.Deleted = string(rows.RawValues()[2])
			case "settings":
				s := st
				if err := parseSettings(&s, def, prec); err != nil {
					return fmt.Errorf("%w: policy %s: change of revision %d: %w", store.ErrInvalid, rangeset.Quote(name), c.Revision, err)
				}
				out.Settings = &s
			}
			changes = append(changes, out)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, d.readErr("reading the changes of", name, err)
	}
	return changes, rev, nil
}
