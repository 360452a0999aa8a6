package h2_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// echoHandler answers with a description of the request and its body's
// SHA-256, so tests can check what the handler saw.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read: "+err.Error(), http.StatusBadRequest)
		return
	}
	sum := sha256.Sum256(body)
	w.Header().Set("X-Proto", r.Proto)
	w.Header().Set("X-Host", r.Host)
	w.Header().Set("X-Method", r.Method)
	w.Header().Set("X-Len", strconv.Itoa(len(body)))
	w.Header().Set("X-CL", strconv.FormatInt(r.ContentLength, 10))
	w.Header().Set("X-Sum", fmt.Sprintf("%x", sum))
	w.Header().Set("X-TLS", strconv.FormatBool(r.TLS != nil))
	if r.TLS != nil {
		w.Header().Set("X-ALPN", r.TLS.NegotiatedProtocol)
	}
	w.Header().Set("X-Cookie", strings.Join(r.Header.Values("Cookie"), "|"))
	v, _ := r.Context().Value(ctxKey{}).(string)
	w.Header().Set("X-Ctx", v)
	w.Header().Set("Content-Length", "5")
	io.WriteString(w, "hello")
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(b)
	return b
}

// hiding wraps a reader so the transport cannot see its length (no
// content-length is sent).
type hiding struct{ io.Reader }

func TestConfRoundTrips(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(echoHandler)})
		c, dials := ts.client(t)
		for _, tc := range []struct {
			method string
			size   int
			withCL bool
		}{
			{"GET", 0, true}, {"HEAD", 0, true},
			{"POST", 0, true}, {"POST", 1, true}, {"POST", 300 << 10, true}, {"POST", 3 << 20, true},
			{"POST", 0, false}, {"POST", 1, false}, {"POST", 300 << 10, false}, {"POST", 3 << 20, false},
		} {
			name := fmt.Sprintf("%s/%d/cl=%v", tc.method, tc.size, tc.withCL)
			t.Run(name, func(t *testing.T) {
				body := randBytes(tc.size)
				var rd io.Reader
				if tc.method == "POST" {
					rd = bytes.NewReader(body)
					if !tc.withCL {
						rd = hiding{rd}
					}
				}
				req, err := http.NewRequest(tc.method, ts.url("/echo"), rd)
				if err != nil {
					t.Fatal(err)
				}
				res, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if res.StatusCode != 200 || res.ProtoMajor != 2 {
					t.Fatalf("status %d proto %s: %s", res.StatusCode, res.Proto, got)
				}
				want := "hello"
				if tc.method == "HEAD" {
					want = ""
				}
				if string(got) != want {
					t.Errorf("body %q, want %q", got, want)
				}
				h := res.Header
				if h.Get("X-Proto") != "HTTP/2.0" || h.Get("X-Method") != tc.method {
					t.Errorf("handler saw proto %q method %q", h.Get("X-Proto"), h.Get("X-Method"))
				}
				if h.Get("X-Len") != strconv.Itoa(tc.size) || h.Get("X-Sum") != fmt.Sprintf("%x", sha256.Sum256(body)) {
					t.Errorf("handler read %s bytes (sum %s), sent %d", h.Get("X-Len"), h.Get("X-Sum"), tc.size)
				}
				if tc.method == "POST" && tc.withCL && h.Get("X-CL") != strconv.Itoa(tc.size) {
					t.Errorf("r.ContentLength %s, want %d", h.Get("X-CL"), tc.size)
				}
				if tc.method == "POST" && !tc.withCL && tc.size > 0 && h.Get("X-CL") != "-1" {
					t.Errorf("r.ContentLength %s without content-length, want -1", h.Get("X-CL"))
				}
				if !strings.HasPrefix(h.Get("X-Host"), "localhost:") {
					t.Errorf("r.Host %q, want :authority localhost:port", h.Get("X-Host"))
				}
				if h.Get("X-TLS") != "true" || h.Get("X-ALPN") != "h2" {
					t.Errorf("r.TLS set %s, ALPN %q", h.Get("X-TLS"), h.Get("X-ALPN"))
				}
				if h.Get("X-Ctx") != ctxValue {
					t.Errorf("ServeConn ctx value in r.Context(): %q", h.Get("X-Ctx"))
				}
			})
		}
		if n := dials.Load(); n != 1 {
			t.Errorf("%d TLS connections for sequential requests, want 1", n)
		}
	})
}

func TestConfCookiesJoined(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(echoHandler)})
		rc := dialRaw(t, ts)
		rc.writeHeaders(1, true, get("/c", hf("cookie", "a=1"), hf("cookie", "b=2"), hf("cookie", "c=3"))...)
		res := rc.readResponse(1)
		if got := res.header.Get("X-Cookie"); got != "a=1; b=2; c=3" {
			t.Errorf("r.Header[Cookie] = %q, want one value \"a=1; b=2; c=3\"", got)
		}
	})
}

func TestConfConcurrentStreams(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		const n = 100
		var inFlight, maxInFlight atomic.Int64
		all := make(chan struct{})
		var arrived atomic.Int64
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/warm" {
				return
			}
			cur := inFlight.Add(1)
			for {
				m := maxInFlight.Load()
				if cur <= m || maxInFlight.CompareAndSwap(m, cur) {
					break
				}
			}
			if arrived.Add(1) == n {
				close(all)
			}
			// Every handler waits for all n: proves n concurrent streams.
			select {
			case <-all:
			case <-r.Context().Done():
			}
			inFlight.Add(-1)
			io.WriteString(w, r.URL.Path)
		})})
		c, dials := ts.client(t)
		// One request first so the transport has the conn (and the
		// server's SETTINGS) before the burst.
		if res, err := c.Get(ts.url("/warm")); err != nil {
			t.Fatal(err)
		} else {
			res.Body.Close()
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				p := fmt.Sprintf("/s%d", i)
				res, err := c.Get(ts.url(p))
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || string(b) != p {
					errs <- fmt.Errorf("%s: %q %v", p, b, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if maxInFlight.Load() != n {
			t.Errorf("max concurrent handlers %d, want %d", maxInFlight.Load(), n)
		}
		if dials.Load() != 1 {
			t.Errorf("%d connections, want 1", dials.Load())
		}
	})
}

func TestConfTrailers(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				t.Errorf("read body: %v", err)
			}
			w.Header().Set("Trailer", "X-Resp-Trailer")
			w.Header().Set("X-Got-Trailer", "")
			io.WriteString(w, string(b))
			w.(http.Flusher).Flush()
			w.Header().Set("X-Resp-Trailer", "rt:"+r.Trailer.Get("X-Req-Trailer"))
			w.Header().Set(http.TrailerPrefix+"X-Late", "late")
		})})
		c, _ := ts.client(t)
		req, _ := http.NewRequest("POST", ts.url("/t"), hiding{strings.NewReader("payload")})
		req.Trailer = http.Header{"X-Req-Trailer": {"qt"}}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || string(b) != "payload" {
			t.Fatalf("body %q %v", b, err)
		}
		if got := res.Trailer.Get("X-Resp-Trailer"); got != "rt:qt" {
			t.Errorf("response trailer %q, want rt:qt (request trailer seen in r.Trailer)", got)
		}
		if got := res.Trailer.Get("X-Late"); got != "late" {
			t.Errorf("TrailerPrefix trailer %q, want late", got)
		}
	})
}

func TestConfFullDuplexEcho(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			if err := rc.EnableFullDuplex(); err != nil {
				t.Errorf("EnableFullDuplex: %v", err)
			}
			w.WriteHeader(200)
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			buf := make([]byte, 1024)
			for {
				n, err := r.Body.Read(buf)
				if n > 0 {
					w.Write(buf[:n])
					if err := rc.Flush(); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})})
		c, _ := ts.client(t)
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", ts.url("/duplex"), pr)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		// Lock-step: each chunk must come back before the next is sent, so
		// request and response bodies are streaming at the same time.
		for i := range 20 {
			msg := fmt.Sprintf("chunk-%02d;", i)
			if _, err := io.WriteString(pw, msg); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(res.Body, got); err != nil {
				t.Fatalf("echo %d: %v", i, err)
			}
			if string(got) != msg {
				t.Fatalf("echo %q, want %q", got, msg)
			}
		}
		pw.Close()
		if rest, err := io.ReadAll(res.Body); err != nil || len(rest) != 0 {
			t.Errorf("after close: %q %v", rest, err)
		}
	})
}

func TestConfResponseControllerDeadlines(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetWriteDeadline: %v", err)
			}
			w.WriteHeader(200)
			fe, ok := w.(interface{ FlushError() error })
			if !ok {
				t.Errorf("ResponseWriter %T has no FlushError", w)
			} else if err := fe.FlushError(); err != nil {
				t.Errorf("FlushError: %v", err)
			}
			if err := rc.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
				t.Errorf("SetReadDeadline: %v", err)
			}
			// The client never sends the body: the past deadline must end
			// the read instead of blocking. (What happens to the stream
			// then, reset or not, is the implementation's choice.)
			_, err := r.Body.Read(make([]byte, 1))
			if err == nil {
				t.Errorf("read past deadline returned no error")
			}
			if _, _, err := rc.Hijack(); err == nil {
				t.Errorf("Hijack succeeded on HTTP/2")
			}
		})})
		c, _ := ts.client(t)
		pr, pw := io.Pipe()
		defer pw.Close()
		req, _ := http.NewRequest("POST", ts.url("/dl"), pr)
		res, err := c.Do(req)
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}

func TestConfInformational1xx(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.WriteHeader(200)
			io.WriteString(w, "final")
		})})
		c, _ := ts.client(t)
		var got []string
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got = append(got, fmt.Sprintf("%d %s", code, h.Get("Link")))
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", ts.url("/1xx"), nil)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "final" {
			t.Errorf("final response %d %q", res.StatusCode, b)
		}
		if len(got) != 1 || got[0] != "103 </style.css>; rel=preload" {
			t.Errorf("1xx responses %q, want one 103 with Link", got)
		}
	})
}

func TestConfLargeResponse(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		body := randBytes(5 << 20)
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(body)
		})})
		c, _ := ts.client(t)
		res, err := c.Get(ts.url("/big"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("got %d bytes (%v), want the %d sent", len(got), err, len(body))
		}
	})
}

func TestConfHandlerPanicResetsOnlyItsStream(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		slowIn := make(chan struct{})
		release := make(chan struct{})
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/panic":
				panic("test panic")
			case "/slow":
				close(slowIn)
				<-release
				io.WriteString(w, "slow done")
			default:
				io.WriteString(w, "ok")
			}
		})})
		c, dials := ts.client(t)
		slowRes := make(chan string, 1)
		go func() {
			res, err := c.Get(ts.url("/slow"))
			if err != nil {
				slowRes <- err.Error()
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			slowRes <- string(b)
		}()
		<-slowIn
		res, err := c.Get(ts.url("/panic"))
		if err == nil {
			res.Body.Close()
			t.Errorf("panicking handler: got a %d response, want a reset stream", res.StatusCode)
		}
		close(release)
		if got := <-slowRes; got != "slow done" {
			t.Errorf("concurrent stream: %q, want it to finish", got)
		}
		res, err = c.Get(ts.url("/after"))
		if err != nil {
			t.Fatalf("request after panic: %v", err)
		}
		res.Body.Close()
		if dials.Load() != 1 {
			t.Errorf("%d connections: a handler panic must not end the connection", dials.Load())
		}
	})
}

func TestConfClientCancelCancelsHandlerContext(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		in := make(chan struct{})
		done := make(chan error, 1)
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			close(in)
			select {
			case <-r.Context().Done():
				done <- r.Context().Err()
			case <-time.After(20 * time.Second):
				done <- errors.New("r.Context() not cancelled 20s after the client reset the stream")
			}
		})})
		c, _ := ts.client(t)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.url("/cancel"), nil)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		<-in
		cancel()
		res.Body.Close()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("handler context: %v", err)
		}
	})
}

func TestConfHandlerContextDoneOnReturn(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		ctxs := make(chan context.Context, 1)
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctxs <- r.Context()
		})})
		c, _ := ts.client(t)
		res, err := c.Get(ts.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		ctx := <-ctxs
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Error("r.Context() not done 10s after the handler returned")
		}
	})
}

func TestConfShutdownGraceful(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		in := make(chan struct{})
		release := make(chan struct{})
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(in)
			<-release
			io.WriteString(w, "finished")
		})})
		rc := dialRaw(t, ts)
		rc.writeHeaders(1, true, get("/slow")...)
		<-in
		shut := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			shut <- ts.Shutdown(ctx)
		}()
		ga := rc.expectGoAway()
		if ga.ErrCode != http2.ErrCodeNo {
			t.Errorf("GOAWAY %v, want NO_ERROR", ga.ErrCode)
		}
		if ga.LastStreamID < 1 {
			t.Errorf("GOAWAY last stream %d: the in-flight stream 1 must be allowed to finish", ga.LastStreamID)
		}
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned (%v) with a stream in flight", err)
		default:
		}
		close(release)
		res := rc.readResponse(1)
		if res.status != "200" || string(res.body) != "finished" {
			t.Errorf("in-flight stream: %s %q", res.status, res.body)
		}
		if err := <-shut; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		rc.expectClosed()
	})
}

func TestConfIdleTimeout(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		ts := im.start(t, serverConfig{
			Handler:     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
			IdleTimeout: 200 * time.Millisecond,
		})
		rc := dialRaw(t, ts)
		rc.writeHeaders(1, true, get("/")...)
		// Read until the server closes. On a loaded machine the idle timer
		// may fire before the request arrives: then stream 1 is simply not
		// answered, which is fine; a GOAWAY with an error is not.
		var ga *http2.GoAwayFrame
		answered := false
		for {
			f, err := rc.readFrame()
			if err != nil {
				if !isClosed(err) {
					t.Fatalf("idle connection still open after %v", rawDeadline)
				}
				break
			}
			switch f := f.(type) {
			case *http2.GoAwayFrame:
				ga = f
			case *http2.MetaHeadersFrame:
				answered = answered || f.StreamID == 1
			}
		}
		if ga == nil || ga.ErrCode != http2.ErrCodeNo {
			t.Errorf("idle connection closed with GOAWAY %v, want GOAWAY(NO_ERROR) first", ga)
		}
		t.Logf("%s: request answered before the idle close: %v", im.name, answered)
	})
}

func TestConfAdvertisedSettings(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		for _, tc := range []struct {
			cfg             serverConfig
			streams, frameN uint32
		}{
			{serverConfig{}, 100, 16384},
			{serverConfig{MaxConcurrentStreams: 7, MaxReadFrameSize: 1 << 20}, 7, 1 << 20},
		} {
			tc.cfg.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
			t.Run(fmt.Sprintf("%d-%d", tc.streams, tc.frameN), func(t *testing.T) {
				ts := im.start(t, tc.cfg)
				rc := dialRaw(t, ts)
				s := rc.serverSettings()
				if s[http2.SettingMaxConcurrentStreams] != tc.streams {
					t.Errorf("MAX_CONCURRENT_STREAMS %d, want %d", s[http2.SettingMaxConcurrentStreams], tc.streams)
				}
				if v, ok := s[http2.SettingMaxFrameSize]; ok && v != tc.frameN || !ok && tc.frameN != 16384 {
					t.Errorf("MAX_FRAME_SIZE %d (sent %v), want %d", v, ok, tc.frameN)
				}
				if s[http2.SettingInitialWindowSize] != 256<<10 {
					t.Errorf("INITIAL_WINDOW_SIZE %d, want 256 KiB", s[http2.SettingInitialWindowSize])
				}
				if w := rc.connWindow(); w != 1<<20 {
					t.Errorf("connection receive window %d, want 1 MiB", w)
				}
			})
		}
	})
}

func TestConfWriteTimeout(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		writeErr := make(chan error, 1)
		ts := im.start(t, serverConfig{
			WriteTimeout: 300 * time.Millisecond,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				chunk := make([]byte, 64<<10)
				for range 1024 { // 64 MiB, far more than the socket buffers hold
					if _, err := w.Write(chunk); err != nil {
						writeErr <- err
						return
					}
				}
				writeErr <- nil
			}),
		})
		rc := dialRaw(t, ts)
		// Open every window wide so only TCP (a client that does not read)
		// can stop the server's writes.
		rc.write(func(fr *http2.Framer) error {
			return fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
		})
		rc.write(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, 1<<31-1-65535) })
		rc.writeHeaders(1, true, get("/big")...)
		select {
		case err := <-writeErr:
			if err == nil {
				t.Fatal("handler wrote 64 MiB to a client that reads nothing")
			}
		case <-time.After(rawDeadline):
			t.Fatalf("handler write still blocked %v after it stopped making progress", rawDeadline)
		}
		rc.expectClosed()
	})
}
