package h1

import (
	"bufio"
	"bytes"
	"github.com/rampart-gw/rampart/internal/rawhttp"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/framing"
)

// benchBody is a 194-byte JSON document.
var benchBody = []byte(`{"id":42,"name":"Widget","price":19.99,"currency":"EUR","tags":["tools","garden"],"stock":{"warehouse":"north","count":1337},"updated":"2026-12-03T12:00:00Z","links":{"self":"/items/42"}}`)

const benchRequest = "GET /api/v1/items/42?expand=stock HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench/1.0\r\nAccept: application/json\r\nAccept-Encoding: gzip\r\n\r\n"

func benchHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(benchBody)
}

func benchServe(b *testing.B, serve func(net.Listener), stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go serve(ln)
	defer stop()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte(benchRequest)
	buf := make([]byte, 4096)
	if err := rawhttp.RoundTrip(c, req, buf); err != nil { // warm up
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		if err := rawhttp.RoundTrip(c, req, buf); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time of the whole process (server and client) per request: the
	// loopback round trip dominates ns/op, not the server's work.
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkKeepAliveGET: one keep-alive loopback client sending GETs; the
// same handler on this server and on net/http's, in the same run. The
// allocations include the client's (none).
func BenchmarkKeepAliveGET(b *testing.B) {
	timeouts := func(s *Server) {
		s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout = 10*time.Second, 30*time.Second, 30*time.Second, 60*time.Second
	}
	for _, tc := range []struct {
		name      string
		timed     bool
		parkAfter time.Duration
	}{
		{"h1", true, 0},
		{"h1-no-timeouts", false, 0},
		// Parked between every two requests (where parking exists): the
		// cost of a park and a wake-up.
		{"h1-park-each", true, time.Nanosecond},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := &Server{Handler: http.HandlerFunc(benchHandler), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ParkAfter: tc.parkAfter}
			if tc.timed {
				timeouts(srv)
			}
			benchServe(b, func(ln net.Listener) { srv.Serve(ln) }, func() { srv.Close() })
		})
	}
	b.Run("net-http", func(b *testing.B) {
		srv := &http.Server{Handler: http.HandlerFunc(benchHandler), ErrorLog: log.New(io.Discard, "", 0),
			ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second}
		benchServe(b, func(ln net.Listener) { srv.Serve(ln) }, func() { srv.Close() })
	})
}

// BenchmarkParseHead: the strict scan and the head→Request conversion of a
// browser-like head.
func BenchmarkParseHead(b *testing.B) {
	head := []byte(parseBenchHead)
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	var r http.Request
	var u = new(url.URL)
	for i := 0; i < b.N; i++ {
		n, reason := framing.ScanHead(head, 16<<10)
		if n != len(head) || reason != "" {
			b.Fatal(n, reason)
		}
		r = http.Request{}
		if _, reason := parseHead(string(head[:n]), &r, u); reason != "" {
			b.Fatal(reason)
		}
	}
}

// BenchmarkParseHeadNetHTTP is net/http's parser on the same head, for
// comparison.
func BenchmarkParseHeadNetHTTP(b *testing.B) {
	head := []byte(parseBenchHead)
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	rd := bytes.NewReader(head)
	br := bufio.NewReader(rd)
	for i := 0; i < b.N; i++ {
		rd.Reset(head)
		br.Reset(rd)
		if _, err := http.ReadRequest(br); err != nil {
			b.Fatal(err)
		}
	}
}

const parseBenchHead = "GET /api/v1/items/42?expand=stock HTTP/1.1\r\nHost: shop.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\r\n" +
	"Accept: application/json, text/plain, */*\r\nAccept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc\r\n" +
	"Connection: keep-alive\r\nCookie: session=abc123; theme=dark\r\nsec-fetch-dest: empty\r\n" +
	"sec-fetch-mode: cors\r\nsec-fetch-site: same-origin\r\nX-Request-Id: 0f8fad5b-d9cb-469f-a165-70867728950e\r\n\r\n"
