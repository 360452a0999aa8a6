package h2

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// A stream is one request and its response; it is the handler's
// http.ResponseWriter. Fields marked (h) belong to the handler's goroutine;
// the others are guarded by c.mu.
type stream struct {
	c      *conn
	id     uint32
	refs   int // the stream map, and the handler (running or queued)
	inMap  bool
	reset  bool
	ctx    context.Context
	cancel context.CancelFunc
	tmpl   http.Request // copied by WithContext
	r      *http.Request
	isHead bool

	// request body
	body       requestBody
	rcond      sync.Cond
	rbuf       []byte
	roff       int
	rerr       error // after the buffered bytes: io.EOF, or why the body broke
	recvClosed bool
	bodyClosed bool
	recvWindow int64
	unacked    int64
	declCL     int64 // declared request content-length, -1 none
	gotData    int64
	rdeadline  time.Time

	// response
	hdr         http.Header // (h)
	wroteHeader bool        // (h)
	status      int         // (h)
	wbuf        []byte      // (h) body not yet framed
	written     int64       // (h) body bytes accepted
	respCL      int64       // (h) declared Content-Length, -1 none
	sendWindow  int64
	headersSent bool
	sendClosed  bool
	wdeadline   time.Time
}

const wbufSize = 4 << 10

var streamPool = sync.Pool{New: func() any {
	st := &stream{wbuf: make([]byte, 0, wbufSize)}
	st.body.st = st
	return st
}}

func (c *conn) newStream(id uint32) *stream {
	st := streamPool.Get().(*stream)
	st.c, st.id = c, id
	st.rcond.L = &c.mu
	st.recvWindow = streamWindow
	st.declCL, st.respCL = -1, -1
	return st
}

// release puts st back in the pool; nothing references it any more.
func (st *stream) release() {
	h, wbuf, rbuf := st.hdr, st.wbuf[:0], st.rbuf[:0]
	if cap(rbuf) > 64<<10 {
		rbuf = nil
	}
	clear(h)
	*st = stream{hdr: h, wbuf: wbuf, rbuf: rbuf}
	st.body.st = st
	streamPool.Put(st)
}

// onHeaders handles a HEADERS block: a new request, or trailers.
func (c *conn) onHeaders(b *headerBlock) error {
	id := b.streamID
	c.mu.Lock()
	if st := c.streams[id]; st != nil {
		defer c.mu.Unlock()
		if st.recvClosed {
			c.resetLocked(st, http2.ErrCodeStreamClosed)
			return c.controlLocked()
		}
		if !b.endStream || len(b.pseudo) > 0 {
			c.resetLocked(st, http2.ErrCodeProtocol)
			return c.controlLocked()
		}
		var tr http.Header
		for _, hf := range b.regular {
			k := hf.canon
			if !httpguts.ValidTrailerHeader(k) || badValue(hf.value) {
				c.resetLocked(st, http2.ErrCodeProtocol)
				return c.controlLocked()
			}
			if tr == nil {
				tr = st.r.Trailer
				if tr == nil {
					tr = make(http.Header)
					st.r.Trailer = tr
				}
			}
			tr[k] = append(tr[k], hf.value)
		}
		c.endRecvLocked(st)
		return nil
	}
	c.mu.Unlock()
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if id <= c.maxClientID {
		c.mu.Lock()
		ours := c.weResetLocked(id)
		c.mu.Unlock()
		if ours {
			// Trailers the client sent before it saw our RST_STREAM.
			return c.junkFrame()
		}
		// A closed stream, or an identifier lower than one already used
		// (RFC 9113 §5.1, §5.1.1).
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	c.maxClientID = id
	if b.hasPriority && b.priorityDep == id {
		// A stream cannot depend on itself (RFC 9113 §5.3.1).
		c.mu.Lock()
		return c.refuseLocked(id, http2.ErrCodeProtocol)
	}
	c.mu.Lock()
	if c.goAway {
		c.mu.Unlock()
		return c.junkFrame()
	}
	if b.truncated {
		// The header list exceeded MaxHeaderBytes: 431, no handler.
		c.henc.WriteField(hpack.HeaderField{Name: ":status", Value: "431"})
		c.appendHeaderBlock(id, true)
		if b.endStream {
			return c.refuseLocked(0, 0)
		}
		return c.refuseLocked(id, http2.ErrCodeNo)
	}
	if len(c.streams) >= c.maxStreams {
		return c.refuseLocked(id, http2.ErrCodeRefusedStream)
	}
	c.mu.Unlock()
	st := c.newStream(id)
	if !c.buildRequest(st, b) {
		st.release()
		c.mu.Lock()
		return c.refuseLocked(id, http2.ErrCodeProtocol)
	}
	c.mu.Lock()
	st.sendWindow = c.peerInitWin
	st.inMap = true
	st.refs = 2
	c.streams[id] = st
	if b.endStream {
		st.recvClosed = true
		st.rerr = io.EOF
	}
	if c.handlers < c.maxStreams {
		c.handlers++
		c.mu.Unlock()
		c.srv.start(st)
		return nil
	}
	if len(c.pending) >= 4*c.maxStreams {
		c.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	c.pending = append(c.pending, st)
	c.mu.Unlock()
	return nil
}

// refuseLocked ends a stream that gets no handler: RST_STREAM with code
// (none when id is 0: the answer already ended it), counted against the
// budget of frames that make no work. Called with c.mu held; releases it.
func (c *conn) refuseLocked(id uint32, code http2.ErrCode) error {
	if id != 0 {
		c.appendRST(id, code)
	}
	err := c.controlLocked()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.junkFrame()
}

// badValue: RFC 9113 §8.2.1 forbids leading and trailing white space (the
// Framer checked the other bytes).
func badValue(v string) bool {
	return v != "" && (v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t')
}

// buildRequest checks the request head (RFC 9113 §8.1.1, §8.2, §8.3) and
// fills st's request; false means malformed.
func (c *conn) buildRequest(st *stream, b *headerBlock) bool {
	var method, scheme, authority, path string
	var hasScheme, hasPath, hasAuthority bool
	for _, hf := range b.pseudo {
		switch hf.name {
		case ":method":
			method = hf.value
		case ":scheme":
			scheme, hasScheme = hf.value, true
		case ":authority":
			authority, hasAuthority = hf.value, true
		case ":path":
			path, hasPath = hf.value, true
		default: // :status, :protocol (extended CONNECT is not offered)
			return false
		}
	}
	if method == "" || !httpguts.ValidHeaderFieldName(method) || badValue(scheme) {
		return false
	}
	regular := b.regular
	var host, cl string
	var hasHost, hasCL bool
	nCookie, nKeys := 0, 0
	for _, hf := range regular {
		v := hf.value
		if badValue(v) {
			return false
		}
		switch hf.name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return false
		case "te":
			if v != "trailers" {
				return false
			}
		case "host":
			if hasHost {
				return false
			}
			host, hasHost = v, true
			continue
		case "content-length":
			// One, as on HTTP/1 (internal/h1): even identical
			// duplicates mean something upstream re-framed the request.
			if !validCL(v) || hasCL {
				return false
			}
			cl, hasCL = v, true
		case "cookie":
			nCookie++
		}
		nKeys++
	}
	if hasAuthority {
		if hasHost && host != authority {
			return false
		}
	} else {
		authority = host
	}
	if authority != "" && !httpguts.ValidHostHeader(authority) {
		return false
	}
	var u *url.URL
	requestURI := path
	if method == "CONNECT" {
		if hasScheme || hasPath || authority == "" {
			return false
		}
		u = &url.URL{Host: authority}
		requestURI = authority
	} else {
		if !hasScheme || scheme == "" || !hasPath || path == "" {
			return false
		}
		if authority == "" && (scheme == "https" || scheme == "http") {
			return false // RFC 9113 §8.3.1: :authority or host is mandatory
		}
		switch {
		case path[0] == '/':
			if plainPath(path) {
				u = &url.URL{Path: path}
			} else {
				var err error
				if u, err = url.ParseRequestURI(path); err != nil {
					return false
				}
			}
		case path == "*" && method == "OPTIONS":
			u = &url.URL{Path: "*"}
		default:
			return false
		}
	}
	end := b.endStream
	contentLength := int64(-1)
	if hasCL {
		contentLength, _ = strconv.ParseInt(cl, 10, 64)
		if end && contentLength != 0 {
			return false
		}
		st.declCL = contentLength
	}
	hdr := make(http.Header, nKeys)
	vals := make([]string, nKeys)
	var trailer http.Header
	var cookies []string
	for _, hf := range regular {
		switch hf.name {
		case "host":
			continue
		case "content-length":
			if hdr["Content-Length"] != nil {
				continue
			}
		case "cookie":
			if nCookie > 1 {
				cookies = append(cookies, hf.value)
				continue
			}
		case "trailer":
			for _, k := range strings.Split(hf.value, ",") {
				k = http.CanonicalHeaderKey(strings.TrimSpace(k))
				if k != "" && httpguts.ValidTrailerHeader(k) {
					if trailer == nil {
						trailer = make(http.Header)
					}
					trailer[k] = nil
				}
			}
		}
		k := hf.canon
		if vv := hdr[k]; vv != nil {
			hdr[k] = append(vv, hf.value)
		} else {
			vals[0] = hf.value
			hdr[k] = vals[:1:1]
			vals = vals[1:]
		}
	}
	if cookies != nil {
		hdr["Cookie"] = []string{strings.Join(cookies, "; ")}
	}
	if end {
		contentLength = 0
	}
	st.isHead = method == "HEAD"
	st.tmpl = http.Request{
		Method:        method,
		URL:           u,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        hdr,
		ContentLength: contentLength,
		Host:          authority,
		RemoteAddr:    c.remote,
		RequestURI:    requestURI,
		TLS:           c.tlsState,
		Trailer:       trailer,
	}
	if end {
		st.tmpl.Body = http.NoBody
	} else {
		st.tmpl.Body = &st.body
	}
	st.ctx, st.cancel = context.WithCancel(c.ctx)
	st.r = st.tmpl.WithContext(st.ctx)
	return true
}

// plainPath: a path url.ParseRequestURI would return as is.
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		if b := p[i]; b <= ' ' || b >= 0x7f || b == '%' || b == '?' || b == '#' {
			return false
		}
	}
	return true
}

func validCL(v string) bool {
	if v == "" || len(v) > 18 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// canonical maps a lowercase field name to its canonical form, through a
// table of common names and a small per-connection cache.
func (c *conn) canonical(name string) string {
	if k, ok := commonCanonical[name]; ok {
		return k
	}
	if k, ok := c.canon[name]; ok {
		return k
	}
	k := http.CanonicalHeaderKey(name)
	if c.canon == nil {
		c.canon = make(map[string]string)
	}
	if len(c.canon) < 128 {
		c.canon[name] = k
	}
	return k
}

// commonCanonical maps common lowercase names to their canonical keys,
// commonLower the other way.
var commonCanonical, commonLower = func() (canon, lower map[string]string) {
	canon, lower = make(map[string]string), make(map[string]string)
	for _, k := range []string{"accept", "accept-charset", "accept-encoding", "accept-language", "accept-ranges",
		"age", "access-control-allow-origin", "allow", "authorization", "cache-control", "content-disposition",
		"content-encoding", "content-language", "content-length", "content-location", "content-range",
		"content-type", "cookie", "date", "etag", "expect", "expires", "from", "host", "if-match",
		"if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "link",
		"location", "max-forwards", "origin", "proxy-authenticate", "proxy-authorization", "range", "referer",
		"refresh", "retry-after", "server", "set-cookie", "strict-transport-security", "trailer",
		"user-agent", "vary", "via", "www-authenticate", "x-forwarded-for", "x-forwarded-proto",
		"x-request-id", "x-content-type-options", "x-frame-options", "content-security-policy",
		"referrer-policy", "traceparent", "tracestate", "grpc-status", "grpc-message", "te"} {
		ck := http.CanonicalHeaderKey(k)
		canon[k] = ck
		lower[ck] = k
	}
	return canon, lower
}()

// canonicalKey is http.CanonicalHeaderKey, without allocating for common names.
func canonicalKey(name string) string {
	if k, ok := commonCanonical[name]; ok {
		return k
	}
	return http.CanonicalHeaderKey(name)
}

// respKey is what the encoder needs to know of a response header key, in
// one lookup instead of four (lower case, connection-specific, valid,
// unindexed).
type respKey struct {
	lower     string
	skip      bool // connection-specific or not a valid field name: not sent
	sensitive bool // sent as a never-indexed literal (unindexed)
}

func newRespKey(k string) respKey {
	lk := strings.ToLower(k)
	return respKey{lower: lk, skip: connSpecific[lk] || !httpguts.ValidHeaderFieldName(k), sensitive: unindexed[lk]}
}

// commonRespKeys: the common names, the connection-specific and the
// unindexed ones, and the security headers a gateway adds.
var commonRespKeys = func() map[string]respKey {
	m := make(map[string]respKey)
	for ck := range commonLower {
		m[ck] = newRespKey(ck)
	}
	for lk := range connSpecific {
		m[http.CanonicalHeaderKey(lk)] = newRespKey(lk)
	}
	for lk := range unindexed {
		m[http.CanonicalHeaderKey(lk)] = newRespKey(lk)
	}
	for _, k := range []string{"Cross-Origin-Resource-Policy", "Cross-Origin-Opener-Policy", "Cross-Origin-Embedder-Policy",
		"Permissions-Policy", "Ratelimit-Policy", "X-Powered-By", "X-Xss-Protection", "Alt-Svc"} {
		m[k] = newRespKey(k)
	}
	return m
}()

// responseKeyLocked describes a response header key: common keys from a
// table, others from a small per-connection cache (a gateway's responses
// repeat their keys; strings.ToLower would allocate for each).
func (c *conn) responseKeyLocked(k string) respKey {
	if rk, ok := commonRespKeys[k]; ok {
		return rk
	}
	if rk, ok := c.respKeys[k]; ok {
		return rk
	}
	rk := newRespKey(k)
	if c.respKeys == nil {
		c.respKeys = make(map[string]respKey)
	}
	if len(c.respKeys) < 64 {
		c.respKeys[k] = rk
	}
	return rk
}

// requestBody is the handler's r.Body.
type requestBody struct{ st *stream }

func (b *requestBody) Read(p []byte) (int, error) {
	st := b.st
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.bodyClosed {
		return 0, errBodyClosed
	}
	for len(st.rbuf) == st.roff && st.rerr == nil {
		if err := st.waitLocked(&st.rcond, st.rdeadline, false); err != nil {
			return 0, err
		}
	}
	if len(st.rbuf) == st.roff {
		return 0, st.rerr
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := copy(p, st.rbuf[st.roff:])
	st.roff += n
	if st.roff == len(st.rbuf) {
		st.rbuf, st.roff = st.rbuf[:0], 0
	}
	// Give the window back by batches of a quarter: the client keeps
	// three quarters in flight while we send one WINDOW_UPDATE per 64 KiB
	// (stream) or 256 KiB (connection) at most.
	if !st.recvClosed {
		st.unacked += int64(n)
		if st.unacked >= streamWindow/4 {
			c.appendWindowUpdate(st.id, uint32(st.unacked))
			st.recvWindow += st.unacked
			st.unacked = 0
			c.ctlPending = true
		}
	}
	c.returnConnLocked(int64(n))
	if c.ctlPending {
		c.kickLocked()
	}
	if st.roff == 0 && st.rerr != nil && len(st.rbuf) == 0 && st.rerr == io.EOF {
		return n, io.EOF
	}
	return n, nil
}

func (b *requestBody) Close() error {
	st := b.st
	c := st.c
	c.mu.Lock()
	if !st.bodyClosed {
		st.bodyClosed = true
		if unread := len(st.rbuf) - st.roff; unread > 0 {
			st.rbuf, st.roff = st.rbuf[:0], 0
			c.returnConnLocked(int64(unread))
			if c.ctlPending {
				c.kickLocked()
			}
		}
	}
	c.mu.Unlock()
	return nil
}

// waitLocked waits on cond until woken or until deadline; a write
// deadline that passes resets the stream (CANCEL).
func (st *stream) waitLocked(cond *sync.Cond, deadline time.Time, reset bool) error {
	c := st.c
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			if reset {
				c.resetLocked(st, http2.ErrCodeCancel)
				c.flushLocked()
			}
			return os.ErrDeadlineExceeded
		}
		t := time.AfterFunc(d, func() {
			c.mu.Lock()
			cond.Broadcast()
			c.mu.Unlock()
		})
		cond.Wait()
		t.Stop()
		return nil
	}
	cond.Wait()
	return nil
}

// runHandler serves st, then returns the next queued stream of the
// connection, if a handler slot is free for it.
func (c *conn) runHandler(st *stream) (next *stream) {
	c.mu.Lock()
	gone := st.reset || c.dead // reset (or the connection lost) before it started
	c.mu.Unlock()
	if !gone {
		c.serveStream(st)
	}
	c.mu.Lock()
	st.cancel()
	c.handlers--
	c.unrefLocked(st)
	for len(c.pending) > 0 && !c.dead {
		n := c.pending[0]
		copy(c.pending, c.pending[1:])
		c.pending[len(c.pending)-1] = nil
		c.pending = c.pending[:len(c.pending)-1]
		if n.reset {
			c.dropLocked(n)
			continue
		}
		c.handlers++
		next = n
		break
	}
	if c.handlers == 0 {
		if c.dead {
			c.wcond.Broadcast()
		} else if c.idleLocked() {
			c.becameIdleLocked()
		}
	}
	c.mu.Unlock()
	return next
}

func (c *conn) serveStream(st *stream) {
	defer func() {
		if e := recover(); e != nil {
			if e != http.ErrAbortHandler {
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.srv.logger().Error("h2: handler panic", "remote", c.remote, "panic", fmt.Sprint(e), "stack", string(buf))
			}
			c.mu.Lock()
			if !st.sendClosed {
				c.resetLocked(st, http2.ErrCodeInternal)
				c.kickLocked()
			}
			c.mu.Unlock()
		}
	}()
	h := c.srv.Handler
	if h == nil {
		h = http.NotFoundHandler()
	}
	h.ServeHTTP(st, st.r)
	st.finish()
}

// ---- http.ResponseWriter ----

func (st *stream) Header() http.Header {
	if st.hdr == nil {
		st.hdr = make(http.Header)
	}
	return st.hdr
}

func (st *stream) WriteHeader(code int) {
	if st.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 {
		c := st.c
		c.mu.Lock()
		defer c.mu.Unlock()
		if code == http.StatusSwitchingProtocols {
			// No upgrade on HTTP/2: the response cannot be completed.
			c.srv.logger().Warn("h2: handler wrote 101 Switching Protocols; stream reset", "remote", c.remote)
			if !st.sendClosed {
				c.resetLocked(st, http2.ErrCodeInternal)
				c.kickLocked()
			}
			return
		}
		if st.writeErrLocked() == nil && !st.headersSent {
			c.encodeHeaders(code, st.hdr, "", false)
			c.appendHeaderBlock(st.id, false)
			c.kickLocked()
		}
		return
	}
	st.wroteHeader = true
	st.status = code
	if v := st.hdr["Content-Length"]; len(v) > 0 {
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 && validCL(v[0]) {
			st.respCL = n
		} else {
			delete(st.hdr, "Content-Length")
		}
	}
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != 204 && status != 304
}

func (st *stream) Write(p []byte) (int, error) {
	if !st.wroteHeader {
		st.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(st.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if st.respCL >= 0 && st.written+int64(len(p)) > st.respCL {
		return 0, http.ErrContentLength
	}
	if st.isHead {
		st.written += int64(len(p))
		return len(p), nil
	}
	if len(st.wbuf)+len(p) <= cap(st.wbuf) {
		st.wbuf = append(st.wbuf, p...)
		st.written += int64(len(p))
		return len(p), nil
	}
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := st.sendHeadersLocked(); err != nil {
		return 0, err
	}
	if err := st.sendDataLocked(st.wbuf, false); err != nil {
		return 0, err
	}
	st.wbuf = st.wbuf[:0]
	if err := st.sendDataLocked(p, false); err != nil {
		return 0, err
	}
	c.kickLocked()
	st.written += int64(len(p))
	return len(p), nil
}

func (st *stream) WriteString(s string) (int, error) {
	if len(st.wbuf)+len(s) <= cap(st.wbuf) && st.wroteHeader && bodyAllowed(st.status) && !st.isHead &&
		(st.respCL < 0 || st.written+int64(len(s)) <= st.respCL) {
		st.wbuf = append(st.wbuf, s...)
		st.written += int64(len(s))
		return len(s), nil
	}
	return st.Write([]byte(s))
}

func (st *stream) Flush() { st.FlushError() }

func (st *stream) FlushError() error {
	if !st.wroteHeader {
		st.WriteHeader(http.StatusOK)
	}
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := st.sendHeadersLocked(); err != nil {
		return err
	}
	if err := st.sendDataLocked(st.wbuf, false); err != nil {
		return err
	}
	st.wbuf = st.wbuf[:0]
	c.kickLocked()
	return st.writeErrLocked()
}

func (st *stream) SetWriteDeadline(t time.Time) error {
	c := st.c
	c.mu.Lock()
	st.wdeadline = t
	c.wcond.Broadcast()
	c.mu.Unlock()
	return nil
}

func (st *stream) SetReadDeadline(t time.Time) error {
	c := st.c
	c.mu.Lock()
	st.rdeadline = t
	st.rcond.Broadcast()
	c.mu.Unlock()
	return nil
}

// EnableFullDuplex: an HTTP/2 stream always is.
func (st *stream) EnableFullDuplex() error { return nil }

func (st *stream) writeErrLocked() error {
	if st.c.werr != nil {
		return st.c.werr
	}
	if st.sendClosed {
		return errStreamReset
	}
	return nil
}

// sendHeadersLocked sends the response head if it was not sent yet, without
// a content-length of its own.
func (st *stream) sendHeadersLocked() error {
	if err := st.writeErrLocked(); err != nil {
		return err
	}
	if !st.headersSent {
		st.headersSent = true
		st.c.encodeHeaders(st.status, st.hdr, "", true)
		st.c.appendHeaderBlock(st.id, false)
	}
	return nil
}

// sendDataLocked frames p as DATA within the flow-control windows and the
// buffer bound, waiting (until the write deadline) when it must.
func (st *stream) sendDataLocked(p []byte, end bool) error {
	c := st.c
	for {
		if err := st.writeErrLocked(); err != nil {
			return err
		}
		if len(p) == 0 && !end {
			return nil
		}
		n := int64(min(len(p), int(c.peerMaxFrame)))
		if n > 0 {
			n = min(n, st.sendWindow, c.sendWindow)
		}
		if len(p) > 0 && n <= 0 || len(c.out) >= outLimit {
			if len(c.out) > 0 && !c.flushing {
				c.flushLocked()
				continue
			}
			if err := st.waitLocked(&c.wcond, st.wdeadline, true); err != nil {
				return err
			}
			continue
		}
		last := end && int(n) == len(p)
		c.appendData(st.id, p[:n], last)
		st.sendWindow -= n
		c.sendWindow -= n
		p = p[n:]
		if last {
			st.sendDoneLocked()
			return nil
		}
	}
}

// sendDoneLocked: END_STREAM was queued. A request still being sent is
// told to stop (RST_STREAM NO_ERROR, RFC 9113 §8.1).
func (st *stream) sendDoneLocked() {
	c := st.c
	st.sendClosed = true
	if !st.recvClosed {
		c.appendRST(st.id, http2.ErrCodeNo)
		st.recvClosed = true
		if st.rerr == nil {
			st.rerr = errStreamReset
		}
	}
	c.removeLocked(st)
}

// finish completes the response after the handler returned.
func (st *stream) finish() {
	if !st.wroteHeader {
		st.WriteHeader(http.StatusOK)
	}
	trailers := st.trailers()
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.writeErrLocked() != nil || !st.wroteHeader {
		return
	}
	if st.respCL >= 0 && st.written < st.respCL && !st.isHead && bodyAllowed(st.status) {
		c.resetLocked(st, http2.ErrCodeInternal)
		c.kickLocked()
		return
	}
	if !st.headersSent {
		st.headersSent = true
		cl := ""
		if st.respCL < 0 && trailers == nil && bodyAllowed(st.status) && (st.written > 0 || !st.isHead) {
			cl = strconv.FormatInt(st.written, 10)
		}
		end := len(st.wbuf) == 0 && trailers == nil
		c.encodeHeaders(st.status, st.hdr, cl, true)
		c.appendHeaderBlock(st.id, end)
		if end {
			st.sendDoneLocked()
			c.kickLocked()
			return
		}
	}
	if err := st.sendDataLocked(st.wbuf, trailers == nil); err == nil && trailers != nil {
		c.encodeFields(trailers)
		c.appendHeaderBlock(st.id, true)
		st.sendDoneLocked()
	}
	st.wbuf = st.wbuf[:0]
	c.kickLocked()
}

// trailers collects the response trailers: keys declared in Trailer and
// keys with http.TrailerPrefix; nil when none has a value.
func (st *stream) trailers() http.Header {
	var t http.Header
	for _, decl := range st.hdr["Trailer"] {
		for _, k := range strings.Split(decl, ",") {
			k = http.CanonicalHeaderKey(strings.TrimSpace(k))
			if vv := st.hdr[k]; len(vv) > 0 && httpguts.ValidTrailerHeader(k) {
				if t == nil {
					t = make(http.Header)
				}
				t[k] = vv
			}
		}
	}
	for k, vv := range st.hdr {
		if strings.HasPrefix(k, http.TrailerPrefix) && len(vv) > 0 {
			if k = k[len(http.TrailerPrefix):]; httpguts.ValidTrailerHeader(k) {
				if t == nil {
					t = make(http.Header)
				}
				t[k] = vv
			}
		}
	}
	return t
}

var statusText [600]string

func statusString(code int) string {
	if code < len(statusText) {
		if s := statusText[code]; s != "" {
			return s
		}
	}
	return strconv.Itoa(code)
}

func init() {
	for i := 100; i < len(statusText); i++ {
		statusText[i] = strconv.Itoa(i)
	}
}

var connSpecific = map[string]bool{"connection": true, "keep-alive": true, "proxy-connection": true,
	"transfer-encoding": true, "upgrade": true, "te": true}

// unindexed response fields change from one response to the next, or,
// like set-cookie, are secrets a compression oracle could probe (RFC 7541
// §7.1.3): they are sent as never-indexed literals (date changes once a
// second: it stays indexed). Entered in the HPACK
// dynamic table they would only push out the fields that repeat (the
// security headers), which then cost a literal again instead of one byte,
// and the table's upkeep on every response.
var unindexed = map[string]bool{"content-length": true, "x-request-id": true,
	"ratelimit": true, "ratelimit-remaining": true, "ratelimit-reset": true, "x-ratelimit-remaining": true,
	"x-ratelimit-reset": true, "retry-after": true, "etag": true, "last-modified": true, "age": true,
	"expires": true, "set-cookie": true, "location": true, "content-range": true,
	"traceparent": true, "tracestate": true, "server-timing": true}

// encodeHeaders HPACK-encodes a response head into c.hbuf. final adds
// content-length (cl, when the handler set none) and date.
func (c *conn) encodeHeaders(status int, h http.Header, cl string, final bool) {
	c.henc.WriteField(hpack.HeaderField{Name: ":status", Value: statusString(status)})
	for k, vv := range h {
		if final && strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		rk := c.responseKeyLocked(k)
		if rk.skip || rk.lower == "content-length" && !final {
			continue
		}
		for _, v := range vv {
			if httpguts.ValidHeaderFieldValue(v) {
				c.henc.WriteField(hpack.HeaderField{Name: rk.lower, Value: v, Sensitive: rk.sensitive})
			}
		}
	}
	if !final {
		return
	}
	if cl != "" {
		c.henc.WriteField(hpack.HeaderField{Name: "content-length", Value: cl, Sensitive: true})
	}
	if _, ok := h["Date"]; !ok {
		c.henc.WriteField(hpack.HeaderField{Name: "date", Value: httpDate()})
	}
}

func (c *conn) encodeFields(h http.Header) {
	for k, vv := range h {
		rk := c.responseKeyLocked(k)
		if rk.skip {
			continue
		}
		for _, v := range vv {
			if httpguts.ValidHeaderFieldValue(v) {
				c.henc.WriteField(hpack.HeaderField{Name: rk.lower, Value: v, Sensitive: rk.sensitive})
			}
		}
	}
}

type dateEntry struct {
	sec int64
	s   string
}

var dateMu sync.Mutex
var dateNow *dateEntry

func httpDate() string {
	now := time.Now()
	sec := now.Unix()
	dateMu.Lock()
	d := dateNow
	if d == nil || d.sec != sec {
		d = &dateEntry{sec, now.UTC().Format(http.TimeFormat)}
		dateNow = d
	}
	dateMu.Unlock()
	return d.s
}

var _ io.ReadCloser = (*requestBody)(nil)
