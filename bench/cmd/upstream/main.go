// Command upstream is the backend every benchmark target proxies to: it
// answers any request with the same 194-byte JSON body, keep-alive, with an
// explicit Content-Length (no chunking), so the only thing that changes
// between targets is the proxy in front of it. It reads and drops request
// bodies (the upload targets send 1 MiB), and GET /download answers 10 MiB
// (-download bytes) of zeros for the download targets.
//
//	upstream -listen 127.0.0.1:18000
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"
)

// body is the response of every request: a typical small API object. Its size
// is part of the benchmark's definition (the reference figures in issue 9 are
// for a 194-byte response), so main refuses to start if an edit changes it.
const body = `{"id":42,"sku":"HB-M8-40","name":"Hex bolt M8x40, zinc plated DIN","qty":120,"price_cents":35,"warehouse":"north-2","tags":["fastener","steel"],"active":true,"updated_at":"2026-01-15T09:30:00Z"}`

const bodySize = 194

func main() {
	listen := flag.String("listen", "127.0.0.1:18000", "address to listen on")
	download := flag.Int("download", 10<<20, "size of the GET /download answer, bytes")
	flag.Parse()
	if len(body) != bodySize {
		log.Fatalf("upstream: body is %d bytes, the benchmark is defined for %d", len(body), bodySize)
	}
	payload := []byte(body)
	// Header values are built once: the upstream should cost as little and as
	// constant CPU as possible, since it shares a core with wrk.
	ctype := []string{"application/json"}
	clen := []string{strconv.Itoa(len(payload))}
	big := make([]byte, *download)
	bigType := []string{"application/octet-stream"}
	bigLen := []string{strconv.Itoa(len(big))}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		if r.Body != http.NoBody {
			_, _ = io.Copy(io.Discard, r.Body) // keep the connection: a body left unread closes it
		}
		if r.URL.Path == "/download" {
			hdr["Content-Type"] = bigType
			hdr["Content-Length"] = bigLen
			_, _ = w.Write(big)
			return
		}
		hdr["Content-Type"] = ctype
		hdr["Content-Length"] = clen
		_, _ = w.Write(payload)
	})
	srv := &http.Server{
		Addr:              *listen,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute, // keep proxies' pooled connections alive between rounds
	}
	log.Fatal(srv.ListenAndServe())
}
