package h1

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/rampart-gw/rampart/internal/framing"
)

// statusLines[code] is "NNN Reason\r\n" for every valid code.
var statusLines = func() (t [1000]string) {
	for code := 100; code < 1000; code++ {
		text := http.StatusText(code)
		if text == "" {
			text = "status code " + strconv.Itoa(code)
		}
		t[code] = strconv.Itoa(code) + " " + text + "\r\n"
	}
	return t
}()

// dateLine is the cached "Date: ...\r\n" field, refreshed at most once a
// second.
type dateLine struct {
	sec  int64
	line []byte
}

var dateCache atomic.Pointer[dateLine]

func dateField(now time.Time) []byte {
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.line
	}
	b := make([]byte, 0, 40)
	b = append(b, "Date: "...)
	b = now.UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\n"...)
	dateCache.Store(&dateLine{sec: sec, line: b})
	return b
}

// response is the http.ResponseWriter of one request.
type response struct {
	c      *conn
	req    *http.Request
	body   *body // nil when the request has none
	header http.Header
	status int
	cl     int64 // Content-Length: declared by the handler, or computed; -1 unknown
	// written counts body bytes the handler wrote.
	written int64
	pend    []byte // body bytes held back until the head is complete
	err     error  // a write failed: the connection is done

	wroteHeader    bool // the final status is chosen; status line and fields are in bw
	headDone       bool // the head is complete in bw
	handlerDone    bool
	hijacked       bool
	chunked        bool
	bodyless       bool // the status forbids a body
	isHEAD         bool
	clDeclared     bool
	hasDate        bool
	connClose      bool // the handler's fields say Connection: close
	trailers       bool // the handler declared trailers
	closeAfter     bool
	expectContinue bool
	wroteContinue  bool
}

func (w *response) Header() http.Header {
	if w.header == nil {
		if b := w.c.bufs; b.header != nil {
			w.header, b.header = b.header, nil
		} else {
			w.header = make(http.Header, 16)
		}
	}
	return w.header
}

func bodyAllowed(code int) bool {
	return !(code >= 100 && code <= 199 || code == 204 || code == 304)
}

func (w *response) WriteHeader(code int) {
	if w.hijacked {
		w.c.srv.logger().Warn("h1: WriteHeader on a hijacked connection", "remote", w.c.remoteAddr)
		return
	}
	if w.wroteHeader {
		w.c.srv.logger().Debug("h1: superfluous WriteHeader call", "code", code)
		return
	}
	if code < 100 || code > 999 {
		w.c.srv.logger().Error("h1: invalid WriteHeader code; sending 500", "code", code)
		code = http.StatusInternalServerError
	}
	h := w.Header()
	c := w.c
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// Informational: sent at once; the fields stay for the final
		// response.
		if code == http.StatusContinue && w.wroteContinue {
			return
		}
		w.writeStatusLine(code)
		w.writeFields(h, true)
		c.bw.WriteString("\r\n")
		if err := c.bw.Flush(); err != nil {
			w.err = err
		}
		if code == http.StatusContinue {
			w.wroteContinue = true
		}
		return
	}
	w.wroteHeader, w.status = true, code
	w.bodyless = !bodyAllowed(code)
	if v := h["Content-Length"]; len(v) > 0 && !w.bodyless {
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 && len(v) == 1 {
			w.cl, w.clDeclared = n, true
		} else {
			c.srv.logger().Warn("h1: invalid Content-Length from handler; dropped", "value", v[0])
		}
	}
	_, w.hasDate = h["Date"]
	w.connClose = httpguts.HeaderValuesContainsToken(h["Connection"], "close")
	_, w.trailers = h["Trailer"]
	w.writeStatusLine(code)
	w.writeFields(h, w.bodyless)
}

func (w *response) writeStatusLine(code int) {
	if w.req.ProtoMinor == 0 {
		w.c.bw.WriteString("HTTP/1.0 ")
	} else {
		w.c.bw.WriteString("HTTP/1.1 ")
	}
	w.c.bw.WriteString(statusLines[code])
}

// writeFields writes the handler's fields, sorted, without the ones this
// server manages: Transfer-Encoding, and Content-Length unless declared (and
// then never without a body), and Trailer:-prefixed keys. A field whose name
// or value could break the head is dropped.
func (w *response) writeFields(h http.Header, noBody bool) {
	c := w.c
	order := &c.bufs.order
	names, vals := order.of(h)
	bw := c.bw
	for i, k := range names {
		switch {
		case k == "Transfer-Encoding":
			continue
		case k == "Content-Length":
			if noBody || !w.clDeclared {
				continue
			}
		case strings.HasPrefix(k, http.TrailerPrefix):
			continue
		}
		if !framing.ValidToken(k) {
			c.srv.logBadField(k)
			continue
		}
		for _, v := range vals[i] {
			if !framing.ValidValue(v) {
				c.srv.logBadField(k)
				continue
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	order.done()
}

func (s *Server) logBadField(name string) {
	l := s.logger()
	msg := "h1: response field with a control byte dropped"
	if s.badField.CompareAndSwap(false, true) {
		l.Warn(msg, "field", strconv.Quote(name))
	} else {
		l.Debug(msg, "field", strconv.Quote(name))
	}
}

// completeHead adds the fields this server manages and ends the head.
func (w *response) completeHead() {
	c := w.c
	bw := c.bw
	if !w.hasDate {
		bw.Write(dateField(time.Now()))
	}
	if !w.bodyless {
		switch {
		case w.clDeclared:
		case w.handlerDone && !w.trailers && !(w.isHEAD && len(w.pend) == 0):
			w.cl = int64(len(w.pend))
			bw.WriteString("Content-Length: ")
			bw.Write(strconv.AppendInt(bw.AvailableBuffer(), w.cl, 10))
			bw.WriteString("\r\n")
		case w.handlerDone && w.isHEAD:
			// net/http reports the length of what the handler wrote.
			if w.written > 0 {
				w.cl = w.written
				bw.WriteString("Content-Length: ")
				bw.Write(strconv.AppendInt(bw.AvailableBuffer(), w.cl, 10))
				bw.WriteString("\r\n")
			}
		case w.req.ProtoMinor == 1:
			w.chunked = true
			bw.WriteString("Transfer-Encoding: chunked\r\n")
		default:
			w.closeAfter = true // HTTP/1.0: the body ends with the connection
		}
	}
	// After 101 the stream is no longer HTTP/1 (a handler that switches
	// protocols hijacks the connection first).
	if w.req.Close || w.connClose || c.srv.closing.Load() || c.bodyErr || c.linger || w.status == http.StatusSwitchingProtocols {
		w.closeAfter = true
	}
	if w.closeAfter {
		if !w.connClose {
			bw.WriteString("Connection: close\r\n")
		}
	} else if w.req.ProtoMinor == 0 {
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
	w.headDone = true
}

// writeBody writes body bytes after a complete head.
func (w *response) writeBody(a, b []byte) {
	if w.isHEAD || w.bodyless {
		return
	}
	bw := w.c.bw
	n := len(a) + len(b)
	if n == 0 {
		return
	}
	if w.chunked {
		bw.Write(framing.AppendChunkSize(bw.AvailableBuffer(), n))
	}
	if _, err := bw.Write(a); err != nil {
		w.err = err
	}
	if _, err := bw.Write(b); err != nil {
		w.err = err
	}
	if w.chunked {
		bw.WriteString("\r\n")
	}
}

func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.bodyless {
		return 0, http.ErrBodyNotAllowed
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.clDeclared && w.written+int64(len(p)) > w.cl {
		w.closeAfter = true
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.isHEAD {
		return len(p), nil
	}
	if !w.headDone {
		if w.pend == nil {
			w.pend = w.c.bufs.pend[:0]
		}
		if !w.clDeclared && len(w.pend)+len(p) <= cap(w.pend) {
			w.pend = append(w.pend, p...)
			return len(p), nil
		}
		w.completeHead()
		w.writeBody(w.pend, p)
		w.pend = w.pend[:0]
	} else {
		w.writeBody(p, nil)
	}
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// FlushError sends what is buffered; before the handler is done that makes
// the response chunked (HTTP/1.1) or close-delimited (HTTP/1.0) unless the
// handler declared its Content-Length.
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headDone {
		w.completeHead()
		w.writeBody(w.pend, nil)
		w.pend = w.pend[:0]
	}
	if err := w.c.bw.Flush(); err != nil {
		w.err = err
		return err
	}
	return w.err
}

func (w *response) Flush() { _ = w.FlushError() }

// sendContinue answers Expect: 100-continue on the first body read.
func (w *response) sendContinue() {
	if !w.expectContinue || w.wroteContinue || w.wroteHeader || w.hijacked {
		return
	}
	w.wroteContinue = true
	w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	if err := w.c.bw.Flush(); err != nil {
		w.err = err
	}
}

// Hijack hands the connection to the handler. What the handler wrote is
// sent first; buffered request bytes are in the returned reader.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	c := w.c
	if w.wroteHeader && !w.headDone {
		w.completeHead()
		w.writeBody(w.pend, nil)
		w.pend = w.pend[:0]
	}
	if err := c.bw.Flush(); err != nil {
		return nil, nil, err
	}
	w.hijacked, c.hijacked = true, true
	c.state.Store(stateHijacked)
	_ = c.rwc.SetDeadline(time.Time{})
	rest := append([]byte(nil), c.buf[c.r:c.w]...)
	c.r, c.w = 0, 0
	br := bufio.NewReader(&hijackReader{rest: rest, rwc: c.rwc})
	return c.rwc, bufio.NewReadWriter(br, bufio.NewWriter(c.rwc)), nil
}

// Received returns when the request's first bytes were read, or the zero
// time when that was not measured (a connection's first request, whose
// clock starts at the accept; a server without timeouts). A gateway takes it
// as the request's start instead of reading the clock again.
func (w *response) Received() time.Time {
	if !w.c.t0Read {
		return time.Time{}
	}
	return w.c.t0
}

// SetReadDeadline and SetWriteDeadline serve http.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error {
	if w.hijacked {
		return http.ErrHijacked
	}
	w.c.rdl = t
	return w.c.rwc.SetReadDeadline(t)
}

func (w *response) SetWriteDeadline(t time.Time) error {
	if w.hijacked {
		return http.ErrHijacked
	}
	w.c.handlerDeadline = true
	w.c.wdl = t
	return w.c.rwc.SetWriteDeadline(t)
}

// finish completes the response after the handler returned and reports
// whether the connection can serve another request.
func (w *response) finish() bool {
	w.handlerDone = true
	c := w.c
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	// The answer goes out before any of an unread body is discarded: a
	// client refused while it uploads gets it at once, not after its body.
	var discard *body
	if b := w.body; b != nil && !b.done() {
		switch {
		case c.bodyErr:
		case w.expectContinue && !w.wroteContinue:
			// The client may be waiting for 100 Continue: it may or may
			// not send the body, so the stream's position is unknown.
			w.closeAfter = true
		case w.connClose || w.req.Close || b.kind == bodyCL && b.remain > maxDiscard:
			// The connection ends with this response (a refusal of a body
			// too large says so, or the rest is more than is worth
			// discarding): the close lingers so the client reads it.
			w.closeAfter = true
			c.linger = true
		default:
			discard = b
		}
	}
	if !w.headDone {
		w.completeHead()
		w.writeBody(w.pend, nil)
		w.pend = nil
	}
	if w.chunked {
		w.writeTrailers()
	}
	if w.clDeclared && !w.isHEAD && !w.bodyless && w.written != w.cl {
		w.closeAfter = true // too short: the client cannot find the end
	}
	if err := c.bw.Flush(); err != nil {
		return false
	}
	keep := !w.closeAfter && w.err == nil
	if discard != nil && (!keep || !discard.discard(maxDiscard, maxDiscardTime)) {
		// The connection ends (or the rest did not come within the
		// bounds: the response is complete, so closing loses the client
		// nothing) while the client may still be sending: linger.
		c.linger = true
		return false
	}
	return keep
}

// writeTrailers ends a chunked body with the last chunk and the trailer
// fields: the ones declared in Trailer, and Trailer:-prefixed keys.
func (w *response) writeTrailers() {
	bw := w.c.bw
	if w.isHEAD {
		return
	}
	bw.WriteString("0\r\n")
	if w.trailers || hasTrailerPrefix(w.header) {
		t := make(http.Header)
		for _, v := range w.header["Trailer"] {
			for _, k := range strings.Split(v, ",") {
				k = http.CanonicalHeaderKey(framing.TrimOWS(k))
				if vv, ok := w.header[k]; ok && k != "" {
					t[k] = vv
				}
			}
		}
		for k, vv := range w.header {
			if strings.HasPrefix(k, http.TrailerPrefix) {
				t[http.CanonicalHeaderKey(k[len(http.TrailerPrefix):])] = vv
			}
		}
		for _, k := range []string{"Content-Length", "Transfer-Encoding", "Trailer"} {
			delete(t, k)
		}
		w.writeFields(t, true)
	}
	bw.WriteString("\r\n")
}

func hasTrailerPrefix(h http.Header) bool {
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}
