//go:build unix && !linux

package sockio

import "syscall"

// wrapConns: elsewhere the calls would be the ordinary ones, so Wrap
// leaves net's conns as they are.
const wrapConns = false

func sysRead(fd uintptr, p []byte) (uintptr, syscall.Errno) {
	return ordinary(syscall.Read(int(fd), p))
}

func sysWrite(fd uintptr, p []byte) (uintptr, syscall.Errno) {
	return ordinary(syscall.Write(int(fd), p))
}

func sysPeek(fd uintptr, p []byte) (uintptr, syscall.Errno) {
	n, _, err := syscall.Recvfrom(int(fd), p, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return ordinary(n, err)
}
