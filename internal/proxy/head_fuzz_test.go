package proxy

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/framing"
)

var headSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nbody",
	"HTTP/1.1 200\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	"HTTP/1.1 200 OK\r\nX-A: \xff\xfe\r\nContent-Length: 0\r\n\r\n",
}

// FuzzResponseHead: the parser never panics, never accepts both framings,
// and whatever it accepts net/http reads the same way.
func FuzzResponseHead(f *testing.F) {
	for _, s := range headSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h respHead
		br := bufio.NewReaderSize(bytes.NewReader(data), readBufSize)
		if err := h.read(br); err != nil {
			return
		}
		if h.chunked && h.contentLength >= 0 {
			t.Fatalf("accepted both Content-Length and chunked: %q", data)
		}
		if h.status < 200 || h.status > 599 || h.status == 101 {
			t.Fatalf("final status %d", h.status)
		}
		for i := range h.fields {
			f := &h.fields[i]
			k, v := h.key(f), h.value(f)
			if k != http.CanonicalHeaderKey(k) || !framing.ValidToken(k) || !framing.ValidValue(v) || strings.TrimSpace(v) != strings.Trim(v, " \t") {
				t.Fatalf("field %q: %q", k, v)
			}
		}
		if h.heads != 1 {
			return // net/http returns the 1xx itself
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("accepted what net/http refuses (%v): %q", err, data)
		}
		if resp.StatusCode != h.status {
			t.Fatalf("status %d, net/http %d", h.status, resp.StatusCode)
		}
		noBody := h.status == 204 || h.status == 304
		if h.chunked != (len(resp.TransferEncoding) == 1 && !noBody) && !noBody {
			t.Fatalf("chunked %v, net/http %v", h.chunked, resp.TransferEncoding)
		}
		if !noBody && !h.chunked && resp.ContentLength != h.contentLength {
			t.Fatalf("length %d, net/http %d: %q", h.contentLength, resp.ContentLength, data)
		}
	})
}
