// Command floorproxy is the "Go floor" of bench/run: the least a Go
// program with one goroutine per connection and plain net.Conn does to
// proxy the benchmark's request. It reads a request head (a GET without a
// body), writes it to its own upstream connection, reads the response head
// and its Content-Length body, and writes them back: no HTTP parsing beyond
// finding the end of the head and the length, no policy, no log.
//
// It is not a proxy anyone should run (no chunked bodies, no request
// bodies, no limits, no timeouts). It is there to split a Go proxy's cost
// per request into what the runtime's model costs (goroutines parked and
// woken through the netpoller, net.Conn's reads that fail with EAGAIN
// first) and what the proxy's own work adds: issue 21 compares Rampart with
// nginx, and this row says how much of the difference a Go program pays
// before doing any HTTP work at all.
//
//	floorproxy -listen 127.0.0.1:18002 -upstream 127.0.0.1:18000
package main

import (
	"bytes"
	"flag"
	"log"
	"net"
	"strconv"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18002", "address to listen on")
	upstream := flag.String("upstream", "127.0.0.1:18000", "upstream host:port")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c, *upstream)
	}
}

var (
	endOfHead     = []byte("\r\n\r\n")
	contentLength = []byte("content-length:")
)

// serve proxies one client connection over one upstream connection of its
// own, request by request, until either side closes or misbehaves.
func serve(c net.Conn, upstream string) {
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		log.Print(err)
		return
	}
	defer u.Close()
	req := make([]byte, 16<<10)
	resp := make([]byte, 64<<10)
	for {
		n, ok := readHead(c, req)
		if !ok {
			return
		}
		if _, err := u.Write(req[:n]); err != nil {
			return
		}
		m, ok := readResponse(u, resp)
		if !ok {
			return
		}
		if _, err := c.Write(resp[:m]); err != nil {
			return
		}
	}
}

// readHead reads until buf holds a whole request head; it reports its length.
func readHead(c net.Conn, buf []byte) (int, bool) {
	n := 0
	for n < len(buf) {
		k, err := c.Read(buf[n:])
		if err != nil {
			return 0, false
		}
		n += k
		if bytes.Contains(buf[:n], endOfHead) {
			return n, true
		}
	}
	return 0, false
}

// readResponse reads a response head and its Content-Length body into buf.
func readResponse(c net.Conn, buf []byte) (int, bool) {
	n, want := 0, -1
	for n < len(buf) {
		k, err := c.Read(buf[n:])
		if err != nil {
			return 0, false
		}
		n += k
		if want < 0 {
			end := bytes.Index(buf[:n], endOfHead)
			if end < 0 {
				continue
			}
			cl, ok := lengthOf(buf[:end+2])
			if !ok || end+4+cl > len(buf) {
				return 0, false
			}
			want = end + 4 + cl
		}
		if n >= want {
			return n, n == want
		}
	}
	return 0, false
}

// lengthOf finds the Content-Length field in a response head (its lines
// end with CRLF) without allocating.
func lengthOf(head []byte) (int, bool) {
	for len(head) > 0 {
		i := bytes.Index(head, []byte("\r\n"))
		if i < 0 {
			return 0, false
		}
		line := head[:i]
		head = head[i+2:]
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			n, err := strconv.Atoi(string(bytes.TrimSpace(line[len(contentLength):])))
			return n, err == nil && n >= 0
		}
	}
	return 0, false
}
