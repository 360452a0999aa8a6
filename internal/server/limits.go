package server

import (
	"net"
	"net/http"
	"sync"
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
//
// While the handler runs, the deadlines are kept on a timer of our own:
// moving x/net/http2's deadline is a message to the connection's serve
// goroutine (a channel round trip and a timer there) and a stream moved it
// four times per request. When the timer fires, the stream is reset exactly
// as x/net/http2's own deadline would (a deadline in the past resets it at
// once). Only the final flush, after the handler, uses x/net/http2's
// deadline: the stream's writer must not be touched once the handler
// returned.
func h2Deadlines(h http.Handler, write, total time.Duration) http.Handler {
	if write <= 0 && total <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &progressWriter{ResponseWriter: w, rc: http.NewResponseController(w), write: write}
		if total > 0 {
			pw.end = time.Now().Add(total)
		}
		pw.idle()
		defer pw.finish()
		h.ServeHTTP(pw, r)
	})
}

type progressWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	write time.Duration // <= 0: no bound per write
	end   time.Time     // zero: no cap

	mu    sync.Mutex
	timer *time.Timer
	due   time.Time // when the stream is cut; zero: never
	done  bool      // the handler returned: the writer is x/net/http2's again
}

// arm sets when the stream is cut (zero: never).
func (w *progressWriter) arm(due time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.due = due
	switch {
	case due.IsZero():
		if w.timer != nil {
			w.timer.Stop()
		}
	case w.timer == nil:
		w.timer = time.AfterFunc(time.Until(due), w.expire)
	default:
		w.timer.Reset(time.Until(due))
	}
}

// expire resets the stream if its deadline has passed and the handler is
// still running (a timer that fired late, after the deadline moved on, does
// nothing).
func (w *progressWriter) expire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || w.due.IsZero() || time.Now().Before(w.due) {
		return
	}
	_ = w.rc.SetWriteDeadline(time.Unix(0, 1)) // in the past: reset now
}

// busyUntil is the deadline of a write about to start.
func (w *progressWriter) busyUntil() time.Time {
	if w.write <= 0 {
		return w.end
	}
	t := time.Now().Add(w.write)
	if !w.end.IsZero() && t.After(w.end) {
		t = w.end
	}
	return t
}

// busy arms the deadline for a write about to start; idle keeps only the
// total cap while the handler does something else (an upstream that
// pauses a stream is not the client's fault).
func (w *progressWriter) busy() { w.arm(w.busyUntil()) }

func (w *progressWriter) idle() { w.arm(w.end) }

// finish hands the deadline back to x/net/http2 for the final flush, which
// runs after the handler returns.
func (w *progressWriter) finish() {
	w.mu.Lock()
	w.done = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	if t := w.busyUntil(); !t.IsZero() {
		_ = w.rc.SetWriteDeadline(t)
	}
}

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
