//go:build unix

package filestore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

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
