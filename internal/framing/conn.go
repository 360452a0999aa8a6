package framing

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// initialBuf is the first size of a conn's buffer; it grows, by doubling, up
// to maxHeaderBytes when a head needs it.
const initialBuf = 4 << 10

// After a rejection, Close half-closes the connection and discards what the
// client still sends, for at most lingerTimeout and lingerMaxBytes, before it
// closes (see the package comment).
const (
	lingerTimeout  = 500 * time.Millisecond
	lingerMaxBytes = 256 << 10
)

// state of a conn.
type state uint8

const (
	stHead    state = iota // holding back a request head
	stBodyCL               // in a Content-Length body; remain bytes left
	stChunked              // in a chunked body
	stPass                 // passthrough: no more inspection
	stReject               // delivering the synthetic head
	stDone                 // Read returns err for good
)

// conn inspects the request stream of one connection. All of its state is
// owned by Read: net/http calls Read from one goroutine at a time (possibly
// a different one each time), while Write, Close and the deadline methods
// may run concurrently and touch only the embedded conn and atomics.
type conn struct {
	net.Conn
	max int // maxHeaderBytes

	// buf holds bytes read from the network and not yet returned by Read.
	// buf[r:rel] is validated and is returned next; buf[rel:w] is not
	// released yet: a partial head, a held-back piece of chunked framing
	// (buf[rel:scan], already scanned), or bytes no scanner has reached.
	buf             []byte
	r, rel, scan, w int
	consumed        int64 // stream offset of buf[0]

	st      state
	head    headScan
	remain  int64 // stBodyCL: body bytes left
	chunk   chunkScan
	rej     string // stReject: rest of the synthetic head
	err     error  // stDone: the error Read returns
	pending error  // error the network returned along with data, for later

	linger  atomic.Bool // set by Read when the conn is refused; read by Close
	closing atomic.Bool

	// onHead, when not nil, is told of every head decision with the stream
	// offset where the head starts. Tests only.
	onHead func(off int64, v verdict)
}

func newConn(c net.Conn, maxHeaderBytes int) *conn {
	return &conn{Conn: c, max: maxHeaderBytes}
}

// Read returns validated request bytes; see the package comment.
// Errors from the underlying conn (deadlines included) are returned
// unchanged and leave the state as it was, so a Read after a timeout goes on
// where the previous one stopped.
func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.r < c.rel {
			n := copy(p, c.buf[c.r:c.rel])
			c.r += n
			return n, nil
		}
		switch c.st {
		case stReject:
			n := copy(p, c.rej)
			c.rej = c.rej[n:]
			if c.rej == "" {
				c.st, c.err = stDone, io.EOF
			}
			return n, nil
		case stDone:
			return 0, c.err
		}
		if c.advance() {
			continue
		}
		if err := c.pending; err != nil {
			c.pending = nil
			return 0, err
		}
		if c.r == c.w {
			c.consumed += int64(c.w)
			c.r, c.rel, c.scan, c.w = 0, 0, 0, 0
		}
		// Nothing is buffered in the states below: advance has taken all
		// of it. Read straight into p.
		switch {
		case c.st == stPass && c.w == 0:
			n, err := c.Conn.Read(p)
			c.consumed += int64(n)
			return n, err
		case c.st == stBodyCL && c.w == 0:
			if int64(len(p)) > c.remain {
				p = p[:c.remain]
			}
			n, err := c.Conn.Read(p)
			c.consumed += int64(n)
			c.remain -= int64(n)
			if c.remain == 0 {
				c.st = stHead
			}
			return n, err
		}
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
}

// advance runs the scanners over the bytes not scanned yet, moving rel past
// validated bytes and switching states at the end of heads and bodies. It
// reports whether it consumed anything or changed to a final state; false
// means it needs more bytes.
func (c *conn) advance() bool {
	progress := false
	for {
		switch c.st {
		case stHead:
			if c.rel == c.w {
				return progress
			}
			v, n, reason := c.head.scan(c.buf[c.rel:c.w], c.max)
			if v == needMore {
				return progress
			}
			if c.onHead != nil {
				c.onHead(c.consumed+int64(c.rel), v)
			}
			switch v {
			case headPass:
				c.rel = c.w
				c.st = stPass
			case headReject:
				c.w = c.rel // the refused bytes are never released
				c.st = stReject
				c.rej = rejectHead(reason)
				c.linger.Store(true)
				return true
			case headOK:
				c.rel += n
				switch {
				case c.head.chunked():
					c.st = stChunked
					c.chunk = chunkScan{}
					c.scan = c.rel
				case c.head.contentLength() > 0:
					c.st = stBodyCL
					c.remain = c.head.contentLength()
				}
				c.head = headScan{}
			}
		case stBodyCL:
			if c.rel == c.w {
				return progress
			}
			n := min(int64(c.w-c.rel), c.remain)
			c.rel += int(n)
			c.remain -= n
			if c.remain == 0 {
				c.st = stHead
			}
		case stChunked:
			if c.scan == c.w {
				return progress
			}
			n, done, bad := c.chunk.scan(c.buf[c.scan:c.w], c.max)
			c.scan += n
			c.rel = c.scan - c.chunk.pending
			if bad {
				c.w = c.rel
				c.st = stDone
				c.err = c.badChunkError()
				c.linger.Store(true)
				return true
			}
			if done {
				c.st = stHead
			}
		case stPass:
			if c.rel == c.w {
				return progress
			}
			c.rel = c.w
		default: // stReject, stDone
			return true
		}
		progress = true
	}
}

// fill reads from the network into buf, making room first.
func (c *conn) fill() error {
	if c.w == len(c.buf) {
		switch {
		case c.r > 0:
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.consumed += int64(c.r)
			c.rel -= c.r
			c.scan = max(c.scan-c.r, 0)
			c.r = 0
		case len(c.buf) < c.max:
			size := min(max(2*len(c.buf), initialBuf), c.max)
			buf := make([]byte, size)
			copy(buf, c.buf[:c.w])
			c.buf = buf
		default:
			// Unreachable: a head, or a held-back piece of chunked
			// framing, that fills a buffer of max bytes has been refused,
			// and nothing else stays in the buffer.
			return errors.New("framing: internal error: buffer full")
		}
	}
	n, err := c.Conn.Read(c.buf[c.w:])
	c.w += n
	if err != nil {
		if n > 0 {
			c.pending = err
			return nil
		}
		return err
	}
	return nil
}

// badChunkError is the error for a malformed chunked body. It is a
// *net.OpError with Op "read" so that net/http closes the connection quietly
// when it meets it while looking for the next request.
func (c *conn) badChunkError() error {
	e := &net.OpError{Op: "read", Source: c.Conn.LocalAddr(), Addr: c.Conn.RemoteAddr(), Err: ErrBadChunk}
	if e.Source != nil {
		e.Net = e.Source.Network()
	}
	return e
}

// closeWriter is implemented by *net.TCPConn, *net.UnixConn and *tls.Conn.
type closeWriter interface {
	CloseWrite() error
}

// CloseWrite half-closes the underlying conn if it can (net/http uses it
// before closing a connection it gave up on).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// Close closes the connection. If the connection was refused, it first
// half-closes it and discards the client's remaining bytes in the
// background for a short while, so that the client reads the 400 instead of
// a reset.
func (c *conn) Close() error {
	if c.linger.Load() && c.closing.CompareAndSwap(false, true) {
		if cw, ok := c.Conn.(closeWriter); ok && cw.CloseWrite() == nil {
			go c.drainAndClose()
			return nil
		}
	}
	return c.Conn.Close()
}

func (c *conn) drainAndClose() {
	defer c.Conn.Close()
	if c.Conn.SetReadDeadline(time.Now().Add(lingerTimeout)) != nil {
		return
	}
	var buf [2048]byte
	for n := 0; n < lingerMaxBytes; {
		k, err := c.Conn.Read(buf[:])
		n += k
		if err != nil {
			return
		}
	}
}

// NetConn returns the wrapped connection, for example to reach the
// *tls.Conn below it.
func (c *conn) NetConn() net.Conn { return c.Conn }
