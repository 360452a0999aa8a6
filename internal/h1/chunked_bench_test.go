package h1

import (
	"github.com/rampart-gw/rampart/internal/rawhttp"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkChunkedPOST: one keep-alive client posting an 8 KiB body in 1 KiB
// chunks with a trailer; the handler reads it all (the chunked decoder's hot
// path: size lines, data, CRLFs, trailer).
func BenchmarkChunkedPOST(b *testing.B) {
	var body strings.Builder
	for i := 0; i < 8; i++ {
		body.WriteString("400\r\n" + strings.Repeat("x", 1024) + "\r\n")
	}
	body.WriteString("0\r\nX-Checksum: 42\r\n\r\n")
	req := []byte("POST /api/v1/items HTTP/1.1\r\nHost: bench.example\r\nTransfer-Encoding: chunked\r\n\r\n" + body.String())
	srv := &Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf [4096]byte
		n := 0
		for {
			k, err := r.Body.Read(buf[:])
			n += k
			if err != nil {
				break
			}
		}
		if n != 8192 || r.Trailer.Get("X-Checksum") != "42" {
			w.WriteHeader(http.StatusBadRequest)
		}
		w.Write(benchBody)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4096)
	if err := rawhttp.RoundTrip(c, req, buf); err != nil {
		b.Fatal(err)
	}
	if !strings.HasPrefix(string(buf), "HTTP/1.1 200") {
		b.Fatalf("response %q", buf[:20])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := rawhttp.RoundTrip(c, req, buf); err != nil {
			b.Fatal(err)
		}
	}
}
