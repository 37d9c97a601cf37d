//go:build unix

package filestore

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// openNonblock makes opening a FIFO return at once, so that it is refused
// instead of waiting for a writer.
const openNonblock = syscall.O_NONBLOCK

// tryLock takes an exclusive flock on path without waiting, shared by
// every process on the machine; closing the file (or the process ending)
// releases it. It reports busy when another holder has it.
func tryLock(path string) (unlock func(), busy bool, err error) {
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, err
	}
	for {
		err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		lf.Close()
		return nil, errors.Is(err, syscall.EWOULDBLOCK), err
	}
	return func() { lf.Close() }, false, nil
}

// fileID names the file fi describes: a rename over it or a symlink swap
// changes it.
func fileID(fi os.FileInfo) string {
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		return strconv.FormatUint(uint64(sys.Dev), 10) + "." + strconv.FormatUint(uint64(sys.Ino), 10)
	}
	return ""
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("filestore: sync %q: %w", dir, err)
	}
	return nil
}
