package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/rampart-gw/rampart/internal/pipeline"

	"github.com/rampart-gw/rampart/internal/loopback"
)

const okAnswer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

func TestHostileResponsesBecome502(t *testing.T) {
	const leak = "LEAKED"
	tests := []struct {
		name, answer string
		status       int
		typ          string
	}{
		{"Content-Length and Transfer-Encoding", "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n" + leak, 502, "upstream-unavailable"},
		{"Transfer-Encoding and Content-Length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n6\r\n" + leak + "\r\n0\r\n\r\n", 502, "upstream-unavailable"},
		{"two different Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Length: 3\r\n\r\n" + leak, 502, "upstream-unavailable"},
		{"Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 6, 6\r\n\r\n" + leak, 502, "upstream-unavailable"},
		{"signed Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: +6\r\n\r\n" + leak, 502, "upstream-unavailable"},
		{"Transfer-Encoding gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n6\r\n" + leak + "\r\n0\r\n\r\n", 502, "upstream-unavailable"},
		{"two Transfer-Encodings", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n" + leak + "\r\n0\r\n\r\n", 502, "upstream-unavailable"},
		{"Transfer-Encoding on HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n" + leak + "\r\n0\r\n\r\n", 502, "upstream-unavailable"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX-Note: a\r\n " + leak + "\r\nContent-Length: 0\r\n\r\n", 502, "upstream-unavailable"},
		{"space before colon", "HTTP/1.1 200 OK\r\nX-Note : " + leak + "\r\nContent-Length: 0\r\n\r\n", 502, "upstream-unavailable"},
		{"invalid field name", "HTTP/1.1 200 OK\r\nX(Note): " + leak + "\r\nContent-Length: 0\r\n\r\n", 502, "upstream-unavailable"},
		{"bare CR in value (header injection)", "HTTP/1.1 200 OK\r\nX-Note: a\rSet-Cookie: " + leak + "\r\nContent-Length: 0\r\n\r\n", 502, "upstream-unavailable"},
		{"NUL in value", "HTTP/1.1 200 OK\r\nX-Note: a\x00" + leak + "\r\nContent-Length: 0\r\n\r\n", 502, "upstream-unavailable"},
		{"bare LF line end", "HTTP/1.1 200 OK\nX-Note: " + leak + "\nContent-Length: 0\n\n", 502, "upstream-unavailable"},
		{"oversize head", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("a", 1000)+"\r\n", 70) + "X-Note: " + leak + "\r\nContent-Length: 0\r\n\r\n", 502, "upstream-unavailable"},
		{"too many fields", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: b\r\n", 200) + "X-Note: " + leak + "\r\nContent-Length: 0\r\n\r\n", 502, "upstream-unavailable"},
		{"101 Switching Protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Note: " + leak + "\r\n\r\n", 502, "upstream-unavailable"},
		{"garbage status line", leak + " 200 OK\r\nContent-Length: 0\r\n\r\n", 502, "upstream-unavailable"},
		{"HTTP/2 status line", "HTTP/2 200 OK\r\nX-Note: " + leak + "\r\nContent-Length: 0\r\n\r\n", 502, "upstream-unavailable"},
		{"status code out of range", "HTTP/1.1 600 Odd\r\nX-Note: " + leak + "\r\nContent-Length: 0\r\n\r\n", 502, "upstream-unavailable"},
		{"early close in the head", "HTTP/1.1 200 OK\r\nX-Note: " + leak, 502, "upstream-unavailable"},
		{"close before any byte", "", 502, "upstream-unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" → 502", func(t *testing.T) {
			up := newRawUpstream(t, func(int, seenRequest) (string, bool) { return tt.answer, true })
			s := front(t, newUpstream(t, Config{Timeout: 5 * time.Second}, up.url()))
			resp, body := get(t, client(), s.URL+"/x")
			checkProblem(t, resp, body, tt.status, tt.typ)
			if strings.Contains(body, leak) || resp.Header.Get("X-Note") != "" || resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("bad response forwarded: %v %q", resp.Header, body)
			}
		})
	}
}

func TestSlowHeadIs504(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	up := newRawUpstream(t, func(int, seenRequest) (string, bool) {
		<-release
		return okAnswer, true
	})
	s := front(t, newUpstream(t, Config{Timeout: 200 * time.Millisecond}, up.url()))
	resp, body := get(t, client(), s.URL+"/x")
	checkProblem(t, resp, body, 504, "upstream-timeout")
}

func TestSlowHeadAfterFirstByteIs504(t *testing.T) {
	up := newRawUpstream(t, func(int, seenRequest) (string, bool) { return "HTTP/1.1 200 OK\r\n", false })
	s := front(t, newUpstream(t, Config{Timeout: 200 * time.Millisecond}, up.url()))
	resp, body := get(t, client(), s.URL+"/x")
	checkProblem(t, resp, body, 504, "upstream-timeout")
}

// A body that breaks after the head was forwarded aborts the client
// connection: the client must never see a truncated body as complete.
func TestBrokenBodyAfterHeadAbortsClient(t *testing.T) {
	tests := map[string]string{
		"bad chunk size":              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nmore\r\n0\r\n\r\n",
		"chunk data longer":           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhellomore\r\n0\r\n\r\n",
		"close inside a chunk":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhello",
		"close before the last one":   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
		"close before Content-Length": "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello",
	}
	for name, answer := range tests {
		t.Run(name, func(t *testing.T) {
			up := newRawUpstream(t, func(int, seenRequest) (string, bool) { return answer, true })
			s := front(t, newUpstream(t, Config{}, up.url()))
			resp, err := client().Get(s.URL + "/x")
			if err != nil {
				return // aborted before the head reached the client: fine too
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err == nil {
				t.Fatalf("client saw a complete body %q; want a broken response", b)
			}
			if strings.Contains(string(b), "more") {
				t.Errorf("data after the bad chunk forwarded: %q", b)
			}
		})
	}
}

func TestKeepAliveReusesOneConnection(t *testing.T) {
	up := newRawUpstream(t, fixed(okAnswer))
	s := front(t, newUpstream(t, Config{}, up.url()))
	c := client()
	for i := 0; i < 10; i++ {
		if resp, body := get(t, c, s.URL+"/x"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if n := up.accepted.Load(); n != 1 {
		t.Errorf("upstream accepted %d connections for 10 sequential requests, want 1", n)
	}
}

// TestPooledConnectionOutlivesItsSlices: the head and body are read in
// slices of clientCheckEvery, and a connection goes back to the pool with
// its last slice's deadline on it. Once that has passed, the next exchange
// (sent by the sender, or written as a request with a body) must move it
// before any I/O, or every request would fail or dial anew.
func TestPooledConnectionOutlivesItsSlices(t *testing.T) {
	old := clientCheckEvery
	clientCheckEvery = 20 * time.Millisecond
	t.Cleanup(func() { clientCheckEvery = old })
	up := newRawUpstream(t, fixed(okAnswer))
	s := front(t, newUpstream(t, Config{}, up.url()))
	c := client()
	for i := 0; i < 4; i++ {
		req, _ := http.NewRequest("GET", s.URL+"/x", nil)
		if i%2 == 1 {
			req, _ = http.NewRequest("POST", s.URL+"/x", strings.NewReader("payload"))
		}
		if resp, body := do(t, c, req); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		// Idle for longer than a slice: the condition under test is the
		// passing of time itself.
		time.Sleep(3 * clientCheckEvery)
	}
	if n := up.accepted.Load(); n != 1 {
		t.Errorf("upstream accepted %d connections for 4 sequential requests, want 1", n)
	}
	if seen := up.requests(); len(seen) != 4 || seen[3].body != "payload" {
		t.Errorf("upstream saw %d requests (last body %q), want 4 ending with the POST's body", len(seen), seen[len(seen)-1].body)
	}
}

// TestSliceDeadlineKeptOnReuse: a pooled connection that comes back within
// lazySlice of its previous slice keeps that slice's deadline (no timer
// update), and one whose upstream timeout ends sooner than a slice gets
// that timeout exactly.
func TestSliceDeadlineKeptOnReuse(t *testing.T) {
	up := newRawUpstream(t, fixed(okAnswer))
	u := newUpstream(t, Config{Timeout: time.Minute}, up.url())
	s := front(t, u)
	c := client()
	pooled := func(u *Upstream) *pconn {
		t.Helper()
		p := &u.targets[0].pool
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.idle) != 1 {
			t.Fatalf("%d idle connections, want 1", len(p.idle))
		}
		return p.idle[0]
	}
	before := time.Now()
	if resp, body := get(t, c, s.URL+"/x"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("first: %d %q", resp.StatusCode, body)
	}
	pc := pooled(u)
	first := pc.dl
	if first.Before(before.Add(clientCheckEvery)) || first.After(time.Now().Add(clientCheckEvery)) {
		t.Fatalf("first slice ends at %v, want a clientCheckEvery after the request", first)
	}
	for i := 0; i < 3 && time.Until(first) > 2*lazySlice; i++ {
		if resp, _ := get(t, c, s.URL+"/x"); resp.StatusCode != 200 {
			t.Fatalf("reuse %d: %d", i, resp.StatusCode)
		}
		if pooled(u) != pc {
			t.Fatal("a second connection was used")
		}
		if !pc.dl.Equal(first) {
			t.Fatalf("reuse %d moved the slice from %v to %v; want it kept", i, first, pc.dl)
		}
	}

	// A timeout shorter than a slice is the deadline, set exactly on every
	// exchange, though the previous one is within lazySlice of it.
	short := newUpstream(t, Config{Timeout: 150 * time.Millisecond}, up.url())
	s2 := front(t, short)
	var prev time.Time
	for i := 0; i < 2; i++ {
		before := time.Now()
		if resp, _ := get(t, c, s2.URL+"/x"); resp.StatusCode != 200 {
			t.Fatalf("short timeout %d: %d", i, resp.StatusCode)
		}
		dl := pooled(short).dl
		if d := dl.Sub(before); d < short.timeout || d > short.timeout+time.Since(before) {
			t.Errorf("exchange %d: deadline %v after the request began, want its timeout %v", i, d, short.timeout)
		}
		if dl.Equal(prev) {
			t.Errorf("exchange %d kept the previous deadline", i)
		}
		prev = dl
	}
}

func TestConnectionClosedBetweenRequests(t *testing.T) {
	// Each connection answers one request without announcing close, then
	// closes: the pooled connection is dead when the next request takes it.
	tests := []struct {
		name   string
		method string
		key    bool
		status int
		conns  int32
	}{
		{"GET retried on a fresh connection", "GET", false, 200, 2},
		{"POST with Idempotency-Key retried", "POST", true, 200, 2},
		{"POST without Idempotency-Key not replayed → 502", "POST", false, 502, 1},
	}
	old := probeIdleAfter
	probeIdleAfter = time.Hour // the dead connection must be taken, however slow the machine
	t.Cleanup(func() { probeIdleAfter = old })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newRawUpstream(t, func(int, seenRequest) (string, bool) { return okAnswer, true })
			s := front(t, newUpstream(t, Config{}, up.url()))
			c := client()
			if resp, _ := get(t, c, s.URL+"/first"); resp.StatusCode != 200 {
				t.Fatalf("first: %d", resp.StatusCode)
			}
			req, _ := http.NewRequest(tt.method, s.URL+"/second", strings.NewReader("payload"))
			if tt.key {
				req.Header.Set("Idempotency-Key", "k1")
			}
			resp, body := do(t, c, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status == 502 {
				checkProblem(t, resp, body, 502, "upstream-unavailable")
			}
			if n := up.accepted.Load(); n != tt.conns {
				t.Errorf("connections %d, want %d", n, tt.conns)
			}
			if tt.status == 200 {
				seen := up.requests()
				if last := seen[len(seen)-1]; last.body != "payload" && tt.method == "POST" {
					t.Errorf("replayed body %q", last.body)
				}
			}
		})
	}
}

func TestNoBodyResponsesKeepFraming(t *testing.T) {
	tests := []struct {
		name, method, answer string
		status               int
	}{
		{"HEAD with Content-Length", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", 200},
		{"HEAD with chunked", "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200},
		{"204", "GET", "HTTP/1.1 204 No Content\r\n\r\n", 204},
		{"304 with Content-Length", "GET", "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\nContent-Length: 50\r\n\r\n", 304},
		{"100 Continue and 103 skipped", "GET", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + okAnswer, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newRawUpstream(t, func(n int, req seenRequest) (string, bool) {
				if n == 0 {
					return tt.answer, false
				}
				return okAnswer, false
			})
			s := front(t, newUpstream(t, Config{}, up.url()))
			c := client()
			req, _ := http.NewRequest(tt.method, s.URL+"/x", nil)
			resp, body := do(t, c, req)
			if resp.StatusCode != tt.status || body != "" && tt.status != 200 {
				t.Fatalf("status %d body %q", resp.StatusCode, body)
			}
			if strings.Contains(tt.answer, "1234") && resp.ContentLength != 1234 {
				t.Errorf("HEAD Content-Length %d, want the upstream's 1234", resp.ContentLength)
			}
			// The next request on the same upstream connection parses cleanly.
			if resp, body := get(t, c, s.URL+"/y"); resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("next request: %d %q", resp.StatusCode, body)
			}
			if n := up.accepted.Load(); n != 1 {
				t.Errorf("connections %d, want 1", n)
			}
		})
	}
}

func TestBodyFramingsForwardedIntact(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 10000) // 160 KB
	tests := []struct {
		name, answer, want string
		close              bool
	}{
		{"chunked with extension and trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n", "Wikipedia", false},
		{"close-delimited", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", "until the end", true},
		{"HTTP/1.0 close-delimited", "HTTP/1.0 200 OK\r\n\r\nold", "old", true},
		{"large Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 160000\r\n\r\n" + big, big, false},
		{"identical Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", "ok", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newRawUpstream(t, func(int, seenRequest) (string, bool) { return tt.answer, tt.close })
			s := front(t, newUpstream(t, Config{}, up.url()))
			resp, body := get(t, client(), s.URL+"/x")
			if resp.StatusCode != 200 || body != tt.want {
				t.Fatalf("status %d body %d bytes %.40q", resp.StatusCode, len(body), body)
			}
			if resp.Header.Get("X-Trailer") != "" || len(resp.Trailer) != 0 {
				t.Errorf("trailer forwarded: %v %v", resp.Header, resp.Trailer)
			}
			if len(resp.Header.Values("Content-Length")) > 1 {
				t.Errorf("Content-Length repeated: %q", resp.Header.Values("Content-Length"))
			}
		})
	}
}

func TestServerSentEventsArriveOneByOne(t *testing.T) {
	next := make(chan struct{})
	up := newStreamUpstream(t, func(w io.Writer) {
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		io.WriteString(w, "b\r\ndata: one\n\n\r\n")
		<-next // the second event is only sent once the first arrived
		io.WriteString(w, "b\r\ndata: two\n\n\r\n0\r\n\r\n")
	})
	s := front(t, newUpstream(t, Config{}, up.url()))
	resp, err := client().Get(s.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i, want := range []string{"data: one\n", "\n", "data: two\n", "\n"} {
		if i == 2 {
			close(next)
		}
		line, err := br.ReadString('\n')
		if err != nil || line != want {
			t.Fatalf("line %d = %q, %v; want %q", i, line, err, want)
		}
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the stream: %q, %v", rest, err)
	}
}

func TestRequestHeadersRebuilt(t *testing.T) {
	up := newRawUpstream(t, fixed(okAnswer))
	s := front(t, newUpstream(t, Config{}, up.url()))
	req, _ := http.NewRequest("POST", s.URL+"/api/items?b=2&a=1", strings.NewReader("body!"))
	for k, v := range map[string]string{
		"Keep-Alive": "timeout=5", "Proxy-Connection": "keep-alive", "Te": "trailers", "Trailer": "X-T",
		"Upgrade": "h2c", "Proxy-Authorization": "Basic eA==", "X-Secret-Hop": "s", "X-Forwarded-For": "6.6.6.6",
		"X-Forwarded-Host": "evil", "X-Forwarded-Proto": "https", "X-Real-Ip": "6.6.6.6", "X-Request-Id": "evil",
		"Expect": "100-continue", "X-Kept": "yes",
	} {
		req.Header.Set(k, v)
	}
	req.Header["Connection"] = []string{"X-Secret-Hop, X-Forwarded-For, X-Request-Id"}
	req.Header["User-Agent"] = nil // none sent
	resp, _ := do(t, client(), req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := up.requests()[0]
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(got.head)))
	if err != nil {
		t.Fatalf("upstream head %q: %v", got.head, err)
	}
	if line, _, _ := strings.Cut(got.head, "\r\n"); line != "POST /api/items?b=2&a=1 HTTP/1.1" {
		t.Errorf("request line %q", line)
	}
	if r.Host != up.ln.Addr().String() {
		t.Errorf("Host %q, want the target's", r.Host)
	}
	for _, k := range []string{"Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Upgrade", "Proxy-Authorization",
		"X-Secret-Hop", "Expect", "Connection", "User-Agent"} {
		if v, ok := r.Header[k]; ok {
			t.Errorf("%s forwarded: %q", k, v)
		}
	}
	want := map[string]string{"X-Forwarded-For": "192.0.2.7", "X-Real-Ip": "192.0.2.7", "X-Forwarded-Proto": "http",
		"X-Request-Id": "req-1", "X-Forwarded-Host": strings.TrimPrefix(s.URL, "http://"), "X-Kept": "yes", "Content-Length": "5"}
	for k, v := range want {
		if got := r.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got.body != "body!" {
		t.Errorf("body %q", got.body)
	}
}

// A header the gateway would forward with CR, LF or NUL is refused with a
// 400 problem before anything is sent.
func TestHeaderInjectionRefused(t *testing.T) {
	up := newRawUpstream(t, fixed(okAnswer))
	u := newUpstream(t, Config{}, up.url())
	for name, set := range map[string]func(r *http.Request){
		"CRLF in value":         func(r *http.Request) { r.Header["X-A"] = []string{"a\r\nX-Injected: 1"} },
		"LF in value":           func(r *http.Request) { r.Header["X-A"] = []string{"a\nb"} },
		"NUL in value":          func(r *http.Request) { r.Header["X-A"] = []string{"a\x00b"} },
		"CRLF in name":          func(r *http.Request) { r.Header["X-A\r\nX-Injected"] = []string{"1"} },
		"CRLF in the host":      func(r *http.Request) { r.Host = "a\r\nX-Injected: 1" },
		"space in the raw path": func(r *http.Request) { r.URL.RawQuery = "a=1 HTTP/1.1\r\nX-Injected: 1" },
	} {
		t.Run(name+" → 400", func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://gw.test/x", nil)
			set(r)
			rec := httptest.NewRecorder()
			withInfo(u).ServeHTTP(rec, r)
			if rec.Code != 400 || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d %q", rec.Code, rec.Body.String())
			}
			if len(up.requests()) != 0 {
				t.Fatal("upstream reached")
			}
		})
	}
}

func TestResponseHeaderHygiene(t *testing.T) {
	up := newRawUpstream(t, fixed("HTTP/1.1 200 OK\r\nServer: nginx/1.2\r\nX-Powered-By: PHP\r\nX-Request-Id: theirs\r\n"+
		"Access-Control-Allow-Origin: *\r\naccess-control-allow-credentials: true\r\nConnection: X-Private\r\nX-Private: p\r\n"+
		"Keep-Alive: timeout=5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\ncontent-type: application/json\r\nContent-Length: 2\r\n\r\n{}"))
	s := front(t, newUpstream(t, Config{}, up.url()))
	resp, body := get(t, client(), s.URL+"/x")
	if resp.StatusCode != 200 || body != "{}" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	for _, k := range []string{"Server", "X-Powered-By", "X-Request-Id", "Access-Control-Allow-Origin",
		"Access-Control-Allow-Credentials", "X-Private", "Keep-Alive"} {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("%s forwarded: %q", k, v)
		}
	}
	if c := resp.Header.Values("Set-Cookie"); len(c) != 2 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Set-Cookie %q Content-Type %q", c, resp.Header.Get("Content-Type"))
	}
	if resp.ContentLength != 2 {
		t.Errorf("client saw ContentLength %d, want 2 (not chunked)", resp.ContentLength)
	}
}

func TestMaskedUpstreamError(t *testing.T) {
	up := newRawUpstream(t, fixed("HTTP/1.1 503 Unavailable\r\nRetry-After: 7\r\nContent-Length: 14\r\n\r\nSECRET db.host"))
	s := front(t, newUpstream(t, Config{MaskErrors: true}, up.url()))
	resp, body := get(t, client(), s.URL+"/x")
	checkProblem(t, resp, body, 503, "upstream-error")
	if resp.Header.Get("Retry-After") != "7" || strings.Contains(body, "SECRET") {
		t.Errorf("Retry-After %q body %q", resp.Header.Get("Retry-After"), body)
	}
}

func TestDialFailureRetriedOnOtherTarget(t *testing.T) {
	dead := newRawUpstream(t, fixed(okAnswer))
	deadURL := dead.url()
	dead.ln.Close()
	live := newRawUpstream(t, fixed(okAnswer))
	s := front(t, newUpstream(t, Config{}, deadURL, live.url()))
	for i := 0; i < 4; i++ {
		req, _ := http.NewRequest("POST", s.URL+"/x", strings.NewReader("once"))
		if resp, body := do(t, client(), req); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	for _, r := range live.requests() {
		if r.body != "once" {
			t.Errorf("body %q", r.body)
		}
	}
}

func TestClientGoneIs499(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	up := newRawUpstream(t, func(int, seenRequest) (string, bool) {
		close(arrived)
		<-release
		return okAnswer, true
	})
	u := newUpstream(t, Config{Timeout: time.Minute}, up.url())
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", "http://gw.test/x", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		withInfo(u).ServeHTTP(rec, r)
	}()
	<-arrived
	cancel()
	<-done
	if rec.Code != 499 {
		t.Fatalf("status %d, want 499", rec.Code)
	}
}

func TestCancelledRequestIsNotDialled(t *testing.T) {
	up := newRawUpstream(t, fixed(okAnswer))
	u := newUpstream(t, Config{}, up.url())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	withInfo(u).ServeHTTP(rec, httptest.NewRequest("GET", "http://gw.test/x", nil).WithContext(ctx))
	if rec.Code != 499 || up.accepted.Load() != 0 {
		t.Fatalf("status %d, connections %d", rec.Code, up.accepted.Load())
	}
}

func TestHTTPSTarget(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || r.Proto != "HTTP/1.1" {
			w.WriteHeader(500)
			return
		}
		io.WriteString(w, "secure")
	}))
	ts.EnableHTTP2 = true // offered, but the forwarder asks for http/1.1 only
	ts.Config.ErrorLog = quietLog
	ts.StartTLS()
	defer ts.Close()
	roots := ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	t.Run("trusted through Config.TLS", func(t *testing.T) {
		s := front(t, newUpstream(t, Config{TLS: &tls.Config{RootCAs: roots}}, ts.URL))
		for i := 0; i < 3; i++ {
			if resp, body := get(t, client(), s.URL+"/x"); resp.StatusCode != 200 || body != "secure" {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
		}
	})
	t.Run("unknown certificate → 502", func(t *testing.T) {
		s := front(t, newUpstream(t, Config{}, ts.URL))
		resp, body := get(t, client(), s.URL+"/x")
		checkProblem(t, resp, body, 502, "upstream-unavailable")
	})
}

var _ = pipeline.TypePrefix

var quietLog = log.New(io.Discard, "", 0)

func TestSetHostKeepsTheRestOfTheRequest(t *testing.T) {
	for _, host := range []string{"a:1", "127.0.0.1:8080", "a-much-longer-host-name.internal.example:65535"} {
		x := &exchange{}
		r := httptest.NewRequest("POST", "http://gw.test/p?q=1", strings.NewReader("inline body"))
		inline, err := x.buildRequest(r, nil, &target{url: mustURL(t, "http://first.example:80")}, trace.SpanContext{})
		if err != nil || !inline {
			t.Fatalf("build: %v %v", inline, err)
		}
		want := strings.Replace(string(x.req), "Host: first.example:80\r\n", "Host: "+host+"\r\n", 1)
		x.setHost(host)
		if string(x.req) != want {
			t.Fatalf("got %q\nwant %q", x.req, want)
		}
	}
}

func TestUnknownLengthRequestBodySentChunked(t *testing.T) {
	up := newRawUpstream(t, fixed(okAnswer))
	u := newUpstream(t, Config{}, up.url())
	r := httptest.NewRequest("POST", "http://gw.test/x", io.NopCloser(strings.NewReader(strings.Repeat("z", 100000))))
	r.ContentLength = -1
	rec := httptest.NewRecorder()
	withInfo(u).ServeHTTP(rec, r)
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	head := up.requests()[0].head
	if !strings.Contains(head, "Transfer-Encoding: chunked\r\n") || strings.Contains(head, "Content-Length") {
		t.Fatalf("head %q", head)
	}
	if b := up.requests()[0].body; b != strings.Repeat("z", 100000) {
		t.Fatalf("body of %d bytes", len(b))
	}
}

// A client that goes away mid-stream takes the upstream connection with it.
func TestClientGoneMidStreamClosesUpstream(t *testing.T) {
	upstreamSawClose := make(chan struct{})
	up := newStreamUpstream(t, func(w io.Writer) {
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		io.WriteString(w, "b\r\ndata: one\n\n\r\n")
		// The forwarder never sends anything more: this read ends when it
		// closes the connection.
		io.Copy(io.Discard, w.(io.Reader))
		close(upstreamSawClose)
	})
	s := front(t, newUpstream(t, Config{}, up.url()))
	resp, err := client().Get(s.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("%q %v", line, err)
	}
	resp.Body.Close() // the client goes away
	<-upstreamSawClose
}

func TestAliveDetectsPeerClose(t *testing.T) {
	c, peer := loopback.Pair(t)
	if !alive(c) {
		t.Fatal("open idle connection reported dead")
	}
	peer.Close()
	if _, err := c.Read(make([]byte, 1)); err != io.EOF { // waits for the FIN
		t.Fatalf("read: %v", err)
	}
	if alive(c) {
		t.Fatal("connection closed by the peer reported alive")
	}
}

// With the probe on, a POST after the upstream closed its idle connection
// goes out on a fresh connection instead of failing.
func TestIdleConnectionClosedByUpstreamIsNotUsed(t *testing.T) {
	old := probeIdleAfter
	probeIdleAfter = -1
	t.Cleanup(func() { probeIdleAfter = old })
	closed := make(chan struct{}, 4)
	up := newRawUpstream(t, func(int, seenRequest) (string, bool) { return okAnswer, true })
	up.mu.Lock()
	up.afterClose = func() { closed <- struct{}{} }
	up.mu.Unlock()
	s := front(t, newUpstream(t, Config{}, up.url()))
	c := client()
	if resp, _ := get(t, c, s.URL+"/first"); resp.StatusCode != 200 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	<-closed
	req, _ := http.NewRequest("POST", s.URL+"/second", strings.NewReader("payload"))
	if resp, body := do(t, c, req); resp.StatusCode != 200 {
		t.Fatalf("POST after idle close: %d %s", resp.StatusCode, body)
	}
}

func TestConcurrentRequestsSharePool(t *testing.T) {
	up := newRawUpstream(t, fixed(okAnswer))
	s := front(t, newUpstream(t, Config{}, up.url()))
	c := client()
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 25; i++ {
				resp, err := c.Get(s.URL + "/x")
				if err != nil {
					errs <- err.Error()
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(b) != "ok" {
					errs <- resp.Status + " " + string(b)
					return
				}
			}
			errs <- ""
		}()
	}
	for g := 0; g < 8; g++ {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
	if n := up.accepted.Load(); n > 8 {
		t.Errorf("%d upstream connections for 8 concurrent clients", n)
	}
}

// Response queue poisoning: bytes an upstream sends on a pooled connection
// after its response ended (an unsolicited 408, the tail of a body longer
// than its Content-Length) must never be read as the next request's
// response, however soon that request comes.
func TestUnsolicitedBytesOnIdleConnectionAreNotTheNextResponse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	sendPoison, poisonSent := make(chan struct{}), make(chan struct{})
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if n > 1 {
						_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
						continue
					}
					_, _ = io.WriteString(c, okAnswer)
					<-sendPoison
					// On loopback the bytes are in the gateway's receive
					// queue when the write returns.
					_, _ = io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 6\r\n\r\npoison")
					close(poisonSent)
					_, _ = io.Copy(io.Discard, br) // until the gateway closes it
					return
				}
			}()
		}
	}()
	s := front(t, newUpstream(t, Config{}, "http://"+ln.Addr().String()))
	c := client()
	if resp, body := get(t, c, s.URL+"/first"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("first: %d %q", resp.StatusCode, body)
	}
	close(sendPoison)
	<-poisonSent
	resp, body := get(t, c, s.URL+"/second")
	if resp.StatusCode != 200 || body != "fresh" {
		t.Fatalf("second request got %d %q: the stale bytes were taken for its response", resp.StatusCode, body)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d upstream connections, want 2 (the poisoned one dropped)", n)
	}
}
