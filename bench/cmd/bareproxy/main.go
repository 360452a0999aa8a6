// Command bareproxy is the "bare Go reverse proxy" baseline of issue 9: a
// net/http/httputil.ReverseProxy with no policy at all, tuned the way a
// careful engineer would tune it (large idle pool per host, pooled copy
// buffers). Rampart's goal is to spend less CPU per request than this with its
// full policy on, so this must be a fair, not a naive, baseline.
//
//	bareproxy -listen 127.0.0.1:18001 -upstream http://127.0.0.1:18000
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// bufferPool is an httputil.BufferPool over sync.Pool. Without it every
// response copy allocates a fresh 32 KiB buffer (about 25% more CPU per
// request in the measurements).
type bufferPool struct{ p sync.Pool }

func newBufferPool(size int) *bufferPool {
	bp := &bufferPool{}
	bp.p.New = func() any {
		b := make([]byte, size)
		return &b
	}
	return bp
}

func (bp *bufferPool) Get() []byte { return *(bp.p.Get().(*[]byte)) }

func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }

func main() {
	listen := flag.String("listen", "127.0.0.1:18001", "address to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:18000", "upstream base URL")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		log.Fatalf("bareproxy: bad -upstream %q", *upstream)
	}
	transport := &http.Transport{
		Proxy: nil, // never consult HTTP_PROXY: everything is on loopback
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		// One idle connection per concurrent client request is needed to
		// never re-dial under load; the default (2 per host) would make the
		// baseline pay for TCP handshakes on most requests.
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   4096,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // forward bytes as they are, like nginx
		ForceAttemptHTTP2:     false,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport:  transport,
		BufferPool: newBufferPool(32 * 1024),
		ErrorLog:   log.Default(),
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           rp,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
	}
	log.Fatal(srv.ListenAndServe())
}
