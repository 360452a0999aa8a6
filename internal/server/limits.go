package server

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

const (
	// fdReserve is what a derived server.max_connections leaves to
	// everything but public connections: the admin listener's
	// adminMaxConns, listeners, log files, the key store and Redis.
	fdReserve = 128
	// adminMaxConns bounds the admin listener's connections, so that
	// /healthz, /readyz and /metrics always have descriptors, whatever the
	// public listener carries; more wait in the listen queue.
	adminMaxConns = 32
)

// maxConnections is server.max_connections, or, when unset, half of what the
// file-descriptor limit leaves after fdReserve: each proxied request also
// holds an upstream connection. 0 (no cap) when the limit is unknown or
// unlimited.
func maxConnections(configured int) int {
	if configured > 0 {
		return configured
	}
	limit := fileLimit()
	if limit == 0 || limit > 1<<40 {
		return 0
	}
	return int(max((int64(limit)-fdReserve)/2, 1))
}

// limitAdmin bounds the admin listener's connections.
func limitAdmin(ln net.Listener) net.Listener { return netutil.LimitListener(ln, adminMaxConns) }

// h2Deadlines gives HTTP/2 streams the write deadlines of h1 connections:
// each write or flush of a stream must finish within write (flow control
// included: a client that stops granting window is cut like one that stops
// reading), the stream's last bytes after the handler too, and total, when
// set, caps the stream from its start. x/net/http2's own stream deadline
// (http.Server.WriteTimeout) would cap the whole stream instead.
func h2Deadlines(h http.Handler, write, total time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &progressWriter{ResponseWriter: w, rc: http.NewResponseController(w), write: write}
		if total > 0 {
			pw.end = time.Now().Add(total)
		}
		pw.idle()
		h.ServeHTTP(pw, r)
		pw.busy() // the final flush
	})
}

type progressWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	write time.Duration
	end   time.Time // zero: no cap
}

// busy arms the deadline for a write about to start; idle keeps only the
// total cap while the handler does something else (an upstream that
// pauses a stream is not the client's fault).
func (w *progressWriter) busy() {
	t := time.Now().Add(w.write)
	if !w.end.IsZero() && t.After(w.end) {
		t = w.end
	}
	_ = w.rc.SetWriteDeadline(t)
}

func (w *progressWriter) idle() { _ = w.rc.SetWriteDeadline(w.end) }

func (w *progressWriter) Write(p []byte) (int, error) {
	w.busy()
	defer w.idle()
	return w.ResponseWriter.Write(p)
}

// FlushError is what http.ResponseController.Flush calls.
func (w *progressWriter) FlushError() error {
	w.busy()
	defer w.idle()
	return w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the stream's other methods.
func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
