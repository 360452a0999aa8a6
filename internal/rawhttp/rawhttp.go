// Package rawhttp is HTTP/1.1 over bare loopback sockets for benchmarks:
// a client round trip and an upstream that allocate nothing per request,
// so that only the code under test is measured. It parses just enough for
// that (a 200 with a Content-Length) and is no HTTP implementation.
package rawhttp

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
)

// RoundTrip writes req on c and reads one 200 response with a
// Content-Length into buf, which must hold it whole.
func RoundTrip(c net.Conn, req, buf []byte) error {
	if _, err := c.Write(req); err != nil {
		return err
	}
	n := 0
	for {
		k, err := c.Read(buf[n:])
		n += k
		if err != nil {
			return err
		}
		i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
		if i < 0 {
			continue
		}
		if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 ")) {
			return errors.New("not a 200: " + string(buf[:i]))
		}
		j := bytes.Index(buf[:i], []byte("Content-Length: "))
		if j < 0 {
			return errors.New("no Content-Length")
		}
		j += len("Content-Length: ")
		e := j + bytes.IndexByte(buf[j:i+2], '\r')
		cl, err := strconv.Atoi(string(buf[j:e]))
		if err != nil {
			return err
		}
		if n == i+4+cl {
			return nil
		}
		if n > i+4+cl {
			return errors.New("extra bytes")
		}
	}
}

// Upstream answers every request head (bodies are not read) with answer,
// keep-alive, until the test ends; it returns "http://127.0.0.1:port".
func Upstream(tb testing.TB, answer []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 4096)
				for {
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) == 2 {
							break
						}
					}
					if _, err := c.Write(answer); err != nil {
						return
					}
				}
			})
		}
	})
	return "http://" + ln.Addr().String()
}

// Answer is a keep-alive 200 with a JSON body, as Upstream sends it.
func Answer(body string) []byte {
	return []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Thu, 03 Dec 2026 19:47:22 GMT\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}
