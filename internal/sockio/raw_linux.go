//go:build linux

package sockio

import (
	"syscall"
	"unsafe"
)

// wrapConns: Wrap makes a *Conn (its calls are raw outside race-detector
// builds, which still run the same Conn through ordinary ones).
const wrapConns = true

func sysRead(fd uintptr, p []byte) (uintptr, syscall.Errno) {
	if raceBuild {
		return ordinary(syscall.Read(int(fd), p))
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return n, e
}

func sysWrite(fd uintptr, p []byte) (uintptr, syscall.Errno) {
	if raceBuild {
		return ordinary(syscall.Write(int(fd), p))
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return n, e
}

func sysPeek(fd uintptr, p []byte) (uintptr, syscall.Errno) {
	if raceBuild {
		n, _, err := syscall.Recvfrom(int(fd), p, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return ordinary(n, err)
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return n, e
}
