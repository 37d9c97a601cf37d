package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ipgate/ipgate/store"
)

// RowsRead returns the number of rule rows the package has decoded.
func RowsRead() int64 { return rowsRead.Load() }

// ExplainList returns the plan of the query that ListRules and DeleteRules
// run to choose the candidates of q, on e, made by Open.
func ExplainList(ctx context.Context, e store.Editor, name string, q store.Query) (string, error) {
	s := e.(*pgStore)
	var lines []string
	err := s.db.read(ctx, func(tx pgx.Tx) error {
		h, err := s.db.head(ctx, tx, name)
		if err != nil {
			return err
		}
		where, args := filter(q)
		rows, err := tx.Query(ctx, "EXPLAIN "+s.db.rulesQuery(h.table, where), append([]any{name}, args...)...)
		if err != nil {
			return err
		}
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return strings.Join(lines, "\n"), err
}
