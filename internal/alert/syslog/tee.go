package syslog

import (
	"io"
	"sync/atomic"
)

// Tee is the log stream's writer with a branch to syslog: every write goes
// to the underlying writer (stderr), then its audit lines to the Client set
// with Forward, if any. It sits under the group-commit audit.Sink, which
// hands it whole lines only, so every producer of "msg":"audit" lines (the
// gateway, the admin API, lockouts, alerts) reaches syslog without knowing
// of it.
type Tee struct {
	w   io.Writer
	fwd atomic.Pointer[Client]
}

// NewTee returns a Tee writing to w and forwarding nowhere yet.
func NewTee(w io.Writer) *Tee { return &Tee{w: w} }

// Forward starts forwarding to c (nil stops it).
func (t *Tee) Forward(c *Client) { t.fwd.Store(c) }

// Write writes p to the underlying writer and queues its audit lines for
// syslog; the underlying writer's result is returned.
func (t *Tee) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if c := t.fwd.Load(); c != nil {
		c.WriteLines(p)
	}
	return n, err
}
