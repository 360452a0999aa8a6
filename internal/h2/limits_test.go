package h2

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// blockingServer's handler counts calls and blocks until release closes
// (or its request is cancelled).
func blockingServer(t *testing.T, s *Server) (*testServer, *atomic.Int32, chan struct{}) {
	var n atomic.Int32
	release := make(chan struct{})
	s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ts := startTCP(t, s)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return ts, &n, release
}

func TestMaxConcurrentStreams(t *testing.T) {
	ts, calls, release := blockingServer(t, &Server{MaxConcurrentStreams: 2})
	rc := dialRaw(t, ts)
	rc.headers(1, true, getFields...)
	rc.headers(3, true, getFields...)
	rc.headers(5, true, getFields...)
	rc.expectRST(5, http2.ErrCodeRefusedStream)
	close(release)
	seen := map[uint32]bool{}
	rc.until(func(f http2.Frame) bool {
		if _, ok := f.(*http2.MetaHeadersFrame); ok {
			seen[f.Header().StreamID] = true
		}
		return len(seen) == 2
	})
	if !seen[1] || !seen[3] {
		t.Fatalf("responses %v", seen)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("handler called %d times", n)
	}
}

// TestRapidReset: streams reset by the client still hold a handler slot
// until their handler returns; past 4×MaxConcurrentStreams queued streams
// the connection gets ENHANCE_YOUR_CALM (CVE-2023-44487). A stream reset
// before a worker picks it up skips its handler and frees its slot at once
// (how often depends on scheduling), so the client goes on past the RST
// budget too: one bound or the other ends the connection.
func TestRapidReset(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	ts := startTCP(t, &Server{MaxConcurrentStreams: 10, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		<-release // ignores the cancellation: a slow handler
	})})
	defer close(release)
	rc := dialRaw(t, ts)
	go func() {
		for id := uint32(1); id < uint32(2*(junkBudget+100)); id += 2 {
			rc.hbuf.Reset()
			for i := 0; i < len(getFields); i += 2 {
				rc.enc.WriteField(hpack.HeaderField{Name: getFields[i], Value: getFields[i+1]})
			}
			// Write errors end the loop: the server closed the connection.
			if rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.hbuf.Bytes(),
				EndStream: true, EndHeaders: true}) != nil || rc.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				return
			}
		}
	}()
	rc.expectGoAway(http2.ErrCodeEnhanceYourCalm)
	if got := n.Load(); got > 10 {
		t.Fatalf("%d handlers started, limit 10", got)
	}
}

func TestHeaderListTooLarge(t *testing.T) {
	ts, calls := countingServer(t, &Server{MaxHeaderBytes: 1000})
	rc := dialRaw(t, ts)
	v := strings.Repeat("a", 300)
	rc.headers(1, true, get("x-a", v, "x-b", v, "x-c", v, "x-d", v)...)
	if s := rc.expectResponse(1); s != "431" {
		t.Fatalf("status %s", s)
	}
	// A block far larger than the bound closes the connection before it is
	// buffered.
	rc.hbuf.Reset()
	rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: make([]byte, 8000), EndHeaders: false})
	rc.expectGoAway(http2.ErrCodeProtocol)
	if calls.Load() != 0 {
		t.Fatal("handler called")
	}
}

func TestContinuationFlood(t *testing.T) {
	ts, calls := countingServer(t, &Server{})
	rc := dialRaw(t, ts)
	rc.hbuf.Reset()
	rc.enc.WriteField(hpackField(":method", "GET"))
	go func() {
		rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: rc.hbuf.Bytes()})
		for range 2 * maxBlockFrames {
			if rc.fr.WriteContinuation(1, false, nil) != nil {
				return
			}
		}
	}()
	rc.expectGoAway(http2.ErrCodeEnhanceYourCalm)
	if calls.Load() != 0 {
		t.Fatal("handler called")
	}
}

// TestFloods: each kind of frame that makes no work is bounded.
func TestFloods(t *testing.T) {
	floods := map[string]func(rc *rawClient, i int) error{
		"PING":     func(rc *rawClient, i int) error { return rc.fr.WritePing(false, [8]byte{byte(i)}) },
		"SETTINGS": func(rc *rawClient, i int) error { return rc.fr.WriteSettings() },
		"PRIORITY": func(rc *rawClient, i int) error {
			return rc.fr.WritePriority(uint32(2*i+1), http2.PriorityParam{StreamDep: 0, Weight: 1})
		},
		"RST_STREAM on a closed stream": func(rc *rawClient, i int) error { return rc.fr.WriteRSTStream(1, http2.ErrCodeCancel) },
		"empty DATA":                    func(rc *rawClient, i int) error { return rc.fr.WriteData(3, false, nil) },
		"unknown frames":                func(rc *rawClient, i int) error { return rc.fr.WriteRawFrame(0x42, 0, 0, nil) },
		"malformed requests": func(rc *rawClient, i int) error {
			rc.headers(uint32(5+2*i), true, get("connection", "close")...)
			return nil
		},
	}
	for name, send := range floods {
		t.Run(name, func(t *testing.T) {
			ts, calls, _ := blockingServer(t, &Server{})
			rc := dialRaw(t, ts)
			rc.headers(1, true, getFields...) // a stream to reset
			rc.fr.WriteRSTStream(1, http2.ErrCodeCancel)
			rc.headers(3, false, get(":method", "POST")[2:]...) // POST, body open
			go func() {
				for i := range 3 * junkBudget {
					if send(rc, i) != nil {
						return
					}
				}
			}()
			rc.expectGoAway(http2.ErrCodeEnhanceYourCalm)
			if n := calls.Load(); n > 2 {
				t.Fatalf("handler called %d times", n)
			}
		})
	}
}

func TestStreamFlowControl(t *testing.T) {
	ts, _, _ := blockingServer(t, &Server{}) // does not read bodies
	rc := dialRaw(t, ts)
	rc.headers(1, false, get(":method", "POST")[2:]...)
	chunk := make([]byte, 16384)
	for range streamWindow / len(chunk) {
		rc.fr.WriteData(1, false, chunk)
	}
	rc.fr.WriteData(1, false, []byte{1})
	rc.expectRST(1, http2.ErrCodeFlowControl)
}

func TestConnFlowControl(t *testing.T) {
	ts, _, _ := blockingServer(t, &Server{})
	rc := dialRaw(t, ts)
	chunk := make([]byte, 16384)
	go func() {
		for id := uint32(1); id <= 9; id += 2 {
			rc.headers(id, false, get(":method", "POST")[2:]...)
			for range streamWindow / len(chunk) {
				if rc.fr.WriteData(id, false, chunk) != nil {
					return
				}
			}
		}
	}()
	rc.expectGoAway(http2.ErrCodeFlowControl)
}

func TestWindowUpdateOverflow(t *testing.T) {
	ts, _, _ := blockingServer(t, &Server{})
	rc := dialRaw(t, ts)
	rc.headers(1, true, getFields...)
	rc.fr.WriteWindowUpdate(1, 1<<31-1)
	rc.expectRST(1, http2.ErrCodeFlowControl)
	rc.fr.WriteWindowUpdate(0, 1<<31-1)
	rc.expectGoAway(http2.ErrCodeFlowControl)
}

// TestWindowAfterConsumption: a handler that reads gets its client's body
// through, well past both windows, by WINDOW_UPDATEs.
func TestWindowAfterConsumption(t *testing.T) {
	got := make(chan int64, 1)
	ts := startTCP(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got <- n
	})})
	rc := dialRaw(t, ts)
	rc.headers(1, false, get(":method", "POST")[2:]...)
	const total = 3 << 20
	chunk := make([]byte, 16384)
	sendWin, connWin := int64(streamWindow), int64(connWindow)
	sent := 0
	for sent < total {
		for sendWin < int64(len(chunk)) || connWin < int64(len(chunk)) {
			if wu, ok := rc.read().(*http2.WindowUpdateFrame); ok {
				if wu.StreamID == 0 {
					connWin += int64(wu.Increment)
				} else {
					sendWin += int64(wu.Increment)
				}
			}
		}
		rc.fr.WriteData(1, false, chunk)
		sendWin -= int64(len(chunk))
		connWin -= int64(len(chunk))
		sent += len(chunk)
	}
	rc.fr.WriteData(1, true, nil)
	if n := <-got; n != total {
		t.Fatalf("read %d", n)
	}
}

func TestContentLengthMismatch(t *testing.T) {
	ts := startTCP(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err == nil {
			t.Error("body read without error")
		}
	})})
	rc := dialRaw(t, ts)
	rc.headers(1, false, get(":method", "POST", "content-length", "3")[2:]...)
	rc.fr.WriteData(1, true, []byte("ab"))
	rc.expectRST(1, http2.ErrCodeProtocol)
	rc.headers(3, false, get(":method", "POST", "content-length", "3")[2:]...)
	rc.fr.WriteData(3, true, []byte("abcd"))
	rc.expectRST(3, http2.ErrCodeProtocol)
}

func TestPrefaceTimeout(t *testing.T) {
	ts := startTCP(t, &Server{IdleTimeout: 50 * time.Millisecond})
	c, err := netDial(ts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil { // ends when the server closes
		t.Fatal(err)
	}
}

func TestSettingsAckTimeout(t *testing.T) {
	old := settingsAckTimeout
	settingsAckTimeout = 50 * time.Millisecond
	defer func() { settingsAckTimeout = old }()
	ts := startTCP(t, &Server{})
	c, err := netDial(ts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	rc := &rawClient{t: t, c: c, fr: http2.NewFramer(c, c)}
	io.WriteString(c, http2.ClientPreface)
	rc.fr.WriteSettings()
	rc.expectGoAway(http2.ErrCodeSettingsTimeout)
}

func TestIdleTimeout(t *testing.T) {
	ts := startTCP(t, &Server{IdleTimeout: 50 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})})
	rc := dialRaw(t, ts)
	rc.headers(1, true, getFields...)
	rc.expectResponse(1)
	rc.expectGoAway(http2.ErrCodeNo)
}

func TestShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})}
	ts := startTCP(t, s)
	rc := dialRaw(t, ts)
	rc.headers(1, true, getFields...)
	<-started
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	ga := rc.until(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	if ga.ErrCode != http2.ErrCodeNo || ga.LastStreamID != 1 {
		t.Fatalf("GOAWAY %v last %d", ga.ErrCode, ga.LastStreamID)
	}
	rc.headers(3, true, getFields...) // after GOAWAY: ignored
	close(release)
	if s := rc.expectResponse(1); s != "200" {
		t.Fatal(s)
	}
	rc.expectEOF()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestShutdownContext(t *testing.T) {
	ts, _, _ := blockingServer(t, &Server{})
	rc := dialRaw(t, ts)
	rc.headers(1, true, getFields...)
	rc.fr.WritePing(false, [8]byte{}) // the handler has started once its ACK arrives
	rc.until(func(f http2.Frame) bool { _, ok := f.(*http2.PingFrame); return ok })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.s.Shutdown(ctx) }()
	rc.until(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	rc.expectEOF()
}

// TestControlQueueBound: while the connection's writer is stuck (a client
// that does not read), the control frames the reader answers are queued
// up to a bound, then the connection is closed.
func TestControlQueueBound(t *testing.T) {
	old := junkBudget
	junkBudget = 1 << 30 // the flood budget would stop the PINGs first
	defer func() { junkBudget = old }()
	s := &Server{}
	cli, srv := net.Pipe()
	done := make(chan struct{})
	go func() {
		s.ServeConn(context.Background(), srv)
		close(done)
	}()
	buf := make([]byte, 1024)
	if _, err := cli.Read(buf); err != nil { // our SETTINGS and WINDOW_UPDATE
		t.Fatal(err)
	}
	// Stand for a handler stuck in a connection write (once the write of
	// our SETTINGS is over).
	s.mu.Lock()
	for c := range s.conns {
		for stuck := false; !stuck; {
			c.mu.Lock()
			if !c.flushing {
				c.flushing, stuck = true, true
			}
			c.mu.Unlock()
			runtime.Gosched()
		}
	}
	s.mu.Unlock()
	fr := http2.NewFramer(cli, cli)
	io.WriteString(cli, http2.ClientPreface)
	fr.WriteSettings()
	fr.WriteSettingsAck()
	sent := 0
	for fr.WritePing(false, [8]byte{}) == nil {
		sent++
		if sent > 10*controlLimit/17 {
			t.Fatalf("%d PINGs queued without a bound", sent)
		}
	}
	<-done
	if min := controlLimit / 17; sent < min {
		t.Fatalf("closed after %d PINGs, before the bound", sent)
	}
	s.Close()
}

func TestFrameTooLarge(t *testing.T) {
	ts, _, _ := blockingServer(t, &Server{})
	rc := dialRaw(t, ts)
	rc.headers(1, false, get(":method", "POST")[2:]...)
	rc.fr.WriteData(1, false, make([]byte, 16385))
	rc.expectGoAway(http2.ErrCodeFrameSize)
}
