//go:build linux

package h1

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIdleConnMemory opens 2000 keep-alive connections to an
// in-process server, each served one request, and reports what they cost
// the process once idle: Go heap and goroutine stacks per connection
// (runtime.MemStats after GC: live heap, heap spans in use, stacks, and the
// runtime's off-heap structures), and goroutines per connection. Parked is
// the default (idle connections parked); goroutine is ParkAfter < 0, the
// behaviour before parking. The clients are raw blocking sockets, outside
// Go's runtime, so only the server's side is counted.
//
//	go test -run '^$' -bench IdleConnMemory -benchtime 1x ./internal/h1/
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 2000
	for _, tc := range []struct {
		name      string
		parkAfter time.Duration
	}{
		{"parked", time.Millisecond},
		{"goroutine", -1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				idleConnMemory(b, n, tc.parkAfter)
			}
		})
	}
}

func idleConnMemory(b *testing.B, n int, parkAfter time.Duration) {
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
	}), ParkAfter: parkAfter, ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	defer func() { srv.Close(); <-done }()
	port := ln.Addr().(*net.TCPAddr).Port
	fds := make([]int, 0, n)
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	settled := func(want int) {
		for deadline := time.Now().Add(30 * time.Second); ; {
			if srv.Conns() == int64(want) && (parkAfter < 0 && idleConns(srv) == want || parkAfter >= 0 && srv.Parked() == int64(want)) {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d connections, %d parked, %d idle; want %d", srv.Conns(), srv.Parked(), idleConns(srv), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// One connection first, so that the poller and the pools exist in
	// both measurements.
	fd, err := rawGet(port)
	if err != nil {
		b.Fatal(err)
	}
	fds = append(fds, fd)
	settled(1)
	before, g0 := memNow()
	for len(fds) < n+1 {
		fd, err := rawGet(port)
		if err != nil {
			b.Fatal(err)
		}
		fds = append(fds, fd)
	}
	settled(n + 1)
	after, g1 := memNow()
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "heap-B/conn")
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/float64(n), "heapinuse-B/conn")
	b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/float64(n), "stack-B/conn")
	// The runtime's off-heap structures: a pollDesc per socket, mostly.
	b.ReportMetric(float64(int64(after.OtherSys)-int64(before.OtherSys))/float64(n), "othersys-B/conn")
	b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/conn")
}

func memNow() (runtime.MemStats, int) {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m, runtime.NumGoroutine()
}

// rawGet connects to 127.0.0.1:port with a blocking socket, sends a GET and
// reads its "ok" answer, and returns the socket, open.
func rawGet(port int) (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	if _, err := syscall.Write(fd, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	var buf [512]byte
	got := 0
	for !bytes.HasSuffix(buf[:got], []byte("\r\n\r\nok")) {
		k, err := syscall.Read(fd, buf[got:])
		if err != nil || k == 0 {
			syscall.Close(fd)
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return -1, err
		}
		got += k
	}
	return fd, nil
}
