package framing

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
)

// FuzzConn feeds arbitrary bytes through the wrapper, in writes of chunk+1
// bytes and reads of rsize+1 bytes, and checks that
//
//   - Read never panics and ends (every call returns bytes or an error);
//   - what it releases is a prefix of the input, or such a prefix followed
//     by one synthetic reject head, which is followed by io.EOF;
//   - net/http, reading the released bytes as its server does, never reads
//     a request where the wrapper did not validate a head: its framing of
//     every body agrees with the wrapper's, it meets the synthetic head
//     exactly where the refused head was, and every head the wrapper passed
//     through is one it refuses.
func FuzzConn(f *testing.F) {
	for _, a := range attacks {
		f.Add([]byte(a.payload), uint8(255), uint8(255))
		f.Add([]byte(a.payload), uint8(2), uint8(6))
	}
	f.Add([]byte(getHead+"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nA: b\r\n\r\n\r\n"+getHead), uint8(0), uint8(3))

	f.Fuzz(func(t *testing.T, data []byte, chunk, rsize uint8) {
		const limit = 1024
		type event struct {
			off int64
			v   verdict
		}
		var events []event
		c := newConn(&memConn{data: data, chunk: int(chunk) + 1}, limit)
		c.onHead = func(off int64, v verdict) { events = append(events, event{off, v}) }
		out, err := readAll(t, c, int(rsize)+1, len(data)+200)

		// The shape of what was released.
		rejectAt := int64(-1)
		for i, e := range events {
			if e.v == headReject {
				if i != len(events)-1 {
					t.Fatalf("head decisions after a rejection: %v", events)
				}
				rejectAt = e.off
			}
		}
		prefix := out
		if rejectAt >= 0 {
			if rejectAt > int64(len(out)) {
				t.Fatalf("rejection at %d, but only %d bytes released", rejectAt, len(out))
			}
			prefix = out[:rejectAt]
			if !isRejectHead(out[rejectAt:]) {
				t.Fatalf("released %q after the valid prefix, want a reject head", out[rejectAt:])
			}
			if err != io.EOF {
				t.Fatalf("error after the reject head: %v, want io.EOF", err)
			}
		} else if err != io.EOF && !errors.Is(err, ErrBadChunk) {
			t.Fatalf("error %v, want io.EOF or ErrBadChunk", err)
		}
		if !bytes.HasPrefix(data, prefix) {
			t.Fatalf("released bytes are not a prefix of the input:\n in %q\nout %q", data, out)
		}

		// net/http's view of the released bytes.
		decided := make(map[int64]verdict, len(events))
		for _, e := range events {
			decided[e.off] = e.v
		}
		cr := &countingReader{r: bytes.NewReader(out)}
		br := bufio.NewReader(cr)
		lastPOST := false
		for {
			start := cr.n - int64(br.Buffered())
			if lastPOST { // as http.Server does
				peek, _ := br.Peek(4)
				br.Discard(numLeadingCRorLF(peek))
			}
			req, err := http.ReadRequest(br)
			if err != nil {
				break // the server answers 400 and closes
			}
			if req.ProtoMajor != 1 {
				break // the server answers 505, or it is HTTP/2's preface
			}
			v, ok := decided[start]
			switch {
			case ok && v == headOK:
			case ok && v == headReject && start == rejectAt && req.Method == RejectMethod:
				return
			default:
				t.Fatalf("net/http read %s %s at offset %d, where the wrapper decided %v (decided: %v)\nreleased: %q",
					req.Method, req.RequestURI, start, v, ok, out)
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				break
			}
			lastPOST = req.Method == "POST"
		}
	})
}

func isRejectHead(b []byte) bool {
	s, ok := bytes.CutPrefix(b, []byte(RejectMethod+" /"))
	if !ok {
		return false
	}
	reason, _, _ := bytes.Cut(s, []byte(" "))
	switch string(reason) {
	case ReasonCLAndTE, ReasonBadTransferEncoding, ReasonTEOnHTTP10,
		ReasonObsFold, ReasonBadContentLength, ReasonHeaderTooLarge,
		ReasonSpaceBeforeColon, ReasonBadHeaderLine, ReasonBadTarget, ReasonBadHeaderValue, ReasonBadHost:
		return string(b) == rejectHead(string(reason))
	}
	return false
}

// numLeadingCRorLF is net/http's (server.go).
func numLeadingCRorLF(v []byte) (n int) {
	for _, b := range v {
		if b == '\r' || b == '\n' {
			n++
			continue
		}
		break
	}
	return
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
