// Package filestore keeps each policy as one JSON document in a directory,
// in the strict document form of package policy, so that people and deploy
// tools can read and edit it.
//
// Writes are atomic and durable: a temporary file in the same directory
// (mode 0600) is written, synced and renamed over the document, and the
// directory is synced; on any error the temporary file is removed. Writers
// in every process take an exclusive lock on the directory's ".lock" file,
// so that two processes never lose or tear each other's writes.
//
// Each document NAME.json has a companion ".NAME.json.rev" that records the
// revision and the SHA-256 of the document it belongs to. A document whose
// content no longer matches (an editor saved it, a deploy tool renamed a
// file over it, a symlink was swapped) is an outside change: it gets the
// next revision. Watchers poll the documents' metadata, so outside changes
// are seen too. A document that is empty, null, unparsable or invalid is
// reported by Load as an error wrapping [store.ErrInvalid]; whoever follows
// it keeps the last good policy.
package filestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/store"
)

// Options configure a [Store]. A nil *Options means the defaults.
type Options struct {
	// Now sets CreatedAt and UpdatedAt; nil means time.Now.
	Now func() time.Time
	// Guard refuses writes; see store.DocEditor.Guard.
	Guard func(old, new policy.Policy) error
	// PollInterval is how often watchers look for outside changes; zero
	// means 250 milliseconds.
	PollInterval time.Duration
}

// ErrName reports a policy name that cannot be a file name here.
var ErrName = errors.New("filestore: policy names are 1 to 200 letters, digits, '.', '_' or '-', not starting with '.'")

var validName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$`)

// Store is a directory of policy documents. It is safe for concurrent use,
// by goroutines and by processes sharing the directory.
type Store struct {
	store.DocEditor
	files *files
}

// Open returns a store over dir, creating the directory (mode 0700) when it
// does not exist.
func Open(dir string, opts *Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	f := &files{dir: dir, poll: 250 * time.Millisecond, watchers: map[string]map[chan struct{}]bool{}}
	s := &Store{DocEditor: store.DocEditor{Backend: f}, files: f}
	if opts != nil {
		s.Now, s.Guard = opts.Now, opts.Guard
		if opts.PollInterval > 0 {
			f.poll = opts.PollInterval
		}
	}
	return s, nil
}

// Watch returns a channel that receives a value after every change of the
// named policy's document, made by this process or any other; see
// [store.Watcher].
func (s *Store) Watch(ctx context.Context, name string) (<-chan struct{}, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("%w: %q", ErrName, name)
	}
	return s.files.watch(ctx, name), nil
}

type files struct {
	dir  string
	poll time.Duration

	mu       sync.Mutex
	watchers map[string]map[chan struct{}]bool
}

func (f *files) doc(name string) string  { return filepath.Join(f.dir, name+".json") }
func (f *files) meta(name string) string { return filepath.Join(f.dir, "."+name+".json.rev") }

// state is what is on disk for one policy.
type state struct {
	data   []byte // the document; nil when absent
	rev    store.Revision
	last   store.Revision // the last revision ever given, for a deleted policy
	sum    string         // of data
	synced bool           // the companion file records rev and sum
}

// read returns the policy's state, counting an outside change as the next
// revision (not yet recorded).
func (f *files) read(name string) (state, error) {
	var st state
	data, err := os.ReadFile(f.doc(name))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return st, fmt.Errorf("filestore: %w", err)
	default:
		st.data = data
		sum := sha256.Sum256(data)
		st.sum = hex.EncodeToString(sum[:])
	}
	var recRev store.Revision
	var recSum string
	if m, err := os.ReadFile(f.meta(name)); err == nil {
		recRev, recSum = parseMeta(m)
	} else if !errors.Is(err, os.ErrNotExist) {
		return st, fmt.Errorf("filestore: %w", err)
	}
	st.last = recRev
	switch {
	case st.data == nil:
		st.synced = recSum == ""
	case recSum == st.sum:
		st.rev, st.synced = recRev, true
	default:
		st.rev = recRev + 1
	}
	return st, nil
}

func parseMeta(m []byte) (store.Revision, string) {
	revText, sum, _ := strings.Cut(strings.TrimSpace(string(m)), " ")
	rev, err := strconv.ParseUint(revText, 10, 64)
	if err != nil {
		return 0, ""
	}
	return store.Revision(rev), sum
}

// Load returns the named policy and its revision. A document changed
// outside the store is given the next revision, recorded under the lock.
func (f *files) Load(ctx context.Context, name string) (policy.Policy, store.Revision, error) {
	if err := ctx.Err(); err != nil {
		return policy.Policy{}, 0, err
	}
	if !validName.MatchString(name) {
		return policy.Policy{}, 0, fmt.Errorf("%w: %q", ErrName, name)
	}
	st, err := f.read(name)
	if err == nil && !st.synced && st.data != nil {
		st, err = f.record(name)
	}
	if err != nil {
		return policy.Policy{}, 0, err
	}
	if st.data == nil {
		return policy.Policy{}, 0, store.ErrNotFound
	}
	p, err := decode(f.doc(name), st.data)
	if err != nil {
		return policy.Policy{}, 0, err
	}
	return p, st.rev, nil
}

func decode(path string, data []byte) (policy.Policy, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return policy.Policy{}, fmt.Errorf("%w: %s: empty file", store.ErrInvalid, path)
	}
	p, err := policy.Decode(data)
	if err != nil {
		return policy.Policy{}, fmt.Errorf("%w: %s: %w", store.ErrInvalid, path, err)
	}
	return p, nil
}

// record takes the lock and records an outside change's revision.
func (f *files) record(name string) (state, error) {
	unlock, err := f.lock()
	if err != nil {
		return state{}, err
	}
	defer unlock()
	st, err := f.read(name)
	if err == nil && !st.synced && st.data != nil {
		err = f.writeMeta(name, st.rev, st.sum)
		st.synced = err == nil
	}
	return st, err
}

// Swap writes p as the policy's next revision, or deletes the policy when
// p is nil, if its revision is still cur.
func (f *files) Swap(ctx context.Context, name string, cur store.Revision, p *policy.Policy) (store.Revision, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !validName.MatchString(name) {
		return 0, fmt.Errorf("%w: %q", ErrName, name)
	}
	unlock, err := f.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	f.sweep()
	st, err := f.read(name)
	if err != nil {
		return 0, err
	}
	if st.rev != cur {
		return st.rev, &store.ConflictError{Name: name, Expected: cur, Current: st.rev}
	}
	next := max(st.rev, st.last) + 1
	if p == nil {
		if st.data == nil {
			return 0, store.ErrNotFound
		}
		if err := os.Remove(f.doc(name)); err != nil {
			return 0, fmt.Errorf("filestore: %w", err)
		}
		if err := f.writeMeta(name, next, ""); err != nil {
			return 0, err
		}
		f.notify(name)
		return 0, syncDir(f.dir)
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return 0, fmt.Errorf("filestore: %w", err)
	}
	data = append(data, '\n')
	if err := writeAtomic(f.dir, f.doc(name), data); err != nil {
		return 0, err
	}
	sum := sha256.Sum256(data)
	if err := f.writeMeta(name, next, hex.EncodeToString(sum[:])); err != nil {
		return 0, err
	}
	f.notify(name)
	return next, nil
}

// sweep removes temporary files that a killed writer left behind. It runs
// under the lock, so no live writer has a temporary file.
func (f *files) sweep() {
	left, _ := filepath.Glob(filepath.Join(f.dir, ".*.tmp-*"))
	for _, p := range left {
		os.Remove(p)
	}
}

func (f *files) writeMeta(name string, rev store.Revision, sum string) error {
	return writeAtomic(f.dir, f.meta(name), []byte(fmt.Sprintf("%d %s\n", rev, sum)))
}

// lock takes the directory's exclusive lock, shared by every process.
func (f *files) lock() (unlock func(), err error) {
	lf, err := os.OpenFile(filepath.Join(f.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	for {
		err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("filestore: lock: %w", err)
	}
	return func() { lf.Close() }, nil // closing releases the lock
}

// writeAtomic replaces path with data: a temporary file in dir, synced,
// renamed over path, then dir synced. No temporary file outlives an error.
func writeAtomic(dir, path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("filestore: writing %s: %w", path, err)
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("filestore: sync %s: %w", dir, err)
	}
	return nil
}

func (f *files) notify(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.watchers[name] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// signature identifies the on-disk state of a policy's files cheaply:
// a change of content, inode (rename over, symlink swap), size or time.
func (f *files) signature(name string) string {
	var b strings.Builder
	for _, p := range []string{f.doc(name), f.meta(name)} {
		fi, err := os.Stat(p) // follows symlinks: a swapped link changes the inode
		if err != nil {
			b.WriteString("-;")
			continue
		}
		var ino uint64
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = sys.Ino
		}
		fmt.Fprintf(&b, "%d:%d:%d;", ino, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String()
}

func (f *files) watch(ctx context.Context, name string) <-chan struct{} {
	ch := make(chan struct{}, 1)
	f.mu.Lock()
	if f.watchers[name] == nil {
		f.watchers[name] = map[chan struct{}]bool{}
	}
	f.watchers[name][ch] = true
	f.mu.Unlock()
	// The baseline is taken before Watch returns, so that a change made
	// after it is never mistaken for the starting state.
	sig := f.signature(name)
	go func() {
		t := time.NewTicker(f.poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				f.mu.Lock()
				delete(f.watchers[name], ch)
				close(ch)
				f.mu.Unlock()
				return
			case <-t.C:
				if s := f.signature(name); s != sig {
					sig = s
					select {
					case ch <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return ch
}
