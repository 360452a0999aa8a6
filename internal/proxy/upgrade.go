package proxy

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Switched is an upstream's answer to an upgrade request (Upgrade). The
// caller owns Conn and must close it.
type Switched struct {
	Conn   net.Conn
	Reader *bufio.Reader // reads Conn, starting with what came after the head
	Status int
	Header http.Header
}

// ErrBadRequestHeader: the request cannot be written as HTTP/1.1 (a
// control byte in a header, the method or the target).
var ErrBadRequestHeader = errBadRequestHeader

// Upgrade sends r's head — built as for any forwarded request (identity
// headers set, spoofed and hop-by-hop ones dropped), bodiless — plus
// "Upgrade: proto" and "Connection: Upgrade", on a new connection to a
// target, and reads the answer's head within the upstream's timeout. The
// connection is dedicated: never taken from the pool nor returned to it,
// since after a 101 it carries another protocol. Whatever the status, the
// caller gets the connection; the upstream's answer is for it to judge.
func (u *Upstream) Upgrade(ctx context.Context, r *http.Request, proto string) (*Switched, error) {
	info := pipeline.InfoFrom(ctx)
	t := u.pick(time.Now().UnixNano(), nil)
	x := exchanges.Get().(*exchange)
	defer putExchange(x)
	var sc trace.SpanContext
	if u.tracer != nil {
		sc = trace.SpanContextFromContext(ctx) // the server span's: a relay has no upstream span
	}
	if _, err := x.buildRequest(r, info, t, sc); err != nil {
		return nil, err
	}
	// buildRequest ended the head with an empty line and, for a GET
	// without a body, nothing after it.
	head := append(x.req[:len(x.req)-2:len(x.req)-2], "Upgrade: "+proto+"\r\nConnection: Upgrade\r\n\r\n"...)
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	pc, err := u.dial(dctx, t)
	if err != nil {
		t.markDown(time.Now().UnixNano(), u.downFor)
		return nil, err
	}
	c := pc.conn
	_ = c.SetDeadline(start.Add(u.timeout))
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(aLongTimeAgo) })
	defer stop()
	br := bufio.NewReaderSize(c, 4096)
	if _, err := c.Write(head); err != nil {
		_ = c.Close()
		return nil, err
	}
	h := &x.head
	if err := h.readSwitch(br); err != nil {
		_ = c.Close()
		return nil, err
	}
	if !stop() {
		_ = c.Close()
		return nil, context.Cause(ctx)
	}
	if info != nil {
		info.Target, info.UpstreamTime = t.url.Host, time.Since(start)
	}
	_ = c.SetDeadline(time.Time{})
	s := &Switched{Conn: c, Reader: br, Status: h.status, Header: make(http.Header, len(h.fields))}
	for i := range h.fields {
		f := &h.fields[i]
		s.Header[h.key(f)] = append(s.Header[h.key(f)], h.value(f))
	}
	return s, nil
}

// IsTimeout reports whether err is an upstream timeout (a 504, not a 502).
func IsTimeout(err error) bool { return isTimeout(err) }
