// Package filestore keeps each policy as one JSON document in a directory,
// in the strict document form of package policy, so that people and deploy
// tools can read and edit it. [Open] returns the store as a [store.Editor]
// that also implements [store.Watcher] and [store.Feed], so that callers
// may type-assert it to either.
//
// Writes are atomic and durable: a temporary file in the same directory
// (mode 0600) is written, synced and renamed over the document, and the
// directory is synced; on any error the temporary file is removed. Writers
// in every process take an exclusive lock on the directory's ".lock" file
// (flock on Unix; on Windows the file opened without sharing), so that two
// processes never lose or tear each other's writes. Platforms with neither
// can read and watch a store but not write it.
//
// # Costs
//
// The document is whole by nature, so every write costs O(n) in the
// policy's n rules, a single-rule edit included: the editor copies the
// policy, validates all of it, and the store encodes, writes and syncs
// the whole document and compares it with the previous one, rule by rule,
// for the change feed. A write does not read its own document back: the
// store keeps the last policy it read or wrote for each name (so it holds
// a copy of every policy it has served, O(n) memory each), and Load copies
// it instead of reading and decoding the file when the files' identity,
// size and modification time, and the revision record's content, are
// still those it read or wrote, which costs two stats and the read of the
// record. Load of a changed document, and the first, costs the
// read and decode of the whole file.
//
// # Change feed
//
// The store derives the changes of each revision it sees, its own writes
// and outside changes alike (an edit by another process, a deploy tool
// renaming a file over the document), by comparing the new document with
// the one it served before, rule by rule by id. Each store that Open
// returns keeps them, the latest Options.Retention of each policy; a
// revision the store did not see (another process committed twice
// between two of its looks) is not one it can give the changes after,
// and a store just opened knows none: [store.ErrGap] then tells the
// reader to load the whole policy.
//
// Reading and watching take no lock, so that a read-only directory (a
// mounted Kubernetes ConfigMap, its symlink swaps included) can be
// followed. Load reads only regular files: a FIFO, a device or anything
// else in a document's place is refused without blocking, and so is a
// document larger than Options.MaxBytes (256 MiB by default); both are
// errors wrapping [store.ErrInvalid] that name the file. A write that
// would make a document larger than that is refused the same way, before
// it replaces anything, so that a store never writes what it cannot read
// back. A write streams the document to the file, holding no copy of it.
//
// # Revisions
//
// Each document NAME.json has a companion ".NAME.json.rev" that records
// the revision and the SHA-256 of the document it belongs to; a write
// gives the next revision. A document whose content no longer matches its
// record (an editor saved it, a deploy tool renamed a file over it, a
// symlink was swapped, the record was lost or restored from a backup) is
// an outside change. It gets a new revision, above the record's and above
// every revision this store served, and at least the current time in
// microseconds since 1970, which is above every revision any process gave
// before, as long as the clock does not go back. A record that takes back
// a revision this store served (a restored backup of both files) is
// treated the same way. So a revision is never given twice to different
// content, and a reader never sees a policy go back to an older revision.
// The new revision is recorded under the lock; in a read-only directory it
// cannot be, and each store numbers the documents for itself, as it does
// when another process has held the lock for a second (a write waits for
// the lock as long as its context allows; a read never waits longer).
//
// Watchers poll the documents' metadata, so outside changes are seen too. A
// document that is empty, null, unparsable or invalid is reported by Load
// as an error wrapping [store.ErrInvalid]; whoever follows it keeps the
// last good policy.
package filestore
