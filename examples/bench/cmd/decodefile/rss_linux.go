package main

import "syscall"

// maxRSS returns the peak resident set size in bytes: Linux reports it in
// kilobytes.
func maxRSS(r syscall.Rusage) int64 { return r.Maxrss << 10 }
