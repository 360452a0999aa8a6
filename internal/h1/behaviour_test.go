package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readHead reads a raw response head (status line and fields) as text.
func readRawHead(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var sb strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading head: %v (so far %q)", err, sb.String())
		}
		sb.WriteString(line)
		if line == "\r\n" {
			return sb.String()
		}
	}
}

func TestHTTP10KeepAlive(t *testing.T) {
	addr, rec := startServer(t, nil)
	for _, tc := range []struct {
		name, req string
		keep      bool
	}{
		{"without-keep-alive", "POST /ten HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", false},
		{"with-keep-alive", "POST /ten HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dial(t, addr)
			write(t, c, tc.req)
			resp, body := readFull(t, br, "POST")
			if resp.StatusCode != 200 || body != "ok" || resp.Proto != "HTTP/1.0" {
				t.Fatalf("got %s %d %q", resp.Proto, resp.StatusCode, body)
			}
			if !tc.keep {
				expectClosed(t, br)
				return
			}
			if resp.Header.Get("Connection") != "keep-alive" || resp.ContentLength != 2 {
				t.Errorf("Connection %q, Content-Length %d", resp.Header.Get("Connection"), resp.ContentLength)
			}
			write(t, c, "GET /again HTTP/1.0\r\n\r\n")
			if status, _ := readResponse(t, br); status != 200 {
				t.Fatalf("second: %d", status)
			}
			expectClosed(t, br)
		})
	}
	if n := len(rec.records()); n != 3 {
		t.Errorf("recorded %d requests, want 3", n)
	}
}

func TestExpectContinue(t *testing.T) {
	t.Run("sent-on-first-body-read", func(t *testing.T) {
		addr, rec := startServer(t, nil)
		c, br := dial(t, addr)
		write(t, c, "POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		if head := readRawHead(t, br); head != "HTTP/1.1 100 Continue\r\n\r\n" {
			t.Fatalf("got %q, want 100 Continue", head)
		}
		write(t, c, "hello")
		if status, body := readResponse(t, br); status != 200 || body != "ok" {
			t.Fatalf("got %d %q", status, body)
		}
		if got := rec.records(); len(got) != 1 || got[0].Body != "hello" {
			t.Errorf("recorded %+v", got)
		}
		write(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // still open
		if status, _ := readResponse(t, br); status != 200 {
			t.Fatal(status)
		}
	})
	t.Run("not-sent-when-body-unread", func(t *testing.T) {
		addr := startHandler(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
		})
		c, br := dial(t, addr)
		write(t, c, "POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		resp, _ := readFull(t, br, "POST")
		if resp.StatusCode != 403 || !resp.Close {
			t.Fatalf("got %d, close %v", resp.StatusCode, resp.Close)
		}
		expectClosed(t, br)
	})
}

func TestBodyShorterThanDeclared(t *testing.T) {
	addr, rec := startServer(t, nil)
	c, br := dial(t, addr)
	write(t, c, "POST /short HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
	c.(*net.TCPConn).CloseWrite()
	if status, body := readResponse(t, br); status != 400 || body != "body-error" {
		t.Fatalf("got %d %q", status, body)
	}
	expectClosed(t, br)
	if got := rec.records(); len(got) != 0 {
		t.Errorf("recorded %+v", got)
	}
}

func TestResponseFraming(t *testing.T) {
	big := strings.Repeat("x", 20000)
	for _, tc := range []struct {
		name    string
		req     string
		method  string
		handler http.HandlerFunc
		// want: status, fields that must be present (name: value), absent
		status  int
		present map[string]string
		absent  []string
		body    string
		closed  bool
	}{
		{name: "small-body-gets-content-length", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") },
			status:  200, present: map[string]string{"Content-Length": "5"}, absent: []string{"Transfer-Encoding", "Content-Type"}, body: "hello"},
		{name: "handler-content-length", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "20000")
				io.WriteString(w, big)
			},
			status: 200, present: map[string]string{"Content-Length": "20000"}, absent: []string{"Transfer-Encoding"}, body: big},
		{name: "large-streamed-body-is-chunked", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) {
				for i := 0; i < 20; i++ {
					io.WriteString(w, big)
				}
			},
			status: 200, present: map[string]string{"Transfer-Encoding": "chunked"}, absent: []string{"Content-Length"}, body: strings.Repeat(big, 20)},
		{name: "http10-streamed-body-is-close-delimited", req: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) },
			status:  200, present: map[string]string{"Connection": "close"}, absent: []string{"Content-Length", "Transfer-Encoding"}, body: big, closed: true},
		{name: "head-keeps-length-sends-no-body", req: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", method: "HEAD",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") },
			status:  200, present: map[string]string{"Content-Length": "5"}, body: ""},
		{name: "head-with-declared-length", req: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", method: "HEAD",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Length", "1234") },
			status:  200, present: map[string]string{"Content-Length": "1234"}, body: ""},
		{name: "204-has-no-framing-fields", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "5")
				w.WriteHeader(204)
				if _, err := io.WriteString(w, "hello"); err != http.ErrBodyNotAllowed {
					panic(err)
				}
			},
			status: 204, absent: []string{"Content-Length", "Transfer-Encoding"}},
		{name: "304-has-no-framing-fields", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(304) },
			status:  304, absent: []string{"Content-Length", "Transfer-Encoding"}},
		{name: "content-length-is-enforced", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "3")
				if _, err := io.WriteString(w, "toolong"); err != http.ErrContentLength {
					panic(err)
				}
				io.WriteString(w, "abc")
			},
			status: 200, present: map[string]string{"Content-Length": "3"}, body: "abc"},
		{name: "short-declared-body-closes", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "3")
				io.WriteString(w, "ab")
			},
			status: 200, present: map[string]string{"Content-Length": "3"}, closed: true},
		{name: "invalid-status-is-500", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(42) },
			status:  500, present: map[string]string{"Content-Length": "0"}},
		{name: "crlf-in-field-never-reaches-the-wire", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header()["X-Evil"] = []string{"a\r\nSet-Cookie: pwned=1"}
				w.Header()["X-Nul"] = []string{"a\x00b"}
				w.Header()["Bad\r\nName"] = []string{"v"}
				w.Header().Set("X-Good", "fine")
			},
			status: 200, present: map[string]string{"X-Good": "fine"}, absent: []string{"X-Evil", "Set-Cookie", "X-Nul"}},
		{name: "handler-date-kept", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Date", "yesterday") },
			status:  200, present: map[string]string{"Date": "yesterday"}},
		{name: "informational-then-final", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", "</a.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				io.WriteString(w, "final")
			},
			status: 200, present: map[string]string{"Link": "</a.css>; rel=preload", "Content-Length": "5"}, body: "final"},
		{name: "trailers", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "X-Sum")
				io.WriteString(w, "data")
				w.Header().Set("X-Sum", "99")
			},
			status: 200, present: map[string]string{"Transfer-Encoding": "chunked"}, body: "data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startHandler(t, tc.handler)
			c, br := dial(t, addr)
			write(t, c, tc.req)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			if tc.name == "informational-then-final" {
				if head := readRawHead(t, br); !strings.HasPrefix(head, "HTTP/1.1 103 Early Hints\r\n") || !strings.Contains(head, "Link: </a.css>") {
					t.Fatalf("informational head %q", head)
				}
			}
			resp, err := http.ReadResponse(br, &http.Request{Method: method})
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if tc.name == "short-declared-body-closes" {
				if err != io.ErrUnexpectedEOF {
					t.Errorf("body err %v, want unexpected EOF", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || string(body) != tc.body {
				t.Errorf("got %d %q..., want %d", resp.StatusCode, body[:min(len(body), 20)], tc.status)
			}
			if len(resp.TransferEncoding) > 0 {
				resp.Header.Set("Transfer-Encoding", strings.Join(resp.TransferEncoding, ","))
			}
			if resp.ContentLength >= 0 && method != "HEAD" && resp.StatusCode != 204 && resp.StatusCode != 304 && len(resp.TransferEncoding) == 0 && !resp.Close {
				resp.Header.Set("Content-Length", resp.Header.Get("Content-Length"))
			}
			for k, v := range tc.present {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			for _, k := range tc.absent {
				if _, ok := resp.Header[k]; ok {
					t.Errorf("%s present: %q", k, resp.Header[k])
				}
			}
			if resp.Header.Get("Date") == "" {
				t.Error("no Date")
			}
			if tc.name == "trailers" && resp.Trailer.Get("X-Sum") != "99" {
				t.Errorf("trailer %v", resp.Trailer)
			}
			if tc.closed {
				expectClosed(t, br)
			}
		})
	}
}

func TestFieldsAreSorted(t *testing.T) {
	addr := startHandler(t, func(w http.ResponseWriter, r *http.Request) {
		for _, k := range []string{"Zeta", "Alpha", "Mid", "Content-Type"} {
			w.Header().Set(k, "v")
		}
		io.WriteString(w, "x")
	})
	c, br := dial(t, addr)
	write(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	head := readRawHead(t, br)
	lines := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
	want := []string{"HTTP/1.1 200 OK", "Alpha: v", "Content-Type: v", "Mid: v", "Zeta: v"}
	if got := lines[:5]; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("head %q", head)
	}
}

// TestFieldOrderFollowsEachHead: the server remembers the last head's field
// order; heads on one connection whose names change (same count, a name
// swapped; fewer; more; the same names again) each come out with exactly
// their own fields, sorted, with their own values.
func TestFieldOrderFollowsEachHead(t *testing.T) {
	heads := [][]string{
		{"Zeta", "Alpha", "Mid"},
		{"Zeta", "Alpha", "Mid"}, // the remembered order, new values
		{"Zeta", "Beta", "Mid"},  // as many names, one swapped
		{"Zeta"},
		{"Omega", "Zeta", "Alpha", "Mid", "Beta"},
		{"Zeta", "Alpha", "Mid"},
	}
	addr := startHandler(t, func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		for _, k := range heads[i] {
			w.Header().Set(k, k+"-"+strconv.Itoa(i))
		}
		w.Header().Set("Content-Length", "1")
		io.WriteString(w, "x")
	})
	c, br := dial(t, addr)
	for i, names := range heads {
		write(t, c, "GET /"+strconv.Itoa(i)+" HTTP/1.1\r\nHost: x\r\n\r\n")
		head := readRawHead(t, br)
		if _, err := br.Discard(1); err != nil {
			t.Fatal(err)
		}
		want := []string{"Content-Length: 1"}
		for _, k := range names {
			want = append(want, k+": "+k+"-"+strconv.Itoa(i))
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")[1:] {
			if !strings.HasPrefix(line, "Date: ") {
				got = append(got, line)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("head %d: fields %q, want %q (sorted)", i, got, want)
		}
	}
}

// TestFlushDeliversBeforeHandlerReturns: server-sent events arrive while the
// handler is still running.
func TestFlushDeliversBeforeHandlerReturns(t *testing.T) {
	release := make(chan struct{})
	addr := startHandler(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			panic(err)
		}
		<-release
		io.WriteString(w, "data: two\n\n")
	})
	c, br := dial(t, addr)
	write(t, c, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	events := bufio.NewReader(resp.Body)
	line, err := events.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event %q, %v", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(events)
	if string(rest) != "\ndata: two\n\n" {
		t.Errorf("rest %q", rest)
	}
}

func TestHijack(t *testing.T) {
	addr := startHandler(t, func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		extra, _ := brw.Reader.ReadString('\n') // pipelined bytes stay readable
		brw.WriteString("RAW " + extra)
		brw.Flush()
	})
	c, br := dial(t, addr)
	write(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nleftover\n")
	got, err := io.ReadAll(br)
	if err != nil || string(got) != "RAW leftover\n" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestPanics(t *testing.T) {
	logs := &testLogger{}
	srv := &Server{Logger: slog.New(slog.NewTextHandler(logs, nil)), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/abort":
			panic(http.ErrAbortHandler)
		case "/boom":
			panic("boom")
		}
		io.WriteString(w, "fine")
	})}
	addr := serve(t, srv)
	for _, path := range []string{"/abort", "/boom"} {
		c, br := dial(t, addr)
		write(t, c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if b, err := br.ReadByte(); err != io.EOF {
			t.Errorf("%s: got %q, %v; want the connection closed", path, b, err)
		}
	}
	c, br := dial(t, addr)
	write(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if status, body := readResponse(t, br); status != 200 || body != "fine" {
		t.Fatalf("after panics: %d %q", status, body)
	}
	out := logs.String()
	if !strings.Contains(out, "panic=boom") || !strings.Contains(out, "goroutine") || strings.Count(out, "h1: panic") != 1 {
		t.Errorf("log %q", out)
	}
}

func TestSlowlorisHeadClosedAfterReadHeaderTimeout(t *testing.T) {
	addr, rec := startServer(t, func(s *Server) { s.ReadHeaderTimeout = 200 * time.Millisecond })
	c, br := dial(t, addr)
	start := time.Now()
	write(t, c, "GET /slow HTTP/1.1\r\nHost: x\r\n")
	if b, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("got byte %q, err %v; want the server to close the connection", b, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("closed after %v", d)
	}
	if recs := rec.records(); len(recs) != 0 {
		t.Errorf("handler recorded %+v", recs)
	}
}

func TestIdleTimeout(t *testing.T) {
	addr, _ := startServer(t, func(s *Server) {
		s.IdleTimeout = 200 * time.Millisecond
		s.ReadHeaderTimeout = 5 * time.Second
	})
	c, br := dial(t, addr)
	write(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if status, _ := readResponse(t, br); status != 200 {
		t.Fatal(status)
	}
	start := time.Now()
	expectClosed(t, br)
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("idle connection closed after %v", d)
	}
}

func TestReadTimeoutBoundsBody(t *testing.T) {
	addr, _ := startServer(t, func(s *Server) { s.ReadTimeout = 200 * time.Millisecond })
	c, br := dial(t, addr)
	write(t, c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
	if status, body := readResponse(t, br); status != 400 || body != "body-error" {
		t.Fatalf("got %d %q", status, body)
	}
}

func TestShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "done")
	})}
	addr := serve(t, srv)

	idle, idleBr := dial(t, addr)
	write(t, idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if status, _ := readResponse(t, idleBr); status != 200 {
		t.Fatal(status)
	}
	busy, busyBr := dial(t, addr)
	write(t, busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered

	// The in-flight request holds Shutdown up.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a request in flight: %v", err)
	}
	expectClosed(t, idleBr) // idle connections are closed at once
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("still accepting")
	}

	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	close(release)
	resp, body := readFull(t, busyBr, "GET")
	if body != "done" || !resp.Close {
		t.Errorf("in-flight response %q, close %v", body, resp.Close)
	}
	expectClosed(t, busyBr)
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestRequestContextCancelledAfterHandler(t *testing.T) {
	ctxs := make(chan context.Context, 1)
	type key struct{}
	srv := &Server{
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, key{}, "conn") },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Context().Value(key{}) != "conn" || r.Context().Err() != nil {
				panic("bad context")
			}
			ctxs <- r.Context()
		}),
	}
	addr := serve(t, srv)
	c, br := dial(t, addr)
	write(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if status, _ := readResponse(t, br); status != 200 {
		t.Fatal(status)
	}
	ctx := <-ctxs
	<-ctx.Done()
}

// TestUnreadBody: after the handler returns, a small unread body is
// discarded and the connection kept; a large one closes the connection.
func TestUnreadBody(t *testing.T) {
	addr := startHandler(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })
	t.Run("small-is-discarded", func(t *testing.T) {
		c, br := dial(t, addr)
		write(t, c, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"+
			"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"+
			"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
		for _, want := range []string{"/a", "/b", "/c"} {
			resp, body := readFull(t, br, "GET")
			if body != want || resp.Close {
				t.Fatalf("got %q (close %v), want %q", body, resp.Close, want)
			}
		}
	})
	t.Run("large-closes", func(t *testing.T) {
		c, br := dial(t, addr)
		write(t, c, "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\nabc")
		resp, body := readFull(t, br, "GET")
		if body != "/big" || !resp.Close {
			t.Fatalf("got %q, close %v", body, resp.Close)
		}
		expectClosed(t, br)
	})
}

// A keep-alive connection reuses its response header map: nothing one
// response set may show up in the next.
func TestResponseHeaderMapReusedClean(t *testing.T) {
	addr := startHandler(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/first" {
			w.Header().Set("X-Only-First", "secret-ish")
			w.Header().Set("Set-Cookie", "session=first")
		}
		io.WriteString(w, r.URL.Path)
	})
	c, br := dial(t, addr)
	for _, path := range []string{"/first", "/second", "/third"} {
		write(t, c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := readFull(t, br, "GET")
		if body != path {
			t.Fatalf("%s: body %q", path, body)
		}
		leaked := resp.Header.Get("X-Only-First") != "" || resp.Header.Get("Set-Cookie") != ""
		if want := path == "/first"; leaked != want {
			t.Errorf("%s: first response's fields present = %v, want %v", path, leaked, want)
		}
	}
}

// TestAbortAfterHeadLeavesResponseIncomplete: a handler that panics with
// http.ErrAbortHandler after sending part of a response leaves it visibly
// broken (no last chunk; a Content-Length body short) and the connection
// closed, as net/http does: the proxy relies on it when an upstream body
// breaks.
func TestAbortAfterHeadLeavesResponseIncomplete(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/length" {
			w.Header().Set("Content-Length", "100")
		}
		io.WriteString(w, "hello")
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	})})
	for _, tc := range []struct{ path, wantHead string }{
		{"/chunked", "Transfer-Encoding: chunked"},
		{"/length", "Content-Length: 100"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			c, br := dial(t, addr)
			write(t, c, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\n\r\n")
			raw, err := io.ReadAll(br)
			if err != nil {
				t.Fatalf("read: %v (want a clean close after the partial response)", err)
			}
			if !strings.Contains(string(raw), tc.wantHead) || !strings.Contains(string(raw), "hello") {
				t.Fatalf("response %q", raw)
			}
			if strings.HasSuffix(string(raw), "0\r\n\r\n") {
				t.Fatalf("response ended with a last chunk: %q", raw)
			}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(raw))), nil)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := io.ReadAll(resp.Body); err == nil {
				t.Errorf("client read a complete body %q", b)
			}
		})
	}
}

// TestRefusedRequestCarriesRequestLine: Server.Reject gets the request line
// of a refused head when there is one, and nothing else of the head.
func TestRefusedRequestCarriesRequestLine(t *testing.T) {
	for _, tc := range []struct {
		name, payload         string
		method, target, proto string
	}{
		{"cl-and-te", postHead + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "POST", "/submit", "HTTP/1.1"},
		{"te on HTTP/1.0", "PUT /a?b=c HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "PUT", "/a?b=c", "HTTP/1.0"},
		{"bad expect after parsing", "POST /p HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", "POST", "/p", "HTTP/1.1"},
		{"method not a token", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", "", "", "HTTP/1.1"},
		{"head too large, no line end", "GET /" + strings.Repeat("a", testMaxHeaderBytes) + " HTTP/1.1\r\n", "", "", "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, rec := startServer(t, nil)
			c, br := dial(t, addr)
			write(t, c, tc.payload)
			if status, _ := readResponse(t, br); status != 400 {
				t.Fatalf("status %d", status)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.refused) != 1 {
				t.Fatalf("%d refused requests", len(rec.refused))
			}
			r := rec.refused[0]
			if r.Method != tc.method || r.RequestURI != tc.target || r.Proto != tc.proto || r.RemoteAddr == "" {
				t.Errorf("refused request %q %q %q from %q; want %q %q %q", r.Method, r.RequestURI, r.Proto, r.RemoteAddr, tc.method, tc.target, tc.proto)
			}
		})
	}
}

// TestCloseResponseLeavesBodyUnread: a response that says Connection: close
// (the gateway's refusal of a body too large) ends the exchange without
// waiting for the rest of the body; the close lingers so the client reads
// the response.
func TestCloseResponseLeavesBodyUnread(t *testing.T) {
	addr := startHandler(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
	})
	c, br := dial(t, addr)
	write(t, c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nonly a little")
	if status, _ := readResponse(t, br); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", status)
	}
	expectClosed(t, br)
}
