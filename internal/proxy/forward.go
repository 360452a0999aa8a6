package proxy

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/rampart-gw/rampart/internal/framing"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/spool"
	"github.com/rampart-gw/rampart/internal/tracing"
)

const (
	maxInlineBody = 64 << 10 // request bodies up to this size go out with the head in one write
	readBufSize   = 16 << 10
	copyBufSize   = 32 << 10
)

// exchange is the per-request scratch space, pooled: request bytes, the
// response reader, the parsed head and the chunked decoder.
type exchange struct {
	req     []byte
	br      *bufio.Reader
	head    respHead
	chunked framing.ChunkedReader
	stop    func() bool // stops the client-gone AfterFunc; nil if none
	host    [2]int      // where the Host value is in req
	wait    patience    // the current attempt's slices (no allocation)
}

// setHost replaces the Host value in the built request (retry on another
// target: the rest, an inline body included, stays).
func (x *exchange) setHost(host string) {
	s, e := x.host[0], x.host[1]
	tail := len(x.req) - e
	n := s + len(host) + tail
	if cap(x.req) < n {
		x.req = append(x.req, make([]byte, n-len(x.req))...)
	}
	x.req = x.req[:max(n, len(x.req))]
	copy(x.req[s+len(host):], x.req[e:e+tail])
	copy(x.req[s:], host)
	x.req = x.req[:n]
	x.host[1] = s + len(host)
}

var exchanges = sync.Pool{New: func() any {
	return &exchange{req: make([]byte, 0, 4096), br: bufio.NewReaderSize(nil, readBufSize),
		head: respHead{raw: make([]byte, 0, 1024), fields: make([]field, 0, 32)}}
}}

func putExchange(x *exchange) {
	x.br.Reset(nil)
	x.chunked = framing.ChunkedReader{}
	x.head.text = ""
	x.stop = nil
	x.wait = patience{}
	if cap(x.req) > 256<<10 {
		x.req = make([]byte, 0, 4096)
	}
	if cap(x.head.raw) > 64<<10 {
		x.head.raw = make([]byte, 0, 1024)
	}
	exchanges.Put(x)
}

// errBadRequestHeader: a header the gateway would send contains CR, LF, NUL
// or another control byte, or a name that is not a token.
var errBadRequestHeader = errors.New("request header not representable on the wire")

// errBodyLength: the request body did not match its declared length.
var errBodyLength = errors.New("request body length differs from Content-Length")

// buildRequest writes the request head (and a small body) into x.req.
// inline reports whether the body is in x.req. A valid sc replaces the
// request's trace context headers with its own.
func (x *exchange) buildRequest(r *http.Request, info *pipeline.Info, t *target, sc trace.SpanContext) (inline bool, err error) {
	traced := sc.IsValid()
	b := x.req[:0]
	if !framing.ValidToken(r.Method) {
		return false, errBadRequestHeader
	}
	b = append(b, r.Method...)
	b = append(b, ' ')
	start := len(b)
	if info != nil && info.Path != "" {
		b = append(b, info.Path...)
	} else {
		b = append(b, r.URL.EscapedPath()...)
	}
	if r.URL.RawQuery != "" {
		b = append(b, '?')
		b = append(b, r.URL.RawQuery...)
	}
	if len(b) == start || b[start] != '/' {
		return false, errBadRequestHeader
	}
	for _, c := range b[start:] {
		if c <= ' ' || c == 0x7f {
			return false, errBadRequestHeader
		}
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	x.host[0] = len(b)
	b = append(b, t.url.Host...)
	x.host[1] = len(b)
	b = append(b, "\r\n"...)
	conn := r.Header["Connection"]
	for k, vs := range r.Header {
		if skipRequestHeader(k, info != nil) || namedIn(conn, k) || traced && tracing.IsTraceHeader(k) {
			continue
		}
		if !framing.ValidToken(k) {
			return false, errBadRequestHeader
		}
		for _, v := range vs {
			if !framing.ValidValue(v) {
				return false, errBadRequestHeader
			}
			b = appendField(b, k, v)
		}
	}
	if info != nil {
		for _, kv := range [...][2]string{
			{"X-Forwarded-For", info.ForwardedFor}, {"X-Forwarded-Proto", info.Scheme},
			{"X-Real-Ip", info.ClientIP}, {"X-Request-Id", info.ID},
		} {
			if !framing.ValidValue(kv[1]) {
				return false, errBadRequestHeader
			}
			b = appendField(b, kv[0], kv[1])
		}
	}
	if traced {
		b = tracing.AppendTraceparent(b, sc)
	}
	if r.Host != "" {
		if !framing.ValidValue(r.Host) {
			return false, errBadRequestHeader
		}
		b = appendField(b, "X-Forwarded-Host", r.Host)
	}
	cl := r.ContentLength
	hasBody := r.Body != nil && r.Body != http.NoBody
	switch {
	case !hasBody || cl == 0:
		cl = 0
		if m := r.Method; m == "POST" || m == "PUT" || m == "PATCH" {
			b = append(b, "Content-Length: 0\r\n"...)
		}
	case cl > 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, cl, 10)
		b = append(b, "\r\n"...)
	default:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	b = append(b, "\r\n"...)
	if hasBody && cl > 0 && cl <= maxInlineBody {
		n := len(b)
		b = append(b, make([]byte, cl)...)[:n+int(cl)]
		if _, err := io.ReadFull(r.Body, b[n:]); err != nil {
			x.req = b[:0]
			var rej *pipeline.Rejection
			if errors.As(err, &rej) {
				return false, err // a streamed body's own refusal
			}
			return false, errBodyLength
		}
		inline = true
	}
	x.req = b
	return inline, nil
}

func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}

// skipRequestHeader: hop-by-hop headers, those the gateway sets itself (a
// client cannot supply or strip them), Expect (the body is already read) and
// the framing headers, which are rebuilt.
func skipRequestHeader(k string, hasInfo bool) bool {
	if isHopByHop(k) {
		return true
	}
	switch len(k) {
	case 4:
		return strings.EqualFold(k, "Host")
	case 6:
		return strings.EqualFold(k, "Expect")
	case 9:
		return hasInfo && strings.EqualFold(k, "X-Real-Ip")
	case 12:
		return hasInfo && strings.EqualFold(k, "X-Request-Id")
	case 14:
		return strings.EqualFold(k, "Content-Length")
	case 15:
		return strings.EqualFold(k, "X-Forwarded-For")
	case 16:
		return strings.EqualFold(k, "X-Forwarded-Host")
	case 17:
		return strings.EqualFold(k, "X-Forwarded-Proto")
	}
	return false
}

// isHopByHop reports the RFC 9110 §7.6.1 connection-specific headers (and
// their usual companions), ASCII case-insensitively.
func isHopByHop(k string) bool {
	switch len(k) {
	case 2:
		return strings.EqualFold(k, "Te")
	case 7:
		return strings.EqualFold(k, "Trailer") || strings.EqualFold(k, "Upgrade")
	case 10:
		return strings.EqualFold(k, "Connection") || strings.EqualFold(k, "Keep-Alive")
	case 16:
		return strings.EqualFold(k, "Proxy-Connection")
	case 17:
		return strings.EqualFold(k, "Transfer-Encoding")
	case 18:
		return strings.EqualFold(k, "Proxy-Authenticate")
	case 19:
		return strings.EqualFold(k, "Proxy-Authorization")
	}
	return false
}

// namedIn reports whether a Connection header (values vs) names k.
func namedIn(vs []string, k string) bool {
	for _, v := range vs {
		if listHas(v, k) {
			return true
		}
	}
	return false
}

// isFiltered reports response headers that never reach the client.
func isFiltered(k string) bool {
	if isHopByHop(k) {
		return true
	}
	if len(k) > 15 && k[:15] == "Access-Control-" {
		// Cross-origin access is the gateway's decision (a route's cors:
		// policy), never the upstream's.
		return true
	}
	switch k {
	case "Content-Length", // rebuilt from the framing
		"X-Request-Id", // the gateway answers with its own
		// Fingerprinting: they reveal the upstream's software and version.
		"Server", "X-Powered-By", "X-Aspnet-Version", "X-Aspnetmvc-Version", "X-Runtime",
		"X-Generator", "X-Drupal-Cache", "X-Version", "X-Debug-Token", "X-Debug-Token-Link":
		return true
	}
	return false
}

// replayable: like net/http, a request may be resent on a fresh connection
// when a reused one failed before any response byte arrived if its method is
// idempotent or it carries an idempotency key, and its body can be resent.
func replayable(r *http.Request, inline bool) bool {
	switch r.Method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
	default:
		if _, ok := r.Header["Idempotency-Key"]; !ok {
			if _, ok := r.Header["X-Idempotency-Key"]; !ok {
				return false
			}
		}
	}
	return inline || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || r.GetBody != nil
}

// attemptError is the failure of one attempt, classified for retrying.
type attemptError struct {
	err       error
	connect   bool // the connection could not be made: nothing was sent
	staleConn bool // a reused connection failed before any response byte
}

// serve forwards r (see the package documentation).
func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	if u.tracer != nil {
		if info := pipeline.InfoFrom(r.Context()); info != nil {
			u.serveTraced(w, r, info)
			return
		}
	}
	u.forward(w, r, trace.SpanContext{})
}

// serveTraced forwards r within an upstream span, whose traceparent the
// upstream gets.
func (u *Upstream) serveTraced(w http.ResponseWriter, r *http.Request, info *pipeline.Info) {
	span := u.tracer.StartUpstream(r.Context())
	defer func() { // also when a broken response body aborts the handler
		up := tracing.Upstream{Name: u.name, Method: r.Method, Target: info.Target,
			Status: info.UpstreamStatus, Elapsed: info.UpstreamTime}
		switch {
		case info.UpstreamStatus == 0:
			up.Error = cmp.Or(info.Refusal, "no-response")
		case info.UpstreamAborted:
			up.Error = "upstream-aborted"
		}
		u.tracer.EndUpstream(span, up)
	}()
	u.forward(w, r, span.SpanContext())
}

// forward forwards r; sc, when valid, is sent as the traceparent.
func (u *Upstream) forward(w http.ResponseWriter, r *http.Request, sc trace.SpanContext) {
	ctx := r.Context()
	if ctx.Err() != nil {
		w.WriteHeader(499) // the client went away: do not even dial
		return
	}
	info := pipeline.InfoFrom(ctx)
	x := exchanges.Get().(*exchange)
	defer putExchange(x)
	start := time.Now() // one clock read picks the target and starts the first attempt
	t := u.pick(start.UnixNano(), nil)
	inline, err := x.buildRequest(r, info, t, sc)
	if err != nil {
		u.refuseRequest(w, r, err)
		return
	}
	tried, retriedStale, bodyUsed := 1, false, false
	for {
		pc, ae := u.attempt(ctx, x, r, t, start, inline, &bodyUsed, retriedStale)
		end := time.Now()
		if info != nil {
			info.Target, info.UpstreamTime = t.url.Host, end.Sub(start)
		}
		if ae == nil {
			u.respond(w, r, x, pc, info)
			return
		}
		if ctx.Err() != nil || errors.Is(ae.err, errClientGone) {
			w.WriteHeader(499)
			return
		}
		start = end // a next attempt starts now
		now := end.UnixNano()
		if ae.connect || isTimeout(ae.err) {
			t.markDown(now, u.downFor)
		}
		if ae.staleConn && !retriedStale && replayable(r, inline) {
			retriedStale = true // once, on a fresh connection to the same target
			continue
		}
		if ae.connect && tried < len(u.targets) {
			if next := u.pick(now, t); next != nil && next != t {
				if next.url.Host != t.url.Host {
					x.setHost(next.url.Host)
				}
				t, tried = next, tried+1
				continue
			}
		}
		u.errorHandler(w, r, ae.err)
		return
	}
}

// refuseRequest answers a request that could not be built: an invalid
// header is a 400; a streamed body's own refusal and a body short of its
// length are answered as failed attempts are.
func (u *Upstream) refuseRequest(w http.ResponseWriter, r *http.Request, err error) {
	var rej *pipeline.Rejection
	if err == errBodyLength || errors.As(err, &rej) {
		u.errorHandler(w, r, err)
		return
	}
	pipeline.Refuse(w, r, "proxy", u.obs, &pipeline.Rejection{Status: http.StatusBadRequest, Type: "bad-header",
		Detail: "The request cannot be forwarded: a header, the method or the target is invalid.", Err: err})
}

// attempt sends the request once and reads the response head into x.head.
// fresh forces a new connection.
func (u *Upstream) attempt(ctx context.Context, x *exchange, r *http.Request, t *target, start time.Time, inline bool, bodyUsed *bool, fresh bool) (*pconn, *attemptError) {
	// The request is x.req alone (no body to stream): a sender can carry it.
	whole := inline || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
again:
	var pc *pconn
	probe := false
	if !fresh {
		pc, probe = t.pool.reuse(start.UnixNano(), whole)
	}
	if pc == nil {
		var err error
		if pc, err = u.dial(ctx, t); err != nil {
			return nil, &attemptError{err: err, connect: true}
		}
	}
	// A cancellation wakes a blocked exchange at once (HTTP/2 resets a
	// stream that way). Under a server that polls the client instead
	// (internal/h1), the context is not cancelled before this returns:
	// patience checks ClientGone and ctx.Err() at every slice.
	var stop func() bool
	if !pipeline.ServerPolls(ctx) && ctx.Done() != nil { // Done makes a channel: asked last
		stop = context.AfterFunc(ctx, pc.abortFn)
	}
	fail := func(err error, stale bool) (*pconn, *attemptError) {
		if stop != nil {
			stop()
		}
		_ = pc.conn.Close()
		return nil, &attemptError{err: err, staleConn: stale && pc.reused}
	}
	// The timeout is waited out in slices of clientCheckEvery: between two,
	// the client's connection is checked, so that an upstream slow to
	// answer a client that has left is abandoned (as nginx does) even
	// though the server has no background read to cancel ctx. A fast
	// exchange costs nothing more: the one deadline is just nearer.
	x.wait = patience{ctx: ctx, pc: pc, final: start.Add(u.timeout)}
	wait := &x.wait
	wait.arm(start)
	if s := pc.send; s != nil && whole {
		// Sent by the first read below, which then waits for the answer
		// without a failed read first (see sender).
		s.probe, s.pending = probe, x.req
		wait.send = s
	} else {
		if err := wait.write(x.req); err != nil {
			return fail(err, !isTimeout(err) && err != errClientGone)
		}
		if !whole {
			body := r.Body
			if *bodyUsed {
				if r.GetBody == nil {
					return fail(errBodyLength, false)
				}
				b, err := r.GetBody()
				if err != nil {
					return fail(err, false)
				}
				body = b
			}
			*bodyUsed = true
			if err := writeBody(wait, body, r.ContentLength); err != nil {
				return fail(err, err != errBodyLength && !isTimeout(err))
			}
		}
	}
	x.br.Reset(wait)
	if _, err := x.br.Peek(1); err != nil {
		if err == errProbe {
			fail(err, false) // nothing was sent on it
			goto again
		}
		return fail(err, !isTimeout(err) && err != errClientGone)
	}
	if err := x.head.read(x.br); err != nil {
		return fail(err, false)
	}
	// The body has no timeout (as with http.Transport), and is read in the
	// slices the head was: a client that leaves a silent stream does not
	// hold the upstream connection (under h1, which cannot cancel the
	// context, the slice's end is where that is noticed). The current slice
	// runs on: no deadline is moved for it.
	wait.final = noTimeout
	if pc.aborted.Load() {
		_ = pc.conn.SetDeadline(aLongTimeAgo)
	}
	x.stop = stop
	return pc, nil
}

// clientCheckEvery is how often the client's connection is checked while an
// upstream is slow to take the request or to answer it.
var clientCheckEvery = time.Second

// errClientGone: the client closed its connection while the upstream had
// not answered yet; the request is abandoned (499).
var errClientGone = errors.New("proxy: the client went away before the upstream answered")

// noTimeout is the end of a wait without a timeout (a response body's).
var noTimeout = time.Unix(1<<40, 0)

// patience waits for an upstream in slices (see attempt): it is the
// io.Writer requests are written through and the io.Reader responses are
// read through, so a slice's end is never seen by the parsers above it.
type patience struct {
	ctx      context.Context
	pc       *pconn
	final    time.Time // the upstream's timeout
	deadline time.Time // the current slice's end
	gone     bool      // the client left
	send     *sender   // the request is still to be sent, by the first Read
}

// lazySlice: a slice's end already on the connection within this of the one
// asked for is kept (nginx's NGX_TIMER_LAZY_DELAY is the same 300 ms; see
// h1's lazyDeadline). A pooled connection comes back a few milliseconds
// after its previous request set a slice of clientCheckEvery, so most
// exchanges then move no deadline at all: each move is a clock read and a
// timer update in the runtime.
const lazySlice = 300 * time.Millisecond

// arm sets the first slice of a wait that starts at now, on both directions.
// A slice's end only says when to look at the client again, so the one on
// the connection is kept when it is within lazySlice of it, not due within
// lazySlice, and not past the upstream's timeout. A slice that ends at the
// timeout is set exactly.
func (p *patience) arm(now time.Time) {
	t := p.first(now)
	pc := p.pc
	if t.Before(p.final) && !pc.dl.IsZero() {
		if d := t.Sub(pc.dl); d > -lazySlice && d < lazySlice && !pc.dl.After(p.final) && pc.dl.Sub(now) > lazySlice {
			p.deadline = pc.dl
			return
		}
	}
	pc.dl = t
	_ = pc.conn.SetDeadline(t)
}

// first returns the deadline of the first slice.
func (p *patience) first(now time.Time) time.Time {
	p.deadline = p.final
	if next := now.Add(clientCheckEvery); next.Before(p.final) {
		p.deadline = next
	}
	return p.deadline
}

// more is called when a slice ended: it reports whether to keep waiting (the
// timeout has not passed and the client is still there) and sets the next
// slice.
func (p *patience) more() bool {
	now := time.Now()
	if !now.Before(p.final) || p.pc.aborted.Load() || p.ctx.Err() != nil {
		return false // the timeout, or ctx's cancellation woke the wait (abort)
	}
	if gone := pipeline.ClientGone(p.ctx); gone != nil && gone() {
		p.gone = true
		return false
	}
	p.arm(now)
	return true
}

// write writes all of b, across slices.
func (p *patience) write(b []byte) error {
	for {
		n, err := p.pc.conn.Write(b)
		if err == nil {
			return nil
		}
		if !isTimeout(err) || !p.more() {
			if p.gone {
				return errClientGone
			}
			return err
		}
		b = b[n:]
	}
}

// Read reads from the upstream across slices. When the wait ends it returns
// the timeout, or errClientGone when the client left.
func (p *patience) Read(b []byte) (int, error) {
	for {
		var n int
		var err error
		if s := p.send; s != nil {
			n, err = p.sendAndRead(s, b)
		} else {
			n, err = p.pc.conn.Read(b)
		}
		if n > 0 || err == nil || !isTimeout(err) || !p.more() {
			if n == 0 && p.gone {
				err = errClientGone
			}
			return n, err
		}
	}
}

// Write implements io.Writer for request bodies.
func (p *patience) Write(b []byte) (int, error) {
	if err := p.write(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// writeBody streams a large (or unknown-length, then chunked) request body.
func writeBody(w io.Writer, body io.Reader, cl int64) error {
	if sr, ok := body.(*spool.Reader); ok && cl > 0 {
		// The gateway's buffered body, when in memory: written in one
		// call, not copied through a buffer 32 KiB at a time.
		if b, ok := sr.Unread(); ok && int64(len(b)) == cl {
			n, err := w.Write(b)
			sr.Skip(n)
			return err
		}
	}
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	if cl > 0 {
		n, err := io.CopyBuffer(writerOnly{w}, io.LimitReader(body, cl), buf)
		if err == nil && n != cl {
			err = errBodyLength
		}
		return err
	}
	// Unknown length (never with the gateway's buffered bodies): chunked.
	const room = 18 // hex size + CRLF before, CRLF after
	for {
		n, rerr := body.Read(buf[room : len(buf)-2])
		if n > 0 {
			size := framing.AppendChunkSize(buf[:0:room], n)
			start := room - len(size)
			copy(buf[start:], size)
			end := room + n
			buf[end], buf[end+1] = '\r', '\n'
			if _, err := w.Write(buf[start : end+2]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			_, err := io.WriteString(w, framing.LastChunk)
			return err
		}
		if rerr != nil {
			return rerr
		}
	}
}

// writerOnly hides ReadFrom so that io.CopyBuffer uses our buffer.
type writerOnly struct{ io.Writer }
