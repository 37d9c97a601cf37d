// Package store defines where policies live: the [Store] interface that a
// checker follows, the optional [Watcher] and [Editor] extensions, the
// [Query] that lists and deletes rules, [Patch], and the sentinel errors
// every implementation returns.
//
// A store holds many named policies (one per tenant, site or account), each
// with a [Revision] that grows with every committed change and is never
// given twice to different content, so that a reader that has served a
// revision can ignore any that is not above it. Every call takes a
// context.Context first.
//
// The file store implements every [Editor] write as a read-modify-write of
// its whole document; the memory and PostgreSQL stores write only the rules
// that change. Each records the changes of every revision ([Feed]), so
// that a follower applies them instead of loading the whole policy.
//
// The implementations live in sub-packages, so that importers of package
// check never link a database driver:
//
//   - store/memstore: in memory, for tests, examples and single-process
//     services.
//   - store/filestore: one JSON document per policy in a directory, written
//     atomically, shared by processes, followable when read-only (a
//     mounted ConfigMap).
//   - store/postgres: PostgreSQL, rules as rows, NOTIFY on every commit,
//     for a fleet of instances.
//   - store/storetest: the conformance kit that they all pass, for other
//     implementations too.
package store
