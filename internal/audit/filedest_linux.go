//go:build linux

package audit

import (
	"io"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Destination returns w to write log lines to. When w is an *os.File open
// on a regular file (the log redirected to a file), the writes are raw
// write(2) calls (syscall.RawSyscall) for as long as they are fast.
//
// Why: an ordinary system call lets the Go scheduler's monitor thread
// (sysmon) take the P away and wake up to watch it, and the sink writes
// every 10 ms, timed so that it often runs just as the process comes out
// of an idle moment; each such write woke sysmon and reset it to polling
// every 20 µs, which on a pinned core cost ~1,200 context switches a
// second and up to 10% of the CPU per request at 8 connections
// (internal/sockio does the same for sockets). A regular file's write
// copies into the page cache and does not wait, except when the kernel
// throttles dirty pages or reclaims memory, or the filesystem is frozen
// or remote: then a raw call would hold the P for as long. So a write that
// took longer than slowWrite sends the destination back to ordinary
// writes for slowFor; a slow disk costs at most one held write per
// slowFor. Pipes, sockets and terminals (stderr under systemd, Docker or
// Kubernetes) keep ordinary writes: a full pipe blocks.
func Destination(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok {
		return w
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return w
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return w
	}
	d := &fileDest{f: f, rc: rc}
	d.fn = d.write
	return d
}

var (
	slowWrite = time.Millisecond
	slowFor   = 10 * time.Second
)

type fileDest struct {
	f  *os.File
	rc syscall.RawConn
	fn func(uintptr) bool // d.write, bound once

	mu            sync.Mutex
	p             []byte        // what write has left to write
	err           syscall.Errno // what stopped it
	ordinaryUntil time.Time     // after a slow write: ordinary writes until then
}

func (d *fileDest) write(fd uintptr) bool {
	for len(d.p) > 0 {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&d.p[0])), uintptr(len(d.p)))
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0:
			d.err = e
			return true
		}
		d.p = d.p[n:]
	}
	return true
}

func (d *fileDest) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	start := time.Now()
	if len(p) == 0 || start.Before(d.ordinaryUntil) {
		return d.f.Write(p)
	}
	d.p, d.err = p, 0
	err := d.rc.Write(d.fn)
	n := len(p) - len(d.p)
	rest, e := d.p, d.err
	d.p = nil
	if time.Since(start) > slowWrite {
		d.ordinaryUntil = start.Add(slowFor)
	}
	if err == nil && e == 0 {
		return n, nil
	}
	// A failure (a closed file, ENOSPC, EAGAIN): the ordinary call
	// retries the rest and reports the error as os does.
	m, err := d.f.Write(rest)
	return n + m, err
}
