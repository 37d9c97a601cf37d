package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/docedit"
)

// Options configure a store made by [Open], which needs at least a DSN.
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
	// it and refuses it with an error, nothing stored (check/lockout.Guard).
	// A guard needs whole policies, so with one every write but Delete
	// loads the whole policy and writes the difference: rule edits cost
	// what a Put costs.
	Guard func(old, new policy.Policy) error
	// Retry is how long Watch waits before dialing again after failing to
	// reconnect to a lost server; zero means one second. Each failed
	// attempt doubles the wait, up to a minute, with jitter. Meanwhile
	// Watch fails at once with the last error.
	Retry time.Duration
	// KeepAlive is how long the connection that watches for changes may
	// stay quiet before it is pinged, and how long a ping, or the dial of
	// a new such connection, may take: a server that stops answering then
	// ends every watch, which its followers report and retry, rather than
	// leaving them waiting for changes that never come. Zero means 30
	// seconds.
	KeepAlive time.Duration
	// Retention is how many of each policy's latest revisions keep their
	// changes for Changes; zero means 1000, a negative number none
	// (every follower then loads whole policies). A revision that changes
	// more than 10,000 rules is not recorded either: loading the policy
	// costs its followers no more than applying it.
	Retention int
}

// maxRecorded is the most changes one revision records.
const maxRecorded = 10_000

var validSchema = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// pgStore is the PostgreSQL-backed store; [Open] makes one.
type pgStore struct {
	ed      *docedit.Editor // Load, and the writes made through a guard
	db      *db
	now     func() time.Time
	guarded bool
}

var (
	_ store.Editor  = (*pgStore)(nil)
	_ store.Watcher = (*pgStore)(nil)
	_ store.Feed    = (*pgStore)(nil)
)

// Open connects to the server named by opts.DSN, creates the schema when
// it is missing or migrates it to this release's version, and returns the
// store and a function that closes the store's connection pool. Watchers
// keep their connection until their context is done. When Open fails it
// returns no store and no function: there is nothing to close.
//
// The [store.Editor] it returns also implements [store.Watcher] and
// [store.Feed]: callers may type-assert it to either. It is safe for
// concurrent use. Without a guard every write runs in SQL on the rows it
// changes: CreateRule inserts one row, GetRule reads one, UpdateRule
// replaces one (keeping its CreatedAt), PatchRule changes the fields
// patch sets in one, DeleteRule deletes one, and SetSettings leaves the
// rows alone. Put reads the old rows (to keep the timestamps of unchanged
// rules, and to find the changes) and writes only those that differ, or,
// when they are many, all of them with COPY into a table of the policy's
// own. Delete keeps the policy's revision, so that one created again
// continues from it. ListRules and DeleteRules choose their candidates in
// SQL by target, address, action and admin flag, on an index for the
// target and the address contained, so that a query by address reads the
// few rules that hold it; DeleteRules chooses them under the policy's row
// lock, so that no rule written meanwhile is touched unseen.
//
// Load reads the policy in one repeatable-read transaction; stored rows
// that do not make a valid policy are refused with an error wrapping
// [store.ErrInvalid].
//
// All the watchers of the store share one LISTEN connection, opened by the
// first Watch (whose error it returns) and closed when the last watcher's
// ctx is done. When that connection is lost, every watch channel is
// closed at once: a change may then go unannounced, so the watcher must
// watch again (which reconnects, or fails while the server cannot be
// reached) and reload.
//
// Changes gives the changes of the last revisions that Options.Retention
// says, except a revision that changed too many rules (see
// Options.Retention), a deletion and what came before it: asked for
// those, it returns [store.ErrGap].
func Open(ctx context.Context, opts *Options) (store.Editor, func(), error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.DSN == "" {
		return nil, nil, errors.New("postgres.Open: Options.DSN is empty; name the server, as in \"postgres://user@host:5432/db\"")
	}
	if o.Schema == "" {
		o.Schema = "ipgate"
	}
	if !validSchema.MatchString(o.Schema) {
		return nil, nil, fmt.Errorf("postgres.Open: invalid schema name %s", rangeset.Quote(o.Schema))
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.Retention == 0:
		o.Retention = 1000
	case o.Retention < 0:
		o.Retention = 0
	}
	pool, err := pgxpool.New(ctx, o.DSN)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres.Open: %w", err)
	}
	d := &db{pool: pool, dsn: o.DSN, schema: pgx.Identifier{o.Schema}.Sanitize(), name: o.Schema, retry: o.Retry, retention: o.Retention, keepAlive: o.KeepAlive}
	d.hub.d = d
	if err := d.migrate(ctx); err != nil {
		pool.Close()
		return nil, nil, err
	}
	ed := docedit.New(d, &docedit.Options{Now: o.Now, Guard: o.Guard})
	return &pgStore{ed: ed, db: d, now: o.Now, guarded: o.Guard != nil}, pool.Close, nil
}

// Load returns the named policy and its revision ([store.Store]), read in
// one repeatable-read transaction. Stored rows that do not make a valid
// policy are refused with an error wrapping [store.ErrInvalid].
func (s *pgStore) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	return s.ed.Load(ctx, name)
}

// Watch returns a channel that receives a value after every commit of the
// named policy; see [store.Watcher]. All the watchers of a store share
// one LISTEN connection, opened by the first Watch (whose error it
// returns) and closed when the last watcher's ctx is done. When that
// connection is lost, every watch channel is closed at once: a change
// may then go unannounced, so the watcher must watch again (which
// reconnects, or fails while the server cannot be reached) and reload.
func (s *pgStore) Watch(ctx context.Context, name string) (<-chan struct{}, error) {
	return s.db.hub.watch(ctx, name)
}

type db struct {
	pool      *pgxpool.Pool
	dsn       string
	schema    string // quoted
	name      string // the schema, unquoted: the NOTIFY channel
	retry     time.Duration
	keepAlive time.Duration
	retention int
	hub       hub
}

// Load reads the policy and its rules in one repeatable-read transaction.
func (d *db) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	var p policy.Policy
	var rev store.Revision
	err := d.read(ctx, func(tx pgx.Tx) error {
		h, err := d.head(ctx, tx, name)
		if err != nil {
			return err
		}
		rev, p.Settings = h.rev, h.settings
		p.Rules, _, err = d.rulesPos(ctx, tx, name, h.table, "", nil, h.count)
		return err
	})
	if err != nil {
		return policy.Policy{}, 0, d.readErr("loading", name, err)
	}
	if err := p.Validate(); err != nil {
		return policy.Policy{}, 0, fmt.Errorf("%w: policy %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
	}
	return p, rev, nil
}

// readErr wraps a database failure; the store's own answers pass as they are.
func (d *db) readErr(doing, name string, err error) error {
	if err == nil || isStoreError(err) {
		return err
	}
	return fmt.Errorf("postgres: %s %s: %w", doing, rangeset.Quote(name), err)
}

// read runs f in a read-only repeatable-read transaction. A writer that
// moves a policy to a new table drops the old one as it commits: a reader
// whose snapshot still names the old table finds it gone, and reads again
// on a fresh snapshot, which names the new one.
func (d *db) read(ctx context.Context, f func(pgx.Tx) error) error {
	for try := 0; ; try++ {
		err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, f)
		var pe *pgconn.PgError
		if try < 10 && errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
			continue
		}
		return err
	}
}

// head is what readers need of a policy's row.
type head struct {
	rev      store.Revision
	settings policy.Settings
	count    int64 // rules
	table    int64 // see db.table
}

// versionQuery is a column of the schema's version, read in the same
// statement as a policy's row: a process keeps checking, after Open, that
// no newer release has migrated the schema to a layout it does not know.
func (d *db) versionQuery() string {
	return "(SELECT coalesce(max(version), 0) FROM " + d.schema + ".schema_migrations)"
}

// known reports a schema version newer than this release knows.
func (d *db) known(version int) error {
	if version > len(migrations) {
		return fmt.Errorf("postgres: schema %s is at version %d, newer than this release knows (%d): this process must be upgraded", d.schema, version, len(migrations))
	}
	return nil
}

// head reads the policy's row, or ErrNotFound.
func (d *db) head(ctx context.Context, tx pgx.Tx, name string) (head, error) {
	if !storable(name) {
		return head{}, store.ErrNotFound // no row can have it
	}
	var h head
	var deleted bool
	var def, prec string
	var version int
	err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT revision, deleted, enabled, default_action, precedence, apply_to_mobile, rule_count,
		coalesce(rules_table, 0), %s FROM %s.policies WHERE name = $1`, d.versionQuery(), d.schema), name).
		Scan(&h.rev, &deleted, &h.settings.Enabled, &def, &prec, &h.settings.ApplyToMobile, &h.count, &h.table, &version)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && deleted {
		return head{}, store.ErrNotFound
	}
	if err == nil {
		err = d.known(version)
	}
	if err != nil {
		return head{}, err
	}
	if err := parseSettings(&h.settings, def, prec); err != nil {
		return head{}, fmt.Errorf("%w: policy %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
	}
	return h, nil
}

// table is the table of the rules of a policy whose rules_table is n:
// rules_<n>, or the shared rules when n is 0.
func (d *db) table(n int64) string {
	if n == 0 {
		return d.schema + ".rules"
	}
	return fmt.Sprintf("%s.rules_%d", d.schema, n)
}

// parseSettings reads the stored text of the default action and the
// precedence into s.
func parseSettings(s *policy.Settings, def, prec string) error {
	var perr error
	switch prec {
	case precedenceText(false):
		s.DenyOverrides = false
	case precedenceText(true):
		s.DenyOverrides = true
	default:
		perr = fmt.Errorf("unknown precedence %s", rangeset.Quote(prec))
	}
	return errors.Join(s.DefaultAction.UnmarshalText([]byte(def)), perr)
}

// precedenceText is how the precedence column stores
// policy.Settings.DenyOverrides: as the document's "precedence" value,
// 'denyOverrides' for true and 'mostSpecific' for false, the two values
// its CHECK constraint allows.
func precedenceText(denyOverrides bool) string {
	if denyOverrides {
		return "denyOverrides"
	}
	return "mostSpecific"
}

// rules reads the policy's rules, in table, that the SQL condition where
// (on args $2 and up) selects, in the policy's order.
func (d *db) rules(ctx context.Context, tx pgx.Tx, name string, table int64, where string, args []any) ([]policy.Rule, error) {
	rules, _, err := d.rulesPos(ctx, tx, name, table, where, args, 0)
	return rules, err
}

// rulesPos is rules with each rule's pos; size is how many to expect.
func (d *db) rulesPos(ctx context.Context, tx pgx.Tx, name string, table int64, where string, args []any, size int64) ([]policy.Rule, []int64, error) {
	q := d.rulesQuery(table, where)
	// Sorting in Go is cheaper than asking the server to, which spills a
	// large sort to disk.
	rows, err := tx.Query(ctx, q, append([]any{binaryResults, name}, args...)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	size = min(size, 1<<24)
	rules := make([]policy.Rule, 0, size)
	pos := make([]int64, 0, size)
	for rows.Next() {
		v := rows.RawValues()
		r, err := decodeRule(v[:len(v)-1])
		var p int64
		if err == nil {
			p, err = decodeInt(v[len(v)-1])
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: policy %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
		}
		rules = append(rules, r)
		pos = append(pos, p)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if slices.IsSorted(pos) { // as COPY wrote them
		return rules, pos, nil
	}
	order := make([]int, len(rules))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(pos[a], pos[b]) })
	sorted := make([]policy.Rule, len(rules))
	sortedPos := make([]int64, len(rules))
	for i, j := range order {
		sorted[i], sortedPos[i] = rules[j], pos[j]
	}
	return sorted, sortedPos, nil
}

// rulesQuery selects the rules of policy $1, in table, that where selects.
func (d *db) rulesQuery(table int64, where string) string {
	q := fmt.Sprintf(`SELECT %s, pos FROM %s WHERE policy = $1`, ruleCols, d.table(table))
	if where != "" {
		q += " AND " + where
	}
	return q
}

// wstate is what one write sees of the policy and what it did.
type wstate struct {
	// cur is the revision the writer sees, 0 when the policy is absent;
	// settings are its settings (the defaults when absent).
	cur      store.Revision
	settings policy.Settings
	nextPos  int64
	count    int64 // rules
	table    int64 // see db.table

	changed, deleted bool
	// gap says the changes were too many to record.
	gap     bool
	changes []store.Change
}

// write runs change in a transaction holding the policy's row lock, which
// serializes writers of one policy across the fleet. When change says it
// changed something, the revision grows by one, the changes are recorded,
// the feed is pruned to the retention and the watchers are notified, all in
// the same transaction. create says an absent policy may be written.
func (d *db) write(ctx context.Context, name string, create bool, change func(tx pgx.Tx, w *wstate) error) (store.Revision, error) {
	switch {
	case len(name) > maxKey:
		return 0, fmt.Errorf("%w: policy name %s: at most %d bytes in PostgreSQL", store.ErrInvalid, rangeset.Quote(name), maxKey)
	case !storable(name) && create:
		return 0, fmt.Errorf("%w: policy name %s: %s", store.ErrInvalid, rangeset.Quote(name), errUnstorable)
	case !storable(name):
		return 0, store.ErrNotFound // no row can have it
	}
	var result store.Revision
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if create {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.policies (name, revision, deleted, enabled, default_action, precedence, apply_to_mobile)
				VALUES ($1, 0, true, true, 'auto', 'mostSpecific', true) ON CONFLICT (name) DO NOTHING`, d.schema), name); err != nil {
				return err
			}
		}
		var last, feedFrom store.Revision
		var deleted bool
		var def, prec string
		w := wstate{}
		var version int
		err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT revision, deleted, feed_from, next_pos, rule_count, coalesce(rules_table, 0),
			enabled, default_action, precedence, apply_to_mobile, %s FROM %s.policies WHERE name = $1 FOR UPDATE`, d.versionQuery(), d.schema), name).
			Scan(&last, &deleted, &feedFrom, &w.nextPos, &w.count, &w.table, &w.settings.Enabled, &def, &prec, &w.settings.ApplyToMobile, &version)
		if err == nil {
			err = d.known(version) // before anything else of the row is believed
		}
		if errors.Is(err, pgx.ErrNoRows) || err == nil && deleted && !create {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := parseSettings(&w.settings, def, prec); err != nil {
			return fmt.Errorf("%w: policy %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
		}
		w.cur = last
		if deleted {
			w.cur, w.settings, w.nextPos, w.count = 0, policy.DefaultSettings(), 0, 0
		}
		if err := change(tx, &w); err != nil || !w.changed {
			result = w.cur
			return err
		}
		next := last + 1
		record := !w.deleted && !w.gap && d.retention > 0 && len(w.changes) <= maxRecorded
		newFrom := next
		if record {
			newFrom = max(feedFrom, next-min(next, store.Revision(d.retention)))
		}
		b := &pgx.Batch{}
		b.Queue(fmt.Sprintf(`UPDATE %s.policies SET revision = $2, deleted = $3, next_pos = $4, feed_from = $5, rule_count = $6,
			rules_table = nullif($7, 0) WHERE name = $1`, d.schema),
			name, next, w.deleted, w.nextPos, newFrom, w.count, w.table)
		if newFrom > feedFrom {
			b.Queue(fmt.Sprintf(`DELETE FROM %s.changes WHERE policy = $1 AND revision <= $2`, d.schema), name, newFrom)
		}
		if record && len(w.changes) > 0 {
			rows := make([][]any, len(w.changes))
			for i, c := range w.changes {
				rows[i] = changeRow(name, next, i, c)
			}
			if len(rows) == 1 {
				b.Queue(fmt.Sprintf(`INSERT INTO %s.changes (policy, revision, seq, kind, %s, enabled, default_action, precedence, apply_to_mobile)
					VALUES (%s)`, d.schema, ruleCols, params(len(rows[0]))), rows[0]...)
			} else if _, err := tx.CopyFrom(ctx, pgx.Identifier{d.name, "changes"}, changeCols, pgx.CopyFromRows(rows)); err != nil {
				return err
			}
		}
		b.Queue(`SELECT pg_notify($1, $2)`, d.name, notifyPayload(name, next))
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		result = next
		if w.deleted {
			result = 0
		}
		return nil
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

// params returns "$1, ..., $n".
func params(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", i)
	}
	return b.String()
}

// isStoreError reports whether err is one of the store's own answers, not
// a database failure.
func isStoreError(err error) bool {
	for _, e := range []error{store.ErrNotFound, store.ErrRuleNotFound, store.ErrRuleExists, store.ErrInvalid, store.ErrConflict, store.ErrGap} {
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

// ruleCopyCols are the columns COPY fills in the rules table.
var ruleCopyCols = append(strings.Fields(strings.ReplaceAll(ruleCols, ",", " ")), "policy", "cover", "pos")

func ruleCopyRow(name string, r policy.Rule, pos int64) []any {
	return append(appendRuleValues(make([]any, 0, len(ruleCopyCols)), r), name, cover(r.Target), pos)
}

// insertRules copies rules[which[i]] into table at pos[i], or all of
// rules in order when which is nil. fresh says the transaction created
// the table: the rows then go in frozen, so that no reader has to set
// their hint bits, which costs the first Load of a million rules a third.
func (d *db) insertRules(ctx context.Context, tx pgx.Tx, name string, table int64, fresh bool, rules []policy.Rule, which []int, pos []int64) error {
	n := len(which)
	if which == nil {
		n = len(rules)
	}
	if n == 0 {
		return nil
	}
	i := 0
	next := func(b []byte) ([]byte, bool) {
		if i == n {
			return b, false
		}
		j, p := i, int64(i)
		if which != nil {
			j, p = which[i], pos[i]
		}
		i++
		return appendCopyRow(b, name, rules[j], p), true
	}
	_, err := tx.Conn().PgConn().CopyFrom(ctx, newCopyReader(next),
		fmt.Sprintf(`COPY %s (%s) FROM STDIN (FORMAT binary, FREEZE %t)`, d.table(table), strings.Join(ruleCopyCols, ", "), fresh))
	return err
}

func (d *db) setSettings(ctx context.Context, tx pgx.Tx, name string, s policy.Settings) error {
	_, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s.policies SET enabled = $2, default_action = $3, precedence = $4,
		apply_to_mobile = $5 WHERE name = $1`, d.schema),
		name, s.Enabled, s.DefaultAction.String(), precedenceText(s.DenyOverrides), s.ApplyToMobile)
	return err
}

// Swap replaces the policy with p, or deletes it, provided its revision is
// still cur: the guarded writes come here, with the whole policy.
func (d *db) Swap(ctx context.Context, name string, cur store.Revision, p *policy.Policy) (store.Revision, error) {
	return d.write(ctx, name, p != nil, func(tx pgx.Tx, w *wstate) error {
		if w.cur != cur {
			return &store.ConflictError{Name: name, Expected: cur, Current: w.cur}
		}
		if p == nil {
			return d.drop(ctx, tx, name, w)
		}
		return d.replace(ctx, tx, name, w, *p, nil)
	})
}

// drop deletes the policy's rules and resets its settings, leaving the row
// that keeps its revision.
func (d *db) drop(ctx context.Context, tx pgx.Tx, name string, w *wstate) error {
	if err := d.dropRows(ctx, tx, name, w.table); err != nil {
		return err
	}
	w.changed, w.deleted, w.nextPos, w.count, w.table = true, true, 0, 0, 0
	return d.setSettings(ctx, tx, name, policy.DefaultSettings())
}

// dropRows deletes the policy's rows in table: the whole table when it is
// the policy's own.
func (d *db) dropRows(ctx context.Context, tx pgx.Tx, name string, table int64) error {
	var err error
	if table != 0 {
		_, err = tx.Exec(ctx, "DROP TABLE "+d.table(table))
	} else {
		_, err = tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s.rules WHERE policy = $1`, d.schema), name)
	}
	return err
}

// rewrite replaces every row of the policy with rules, in order. More than
// maxRecorded rules go to a new table of the policy's own, indexed once
// full; fewer to the shared table.
func (d *db) rewrite(ctx context.Context, tx pgx.Tx, name string, w *wstate, rules []policy.Rule) error {
	old := w.table
	w.table, w.nextPos = 0, int64(len(rules))
	if old == 0 {
		if err := d.dropRows(ctx, tx, name, 0); err != nil {
			return err
		}
	}
	if len(rules) > maxRecorded {
		if err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT nextval('%s.rules_tables')`, d.schema)).Scan(&w.table); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s (LIKE %s.rules INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS)`,
			d.table(w.table), d.schema)); err != nil {
			return err
		}
	}
	if err := d.insertRules(ctx, tx, name, w.table, w.table != 0, rules, nil, nil); err != nil {
		return err
	}
	if w.table != 0 {
		// ANALYZE (of cover, the one column whose statistics choose a
		// plan), so that queries by address take the index at once.
		t := d.table(w.table)
		if _, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE %[1]s ADD PRIMARY KEY (id); CREATE INDEX rules_cover_%[2]d ON %[1]s (cover); ANALYZE %[1]s (cover)`,
			t, w.table)); err != nil {
			return err
		}
	}
	if old == 0 {
		return nil
	}
	// Last, as the DROP waits for the readers of the old table, and keeps
	// new ones waiting until the commit (then they read again; see read).
	return d.dropRows(ctx, tx, name, old)
}

// replace makes the stored policy p, writing only the rows that differ;
// stamp, when not nil, sets p's timestamps from the old rules first
// (match[j] is the index in old of p.Rules[j]'s id, or -1). The
// differences are the revision's changes; when they are too many to
// record, every row is rewritten at once instead.
func (d *db) replace(ctx context.Context, tx pgx.Tx, name string, w *wstate, p policy.Policy, stamp func(old []policy.Rule, match []int) error) error {
	var long []error
	for i, r := range p.Rules {
		if err := ruleProblem(i, r); err != nil && len(long) < 100 {
			long = append(long, err)
		}
	}
	if long != nil {
		return fmt.Errorf("%w %s: %w", store.ErrInvalid, rangeset.Quote(name), errors.Join(long...))
	}
	var old []policy.Rule
	var oldPos []int64
	if w.cur != 0 {
		var err error
		if old, oldPos, err = d.rulesPos(ctx, tx, name, w.table, "", nil, w.count); err != nil {
			return err
		}
	}
	match := matchIDs(old, p.Rules)
	if stamp != nil {
		if err := stamp(old, match); err != nil {
			return err
		}
	}
	var changes []store.Change
	if p.Settings != w.settings {
		s := p.Settings
		changes = append(changes, store.Change{Settings: &s})
	}
	// The rules of p to write, by index, and their pos.
	puts := make([]int, 0, len(p.Rules))
	putPos := make([]int64, 0, len(p.Rules))
	var redo []string // ids whose rows are rewritten
	kept := make([]bool, len(old))
	for j, r := range p.Rules {
		if i := match[j]; i >= 0 {
			kept[i] = true
			if old[i].Equal(r) {
				continue
			}
			redo = append(redo, r.ID)
			putPos = append(putPos, oldPos[i])
		} else {
			putPos = append(putPos, w.nextPos)
			w.nextPos++
		}
		puts = append(puts, j)
		if len(changes) <= maxRecorded {
			rc := r.Clone()
			changes = append(changes, store.Change{Rule: &rc})
		}
	}
	for i, r := range old {
		if !kept[i] {
			redo = append(redo, r.ID)
			if len(changes) <= maxRecorded {
				changes = append(changes, store.Change{Deleted: r.ID})
			}
		}
	}
	w.changed, w.count = true, int64(len(p.Rules))
	if p.Settings != w.settings {
		if err := d.setSettings(ctx, tx, name, p.Settings); err != nil {
			return err
		}
	}
	if len(changes) > maxRecorded {
		// Rewrite everything: cheaper than finding each row, and the
		// followers load the policy anyway.
		w.gap, w.changes = true, nil
		return d.rewrite(ctx, tx, name, w, p.Rules)
	}
	w.changes = changes
	if len(redo) > 0 {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE policy = $1 AND id = ANY($2)`, d.table(w.table)), name, redo); err != nil {
			return err
		}
	}
	return d.insertRules(ctx, tx, name, w.table, false, p.Rules, puts, putPos)
}

// matchIDs returns, for each of rules, the index of the old rule with its
// id, or -1. A rule that kept its place is matched without the map, which
// for a million rules costs more than the rest of the diff.
func matchIDs(old, rules []policy.Rule) []int {
	match := make([]int, len(rules))
	var byID map[string]int
	for j, r := range rules {
		if j < len(old) && old[j].ID == r.ID {
			match[j] = j
			continue
		}
		if byID == nil {
			byID = make(map[string]int, len(old))
			for i, o := range old {
				byID[o.ID] = i
			}
		}
		i, ok := byID[r.ID]
		if !ok {
			i = -1
		}
		match[j] = i
	}
	return match
}

// validRule checks r as a policy of its own would be checked: with the
// other rules valid and ids unique (the primary key), the policy stays valid.
func validRule(name string, r policy.Rule) error {
	err := policy.New(r).Validate()
	if err == nil {
		err = ruleProblem(0, r)
	}
	if err != nil {
		return fmt.Errorf("%w %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
	}
	return nil
}

// maxKey is the most bytes of a policy name, and of a rule id: an index
// entry holds at most 2,704 bytes, and one of the rules' holds both.
const maxKey = 1024

// errUnstorable says why a string cannot be stored: PostgreSQL's text
// holds UTF-8 without NUL bytes.
const errUnstorable = "PostgreSQL text holds no NUL byte, and UTF-8 only"

// storable reports whether PostgreSQL's text can hold s.
func storable(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// minInstant is the earliest instant PostgreSQL's timestamptz holds, the
// start of 4713 BC.
var minInstant = time.Date(-4712, 1, 1, 0, 0, 0, 0, time.UTC)

// ruleProblem reports what of a valid rule PostgreSQL cannot hold, or
// nil: an id too long for the rules' index, a NUL byte in the id or the
// comment, an instant before minInstant.
func ruleProblem(i int, r policy.Rule) error {
	var err error
	switch {
	case len(r.ID) > maxKey:
		err = fmt.Errorf("id of %d bytes: at most %d in PostgreSQL", len(r.ID), maxKey)
	case !storable(r.ID):
		err = errors.New("id: " + errUnstorable)
	case !storable(r.Comment):
		err = errors.New("comment: " + errUnstorable)
	}
	for _, t := range []time.Time{r.ExpiresAt, r.CreatedAt, r.UpdatedAt} {
		if err == nil && !t.IsZero() && t.Before(minInstant) {
			err = errors.New("instant " + t.Format(time.RFC3339Nano) + " before 4713 BC, the earliest in PostgreSQL")
		}
	}
	if err == nil {
		return nil
	}
	return &policy.RuleError{Index: i, ID: r.ID, Err: err}
}

// Put replaces the whole policy. Without a guard it reads the old rows (to
// keep the timestamps of unchanged rules, and to find the changes) and
// writes only those that differ, or, when they are many, all of them with
// COPY into a table of the policy's own.
func (s *pgStore) Put(ctx context.Context, name string, p policy.Policy, expected store.Revision) (store.Revision, error) {
	if s.guarded {
		return s.ed.Put(ctx, name, p, expected)
	}
	p = p.Clone()
	now := s.now()
	return s.db.write(ctx, name, true, func(tx pgx.Tx, w *wstate) error {
		if err := conflict(name, expected, w.cur); err != nil {
			return err
		}
		return s.db.replace(ctx, tx, name, w, p, func(old []policy.Rule, match []int) error {
			// As docedit.Editor.Put does.
			for i := range p.Rules {
				r := &p.Rules[i]
				if match[i] < 0 {
					r.CreatedAt, r.UpdatedAt = now, now
					continue
				}
				prev := &old[match[i]]
				r.CreatedAt, r.UpdatedAt = prev.CreatedAt, prev.UpdatedAt
				if !prev.Equal(*r) {
					r.UpdatedAt = now
				}
			}
			if err := p.Validate(); err != nil {
				return fmt.Errorf("%w %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
			}
			return nil
		})
	})
}

// Delete removes the named policy; its revision is kept, so that one
// created again continues from it.
func (s *pgStore) Delete(ctx context.Context, name string, expected store.Revision) error {
	_, err := s.db.write(ctx, name, false, func(tx pgx.Tx, w *wstate) error {
		if err := conflict(name, expected, w.cur); err != nil {
			return err
		}
		return s.db.drop(ctx, tx, name, w)
	})
	return err
}

// SetSettings replaces the policy's settings, leaving its rows alone.
func (s *pgStore) SetSettings(ctx context.Context, name string, st policy.Settings, expected store.Revision) (store.Revision, error) {
	if s.guarded {
		return s.ed.SetSettings(ctx, name, st, expected)
	}
	if err := (policy.Policy{Settings: st}).Validate(); err != nil {
		return 0, fmt.Errorf("%w %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
	}
	return s.db.write(ctx, name, true, func(tx pgx.Tx, w *wstate) error {
		if err := conflict(name, expected, w.cur); err != nil {
			return err
		}
		w.changed, w.changes = true, []store.Change{{Settings: &st}}
		return s.db.setSettings(ctx, tx, name, st)
	})
}

// CreateRule inserts one row.
func (s *pgStore) CreateRule(ctx context.Context, name string, r policy.Rule, expected store.Revision) (policy.Rule, store.Revision, error) {
	if s.guarded {
		return s.ed.CreateRule(ctx, name, r, expected)
	}
	r = r.Clone()
	r.CreatedAt = s.now()
	r.UpdatedAt = r.CreatedAt
	if err := validRule(name, r); err != nil {
		return policy.Rule{}, 0, err
	}
	rev, err := s.db.write(ctx, name, true, func(tx pgx.Tx, w *wstate) error {
		if err := conflict(name, expected, w.cur); err != nil {
			return err
		}
		row := ruleCopyRow(name, r, w.nextPos)
		// The one unique key is the id's, whatever the table.
		tag, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING`,
			s.db.table(w.table), strings.Join(ruleCopyCols, ", "), params(len(row))), row...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: %s", store.ErrRuleExists, rangeset.Quote(r.ID))
		}
		w.nextPos++
		w.count++
		w.changed, w.changes = true, []store.Change{{Rule: &r}}
		return nil
	})
	if err != nil {
		return policy.Rule{}, rev, err
	}
	return r.Clone(), rev, nil
}

// GetRule reads one row.
func (s *pgStore) GetRule(ctx context.Context, name, id string) (policy.Rule, store.Revision, error) {
	var r policy.Rule
	var rev store.Revision
	err := s.db.read(ctx, func(tx pgx.Tx) error {
		h, err := s.db.head(ctx, tx, name)
		if err != nil {
			return err
		}
		rev = h.rev
		r, err = s.db.rule(ctx, tx, name, h.table, id, false)
		return err
	})
	return r, rev, s.db.readErr("reading", name, err)
}

// rule reads the row of one rule in table, locking it for update when asked.
func (d *db) rule(ctx context.Context, tx pgx.Tx, name string, table int64, id string, lock bool) (policy.Rule, error) {
	if !storable(id) {
		return policy.Rule{}, fmt.Errorf("%w: %s", store.ErrRuleNotFound, rangeset.Quote(id)) // no row can have it
	}
	q := fmt.Sprintf(`SELECT %s FROM %s WHERE policy = $1 AND id = $2`, ruleCols, d.table(table))
	if lock {
		q += " FOR UPDATE"
	}
	rows, err := tx.Query(ctx, q, binaryResults, name, id)
	if err != nil {
		return policy.Rule{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return policy.Rule{}, err
		}
		return policy.Rule{}, fmt.Errorf("%w: %s", store.ErrRuleNotFound, rangeset.Quote(id))
	}
	r, err := decodeRule(rows.RawValues())
	if err != nil {
		return policy.Rule{}, fmt.Errorf("%w: policy %s: %w", store.ErrInvalid, rangeset.Quote(name), err)
	}
	return r, nil
}

// UpdateRule replaces one row, keeping its CreatedAt.
func (s *pgStore) UpdateRule(ctx context.Context, name string, r policy.Rule, expected store.Revision) (policy.Rule, store.Revision, error) {
	if s.guarded {
		return s.ed.UpdateRule(ctx, name, r, expected)
	}
	r = r.Clone()
	return s.modify(ctx, name, r.ID, expected, func(policy.Rule) policy.Rule { return r })
}

// PatchRule changes the fields patch sets in one row.
func (s *pgStore) PatchRule(ctx context.Context, name, id string, patch store.Patch, expected store.Revision) (policy.Rule, store.Revision, error) {
	if s.guarded {
		return s.ed.PatchRule(ctx, name, id, patch, expected)
	}
	return s.modify(ctx, name, id, expected, patch.Apply)
}

func (s *pgStore) modify(ctx context.Context, name, id string, expected store.Revision, change func(policy.Rule) policy.Rule) (policy.Rule, store.Revision, error) {
	var out policy.Rule
	now := s.now()
	rev, err := s.db.write(ctx, name, false, func(tx pgx.Tx, w *wstate) error {
		if err := conflict(name, expected, w.cur); err != nil {
			return err
		}
		old, err := s.db.rule(ctx, tx, name, w.table, id, true)
		if err != nil {
			return err
		}
		out = change(old.Clone())
		out.ID, out.CreatedAt, out.UpdatedAt = id, old.CreatedAt, now
		if err := validRule(name, out); err != nil {
			return err
		}
		v := append(ruleValues(out), cover(out.Target))
		_, err = tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET target_from = $2, target_to = $3, action = $4, admin_only = $5,
			expires_at = $6, expires_ns = $7, ttl = $8, created_at = $9, created_ns = $10, updated_at = $11, updated_ns = $12,
			comment = $13, cover = $14 WHERE policy = $15 AND id = $1`, s.db.table(w.table)), append(v, name)...)
		rc := out.Clone()
		w.changed, w.changes = true, []store.Change{{Rule: &rc}}
		return err
	})
	if err != nil {
		return policy.Rule{}, rev, err
	}
	return out, rev, nil
}

// DeleteRule deletes one row.
func (s *pgStore) DeleteRule(ctx context.Context, name, id string, expected store.Revision) (store.Revision, error) {
	if s.guarded {
		return s.ed.DeleteRule(ctx, name, id, expected)
	}
	return s.db.write(ctx, name, false, func(tx pgx.Tx, w *wstate) error {
		if err := conflict(name, expected, w.cur); err != nil {
			return err
		}
		if !storable(id) {
			return fmt.Errorf("%w: %s", store.ErrRuleNotFound, rangeset.Quote(id)) // no row can have it
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE policy = $1 AND id = $2`, s.db.table(w.table)), name, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: %s", store.ErrRuleNotFound, rangeset.Quote(id))
		}
		w.count--
		w.changed, w.changes = true, []store.Change{{Deleted: id}}
		return nil
	})
}

// filter returns the SQL condition (on parameters from $2) that selects
// the candidates of q: its target, address, action and admin filters, the
// first two on the rules_cover index. q.Match decides the rest.
func filter(q store.Query) (string, []any) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args)+1)
	}
	if q.Target.IsValid() {
		conds = append(conds, fmt.Sprintf("cover = %s AND target_from = %s AND target_to = %s",
			arg(cover(q.Target)), arg(q.Target.From()), arg(q.Target.To())))
	}
	if q.Contains.IsValid() {
		a := rangeset.Canonical(q.Contains)
		p := arg(a)
		conds = append(conds, fmt.Sprintf("cover = ANY(%s::cidr[]) AND target_from <= %s AND target_to >= %s", arg(supernets(a)), p, p))
	}
	if q.Action != 0 {
		conds = append(conds, "action = "+arg(q.Action.String()))
	}
	if q.AdminOnly != nil {
		conds = append(conds, "admin_only = "+arg(*q.AdminOnly))
	}
	return strings.Join(conds, " AND "), args
}

// ListRules returns one page of the rules that q matches. The candidates
// are chosen in SQL by target, address, action and admin flag, so that a
// query by address reads the few rules that hold it.
func (s *pgStore) ListRules(ctx context.Context, name string, q store.Query) ([]policy.Rule, int, error) {
	var rules []policy.Rule
	err := s.db.read(ctx, func(tx pgx.Tx) error {
		h, err := s.db.head(ctx, tx, name)
		if err != nil {
			return err
		}
		where, args := filter(q)
		rules, err = s.db.rules(ctx, tx, name, h.table, where, args)
		return err
	})
	if err != nil {
		return nil, 0, s.db.readErr("listing", name, err)
	}
	return q.Apply(rules)
}

// DeleteRules deletes the rows of the rules that q matches, chosen under
// the policy's row lock, so no rule written meanwhile is touched unseen.
func (s *pgStore) DeleteRules(ctx context.Context, name string, q store.Query, expected store.Revision) (int, store.Revision, error) {
	if s.guarded {
		return s.ed.DeleteRules(ctx, name, q, expected)
	}
	n := 0
	rev, err := s.db.write(ctx, name, false, func(tx pgx.Tx, w *wstate) error {
		if err := conflict(name, expected, w.cur); err != nil {
			return err
		}
		where, args := filter(q)
		rules, err := s.db.rules(ctx, tx, name, w.table, where, args)
		if err != nil {
			return err
		}
		var ids []string
		for _, r := range rules {
			if q.Match(r) {
				ids = append(ids, r.ID)
				w.changes = append(w.changes, store.Change{Deleted: r.ID})
			}
		}
		if len(ids) == 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE policy = $1 AND id = ANY($2)`, s.db.table(w.table)), name, ids)
		n = int(tag.RowsAffected())
		w.count -= int64(n)
		w.changed = true
		return err
	})
	return n, rev, err
}
