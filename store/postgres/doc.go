// Package postgres is the store for a fleet of instances: policies live in
// PostgreSQL, rules as rows, and every commit bumps the policy's revision,
// records its changes and sends a NOTIFY in the same transaction. [Open]
// returns the store as a [store.Editor] that also implements
// [store.Watcher] and [store.Feed], so that callers may type-assert it to
// either, and a function that closes its connection pool.
//
// # Schema
//
// [Open] creates the schema (Options.Schema, "ipgate" by default) or
// migrates it in place: schema_migrations lists the versions applied, and
// the migrations run in order, each in its own transaction, under an
// advisory lock. A schema newer than the release is refused by Open, and
// by every read and write after it, each of which reads the version in the
// statement that reads the policy's row: once a newer release has migrated
// the schema, this process's calls fail saying it must be upgraded (a
// follower keeps serving its last good policy), instead of reading a
// layout it does not know. Releases before this check (up to schema
// version 3) lack it: upgrade a fleet running them by stopping them before
// the first newer process opens the schema. A version-2 process reads a
// policy that version 3 moved to a table of its own as empty, and its
// writes to it are lost. The tables:
//
//   - policies: one row per policy name, never deleted (a deleted policy
//     keeps its row, so that revisions never repeat): revision, deleted,
//     the settings, next_pos, rule_count and feed_from (the feed holds
//     every change after that revision).
//   - rules: primary key (policy, id), which keeps ids unique. A target is
//     target_from and target_to (inet, inclusive) plus cover (cidr), the
//     smallest prefix holding it; the index on (policy, cover) finds the
//     rules holding an address by probing its supernets, one per prefix
//     length. An instant is a timestamptz plus a smallint of the
//     nanoseconds below its microseconds, so that it survives exactly
//     (read back in UTC). pos orders the rules.
//   - rules_<n>: the rules of one policy, rewritten whole with more than
//     10,000 rules (policies.rules_table names n): the columns of rules,
//     indexed on id and cover alone.
//   - changes: primary key (policy, revision, seq): the rules put and
//     deleted and the settings set by each revision.
//
// A policy name and a rule id are each at most 1,024 bytes: an index
// entry holds at most 2,704 bytes, and one of the rules' holds both. A
// longer one is refused with [store.ErrInvalid], naming the rule, and so
// is what PostgreSQL cannot hold at all: a NUL byte in a name, an id or a
// comment, an instant before 4713 BC. A lookup by a name or an id that no
// row can have finds nothing ([store.ErrNotFound], [store.ErrRuleNotFound]).
//
// # Costs
//
// Without a guard, a rule write (create, update, patch, delete) reads and
// writes the rule's row and the policy's row, whatever the policy's size.
// DeleteRules and ListRules choose their candidates in SQL, by target,
// address, action and admin flag; the other filters, the order and the
// paging are applied to the candidates. A Put reads the old rows, to keep
// the timestamps of unchanged rules and find the changes, and writes only
// the rows that changed. When they are more than 10,000 it rewrites the
// policy: more than 10,000 rules go to a new table of the policy's own,
// filled by COPY and indexed once full, which is several times cheaper
// than inserting into indexes row by row; fewer go to the shared table.
// The old rows go with their table (DROP, not DELETE) in the same
// transaction; a reader whose snapshot still names the dropped table reads
// again, so that it sees the whole new policy. With Options.Guard set,
// every write but Delete loads and validates the whole policy, as the
// guard needs it.
//
// # Change feed
//
// The store's Changes returns the changes after a revision, within
// Options.Retention (the last 1000 revisions by default), else
// [store.ErrGap]: also after a deletion, and across a revision that changed
// more than 10,000 rules, which is not recorded (its followers load the
// policy, which costs them no more).
//
// # Watching
//
// A NOTIFY on the channel named as the schema carries the revision and the
// policy name ("42 tenant-7"). All the watchers of a store, whatever the
// policy, share one LISTEN connection, opened by the first Watch. When it
// is lost, every watch channel is closed at once, so that each follower
// reports it and watches again: the next Watch reconnects, or fails while
// the server cannot be reached, with a backoff (Options.Retry, doubled up
// to a minute, jittered) during which Watch fails at once with the last
// error.
//
// [Open] needs the server's DSN: the package reads no environment and has
// no default server.
package postgres
