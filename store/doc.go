// Package store defines where policies live: the [Store] interface that a
// checker follows, the optional [Watcher] and [Editor] extensions, the
// [Query] that lists and deletes rules, and the sentinel errors every
// implementation returns.
//
// A store holds many named policies (one per tenant, site or account), each
// with a [Revision] that grows with every committed change. Implementations
// live in sub-packages (memstore, filestore, postgres), so that importers of
// package check never link a database driver; storetest is the conformance
// kit they all pass. [DocEditor] implements every edit on a [Backend] that
// stores whole documents. Every call takes a context.Context first.
package store
