//go:build windows

package filestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// openNonblock is not needed: Windows has no FIFOs in the file system.
const openNonblock = 0

// errSharingViolation is ERROR_SHARING_VIOLATION: another handle holds
// the file without sharing it.
const errSharingViolation syscall.Errno = 32

// lockFile opens path with no sharing, which excludes every other opener
// until the handle is closed, by unlock or by the process ending. It
// retries while another process holds it, until ctx is done.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, fmt.Errorf("filestore: lock %q: %w", path, err)
	}
	wait := time.Millisecond
	for {
		h, err := syscall.CreateFile(p, syscall.GENERIC_READ|syscall.GENERIC_WRITE, 0, nil,
			syscall.OPEN_ALWAYS, syscall.FILE_ATTRIBUTE_NORMAL, 0)
		if err == nil {
			return func() { syscall.CloseHandle(h) }, nil
		}
		if !errors.Is(err, errSharingViolation) {
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

// fileID is empty: size and time tell a changed file apart.
func fileID(os.FileInfo) string { return "" }

// syncDir does nothing: NTFS journals the rename itself, and a directory
// handle cannot be flushed.
func syncDir(string) error { return nil }
