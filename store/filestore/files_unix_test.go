//go:build unix

package filestore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipgate/ipgate/store"
)

// TestFIFO renames a FIFO over the document and links it to /dev/zero:
// Load returns at once with an error naming the file, and memory does not
// grow.
func TestFIFO(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Put(t.Context(), "acme", policyOf("a"), store.Any); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	path := filepath.Join(dir, "acme.json")
	if err := os.Rename(fifo, path); err != nil {
		t.Fatal(err)
	}
	err := loadWithin(t, s, "acme")
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "acme.json") || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Load(FIFO) = %v; want ErrInvalid naming the file", err)
	}
	os.Remove(path)
	if err := os.Symlink("/dev/zero", path); err != nil {
		t.Fatal(err)
	}
	if err := loadWithin(t, s, "acme"); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Load(/dev/zero) = %v; want ErrInvalid: not a regular file", err)
	}
}

// TestLockHeld: another process holding the lock and never letting go
// (flock from another descriptor stands for it) stalls no one past their
// context. A write gives up when its context ends; a Load that would
// record an outside change serves the policy unrecorded instead.
func TestLockHeld(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Put(t.Context(), "acme", policyOf("a"), store.Any); err != nil {
		t.Fatal(err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := s.Put(ctx, "acme", policyOf("b"), store.Any); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Put with the lock held: %v, want the context's deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Put with the lock held did not give up when its context ended")
	}
	// An outside change, seen by a store that has not read it yet.
	data, err := os.ReadFile(filepath.Join(dir, "acme.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "acme.json"), []byte(strings.Replace(string(data), `"a"`, `"c"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		p, _, err := open(t, dir).Load(t.Context(), "acme")
		if err == nil && (len(p.Rules) != 1 || p.Rules[0].ID != "c") {
			err = errors.New("rules " + p.Rules[0].ID)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Load with the lock held: %v, want the edited policy", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Load with the lock held did not return")
	}
}
