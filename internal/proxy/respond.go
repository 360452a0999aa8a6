package proxy

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/framing"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/spool"
)

// respond forwards the parsed response: filtered headers, status, body. It
// owns pc and returns it to the pool only if the response was read completely
// and both sides allow keep-alive.
func (u *Upstream) respond(w http.ResponseWriter, r *http.Request, x *exchange, pc *pconn, info *pipeline.Info) {
	h := &x.head
	if info != nil {
		info.UpstreamStatus = h.status
	}
	if u.mask && h.status >= 500 {
		u.release(x, pc, false) // the body is never read: do not reuse
		u.writeMasked(w, r, h, info)
		return
	}
	noBody := r.Method == http.MethodHead || h.status == 204 || h.status == 304
	hdr := w.Header()
	// Pass 1: count what is forwarded, so that all values share one backing array.
	n := 0
	for i := range h.fields {
		if u.forwarded(h, &h.fields[i]) {
			n++
		}
	}
	if h.contentLength >= 0 && h.status != 204 {
		n++
	}
	vals := make([]string, n)
	j := 0
	sse := false
	for i := range h.fields {
		f := &h.fields[i]
		if !u.forwarded(h, f) {
			continue
		}
		k, v := h.key(f), h.value(f)
		if k == "Content-Type" && isEventStream(v) {
			sse = true
		}
		if old, ok := hdr[k]; ok {
			hdr[k] = append(old, v)
		} else {
			vals[j] = v
			hdr[k] = vals[j : j+1 : j+1]
		}
		j++
	}
	if h.contentLength >= 0 && h.status != 204 {
		for i := range h.fields {
			if f := &h.fields[i]; f.key == "Content-Length" {
				vals[j] = h.value(f)
				hdr["Content-Length"] = vals[j : j+1 : j+1]
				break
			}
		}
	}
	if noBody {
		w.WriteHeader(h.status)
		u.release(x, pc, !h.close)
		return
	}
	reuse := !h.close
	var src io.Reader = x.br
	if h.chunked {
		x.chunked.Reset(framing.BufioLines{Reader: x.br}, nil, maxTrailerBytes)
		src = &x.chunked
	} else if h.contentLength < 0 {
		reuse = false // delimited by close
	}
	if u.bufferMax > 0 && !sse && h.contentLength <= u.bufferMax {
		held, done := u.buffer(w, r, x, pc, src, reuse)
		if done {
			return
		}
		if held != nil {
			defer held.Free()
			src = io.MultiReader(held.Open(), src)
		}
	}
	w.WriteHeader(h.status)
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	var err error
	var werr bool
	switch {
	case h.contentLength >= 0 && !sse:
		err, werr = copyLength(w, src, buf, h.contentLength)
	default:
		remaining := h.contentLength // -1: unknown
		rc := http.NewResponseController(w)
		for {
			p := buf
			if remaining >= 0 {
				if remaining == 0 {
					break
				}
				if remaining < int64(len(p)) {
					p = p[:remaining]
				}
			}
			nr, rerr := src.Read(p)
			if nr > 0 {
				if remaining > 0 {
					remaining -= int64(nr)
				}
				if _, e := w.Write(p[:nr]); e != nil {
					err, werr = e, true
					break
				}
				if e := rc.Flush(); e != nil {
					err, werr = e, true
					break
				}
			}
			if rerr == io.EOF {
				if remaining > 0 {
					err = io.ErrUnexpectedEOF
				}
				break
			}
			if rerr != nil {
				err = rerr
				break
			}
		}
	}
	if err == nil {
		u.release(x, pc, reuse)
		return
	}
	aborted := pc.aborted.Load()
	u.release(x, pc, false)
	if werr || aborted || err == errClientGone || r.Context().Err() != nil {
		return // the client went away: nobody to tell
	}
	// The upstream broke the body after the head was forwarded: the client
	// must see a broken response, never a truncated one that looks complete
	// (as with nginx). http.ErrAbortHandler is how a handler says so to
	// every server it runs on (h1, net/http, HTTP/2): the connection or
	// stream is cut without completing the response.
	if info != nil {
		info.UpstreamAborted = true
	}
	panic(http.ErrAbortHandler)
}

// buffer reads the response body into the body budget (buffer_response)
// before anything is sent, then returns the upstream connection and feeds
// the client from the buffer: a slow client no longer holds the upstream.
// done reports that the response was answered (from the buffer, or with a
// 502 when the upstream broke the body: nothing had reached the client).
// Otherwise the body is streamed: held (possibly nil) is its start, read
// when the cap or the budget's room ran out.
func (u *Upstream) buffer(w http.ResponseWriter, r *http.Request, x *exchange, pc *pconn, src io.Reader, reuse bool) (held *spool.Buffer, done bool) {
	h := &x.head
	body := src
	if h.contentLength >= 0 {
		body = io.LimitReader(src, h.contentLength)
	}
	sb, err := u.spool.Buffer(max(h.contentLength, 0), 0, false)
	if err != nil {
		return nil, false
	}
	complete, err := sb.Fill(body, u.bufferMax)
	if err == nil && complete && h.contentLength >= 0 && sb.Len() < h.contentLength {
		err = io.ErrUnexpectedEOF
	}
	switch {
	case err != nil && !errors.Is(err, spool.ErrNoRoom):
		sb.Free()
		u.release(x, pc, false)
		u.errorHandler(w, r, err)
		return nil, true
	case err == nil && complete:
		u.release(x, pc, reuse)
		w.Header()["Content-Length"] = []string{strconv.FormatInt(sb.Len(), 10)}
		w.WriteHeader(h.status)
		bp := buffers.Get().(*[]byte)
		_, _ = io.CopyBuffer(writerOnly{w}, sb.Open(), *bp) // a client that left: nobody to tell
		buffers.Put(bp)
		sb.Free()
		return nil, true
	}
	return sb, false
}

// copyLength copies a Content-Length body; small bodies in one piece.
func copyLength(w http.ResponseWriter, src io.Reader, buf []byte, n int64) (err error, writeErr bool) {
	for n > 0 {
		p := buf
		if n < int64(len(p)) {
			p = p[:n]
		}
		k, err := io.ReadFull(src, p)
		n -= int64(k)
		if k > 0 {
			// A body cut short is forwarded as far as it came, as nginx
			// does; the abort that follows leaves it visibly short.
			if _, err := w.Write(p[:k]); err != nil {
				return err, true
			}
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err, false
		}
	}
	return nil, false
}

// release ends the use of pc: back to the pool when reuse is allowed and the
// connection is clean, closed otherwise.
func (u *Upstream) release(x *exchange, pc *pconn, reuse bool) {
	if x.stop != nil && !x.stop() {
		reuse = false // the client-gone callback ran: the deadline is spoiled
	}
	x.stop = nil
	if reuse && x.br.Buffered() == 0 && !pc.aborted.Load() && !u.closed.Load() {
		// The connection keeps its slice's deadline: the next exchange's
		// arm keeps or moves it before any I/O, and the reuse probe (through
		// Control) does not see deadlines.
		pc.pool.put(pc, nowNano())
		return
	}
	_ = pc.conn.Close()
}

// forwarded reports whether a response field reaches the client.
func (u *Upstream) forwarded(h *respHead, f *field) bool {
	k := h.key(f)
	if isFiltered(k) {
		return false
	}
	if h.hasConn {
		for i := range h.fields {
			if c := &h.fields[i]; c.key == "Connection" && listHas(h.value(c), k) {
				return false
			}
		}
	}
	return true
}

func isEventStream(ct string) bool {
	ct, _, _ = strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
}

// writeMasked replaces a 5xx answer by a generic problem: a 5xx body is where
// stack traces and debug pages live. Retry-After is kept.
func (u *Upstream) writeMasked(w http.ResponseWriter, r *http.Request, h *respHead, info *pipeline.Info) {
	id := ""
	if info != nil {
		id = info.ID
	}
	body := problemBody(h.status, "upstream-error", "The upstream service failed to process the request.", id)
	hdr := w.Header()
	var keep []string
	for i := range h.fields {
		if f := &h.fields[i]; f.key == "Retry-After" {
			keep = append(keep, h.value(f))
		}
	}
	hdr["Content-Type"] = []string{"application/problem+json"}
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	hdr["Cache-Control"] = []string{"no-store"}
	hdr["X-Content-Type-Options"] = []string{"nosniff"}
	if len(keep) > 0 {
		hdr["Retry-After"] = keep
	}
	w.WriteHeader(h.status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body)
	}
}
