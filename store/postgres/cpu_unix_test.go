//go:build unix

package postgres_test

import (
	"syscall"
	"time"
)

// cpu returns the process's CPU time so far: the client's share of an
// operation, the server's being the rest.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
