package framing

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
	"testing/iotest"
)

func decode(data string, bufSize int, trailer *http.Header) ([]byte, error) {
	var c ChunkedReader
	c.Reset(BufioLines{bufio.NewReaderSize(strings.NewReader(data), bufSize)}, trailer, 1024)
	return io.ReadAll(&c)
}

func TestChunkedReader(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error // nil, ErrBadChunk or io.ErrUnexpectedEOF
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", nil},
		{"extensions and trailer", "4;ext=1\r\nWiki\r\n5;a=\"b;c\"\r\npedia\r\n0;last\r\nX-T: v\r\n\r\n", "Wikipedia", nil},
		{"whitespace after the size", "5 \t\r\nhello\r\n0\r\n\r\n", "hello", nil},
		{"sixteen digits with leading zeros", "0000000000000005\r\nhello\r\n0\r\n\r\n", "hello", nil},
		{"upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", nil},
		{"size not hex", "zz\r\nabc\r\n0\r\n\r\n", "", ErrBadChunk},
		{"negative size", "-5\r\nhello\r\n0\r\n\r\n", "", ErrBadChunk},
		{"seventeen digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", "", ErrBadChunk},
		{"size above 2^62", "4000000000000001\r\n", "", ErrBadChunk},
		{"space before ;", "5 ;a\r\nhello\r\n0\r\n\r\n", "", ErrBadChunk},
		{"control byte in extension", "5;a=\x00\r\nhello\r\n0\r\n\r\n", "", ErrBadChunk},
		{"bare LF after the size", "5\nhello\r\n0\r\n\r\n", "", ErrBadChunk},
		{"bare CR in extension", "5;a=\rb\r\nhello\r\n0\r\n\r\n", "", ErrBadChunk},
		{"data longer than declared", "3\r\nabcdef\r\n0\r\n\r\n", "abc", ErrBadChunk},
		{"bare LF after data", "5\r\nhello\n0\r\n\r\n", "hello", ErrBadChunk},
		{"size line too long", "5;" + strings.Repeat("a", MaxChunkLine) + "\r\nhello\r\n0\r\n\r\n", "", ErrBadChunk},
		{"trailer obs-fold", "5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n", "hello", ErrBadChunk},
		{"trailer without colon", "3\r\nabc\r\n0\r\nBad Trailer\r\n\r\n", "abc", ErrBadChunk},
		{"trailer section too large", "0\r\nX-T: " + strings.Repeat("a", 2000) + "\r\n\r\n", "", ErrBadChunk},
		{"ends inside a chunk", "10\r\nhello", "hello", io.ErrUnexpectedEOF},
		{"ends before the last chunk", "5\r\nhello\r\n", "hello", io.ErrUnexpectedEOF},
		{"ends before the final CRLF", "5\r\nhello\r\n0\r\n", "hello", io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decode(tc.in, 8192, nil)
			if string(got) != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("got %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
			// One byte at a time: the same verdict.
			var c ChunkedReader
			c.Reset(BufioLines{bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(tc.in)), 8192)}, nil, 1024)
			got, err = io.ReadAll(&c)
			if string(got) != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("one byte at a time: got %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestChunkedReaderTrailer(t *testing.T) {
	var tr http.Header
	got, err := decode("3\r\nabc\r\n0\r\nx-checksum: 42 \r\nX-Other:a b\r\n\r\n", 8192, &tr)
	if string(got) != "abc" || err != nil {
		t.Fatalf("got %q, %v", got, err)
	}
	if tr.Get("X-Checksum") != "42" || tr.Get("X-Other") != "a b" || len(tr) != 2 {
		t.Errorf("trailer %v", tr)
	}
}

func TestAppendChunkSize(t *testing.T) {
	var b []byte
	for _, p := range []string{"hello", strings.Repeat("x", 300)} {
		b = AppendChunkSize(b, len(p))
		b = append(b, p...)
		b = append(b, "\r\n"...)
	}
	b = append(b, LastChunk...)
	got, err := decode(string(b), 8192, nil)
	if err != nil || string(got) != "hello"+strings.Repeat("x", 300) {
		t.Fatalf("round trip: %q, %v", got, err)
	}
}

var chunkSeeds = []string{
	"0\r\n\r\n",
	"5 ;a\r\nhello\r\n0\r\n\r\n",
	"5\r\nhello\r\n0\r\n\r\n",
	"4;ext=1\r\nWiki\r\n5;a\r\npedia\r\n0\r\nX-T: v\r\n\r\n",
	"zz\r\nabc\r\n0\r\n\r\n",
	"5\r\nhelloXX0\r\n\r\n",
	"fffffffffffffffff\r\n",
	"5\nhello\n0\n\n",
	"3\r\nabc\r\n0\r\nBad Trailer\r\n\r\n",
	"A\r\n0123456789\r\n0\r\n\r\n",
}

// FuzzChunkedReader: the decoder never panics, and what it accepts decodes to
// the same bytes as net/http's own chunked reader, whatever the buffer size.
// (It replaces the forwarder's FuzzChunked: both sides use this decoder.)
func FuzzChunkedReader(f *testing.F) {
	for _, s := range chunkSeeds {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		got, err := decode(string(data), 16+int(size)*64, nil)
		if err != nil {
			return
		}
		want, werr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(data)))
		if werr != nil {
			t.Fatalf("accepted what net/http refuses (%v): %q", werr, data)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("decoded %q, net/http %q", got, want)
		}
	})
}
