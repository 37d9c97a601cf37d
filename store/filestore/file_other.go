//go:build !unix && !windows

package filestore

import (
	"errors"
	"fmt"
	"os"
)

const openNonblock = 0

// tryLock fails: this platform offers no lock between processes, and
// writing without one could lose updates. Reading and watching work.
func tryLock(string) (func(), bool, error) {
	return nil, false, fmt.Errorf("writing needs a file lock, which this platform lacks: %w", errors.ErrUnsupported)
}

func fileID(os.FileInfo) string { return "" }

func syncDir(string) error { return nil }
