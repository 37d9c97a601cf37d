//go:build unix && !linux

package main

import "syscall"

// maxRSS returns the peak resident set size in bytes: the BSDs and macOS
// report it in bytes.
func maxRSS(r syscall.Rusage) int64 { return int64(r.Maxrss) }
