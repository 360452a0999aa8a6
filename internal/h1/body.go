package h1

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/rampart-gw/rampart/internal/framing"
)

// maxChunkLine bounds a chunk-size line, extensions and CRLF included (as
// framing does).
const maxChunkLine = 4096

// maxChunkSize is framing's bound on chunk sizes and Content-Length.
const maxChunkSize = 1 << 62

// Body kinds.
const (
	bodyCL uint8 = iota + 1
	bodyChunked
)

// Chunked reader states.
const (
	chSize uint8 = iota // expecting a chunk-size line
	chData              // in chunk data; remain bytes left
	chEOF               // the body ended
)

// body is a request body read from the connection's buffer. It is used by
// the connection's goroutine only (the handler's), like net/http's.
type body struct {
	c      *conn
	w      *response // for 100-continue
	req    *http.Request
	kind   uint8
	st     uint8
	remain int64 // Content-Length bytes left, or bytes left in a chunk
	err    error // sticky: io.EOF once done, or the failure
	closed bool
}

// errBodyReadAfterClose is net/http's error for the same misuse.
var errBodyReadAfterClose = http.ErrBodyReadAfterClose

func badChunk(msg string) error {
	return fmt.Errorf("h1: %s: %w", msg, framing.ErrBadChunk)
}

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
		n, err = b.readChunked(p)
	}
	if err != nil {
		b.err = err
		if err != io.EOF {
			b.c.bodyFailed(err)
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

func (b *body) readChunked(p []byte) (int, error) {
	for {
		switch b.st {
		case chEOF:
			return 0, io.EOF
		case chSize:
			line, err := b.c.readLine(maxChunkLine)
			if err != nil {
				return 0, chunkReadErr(err)
			}
			size, ok := parseChunkSize(line)
			if !ok {
				return 0, badChunk("malformed chunk-size line")
			}
			if size == 0 {
				if err := b.readTrailer(); err != nil {
					return 0, err
				}
				b.st = chEOF
				return 0, io.EOF
			}
			b.remain, b.st = size, chData
		case chData:
			if b.remain == 0 {
				crlf, err := b.c.readN(2)
				if err != nil {
					return 0, chunkReadErr(err)
				}
				if crlf[0] != '\r' || crlf[1] != '\n' {
					return 0, badChunk("chunk data not followed by CRLF")
				}
				b.st = chSize
				continue
			}
			if int64(len(p)) > b.remain {
				p = p[:b.remain]
			}
			n, err := b.c.readBody(p)
			b.remain -= int64(n)
			if err != nil {
				if n > 0 && err == io.EOF {
					err = nil
				}
				if err != nil {
					return n, chunkReadErr(err)
				}
			}
			return n, nil
		}
	}
}

func chunkReadErr(err error) error {
	switch {
	case err == io.EOF:
		return io.ErrUnexpectedEOF
	case err == errLineTooLong:
		return badChunk("chunk line too long")
	}
	return err
}

// parseChunkSize parses a size line with its LF (framing's rules): 1*16
// HEXDIG no larger than 2^62, then OWS or ";" and an extension without
// control bytes other than HTAB, then CRLF.
func parseChunkSize(line []byte) (int64, bool) {
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, false
	}
	line = line[:len(line)-2]
	var size uint64
	i := 0
	for ; i < len(line); i++ {
		v := framing.HexDigit(line[i])
		if v < 0 {
			break
		}
		if i == 16 {
			return 0, false
		}
		size = size<<4 | uint64(v)
	}
	if i == 0 || size > maxChunkSize {
		return 0, false
	}
	rest := line[i:]
	if len(rest) > 0 && rest[0] == ';' {
		for _, c := range rest[1:] {
			if isCtl(c) {
				return 0, false
			}
		}
		return int64(size), true
	}
	for _, c := range rest {
		if c != ' ' && c != '\t' {
			return 0, false
		}
	}
	return int64(size), true
}

// readTrailer reads the trailer section after the last chunk into
// req.Trailer (framing's rules: tchar name, colon, value without control
// bytes other than HTAB, CRLF; at most maxHeaderBytes in all).
func (b *body) readTrailer() error {
	budget := b.c.srv.maxHeaderBytes()
	for {
		line, err := b.c.readLine(budget)
		if err != nil {
			if err == errLineTooLong {
				return badChunk("trailer section too large")
			}
			return chunkReadErr(err)
		}
		budget -= len(line)
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return badChunk("trailer line not ended by CRLF")
		}
		line = line[:len(line)-2]
		if len(line) == 0 {
			return nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return badChunk("malformed trailer line")
		}
		for _, c := range line[:colon] {
			if !framing.IsTokenChar(c) {
				return badChunk("malformed trailer name")
			}
		}
		for _, c := range line[colon+1:] {
			if isCtl(c) {
				return badChunk("control byte in trailer value")
			}
		}
		key := http.CanonicalHeaderKey(string(line[:colon]))
		if b.req.Trailer == nil {
			b.req.Trailer = make(http.Header)
		}
		b.req.Trailer[key] = append(b.req.Trailer[key], trimOWS(string(line[colon+1:])))
	}
}

// Close marks the body closed; what is left is discarded (or the
// connection closed) after the handler returns, as with net/http.
func (b *body) Close() error {
	b.closed = true
	return nil
}

// done reports whether the body was read to its end.
func (b *body) done() bool { return b.err == io.EOF }

// discard reads and drops what is left of the body, at most limit bytes. It
// reports whether the body ended.
func (b *body) discard(limit int64) bool {
	if b.err != nil {
		return b.err == io.EOF
	}
	if b.kind == bodyCL && b.remain > limit {
		return false
	}
	b.w = nil // no 100 Continue for a body the handler did not want
	b.closed = false
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

func isCtl(c byte) bool { return (c < 0x20 && c != '\t') || c == 0x7f }

var errLineTooLong = errors.New("h1: line too long")
