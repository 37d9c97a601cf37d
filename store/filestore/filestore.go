package filestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/internal/docedit"
	"github.com/ipgate/ipgate/store/internal/fanout"
)

// Options configure a store made by [Open]. A nil *Options means the
// defaults.
type Options struct {
	// Now sets CreatedAt and UpdatedAt; nil means time.Now.
	Now func() time.Time
	// Guard, when not nil, sees every write as the policy before and after
	// it and refuses it with an error, nothing stored (check/lockout.Guard).
	Guard func(old, new policy.Policy) error
	// PollInterval is how often watchers look for outside changes; zero
	// means 250 milliseconds.
	PollInterval time.Duration
	// MaxBytes is the largest document Load reads, and so the largest a
	// write may make; a larger one is refused. Zero means 256 MiB.
	MaxBytes int64
	// Retention is how many of its latest changes each policy keeps for
	// Changes, as this store derived them; older ones are reported as
	// [store.ErrGap]. Zero means 1000.
	Retention int
}

// defaultRetention bounds a policy's change history when
// Options.Retention is zero.
const defaultRetention = 1000

// defaultMaxBytes bounds a document when Options.MaxBytes is zero: far
// above any real policy, low enough that a mistaken file cannot exhaust
// memory.
const defaultMaxBytes = 256 << 20

// maxMetaBytes bounds a revision record, which holds two short fields.
const maxMetaBytes = 4 << 10

// errName reports a policy name that cannot be a file name here. It is a
// [store.ErrInvalid].
var errName error = nameError{}

type nameError struct{}

// Error says what a policy name may be.
func (nameError) Error() string {
	return "filestore: policy names are 1 to 200 letters, digits, '.', '_' or '-', not starting with '.'"
}

// Is reports whether target is [store.ErrInvalid].
func (nameError) Is(target error) bool { return target == store.ErrInvalid }

var validName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$`)

// fileStore is a directory of policy documents; [Open] makes one.
type fileStore struct {
	ed    *docedit.Editor
	files *files
}

var (
	_ store.Editor  = (*fileStore)(nil)
	_ store.Watcher = (*fileStore)(nil)
	_ store.Feed    = (*fileStore)(nil)

	_ docedit.SharedLoader = (*files)(nil)
)

// Open returns a store over dir, creating the directory (mode 0700) when it
// does not exist. A directory that exists may be read-only: it can then be
// loaded and watched, but not written. The [store.Editor] it returns also
// implements [store.Watcher] and [store.Feed]: callers may type-assert it
// to either. It is safe for concurrent use, by goroutines and by processes
// sharing the directory.
//
// A policy name is 1 to 200 letters, digits, '.', '_' or '-', not
// starting with '.'; any other is refused by every call with an error
// wrapping [store.ErrInvalid].
//
// Load returns a copy of what the store last read or wrote when the files
// are unchanged, else the document read and decoded afresh. An
// unconditional Put or Delete (expected [store.Any]) replaces or removes a
// document that cannot be read, too. Every write, a single-rule edit
// included, rewrites the whole document (see Costs in the package doc).
//
// Watch sees every change of the named policy's document, made by this
// process or any other: while a policy has watchers, one goroutine polls
// its files' metadata every Options.PollInterval; it ends, and the
// channel is closed, when ctx is done.
//
// Changes derives the changes from the documents, as the package doc's
// Change feed says: a revision this store did not see is [store.ErrGap].
// It first looks at the document as Load does, so that outside changes
// are seen; when the files did not change, that costs two stats and the
// read of the revision record.
func Open(dir string, opts *Options) (store.Editor, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filestore.Open: %w", err)
	}
	f := &files{dir: dir, poll: 250 * time.Millisecond, maxBytes: defaultMaxBytes,
		served: map[string]served{}, known: map[string]*known{}, pollers: map[string]*poller{}, retention: defaultRetention}
	f.hub = fanout.New(f.startPoller)
	var do docedit.Options
	if opts != nil {
		do = docedit.Options{Now: opts.Now, Guard: opts.Guard}
		if opts.PollInterval > 0 {
			f.poll = opts.PollInterval
		}
		if opts.MaxBytes > 0 {
			f.maxBytes = opts.MaxBytes
		}
		if opts.Retention > 0 {
			f.retention = opts.Retention
		}
	}
	return &fileStore{ed: docedit.New(f, &do), files: f}, nil
}

// Watch returns a channel that receives a value after every change of the
// named policy's document, made by this process or any other; see
// [store.Watcher]. While a policy has watchers, one goroutine polls its
// files' metadata every PollInterval; it ends, and the channel is
// closed, when ctx is done.
func (s *fileStore) Watch(ctx context.Context, name string) (<-chan struct{}, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("%w: %s", errName, rangeset.Quote(name))
	}
	return s.files.hub.Watch(ctx, name)
}

type files struct {
	dir       string
	poll      time.Duration
	maxBytes  int64
	retention int
	hub       *fanout.Hub
	// decoded counts the documents read and decoded, so that tests can
	// tell a Load served from what the store knew.
	decoded atomic.Int64

	mu      sync.Mutex
	served  map[string]served
	known   map[string]*known
	pollers map[string]*poller
}

// known is the last policy this store read or wrote, kept so that it
// need not read its own writes back, and so that the changes of the next
// revision can be derived from it.
type known struct {
	rev store.Revision
	sig string // the signature of the files p was read from or written to
	// rec is the revision record as it was then: every write through a
	// store records a new revision, so a write by another process is seen
	// even should the files' identities, sizes and times repeat.
	rec  []byte
	p    policy.Policy // shared by every reader: never modified
	hist *docedit.History
}

// Changes returns the changes committed after revision after; see
// [store.Feed]. The document is whole, so the changes are derived: each
// revision this store sees (its own writes, and outside changes when it
// loads) is compared, rule by rule, with the one it saw before, and each
// policy keeps the latest Options.Retention changes. A revision this store
// did not see (another process wrote twice between two of its loads) is
// not one it can give the changes after: that is [store.ErrGap]. Changes
// first looks at the document as Load does, so that outside changes are
// seen; when the files did not change, that costs two stats and the read
// of the revision record.
func (s *fileStore) Changes(ctx context.Context, name string, after store.Revision) ([]store.Change, store.Revision, error) {
	f := s.files
	if _, _, err := f.LoadShared(ctx, name); err != nil {
		return nil, 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.known[name]
	if k == nil { // deleted meanwhile
		return nil, 0, store.ErrNotFound
	}
	ch, err := k.hist.Since(after, k.rev)
	return ch, k.rev, err
}

// observe remembers p, read or written as revision rev from files of
// signature sig, and records its changes from the revision known before.
func (f *files) observe(name string, rev store.Revision, sig string, rec []byte, p policy.Policy) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.known[name]
	switch {
	case k == nil:
		k = &known{hist: docedit.NewHistory(f.retention)}
		k.hist.Reset(rev)
		f.known[name] = k
	case rev < k.rev: // a slower reader of an older revision
		return
	case rev > k.rev:
		changes, ok := docedit.Diff(rev, k.p, p, f.retention)
		k.hist.Add(k.rev, rev, changes, ok)
	}
	k.rev, k.sig, k.rec, k.p = rev, sig, rec, p
}

// forget drops what the store knew of a policy that is gone, its changes
// with it: a policy created again starts a new history.
func (f *files) forget(name string) {
	f.mu.Lock()
	delete(f.known, name)
	f.mu.Unlock()
}

// cached returns the known policy when its files have not changed since:
// two stats and the read of the small revision record.
func (f *files) cached(name string) (*known, bool) {
	sig := f.signature(name)
	rec, _, err := readRegular(f.meta(name), maxMetaBytes)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.known[name]
	if k == nil || k.sig != sig || !bytes.Equal(k.rec, rec) {
		return nil, false
	}
	return &known{rev: k.rev, sig: k.sig, p: k.p}, true
}

// served is the last state of a policy that this store served or wrote.
type served struct {
	rev store.Revision
	sum string // "" when the policy was absent
}

func (f *files) doc(name string) string  { return filepath.Join(f.dir, name+".json") }
func (f *files) meta(name string) string { return filepath.Join(f.dir, "."+name+".json.rev") }

// state is what is on disk for one policy.
type state struct {
	data   []byte // the document; nil when absent
	sum    string // of data
	recRev store.Revision
	recSum string // the record: the revision given last, and its document's sum ("" when deleted)
	sig    string // of the files as read, from the descriptors read
	rec    []byte // the record as read; nil when absent
}

// read returns the policy's document and revision record.
func (f *files) read(name string) (state, error) {
	var st state
	data, docInfo, err := readRegular(f.doc(name), f.maxBytes)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return st, err
	default:
		st.data = data
		sum := sha256.Sum256(data)
		st.sum = hex.EncodeToString(sum[:])
	}
	m, metaInfo, err := readRegular(f.meta(name), maxMetaBytes)
	switch {
	case err == nil:
		st.rec = m
		st.recRev, st.recSum = parseMeta(m)
	case !errors.Is(err, os.ErrNotExist):
		return st, err
	}
	st.sig = fileSig(docInfo) + fileSig(metaInfo)
	if st.data != nil && docInfo == nil || m != nil && metaInfo == nil {
		st.sig = "changing" // no signature: never taken as unchanged
	}
	return st, nil
}

// readRegular reads the regular file at path, of at most limit bytes, and
// returns what the descriptor read says of the file. It refuses anything
// else without blocking on it (a FIFO, a device such as /dev/zero), and a
// file over limit without reading it.
func readRegular(path string, limit int64) ([]byte, os.FileInfo, error) {
	fd, err := os.OpenFile(path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("filestore: %w", err)
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("filestore: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %q is not a regular file (%v)", store.ErrInvalid, path, fi.Mode().Type())
	}
	tooLarge := func(size int64) error {
		return fmt.Errorf("%w: %q is %d bytes or more, over the limit of %d (filestore.Options.MaxBytes)", store.ErrInvalid, path, size, limit)
	}
	if fi.Size() > limit {
		return nil, nil, tooLarge(fi.Size())
	}
	data, err := io.ReadAll(io.LimitReader(fd, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("filestore: %w", err)
	}
	if int64(len(data)) > limit { // it grew while being read
		return nil, nil, tooLarge(int64(len(data)))
	}
	if int64(len(data)) != fi.Size() { // it changed while being read
		fi = nil
	}
	return data, fi, nil
}

// parseMeta reads a revision record. One that cannot be read, or whose
// revision is past math.MaxInt64, which no store gives (so that the next
// never wraps to 0, "absent"), is damaged: it records nothing, and the
// document counts as changed outside the store.
func parseMeta(m []byte) (store.Revision, string) {
	revText, sum, _ := strings.Cut(strings.TrimSpace(string(m)), " ")
	rev, err := strconv.ParseInt(revText, 10, 64)
	if err != nil || rev < 0 {
		return 0, ""
	}
	return store.Revision(rev), sum
}

// revision returns the revision of st's document (0 when absent) and
// whether it must be recorded. The record's revision holds when it
// belongs to the document and does not take back what this store served.
// Otherwise (an outside change, a record lost or restored from a backup)
// the document gets a new revision: above the record's and above the
// last served, and at least the current time in microseconds since 1970,
// which is above every revision given before, in any process, as long as
// the clock does not go back and no two commits fall in one microsecond.
// The same content as last served keeps its revision instead, so that a
// lost record is restored as it was. A new revision is only assigned when
// assign is set (under the lock, or when it cannot be taken): a read
// without the lock may see a writer's document before its record.
func (f *files) revision(name string, st state, assign bool) (store.Revision, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	last := f.served[name]
	if st.data == nil {
		return 0, false
	}
	if st.recSum == st.sum && (st.recRev > last.rev || st.recRev == last.rev && st.sum == last.sum) {
		f.served[name] = served{st.recRev, st.sum}
		return st.recRev, false
	}
	if !assign {
		return 0, true
	}
	if last.sum == st.sum && last.rev > st.recRev {
		return last.rev, true
	}
	rev := max(st.recRev, last.rev) + 1
	rev = max(rev, store.Revision(time.Now().UnixMicro()))
	f.served[name] = served{rev, st.sum}
	return rev, true
}

// Load returns the named policy and its revision; see [files.revision]
// for how a document changed outside the store is numbered. The new
// revision is recorded under the lock; when the lock cannot be taken (a
// read-only directory, such as a mounted ConfigMap) it is served without
// a record. When the files are as this store last read or wrote them,
// Load copies the policy it kept instead of reading and decoding the
// document again.
func (f *files) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	p, rev, err := f.LoadShared(ctx, name)
	if err != nil {
		return policy.Policy{}, 0, err
	}
	return p.Clone(), rev, nil
}

// LoadShared is Load without the copy: the policy returned is shared, and
// must not be modified (docedit.SharedLoader).
func (f *files) LoadShared(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	if err := ctx.Err(); err != nil {
		return policy.Policy{}, 0, err
	}
	if !validName.MatchString(name) {
		return policy.Policy{}, 0, fmt.Errorf("%w: %s", errName, rangeset.Quote(name))
	}
	if k, ok := f.cached(name); ok {
		return k.p, k.rev, nil
	}
	st, err := f.read(name)
	if err != nil {
		return policy.Policy{}, 0, err
	}
	rev, unrecorded := f.revision(name, st, false)
	if unrecorded {
		locked, r, err := f.record(ctx, name)
		switch {
		case err != nil:
			return policy.Policy{}, 0, err
		case locked:
			st, rev = r.st, r.rev
		default: // no lock to be had: no writer either
			rev, _ = f.revision(name, st, true)
		}
	}
	if st.data == nil {
		f.forget(name)
		return policy.Policy{}, 0, store.ErrNotFound
	}
	f.decoded.Add(1)
	p, err := decode(f.doc(name), st.data)
	if err != nil {
		return policy.Policy{}, 0, err
	}
	f.observe(name, rev, st.sig, st.rec, p)
	return p, rev, nil
}

func decode(path string, data []byte) (policy.Policy, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return policy.Policy{}, fmt.Errorf("%w: %q: empty file", store.ErrInvalid, path)
	}
	p, err := policy.Decode(data)
	if err != nil {
		return policy.Policy{}, fmt.Errorf("%w: %q: %w", store.ErrInvalid, path, err)
	}
	return p, nil
}

type recorded struct {
	st  state
	rev store.Revision
}

// lockFile takes the exclusive lock on path that every process on the
// machine shares, waiting while another holds it until ctx is done.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	wait := time.Millisecond
	for {
		unlock, busy, err := tryLock(path)
		switch {
		case err == nil:
			return unlock, nil
		case !busy:
			return nil, fmt.Errorf("filestore: lock %q: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("filestore: lock %q: %w", path, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// recordWait bounds how long Load waits for the lock to record a new
// revision: a writer that hangs holding it must not stall readers, who
// can do without the record.
const recordWait = time.Second

// record takes the lock, reads the policy again and records its revision
// when that is new. It reports locked false, and no error, when the lock
// cannot be taken within recordWait: reading never needs it.
func (f *files) record(ctx context.Context, name string) (locked bool, r recorded, err error) {
	ctx, cancel := context.WithTimeout(ctx, recordWait)
	defer cancel()
	unlock, err := lockFile(ctx, filepath.Join(f.dir, ".lock"))
	if err != nil {
		return false, r, nil
	}
	defer unlock()
	st, err := f.read(name)
	if err != nil {
		return true, r, err
	}
	rev, unrecorded := f.revision(name, st, true)
	if unrecorded {
		// A failed record is retried by the next Load; the revision
		// stands, remembered as served.
		f.writeMeta(name, rev, st.sum)
	}
	return true, recorded{st, rev}, nil
}

// lockFor checks a name to write and takes the lock.
func (f *files) lockFor(ctx context.Context, name string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("%w: %s", errName, rangeset.Quote(name))
	}
	return lockFile(ctx, filepath.Join(f.dir, ".lock"))
}

// DamagedRevision returns, under the lock, the revision of a document
// that exists but cannot be decoded, so that an unconditional Put or
// Delete can replace or remove it (docedit.Damaged).
func (f *files) DamagedRevision(ctx context.Context, name string) (store.Revision, error) {
	unlock, err := f.lockFor(ctx, name)
	if err != nil {
		return 0, err
	}
	defer unlock()
	st, err := f.read(name)
	switch {
	case err != nil:
		return 0, err
	case st.data == nil:
		return 0, store.ErrNotFound
	}
	rev, _ := f.revision(name, st, true)
	return rev, nil
}

// Swap writes p as the policy's next revision, or deletes the policy when
// p is nil, if its revision is still cur.
func (f *files) Swap(ctx context.Context, name string, cur store.Revision, p *policy.Policy) (store.Revision, error) {
	unlock, err := f.lockFor(ctx, name)
	if err != nil {
		return 0, err
	}
	defer unlock()
	f.sweep()
	// The files as this store last read or wrote them need not be read
	// again: the document is not read back after a write.
	var rev, recRev store.Revision
	exists := true
	if k, ok := f.cached(name); ok {
		rev = k.rev
	} else {
		st, err := f.read(name)
		if err != nil {
			return 0, err
		}
		rev, _ = f.revision(name, st, true)
		recRev, exists = st.recRev, st.data != nil
	}
	if rev != cur {
		return rev, &store.ConflictError{Name: name, Expected: cur, Current: rev}
	}
	f.mu.Lock()
	next := max(rev, recRev, f.served[name].rev) + 1
	f.mu.Unlock()
	if p == nil {
		if !exists {
			return 0, store.ErrNotFound
		}
		if err := os.Remove(f.doc(name)); err != nil {
			return 0, fmt.Errorf("filestore: %w", err)
		}
		metaInfo, err := f.writeMeta(name, next, "")
		if err != nil {
			return 0, err
		}
		f.forget(name)
		f.wrote(name, served{next, ""}, fileSig(nil)+fileSig(metaInfo))
		return 0, syncDir(f.dir)
	}
	// The document is streamed to the file and hashed on the way, so that
	// no copy of it is held in memory. One that Load would refuse as too
	// large is refused here, leaving the policy as it was.
	h := sha256.New()
	docInfo, err := writeAtomic(f.dir, f.doc(name), func(w io.Writer) error {
		lw := &limitWriter{w: io.MultiWriter(w, h), left: f.maxBytes}
		if _, err := p.WriteTo(lw); err != nil {
			if lw.left < 0 {
				return fmt.Errorf("%w: %s: the document would be over the limit of %d bytes (filestore.Options.MaxBytes)", store.ErrInvalid, rangeset.Quote(name), f.maxBytes)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	hexSum := hex.EncodeToString(h.Sum(nil))
	rec := fmt.Appendf(nil, "%d %s\n", next, hexSum)
	metaInfo, err := writeAtomic(f.dir, f.meta(name), writeBytes(rec))
	if err != nil {
		return 0, err
	}
	sig := fileSig(docInfo) + fileSig(metaInfo)
	// The editor does not use p after a successful Swap: keep it as the
	// known policy, not a copy.
	f.observe(name, next, sig, rec, *p)
	f.wrote(name, served{next, hexSum}, sig)
	return next, nil
}

// writeBytes is the write of writeAtomic for data already in memory.
func writeBytes(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

// limitWriter writes to w until more than left bytes in all would be
// written; that write fails, and left is then negative.
type limitWriter struct {
	w    io.Writer
	left int64
}

var errLimit = errors.New("over the limit")

func (l *limitWriter) Write(b []byte) (int, error) {
	if l.left -= int64(len(b)); l.left < 0 {
		return 0, errLimit
	}
	return l.w.Write(b)
}

// wrote remembers a commit as served and announces it. The policy's
// poller, if any, takes the files as written, sig, as its baseline, so
// that it does not announce this commit a second time.
func (f *files) wrote(name string, s served, sig string) {
	f.mu.Lock()
	f.served[name] = s
	pl := f.pollers[name]
	f.mu.Unlock()
	if pl != nil {
		pl.mu.Lock()
		pl.sig = sig
		pl.mu.Unlock()
	}
	f.hub.Notify(name)
}

// sweep removes temporary files that a killed writer left behind. It runs
// under the lock, so no live writer has a temporary file. A temporary
// file's name ends in ".tmp-" and os.CreateTemp's digits: a policy named
// a.tmp-b has a record .a.tmp-b.json.rev, which is no such name.
func (f *files) sweep() {
	left, _ := filepath.Glob(filepath.Join(f.dir, ".*.tmp-*"))
	for _, p := range left {
		if n := p[strings.LastIndex(p, ".tmp-")+len(".tmp-"):]; n != "" && strings.Trim(n, "0123456789") == "" {
			os.Remove(p)
		}
	}
}

func (f *files) writeMeta(name string, rev store.Revision, sum string) (os.FileInfo, error) {
	return writeAtomic(f.dir, f.meta(name), writeBytes(fmt.Appendf(nil, "%d %s\n", rev, sum)))
}

// writeAtomic replaces path with what write writes: a temporary file in
// dir, synced, renamed over path, then dir synced. No temporary file
// outlives an error. It returns what the descriptor written says of the
// file, which the rename does not change.
func writeAtomic(dir, path string, write func(io.Writer) error) (fi os.FileInfo, err error) {
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("filestore: writing %q: %w", path, err)
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return nil, err
	}
	if err = write(tmp); err != nil {
		return nil, err
	}
	if err = tmp.Sync(); err != nil {
		return nil, err
	}
	if fi, err = tmp.Stat(); err != nil {
		return nil, err
	}
	if err = tmp.Close(); err != nil {
		return nil, err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	return fi, syncDir(dir)
}

// signature identifies the on-disk state of a policy's files cheaply:
// a change of content, file identity (rename over, symlink swap), size or
// time.
func (f *files) signature(name string) string {
	var sig string
	for _, p := range []string{f.doc(name), f.meta(name)} {
		fi, err := os.Stat(p) // follows symlinks: a swapped link changes the file
		if err != nil {
			fi = nil
		}
		sig += fileSig(fi)
	}
	return sig
}

// fileSig is one file's part of a signature; nil stands for a file absent
// or unknown.
func fileSig(fi os.FileInfo) string {
	if fi == nil {
		return "-;"
	}
	return fmt.Sprintf("%s:%d:%d;", fileID(fi), fi.Size(), fi.ModTime().UnixNano())
}

// poller watches one policy's files for as long as it has watchers.
type poller struct {
	mu  sync.Mutex
	sig string
}

// startPoller is the hub's source: the baseline is taken before Watch
// returns, so that a change made after it is never mistaken for the
// starting state.
func (f *files) startPoller(_ context.Context, name string) (stop func(), err error) {
	pl := &poller{sig: f.signature(name)}
	f.mu.Lock()
	f.pollers[name] = pl
	f.mu.Unlock()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(f.poll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			// The stat is under pl.mu, so that a baseline a writer sets
			// meanwhile is never overwritten with an older look.
			pl.mu.Lock()
			s := f.signature(name)
			changed := s != pl.sig
			pl.sig = s
			pl.mu.Unlock()
			if changed {
				f.hub.Notify(name)
			}
		}
	}()
	return func() {
		f.mu.Lock()
		delete(f.pollers, name)
		f.mu.Unlock()
		close(done)
	}, nil
}

// Load returns the named policy and its revision ([store.Store]): a copy
// of what the store last read or wrote when the files are unchanged, else
// the document read and decoded afresh.
func (s *fileStore) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	return s.ed.Load(ctx, name)
}

// Put replaces the whole policy ([store.Editor]). An unconditional Put
// (expected [store.Any]) replaces a document that cannot be read, too.
func (s *fileStore) Put(ctx context.Context, name string, p policy.Policy, expected store.Revision) (store.Revision, error) {
	return s.ed.Put(ctx, name, p, expected)
}

// Delete removes the named policy's document ([store.Editor]). An
// unconditional Delete removes a document that cannot be read, too.
func (s *fileStore) Delete(ctx context.Context, name string, expected store.Revision) error {
	return s.ed.Delete(ctx, name, expected)
}

// SetSettings replaces the policy's settings ([store.Editor]).
func (s *fileStore) SetSettings(ctx context.Context, name string, st policy.Settings, expected store.Revision) (store.Revision, error) {
	return s.ed.SetSettings(ctx, name, st, expected)
}

// CreateRule adds a rule with a new id ([store.Editor]).
func (s *fileStore) CreateRule(ctx context.Context, name string, r policy.Rule, expected store.Revision) (policy.Rule, store.Revision, error) {
	return s.ed.CreateRule(ctx, name, r, expected)
}

// GetRule returns the rule with the given id ([store.Editor]).
func (s *fileStore) GetRule(ctx context.Context, name, id string) (policy.Rule, store.Revision, error) {
	return s.ed.GetRule(ctx, name, id)
}

// UpdateRule replaces the rule with r's id ([store.Editor]).
func (s *fileStore) UpdateRule(ctx context.Context, name string, r policy.Rule, expected store.Revision) (policy.Rule, store.Revision, error) {
	return s.ed.UpdateRule(ctx, name, r, expected)
}

// PatchRule changes the fields of a rule that patch sets ([store.Editor]).
func (s *fileStore) PatchRule(ctx context.Context, name, id string, patch store.Patch, expected store.Revision) (policy.Rule, store.Revision, error) {
	return s.ed.PatchRule(ctx, name, id, patch, expected)
}

// DeleteRule removes the rule with the given id ([store.Editor]).
func (s *fileStore) DeleteRule(ctx context.Context, name, id string, expected store.Revision) (store.Revision, error) {
	return s.ed.DeleteRule(ctx, name, id, expected)
}

// DeleteRules removes every rule that q's filters match ([store.Editor]).
func (s *fileStore) DeleteRules(ctx context.Context, name string, q store.Query, expected store.Revision) (int, store.Revision, error) {
	return s.ed.DeleteRules(ctx, name, q, expected)
}

// ListRules returns one page of the rules that q matches ([store.Editor]).
func (s *fileStore) ListRules(ctx context.Context, name string, q store.Query) ([]policy.Rule, int, error) {
	return s.ed.ListRules(ctx, name, q)
}
