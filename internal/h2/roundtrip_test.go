package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

func TestGet(t *testing.T) {
	ts := startTLS(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Proto != "HTTP/2.0" || r.ProtoMajor != 2 || r.TLS == nil || r.RemoteAddr == "" {
			t.Errorf("request %+v", r)
		}
		w.Header().Set("X-Path", r.URL.Path)
		io.WriteString(w, "hello "+r.Host)
	})})
	c := h2Client(t)
	resp, err := c.Get(ts.url("/a/b?x=1"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello "+ts.addr || resp.Header.Get("X-Path") != "/a/b" ||
		resp.ContentLength != int64(len(body)) || resp.Header.Get("Date") == "" {
		t.Fatalf("%d %q %v cl=%d", resp.StatusCode, body, resp.Header, resp.ContentLength)
	}
}

// echoServer answers with the request body's length, its bytes and the
// declared content length.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(500)
		return
	}
	w.Header().Set("X-Len", strconv.Itoa(len(body)))
	w.Header().Set("X-CL", strconv.FormatInt(r.ContentLength, 10))
	w.Write(body)
}

func TestPostBodies(t *testing.T) {
	ts := startTLS(t, &Server{Handler: http.HandlerFunc(echoHandler)})
	c := h2Client(t)
	for _, n := range []int{0, 1, 5000, 300 << 10, 3 << 20} {
		for _, withCL := range []bool{true, false} {
			body := bytes.Repeat([]byte("abcdefghij"), n/10+1)[:n]
			var rd io.Reader = bytes.NewReader(body)
			if !withCL {
				rd = io.NopCloser(rd) // unknown length
			}
			req, _ := http.NewRequest("POST", ts.url("/post"), rd)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(n, withCL, err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantCL := strconv.Itoa(n)
			if !withCL {
				wantCL = "-1"
			}
			if err != nil || !bytes.Equal(got, body) || resp.Header.Get("X-CL") != wantCL {
				t.Fatalf("n=%d cl=%v: err %v, got %d bytes, X-CL %s want %s", n, withCL, err, len(got), resp.Header.Get("X-CL"), wantCL)
			}
		}
	}
}

// TestStreamingBothWays: the handler echoes each chunk as it arrives, the
// client writes the next only after reading the previous echo.
func TestStreamingBothWays(t *testing.T) {
	ts := startTLS(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		buf := make([]byte, 1024)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
				if err := http.NewResponseController(w).Flush(); err != nil {
					t.Error(err)
					return
				}
			}
			if err != nil {
				return
			}
		}
	})})
	c := h2Client(t)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", ts.url("/duplex"), pr)
	respc := make(chan *http.Response, 1)
	go func() {
		resp, err := c.Do(req)
		if err != nil {
			t.Error(err)
			pw.CloseWithError(err)
			respc <- nil
			return
		}
		respc <- resp
	}()
	pw.Write([]byte("ping 0"))
	resp := <-respc
	if resp == nil {
		t.FailNow()
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	for i := 0; i < 20; i++ {
		want := fmt.Sprintf("ping %d", i)
		if i > 0 {
			pw.Write([]byte(want))
		}
		if _, err := io.ReadFull(resp.Body, buf[:len(want)]); err != nil || string(buf[:len(want)]) != want {
			t.Fatalf("echo %d: %q %v", i, buf[:len(want)], err)
		}
	}
	pw.Close()
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
		t.Fatalf("rest %q %v", rest, err)
	}
}

func TestTrailers(t *testing.T) {
	ts := startTLS(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Trailer", "X-Sum")
		w.WriteHeader(200)
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "got "+r.Trailer.Get("X-Req-Trailer"))
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	})})
	c := h2Client(t)
	req, _ := http.NewRequest("POST", ts.url("/t"), io.NopCloser(strings.NewReader("data")))
	req.Trailer = http.Header{"X-Req-Trailer": {"rt"}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "body" || resp.Trailer.Get("X-Sum") != "got rt" || resp.Trailer.Get("X-Late") != "late" {
		t.Fatalf("body %q trailer %v", body, resp.Trailer)
	}
}

func TestConcurrentStreams(t *testing.T) {
	const n = 100
	var arrived sync.WaitGroup
	arrived.Add(n)
	release := make(chan struct{})
	ts := startTLS(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-release
		io.WriteString(w, r.URL.Path)
	})})
	c := h2Client(t)
	var done sync.WaitGroup
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			p := fmt.Sprintf("/%d", i)
			resp, err := c.Get(ts.url(p))
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != p {
				t.Errorf("%q != %q", b, p)
			}
		}()
	}
	arrived.Wait() // all 100 handlers run at once
	close(release)
	done.Wait()
}

func TestHead(t *testing.T) {
	ts := startTLS(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "twelve bytes")
	})})
	c := h2Client(t)
	resp, err := c.Head(ts.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(b) != 0 || resp.ContentLength != 12 {
		t.Fatalf("%q %d", b, resp.ContentLength)
	}
}

func TestInformational(t *testing.T) {
	ts := startTLS(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	})})
	c := h2Client(t)
	var got []string
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got = append(got, fmt.Sprint(code, " ", h.Get("Link")))
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.url("/"), nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "final" || len(got) != 1 || got[0] != "103 </style.css>; rel=preload" || resp.Header.Get("Link") != "" {
		t.Fatalf("%q %v %v", b, got, resp.Header)
	}
}

func TestPanicResetsOnlyItsStream(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	ts := startTLS(t, &Server{Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				io.WriteString(w, "partial")
				panic("boom")
			}
			io.WriteString(w, "fine")
		})})
	c := h2Client(t)
	if resp, err := c.Get(ts.url("/panic")); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Fatal("panicking handler's response read without error")
		}
	}
	resp, err := c.Get(ts.url("/ok"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "fine" {
		t.Fatalf("%q", b)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "boom") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestClientResetCancelsContext(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan error, 1)
	ts := startTLS(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		cancelled <- r.Context().Err()
	})})
	c := h2Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.url("/"), nil)
	go func() {
		<-started
		cancel()
	}()
	if _, err := c.Do(req); err == nil {
		t.Fatal("no error")
	}
	if err := <-cancelled; err != context.Canceled {
		t.Fatal(err)
	}
}

// TestContextValues: ServeConn's context is the base of the request's.
func TestContextValues(t *testing.T) {
	type key struct{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan any, 1)
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Context().Value(key{})
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.ServeConn(context.WithValue(context.Background(), key{}, "v"), c)
	}()
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return net.Dial(network, addr)
	}}
	resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := <-got; v != "v" {
		t.Fatalf("%v", v)
	}
	tr.CloseIdleConnections()
	<-done
}

// TestShutdownTLS: over TLS (where the reader's deadline interrupts a
// tls.Conn read) the open request finishes, later ones go elsewhere, and
// Shutdown returns once the connection closed.
func TestShutdownTLS(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	s := &Server{IdleTimeout: time.Hour, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "done")
	})}
	ts := startTLS(t, s)
	c := h2Client(t)
	got := make(chan string, 1)
	go func() {
		resp, err := c.Get(ts.url("/"))
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	// The request keeps working while the GOAWAY is handled: a second
	// Shutdown interrupt must not break the TLS stream.
	s.mu.Lock()
	for c := range s.conns {
		c.startShutdown()
	}
	s.mu.Unlock()
	close(release)
	if b := <-got; b != "done" {
		t.Fatal(b)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
