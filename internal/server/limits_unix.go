//go:build unix

package server

import "syscall"

// fileLimit is the soft limit on open file descriptors (Go raises it to the
// hard limit at start), or 0 when unknown.
func fileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return uint64(rl.Cur)
}
