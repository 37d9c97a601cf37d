//go:build windows

package filestore

import (
	"errors"
	"os"
	"syscall"
)

// openNonblock is not needed: Windows has no FIFOs in the file system.
const openNonblock = 0

// errSharingViolation is ERROR_SHARING_VIOLATION: another handle holds
// the file without sharing it.
const errSharingViolation syscall.Errno = 32

// tryLock opens path with no sharing, which excludes every other opener
// until the handle is closed, by unlock or by the process ending. It
// reports busy when another process holds it.
func tryLock(path string) (unlock func(), busy bool, err error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, false, err
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ|syscall.GENERIC_WRITE, 0, nil,
		syscall.OPEN_ALWAYS, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, errors.Is(err, errSharingViolation), err
	}
	return func() { syscall.CloseHandle(h) }, false, nil
}

// fileID is empty: size and time tell a changed file apart.
func fileID(os.FileInfo) string { return "" }

// syncDir does nothing: NTFS journals the rename itself, and a directory
// handle cannot be flushed.
func syncDir(string) error { return nil }
