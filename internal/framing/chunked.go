package framing

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// MaxChunkLine bounds a chunk-size line, chunk extensions and CRLF included.
// net/http refuses longer lines too: they do not fit its 4 KiB read buffer.
const MaxChunkLine = 4096

// maxChunkSize bounds chunk sizes, as maxContentLength bounds Content-Length.
const maxChunkSize = maxContentLength

// LineReader is what a [ChunkedReader] decodes: the buffered stream of a
// connection.
type LineReader interface {
	// Read reads chunk data.
	io.Reader
	// ReadLine returns the next line with its LF, valid until the next
	// read. It fails with [ErrLineTooLong] when no LF comes within limit
	// bytes and with io.EOF when the stream ends first.
	ReadLine(limit int) ([]byte, error)
}

// ErrLineTooLong is returned by a [LineReader] whose line does not fit.
var ErrLineTooLong = errors.New("framing: line too long")

// BufioLines is a [LineReader] on a bufio.Reader. Lines longer than its
// buffer are too long whatever the limit.
type BufioLines struct{ *bufio.Reader }

// ReadLine implements [LineReader].
func (b BufioLines) ReadLine(limit int) ([]byte, error) {
	line, err := b.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull || len(line) > limit:
		return nil, ErrLineTooLong
	case err != nil:
		return nil, err
	}
	return line, nil
}

// badChunk is a malformed chunked body: it wraps ErrBadChunk.
type badChunk string

func (e badChunk) Error() string { return "framing: " + string(e) }
func (e badChunk) Unwrap() error { return ErrBadChunk }

const (
	errChunkSize    badChunk = "malformed chunk-size line"
	errChunkLine    badChunk = "chunk-size line too long"
	errChunkEnd     badChunk = "chunk data not followed by CRLF"
	errTrailerSize  badChunk = "trailer section too large"
	errTrailerCRLF  badChunk = "trailer line not ended by CRLF"
	errTrailerLine  badChunk = "malformed trailer line"
	errTrailerName  badChunk = "malformed trailer name"
	errTrailerValue badChunk = "control byte in trailer value"
)

// Chunked reader states.
const (
	chSize uint8 = iota // expecting a chunk-size line
	chData              // in chunk data; remain bytes left
	chEnd               // expecting the CRLF after chunk data
	chEOF               // the body ended
)

// ChunkedReader decodes a chunked body (RFC 9112 §7.1) strictly, accepting a
// subset of what net/http's chunked reader accepts, so that wherever both
// accept a body they agree on where it ends:
//
//	chunk-size  = 1*16HEXDIG, at most 2^62
//	size line   = chunk-size [ OWS ] CRLF | chunk-size ";" ext CRLF
//	ext         = any bytes but CTLs other than HTAB (they are ignored)
//	chunk       = size line, chunk-size bytes of data, CRLF
//	last chunk  = a size line of size 0, then trailer fields, then CRLF
//	trailer     = 1*tchar ":" value CRLF, value without CTLs other than HTAB
//
// Bare CR, bare LF, obs-fold and whitespace before ';' are refused with an
// error that wraps [ErrBadChunk]; a stream that ends early gives
// io.ErrUnexpectedEOF. Errors are sticky. The zero value must be Reset
// before use.
type ChunkedReader struct {
	src        LineReader
	trailer    *http.Header
	maxTrailer int
	remain     int64 // data bytes left in the current chunk
	st         uint8
	err        error
}

// Reset prepares c to decode a new body from src. Trailer fields are added
// to *trailer (made when needed) unless trailer is nil, when they are checked
// and dropped; maxTrailer bounds the trailer section.
func (c *ChunkedReader) Reset(src LineReader, trailer *http.Header, maxTrailer int) {
	*c = ChunkedReader{src: src, trailer: trailer, maxTrailer: maxTrailer}
}

// Done reports whether the body was read to its end.
func (c *ChunkedReader) Done() bool { return c.st == chEOF }

// Read implements io.Reader.
func (c *ChunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.read(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *ChunkedReader) read(p []byte) (int, error) {
	for {
		switch c.st {
		case chEOF:
			return 0, io.EOF
		case chSize:
			line, err := c.src.ReadLine(MaxChunkLine)
			if err != nil {
				return 0, lineErr(err, errChunkLine)
			}
			size, ok := parseChunkSize(line)
			if !ok {
				return 0, errChunkSize
			}
			if size == 0 {
				if err := c.readTrailer(); err != nil {
					return 0, err
				}
				c.st = chEOF
				return 0, io.EOF
			}
			c.remain, c.st = size, chData
		case chEnd:
			line, err := c.src.ReadLine(2)
			if err != nil {
				return 0, lineErr(err, errChunkEnd)
			}
			if len(line) != 2 || line[0] != '\r' {
				return 0, errChunkEnd
			}
			c.st = chSize
		case chData:
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > c.remain {
				p = p[:c.remain]
			}
			n, err := c.src.Read(p)
			c.remain -= int64(n)
			if c.remain == 0 {
				c.st = chEnd
			}
			if err == io.EOF {
				if n > 0 {
					err = nil
				} else {
					err = io.ErrUnexpectedEOF
				}
			}
			return n, err
		}
	}
}

// lineErr maps a LineReader failure: a line too long is malformed framing,
// the end of the stream is unexpected, I/O errors stay.
func lineErr(err error, tooLong badChunk) error {
	switch err {
	case ErrLineTooLong:
		return tooLong
	case io.EOF:
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseChunkSize parses a size line with its LF: 1*16 HEXDIG no larger than
// 2^62, then OWS or ";" and an extension without control bytes other than
// HTAB, then CRLF.
func parseChunkSize(line []byte) (int64, bool) {
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, false
	}
	line = line[:len(line)-2]
	var size uint64
	i := 0
	for ; i < len(line); i++ {
		v := HexDigit(line[i])
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
		return int64(size), ValidValue(rest[1:])
	}
	return int64(size), len(TrimOWS(rest)) == 0
}

// readTrailer reads the trailer section after the last chunk: tchar name,
// colon, value without control bytes other than HTAB, CRLF; at most
// maxTrailer bytes in all.
func (c *ChunkedReader) readTrailer() error {
	budget := c.maxTrailer
	for {
		line, err := c.src.ReadLine(budget)
		if err != nil {
			return lineErr(err, errTrailerSize)
		}
		budget -= len(line)
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return errTrailerCRLF
		}
		line = line[:len(line)-2]
		if len(line) == 0 {
			return nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return errTrailerLine
		}
		name, value := line[:colon], line[colon+1:]
		if !ValidToken(name) {
			return errTrailerName
		}
		if !ValidValue(value) {
			return errTrailerValue
		}
		if c.trailer != nil {
			if *c.trailer == nil {
				*c.trailer = make(http.Header)
			}
			c.trailer.Add(string(name), string(TrimOWS(value)))
		}
	}
}

// AppendChunkSize appends the size line of a chunk of n > 0 bytes. The data
// follows, then CRLF; [LastChunk] ends the body.
func AppendChunkSize(b []byte, n int) []byte {
	b = strconv.AppendUint(b, uint64(n), 16)
	return append(b, '\r', '\n')
}

// LastChunk is the last chunk and the end of a chunked body without trailer
// fields. With trailer fields, write "0\r\n", the fields, then CRLF.
const LastChunk = "0\r\n\r\n"
