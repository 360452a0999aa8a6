package h1

import (
	"io"
	"net/http"
	"time"

	"github.com/rampart-gw/rampart/internal/framing"
)

// Body kinds.
const (
	bodyCL uint8 = iota + 1
	bodyChunked
)

// body is a request body read from the connection's buffer. It is used by
// the connection's goroutine only (the handler's), like net/http's.
type body struct {
	c       *conn
	w       *response // for 100-continue
	kind    uint8
	remain  int64                  // Content-Length bytes left
	chunked *framing.ChunkedReader // for bodyChunked: made only then, so a request's exchange stays small
	err     error                  // sticky: io.EOF once done, or the failure
	closed  bool
}

// chunkSource is the connection as the chunked reader's framing.LineReader.
type chunkSource struct{ c *conn }

func (s chunkSource) Read(p []byte) (int, error)         { return s.c.readBody(p) }
func (s chunkSource) ReadLine(limit int) ([]byte, error) { return s.c.readLine(limit) }

// errBodyReadAfterClose is net/http's error for the same misuse.
var errBodyReadAfterClose = http.ErrBodyReadAfterClose

func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errBodyReadAfterClose
	}
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.w != nil {
		b.w.sendContinue()
		b.w = nil
	}
	var n int
	var err error
	if b.kind == bodyCL {
		n, err = b.readCL(p)
	} else {
		n, err = b.chunked.Read(p)
	}
	if err != nil {
		b.err = err
		if err != io.EOF {
			b.c.bodyFailed()
		}
	}
	return n, err
}

func (b *body) readCL(p []byte) (int, error) {
	if b.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.c.readBody(p)
	b.remain -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && b.remain == 0 {
		err = io.EOF
	}
	return n, err
}

// Close marks the body closed; what is left is discarded (or the
// connection closed) after the handler returns, as with net/http.
func (b *body) Close() error {
	b.closed = true
	return nil
}

// done reports whether the body was read to its end.
func (b *body) done() bool { return b.err == io.EOF }

// discard reads and drops what is left of the body, at most limit bytes
// until the time d has passed. It reports whether the body ended.
func (b *body) discard(limit int64, d time.Duration) bool {
	if b.err != nil {
		return b.err == io.EOF
	}
	if b.kind == bodyCL && b.remain > limit {
		return false
	}
	b.w = nil // no 100 Continue for a body the handler did not want
	b.closed = false
	b.c.until = time.Now().Add(d)
	defer func() { b.c.until = time.Time{} }()
	var scratch [512]byte
	for n := int64(0); n <= limit; {
		k, err := b.Read(scratch[:])
		n += int64(k)
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}
