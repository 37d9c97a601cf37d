//go:build !unix && !windows

package filestore

import (
	"context"
	"errors"
	"fmt"
	"os"
)

const openNonblock = 0

// lockFile fails: this platform offers no lock between processes, and
// writing without one could lose updates. Reading and watching work.
func lockFile(context.Context, string) (func(), error) {
	return nil, fmt.Errorf("filestore: writing needs a file lock, which this platform lacks: %w", errors.ErrUnsupported)
}

func fileID(os.FileInfo) string { return "" }

func syncDir(string) error { return nil }
