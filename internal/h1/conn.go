package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/framing"
)

const (
	initialBuf = 4 << 10 // first size of a connection's read buffer
	pendSize   = 4 << 10 // response body buffered before the head is decided
	writeBuf   = 4 << 10 // the connection's write buffer

	// After the handler returns and its response is sent, up to maxDiscard
	// bytes of an unread request body are read and dropped, for at most
	// maxDiscardTime, to keep the connection (nginx's discarded body). A
	// declared body larger than that is not read: the connection closes,
	// lingering (framing.Linger) so the client still reads the answer.
	maxDiscard     = 1 << 20
	maxDiscardTime = 2 * time.Second

	// writeChunk is the most written to the socket under one write
	// deadline, so that WriteTimeout bounds each wait for progress even
	// when a handler writes a large body at once.
	writeChunk = 64 << 10
)

// Connection states, for Shutdown and MaxConns. Exactly one party moves a
// connection out of stateIdle or stateParked (compare-and-swap): its own
// goroutine, or the poller waking it, or whoever closes it (Shutdown,
// Close, MaxConns, EMFILE, the idle timeout of a parked connection).
const (
	stateActive int32 = iota // from accept (a TLS handshake, say) until the first wait
	stateIdle                // waiting, on its goroutine, for the first byte of a request
	stateClosed
	stateHijacked
	stateParked // waiting without a goroutine (see park_linux.go)
)

// bufs are what a busy connection needs and an idle one does not: the
// 4 KiB buffers, and the previous response's header map, cleared, for the
// next response to reuse (a security-header profile makes ~12 fields:
// growing a fresh map to that size costs several allocations per request,
// and keeping one per idle connection costs kilobytes).
type bufs struct {
	rd     [initialBuf]byte
	pend   [pendSize]byte
	bw     *bufio.Writer
	header http.Header
	order  fieldOrder // the last response head's field order
}

var bufPool = sync.Pool{New: func() any {
	return &bufs{bw: bufio.NewWriterSize(nil, writeBuf)}
}}

// conn is one connection. While it is parked it holds only these fields:
// work, what serving it needs besides, goes back to a pool then.
type conn struct {
	srv       *Server
	rwc       net.Conn // nil while parked (see park_linux.go)
	state     atomic.Int32
	timed     bool         // some timeout is configured
	hijacked  bool         // the handler took the connection
	idleSince atomic.Int64 // unix nanos when it began waiting for a request

	*work // nil while parked

	// Parking (Linux, plain TCP), written under the poller's mutex (and
	// read by whoever owns the connection): its place in the park order,
	// the token its epoll registration carries, and the descriptor that
	// waits there.
	parkPrev, parkNext *conn
	parkID             uint64
	parkFD             int
	parkLocal          netip.AddrPort
	parkRemote         netip.AddrPort
	parkFirst          bool // parked before its first request
}

// work is what a connection needs while it has a goroutine: its context,
// the parser's state and per-request scratch. A parked connection has none
// (it is rebuilt when the connection wakes).
type work struct {
	scanner    framing.HeadScanner // the head being read; each byte scanned once
	remoteAddr string
	tlsState   *tls.ConnectionState
	ctx        context.Context
	ctxCancels bool // ctx can be canceled: requests get context.WithCancel

	bufs *bufs
	buf  []byte // read buffer: bufs.rd, or a larger one for a long head
	r, w int    // buf[r:w] is unread
	bw   *bufio.Writer
	// idle is what a connection reads into while it waits for its next
	// request: its 4 KiB buffers go back to a pool meanwhile, so idle
	// keep-alive connections cost little memory.
	idle [512]byte

	tmpl   http.Request // filled by the parser, copied by WithContext
	rdl    time.Time    // the read deadline last set
	wdl    time.Time    // the write deadline last set
	until  time.Time    // while discarding a body: the end of the discard
	t0     time.Time    // when the current request's head began
	t0Read bool         // t0 is when the request's first bytes were read (see Received)
	end    time.Time    // ResponseTimeout's deadline for this exchange
	// handlerDeadline: the handler set a write deadline (through
	// http.ResponseController), which then holds for the response.
	handlerDeadline bool

	bodyErr bool // a request body failed: the stream is out of sync
	linger  bool // close with a lingering half-close
	resumed bool // woken from parking: the wait began at idleSince, and bytes are ready
}

var workPool = sync.Pool{New: func() any { return new(work) }}

// unknownDeadline is what rdl and wdl hold on a connection resumed from
// parking: the socket's deadlines are not known, so the next ones are set
// whatever they are.
var unknownDeadline = time.Unix(1, 0)

func newConn(s *Server, rwc net.Conn) *conn {
	c := &conn{srv: s, rwc: rwc}
	c.timed = s.ReadHeaderTimeout > 0 || s.ReadTimeout > 0 || s.WriteTimeout > 0 || s.IdleTimeout > 0 || s.ResponseTimeout > 0
	return c
}

var (
	errClosing = errors.New("h1: server closing")
	errParked  = errors.New("h1: connection parked")
)

// serve serves a new connection on its goroutine.
func (c *conn) serve() {
	c.acquireWork()
	c.setRemoteAddr()
	if tc, ok := c.rwc.(*tls.Conn); ok && !c.tlsHandshake(tc) {
		c.finish()
		return
	}
	c.newContext()
	c.run(true)
}

// resume serves a connection that was parked, on a new goroutine, once it
// has bytes to read (or the peer closed). ConnContext is called again.
func (c *conn) resume() {
	if !c.attach() {
		return
	}
	c.acquireWork()
	c.rdl, c.wdl = unknownDeadline, unknownDeadline
	c.resumed = true
	c.setRemoteAddr()
	c.newContext()
	c.run(c.parkFirst)
}

func (c *conn) setRemoteAddr() {
	if ra := c.rwc.RemoteAddr(); ra != nil {
		c.remoteAddr = ra.String()
	}
}

func (c *conn) newContext() {
	ctx := context.WithValue(context.Background(), http.LocalAddrContextKey, c.rwc.LocalAddr())
	if cc := c.srv.ConnContext; cc != nil {
		if nctx := cc(ctx, c.rwc); nctx != nil {
			ctx = nctx
		}
	}
	c.ctx = ctx
	c.ctxCancels = ctx.Done() != nil
}

// run serves requests until the connection ends, or parks: a parked
// connection is no longer this goroutine's, which must not touch it.
func (c *conn) run(first bool) {
	for ; ; first = false {
		switch c.serveOne(first) {
		case parked:
			return
		case closeConn:
			c.finish()
			return
		}
	}
}

// finish ends a connection served by a goroutine.
func (c *conn) finish() {
	if !c.hijacked {
		c.close()
	}
	c.srv.forget(c)
}

func (c *conn) acquireWork() {
	c.work = workPool.Get().(*work)
}

// releaseWork returns the work to its pool, cleared.
func (c *conn) releaseWork() {
	wk := c.work
	if wk == nil {
		return
	}
	c.work = nil
	*wk = work{}
	workPool.Put(wk)
}

func (c *conn) acquireBufs() {
	if c.bufs != nil {
		return
	}
	b := bufPool.Get().(*bufs)
	b.bw.Reset(c)
	c.bufs, c.bw = b, b.bw
	if c.buf == nil {
		c.buf = b.rd[:]
	}
}

func (c *conn) releaseBufs() {
	if c.bufs == nil {
		return
	}
	c.bufs.bw.Reset(nil)
	bufPool.Put(c.bufs)
	c.bufs, c.bw, c.buf = nil, nil, nil
}

// close closes the connection, lingering if the client may still be
// sending.
func (c *conn) close() {
	if c.linger || c.r < c.w {
		scratch := c.idle[:]
		if len(c.buf) > len(scratch) {
			scratch = c.buf // fewer reads for a large refused body
		}
		framing.Linger(c.rwc, scratch)
	} else {
		_ = c.rwc.Close()
	}
	c.state.Store(stateClosed)
	c.releaseBufs()
	c.releaseWork()
}

// lazyDeadline: a deadline still far off is not moved by less than this
// (nginx's NGX_TIMER_LAZY_DELAY is the same 300 ms). Each move is a timer
// update in the runtime, and a keep-alive connection would move its read
// and write deadlines by a few milliseconds on every request; timeouts are
// kept to within 300 ms instead. Short timeouts (under 300 ms away) are
// always set exactly.
const lazyDeadline = 300 * time.Millisecond

// closeEnough reports whether the deadline cur may stay where t was asked.
// now is a clock reading taken just before, or zero (the clock is read).
func closeEnough(cur, t, now time.Time) bool {
	if cur.IsZero() || t.IsZero() {
		return cur.Equal(t)
	}
	d := t.Sub(cur)
	if d <= -lazyDeadline || d >= lazyDeadline {
		return false
	}
	if now.IsZero() {
		now = time.Now()
	}
	return cur.Sub(now) > lazyDeadline
}

// setReadDeadline sets the read deadline t, or keeps the current one when
// close enough; now is as for closeEnough.
func (c *conn) setReadDeadline(t, now time.Time) {
	if closeEnough(c.rdl, t, now) {
		return
	}
	c.rdl = t
	_ = c.rwc.SetReadDeadline(t)
}

// Write writes response bytes to the socket (it is the write buffer's
// destination), moving the write deadline on before each chunk: see
// Server.WriteTimeout.
func (c *conn) Write(p []byte) (n int, err error) {
	for len(p) > 0 {
		k := min(len(p), writeChunk)
		if c.timed && !c.handlerDeadline {
			c.setWriteDeadline()
		}
		m, err := c.rwc.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

func (c *conn) setWriteDeadline() {
	now := time.Now()
	t := c.after(c.srv.WriteTimeout, now)
	if !c.end.IsZero() && (t.IsZero() || t.After(c.end)) {
		t = c.end
	}
	if closeEnough(c.wdl, t, now) {
		return
	}
	c.wdl = t
	_ = c.rwc.SetWriteDeadline(t)
}

func (c *conn) after(d time.Duration, from time.Time) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return from.Add(d)
}

func (c *conn) bodyDeadline() time.Time {
	d := c.after(c.srv.ReadTimeout, c.t0)
	if !c.until.IsZero() && (d.IsZero() || c.until.Before(d)) {
		return c.until
	}
	return d
}

// fill reads more bytes into buf, making room first: it moves the unread
// bytes to the front, or grows buf up to limit.
func (c *conn) fill(limit int) error {
	if c.w == len(c.buf) {
		switch {
		case c.r > 0:
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		case len(c.buf) < limit:
			nb := make([]byte, min(max(2*len(c.buf), initialBuf), limit))
			c.w = copy(nb, c.buf[c.r:c.w])
			c.r = 0
			c.buf = nb
		default:
			return framing.ErrLineTooLong
		}
	}
	for {
		n, err := c.rwc.Read(c.buf[c.w:])
		c.w += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// waitRequest waits, since now, for the first bytes of the next request on
// an empty buffer (clock is a reading of the clock just taken: now is
// earlier for a connection woken from parking), as an idle connection that Shutdown, or a new connection
// over MaxConns, may close. A connection that can be parked (plain TCP on
// Linux) waits on its goroutine only for Server.ParkAfter: then it is
// parked, and waitRequest returns errParked; the connection is no longer
// the caller's.
func (c *conn) waitRequest(now, clock time.Time, first bool, deadline time.Time) error {
	if c.srv.closing.Load() {
		return errClosing
	}
	c.idleSince.Store(now.UnixNano())
	c.state.Store(stateIdle)
	if c.bufs != nil && len(c.buf) > 0 && &c.buf[0] != &c.bufs.rd[0] {
		c.buf = c.bufs.rd[:] // drop a grown buffer
	}
	c.releaseBufs()
	// The socket's deadline is the park delay's when that comes before
	// deadline (the idle or header one), so the wait costs one deadline, as
	// without parking; a connection whose deadline comes first is not
	// parked. Once bytes arrived, the park deadline may stay: what reads
	// next sets its own. One just woken from parking has bytes (or an EOF)
	// to read: it reads them without the park delay, which, short enough,
	// could pass before the read is even tried (Read checks the deadline
	// first) and park it again, and again.
	var parkAt time.Time
	resumed := c.resumed
	c.resumed = false
	if d := c.srv.parkAfter(); d > 0 && !resumed && c.resumable() {
		if t := now.Add(d); deadline.IsZero() || t.Before(deadline) {
			parkAt = t
		}
	}
	if parkAt.IsZero() {
		c.setReadDeadline(deadline, clock)
	} else {
		c.setReadDeadline(parkAt, clock)
	}
	var n int
	var err error
	for {
		for n == 0 && err == nil {
			n, err = c.rwc.Read(c.idle[:])
		}
		if parkAt.IsZero() || n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		parkAt = time.Time{}
		c.setReadDeadline(deadline, time.Time{})
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			break
		}
		if c.park(now, first) {
			return errParked
		}
		// Not parked: wait on, to the deadline (on a socket a closer
		// closed meanwhile, the read fails).
		err = nil
	}
	if n > 0 {
		c.acquireBufs()
		c.r, c.w = 0, copy(c.buf, c.idle[:n])
		err = nil
	}
	if !c.state.CompareAndSwap(stateIdle, stateActive) {
		return errClosing
	}
	return err
}

// readHead reads until buf[r:] starts with a complete head (n > 0) or one
// that is refused (reason != "").
func (c *conn) readHead(first bool) (n int, reason framing.Reason, err error) {
	limit := c.srv.maxHeaderBytes()
	hdrDeadlineSet := false
	if c.r == c.w {
		c.r, c.w = 0, 0
		now := time.Now()
		clock := now
		if c.resumed {
			// Woken from parking: the wait began earlier, and its deadline
			// still holds.
			now = time.Unix(0, c.idleSince.Load())
		}
		var deadline time.Time
		if first {
			c.t0, c.t0Read = now, false // the connection's start: not the request's
			deadline = c.after(c.srv.headerTimeout(), c.t0)
		} else {
			deadline = c.after(c.srv.idleTimeout(), now)
			// Let the other runnable connections go first: a keep-alive
			// client sends its next request only once it has read this
			// response, and reading now would mostly find nothing (a read
			// that fails with EAGAIN, then a park and a wake through the
			// poller). When nothing else is runnable this returns at once.
			runtime.Gosched()
		}
		if err := c.waitRequest(now, clock, first, deadline); err != nil {
			return 0, "", err
		}
		// The socket may still have the park delay's deadline.
		hdrDeadlineSet = first && c.rdl.Equal(deadline)
		if !first && c.timed {
			c.t0, c.t0Read = time.Now(), true
		}
	} else if c.timed {
		c.t0, c.t0Read = time.Now(), true
	}
	scanFrom := c.r
	c.scanner.Reset()
	for {
		// The verdict can only change once a line is complete or the
		// limit is reached, so scan only then.
		if bytes.IndexByte(c.buf[scanFrom:c.w], '\n') >= 0 || c.w-c.r >= limit {
			if n, reason = c.scanner.Scan(c.buf[c.r:c.w], limit); n > 0 || reason != "" {
				return n, reason, nil
			}
		}
		if !hdrDeadlineSet {
			c.setReadDeadline(c.after(c.srv.headerTimeout(), c.t0), time.Time{})
			hdrDeadlineSet = true
		}
		off := c.w - c.r
		if err := c.fill(limit); err != nil {
			return 0, "", err
		}
		scanFrom = c.r + off
	}
}

// readBody reads body bytes: buffered ones first, then from the network
// (large reads straight into p).
func (c *conn) readBody(p []byte) (int, error) {
	if c.r < c.w {
		n := copy(p, c.buf[c.r:c.w])
		c.r += n
		return n, nil
	}
	c.setReadDeadline(c.bodyDeadline(), time.Time{})
	c.r, c.w = 0, 0
	if len(p) >= len(c.buf)/2 {
		return c.rwc.Read(p)
	}
	if err := c.fill(len(c.buf)); err != nil {
		return 0, err
	}
	n := copy(p, c.buf[c.r:c.w])
	c.r += n
	return n, nil
}

// readLine returns the next line with its LF; it fails with
// framing.ErrLineTooLong when no LF comes within limit bytes.
func (c *conn) readLine(limit int) ([]byte, error) {
	from := c.r
	for {
		if i := bytes.IndexByte(c.buf[from:c.w], '\n'); i >= 0 {
			end := from + i + 1
			if end-c.r > limit {
				return nil, framing.ErrLineTooLong
			}
			line := c.buf[c.r:end]
			c.r = end
			return line, nil
		}
		if c.w-c.r >= limit {
			return nil, framing.ErrLineTooLong
		}
		off := c.w - c.r
		c.setReadDeadline(c.bodyDeadline(), time.Time{})
		if err := c.fill(max(limit, len(c.buf))); err != nil {
			return nil, err
		}
		from = c.r + off
	}
}

// bodyFailed notes that the request stream is out of sync: the connection
// closes after this response.
func (c *conn) bodyFailed() {
	c.bodyErr = true
	c.linger = true
}

// exchange holds what one request needs besides the Request itself, in one
// allocation.
type exchange struct {
	u    url.URL
	resp response
	body body
	ctx  requestContext
}

// What serveOne leaves a connection to.
type next int

const (
	keepConn  next = iota // serve another request
	closeConn             // close it
	parked                // nothing: it was parked, and is no longer the goroutine's
)

// serveOne reads and answers one request, and says what is next for the
// connection.
func (c *conn) serveOne(first bool) next {
	n, reason, err := c.readHead(first)
	if err == errParked {
		return parked
	}
	if err != nil {
		return closeConn
	}
	ex := &exchange{}
	r := &c.tmpl
	*r = http.Request{}
	head := c.buf[c.r:c.w]
	var ph parsedHead
	if reason == "" {
		hs := string(head[:n])
		c.r += n
		ph, reason = parseHead(hs, r, &ex.u)
	}
	var handler http.Handler
	if reason != "" {
		refusedRequest(r, &ex.u, head)
		c.linger = true
		handler = rejection{c.srv, reason}
	} else {
		handler = c.srv.handler()
	}
	r.RemoteAddr = c.remoteAddr
	r.TLS = c.tlsState
	switch {
	case r.ContentLength > 0:
		ex.body = body{c: c, kind: bodyCL, remain: r.ContentLength}
		r.Body = &ex.body
	case r.ContentLength < 0:
		ex.body = body{c: c, kind: bodyChunked}
		r.Body = &ex.body
	default:
		r.Body = http.NoBody
	}
	var req *http.Request
	var cancel context.CancelFunc
	if !c.ctxCancels {
		ex.ctx.parent = c.ctx
		req = r.WithContext(&ex.ctx)
	} else { // a ConnContext that can be canceled: never Rampart's
		var ctx context.Context
		ctx, cancel = context.WithCancel(c.ctx)
		req = r.WithContext(ctx)
	}
	*r = http.Request{} // drop references held by the template
	if req.ContentLength < 0 {
		ex.body.chunked = new(framing.ChunkedReader)
		ex.body.chunked.Reset(chunkSource{c}, &req.Trailer, c.srv.maxHeaderBytes())
	}

	w := &ex.resp
	w.c, w.req, w.cl = c, req, -1
	w.isHEAD = req.Method == http.MethodHead
	w.expectContinue = ph.expectContinue
	if req.Body != http.NoBody {
		w.body = &ex.body
		if ph.expectContinue {
			ex.body.w = w
		}
	}
	c.acquireBufs()
	c.end = c.after(c.srv.ResponseTimeout, c.t0)
	c.handlerDeadline = false

	ok := c.callHandler(handler, w, req)
	if cancel != nil {
		cancel()
	} else {
		ex.ctx.cancel()
	}
	if c.hijacked {
		c.bufs = nil // the write buffer is no longer ours
		return closeConn
	}
	if !ok {
		// An aborted response (or a panic) is cut, not completed: what was
		// sent of the body goes out, but no last chunk, and the connection
		// closes. Before its head was complete, nothing goes out.
		if w.headDone {
			_ = c.bw.Flush()
		}
		c.linger = true
		c.r, c.w = 0, 0
		return closeConn
	}
	keep := w.finish()
	if h := w.header; keep && len(h) <= 32 {
		// The next response reuses the map (see bufs). The handler has
		// returned; Rampart's handlers keep no reference.
		clear(h)
		c.bufs.header = h
	}
	if keep && !c.linger && !c.srv.closing.Load() {
		return keepConn
	}
	return closeConn
}

// refusedRequest makes r the request handed to Server.Reject for a refused
// head (head is its bytes so far): the method, target and version of the
// request line when it could be read. Nothing else of a refused head is
// trusted, so the header is empty and the body too.
func refusedRequest(r *http.Request, u *url.URL, head []byte) {
	*u = url.URL{}
	*r = http.Request{URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}, Close: true}
	for len(head) > 0 && (head[0] == '\r' || head[0] == '\n') {
		head = head[1:]
	}
	line, _, complete := bytes.Cut(head, []byte("\n"))
	method, rest, ok1 := bytes.Cut(bytes.TrimSuffix(line, []byte("\r")), []byte(" "))
	target, version, ok2 := bytes.Cut(rest, []byte(" "))
	if !complete || !ok1 || !ok2 || !framing.ValidToken(method) {
		return
	}
	r.Method, r.RequestURI = string(method), string(target)
	if string(version) == "HTTP/1.0" {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
}

// rejection answers a refused request through Server.Reject.
type rejection struct {
	srv    *Server
	reason framing.Reason
}

func (h rejection) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.srv.Reject != nil {
		h.srv.Reject(w, r, h.reason)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, "400 Bad Request: "+string(h.reason)+"\n")
}

// callHandler runs the handler; it reports false if the handler panicked.
func (c *conn) callHandler(h http.Handler, w *response, r *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if v != http.ErrAbortHandler {
				c.srv.logger().Error("h1: panic serving request", "remote", c.remoteAddr,
					"method", r.Method, "panic", panicString(v), "stack", string(debug.Stack()))
			}
		}
	}()
	h.ServeHTTP(w, r)
	return true
}

// hijackReader returns the bytes buffered at hijack time, then reads the
// connection.
type hijackReader struct {
	rest []byte
	rwc  net.Conn
}

func (h *hijackReader) Read(p []byte) (int, error) {
	if len(h.rest) > 0 {
		n := copy(p, h.rest)
		h.rest = h.rest[n:]
		return n, nil
	}
	return h.rwc.Read(p)
}

var _ io.Reader = (*hijackReader)(nil)

func panicString(v any) string { return fmt.Sprint(v) }
