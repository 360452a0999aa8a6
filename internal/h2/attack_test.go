package h2_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// observe reads until streamID is reset or answered or the conn ends, and
// describes what happened; for logging what a non-strict impl does.
func (rc *rawConn) observe(streamID uint32) string {
	for {
		f, err := rc.readFrame()
		if err != nil {
			return "conn ended: " + err.Error()
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			if f.StreamID == streamID {
				return "RST_STREAM " + f.ErrCode.String()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == streamID && !strings.HasPrefix(f.PseudoValue("status"), "1") {
				return "answered :status " + f.PseudoValue("status")
			}
		case *http2.GoAwayFrame:
			return "GOAWAY " + f.ErrCode.String()
		}
	}
}

type malformedCase struct {
	name   string
	fields []hfield
	// data, if any, is sent as DATA frames after HEADERS; the last one
	// ends the stream. Without data HEADERS carries END_STREAM.
	data []string
	// strict: x/net does not reset this stream (it answers, often 400, or
	// fails the handler's body read); only strict impls must reset it.
	strict bool
}

func malformedCases() []malformedCase {
	without := func(name string, fields []hfield) []hfield {
		var out []hfield
		for _, f := range fields {
			if f.Name != name {
				out = append(out, f)
			}
		}
		return out
	}
	body := func(path string) []hfield { return post(path) }
	return []malformedCase{
		{name: "connection", fields: get("/bad", hf("connection", "keep-alive")), strict: true},
		{name: "keep-alive", fields: get("/bad", hf("keep-alive", "timeout=5")), strict: true},
		{name: "proxy-connection", fields: get("/bad", hf("proxy-connection", "keep-alive")), strict: true},
		{name: "transfer-encoding", fields: get("/bad", hf("transfer-encoding", "chunked")), strict: true},
		{name: "upgrade", fields: get("/bad", hf("upgrade", "h2c")), strict: true},
		{name: "te-gzip", fields: get("/bad", hf("te", "gzip")), strict: true},
		{name: "te-trailers-gzip", fields: get("/bad", hf("te", "trailers, gzip")), strict: true},
		{name: "missing-method", fields: without(":method", get("/bad"))},
		{name: "missing-scheme", fields: without(":scheme", get("/bad"))},
		{name: "missing-path", fields: without(":path", get("/bad"))},
		{name: "duplicate-method", fields: get("/bad", hf(":method", "GET"))},
		{name: "duplicate-scheme", fields: get("/bad", hf(":scheme", "https"))},
		{name: "duplicate-path", fields: get("/bad", hf(":path", "/bad"))},
		{name: "duplicate-authority", fields: get("/bad", hf(":authority", "localhost"))},
		{name: "unknown-pseudo", fields: get("/bad", hf(":foo", "bar"))},
		{name: "pseudo-after-regular", fields: append(without(":path", get("", hf("x-a", "1"))), hf(":path", "/bad"))},
		{name: "status-in-request", fields: get("/bad", hf(":status", "200"))},
		{name: "status-first", fields: append([]hfield{hf(":status", "200")}, get("/bad")...)},
		{name: "empty-path", fields: get("")},
		{name: "path-no-slash", fields: get("bad")},
		{name: "asterisk-path-get", fields: get("*"), strict: true},
		{name: "cl-not-a-number", fields: get("/bad", hf("content-length", "abc")), strict: true},
		{name: "cl-negative", fields: get("/bad", hf("content-length", "-1")), strict: true},
		{name: "cl-list", fields: append(body("/bad"), hf("content-length", "5, 5")), data: []string{"12345"}, strict: true},
		{name: "cl-twice", fields: append(body("/bad"), hf("content-length", "5"), hf("content-length", "5")), data: []string{"12345"}, strict: true},
		{name: "cl-signed", fields: append(body("/bad"), hf("content-length", "+5")), data: []string{"12345"}, strict: true},
		{name: "cl-more-than-data", fields: append(body("/body"), hf("content-length", "5")), data: []string{"123"}, strict: true},
		{name: "cl-less-than-data", fields: append(body("/body"), hf("content-length", "2")), data: []string{"12", "345"}},
		{name: "cl-without-data", fields: get("/bad", hf("content-length", "5")), strict: true},
		{name: "host-differs", fields: get("/bad", hf("host", "evil.example")), strict: true},
		{name: "uppercase-name", fields: get("/bad", hf("X-Upper", "v"))},
		{name: "space-in-name", fields: get("/bad", hf("x y", "v"))},
		{name: "cr-in-value", fields: get("/bad", hf("x-a", "a\rb"))},
		{name: "lf-in-value", fields: get("/bad", hf("x-a", "a\nb"))},
		{name: "nul-in-value", fields: get("/bad", hf("x-a", "a\x00b"))},
		{name: "crlf-in-path", fields: get("/bad\r\nx-injected: 1")},
	}
}

// TestAttackMalformedRequests sends each malformed request of RFC 9113 §8.1.1,
// §8.2 and §8.3 and requires RST_STREAM(PROTOCOL_ERROR) with the handler
// never called (or, where the body is what is wrong, never given a clean
// body), then a good request on the same connection.
func TestAttackMalformedRequests(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		var badCalls atomic.Int64
		var bodyCalls atomic.Int64
		bodyRes := make(chan error, 100)
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/good":
				io.WriteString(w, "good")
			case "/body":
				bodyCalls.Add(1)
				b, err := io.ReadAll(r.Body)
				if err == nil {
					err = fmt.Errorf("clean body %q", b)
				} else {
					err = nil
				}
				bodyRes <- err
			default:
				badCalls.Add(1)
			}
		})})
		var xnetAccepts []string
		for _, tc := range malformedCases() {
			t.Run(tc.name, func(t *testing.T) {
				bad0, body0 := badCalls.Load(), bodyCalls.Load()
				rc := dialRaw(t, ts)
				rc.serverSettings()
				rc.writeHeaders(1, len(tc.data) == 0, tc.fields...)
				for i, d := range tc.data {
					rc.tryWrite(func(fr *http2.Framer) error { return fr.WriteData(1, i == len(tc.data)-1, []byte(d)) })
				}
				if tc.strict && !strictOnly(t, im) {
					got := rc.observe(1)
					if !strings.Contains(got, "PROTOCOL_ERROR") {
						xnetAccepts = append(xnetAccepts, tc.name+": "+got)
					}
					t.Logf("%s: %s", im.name, got)
					return
				}
				if code := rc.expectRST(1); code != http2.ErrCodeProtocol {
					t.Errorf("RST_STREAM %v, want PROTOCOL_ERROR", code)
				}
				// A stream error: the connection goes on serving.
				rc.writeHeaders(3, true, get("/good")...)
				if res := rc.readResponse(3); res.status != "200" || string(res.body) != "good" {
					t.Errorf("good request after the reset: %s %q", res.status, res.body)
				}
				if n := badCalls.Load() - bad0; n != 0 {
					t.Errorf("handler called %d times for a malformed request", n)
				}
				if bodyCalls.Load() != body0 {
					select {
					case err := <-bodyRes:
						if err != nil {
							t.Errorf("handler of a malformed request: %v", err)
						}
					case <-time.After(10 * time.Second):
						t.Errorf("handler body read still blocked 10s after RST_STREAM")
					}
				}
			})
		}
		if len(xnetAccepts) > 0 {
			t.Logf("%s accepts (strict-only cases): %s", im.name, strings.Join(xnetAccepts, "; "))
		}
	})
}

// floodResult is how a flood ended.
type floodResult struct {
	ended bool    // server ended the conn (GOAWAY with error or close)
	end   connEnd // if ended
	sent  int     // frames written before the end or all of them
}

func (r floodResult) String() string {
	if r.ended {
		return fmt.Sprintf("ended after %d frames sent: %v", r.sent, r.end)
	}
	return fmt.Sprintf("survived all %d frames", r.sent)
}

// flood writes n frames with send (in batches through one Write per batch)
// while reading the server's frames, then a sentinel PING. It returns
// whether the server ended the connection or answered the sentinel.
func flood(t *testing.T, rc *rawConn, n int, send func(fr *http2.Framer, i int) error) floodResult {
	t.Helper()
	var sent atomic.Int64
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		var buf bytes.Buffer
		bf := http2.NewFramer(&buf, nil)
		bf.AllowIllegalWrites = true
		const batch = 500
		for i := 0; i < n; {
			buf.Reset()
			j := i
			for ; j < n && j < i+batch; j++ {
				if err := send(bf, j); err != nil {
					panic(err)
				}
			}
			if err := rc.tryWrite(func(*http2.Framer) error { _, err := rc.c.Write(buf.Bytes()); return err }); err != nil {
				return
			}
			i = j
			sent.Store(int64(i))
		}
		rc.tryWrite(func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{'e', 'n', 'd'}) })
	}()
	res := floodResult{}
	e := connEnd{rsts: map[uint32]http2.ErrCode{}}
	for {
		f, err := rc.readFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				rc.c.Close()
				<-writerDone
				t.Fatalf("flood: neither answered nor ended within %v (%d frames sent)", rawDeadline, sent.Load())
			}
			res.ended = true
			break
		}
		e.frames++
		if p, ok := f.(*http2.PingFrame); ok && p.IsAck() && p.Data == [8]byte{'e', 'n', 'd'} {
			break
		}
		if g, ok := f.(*http2.GoAwayFrame); ok && g.ErrCode != http2.ErrCodeNo {
			e.goAway = g
			res.ended = true
			break
		}
		if r, ok := f.(*http2.RSTStreamFrame); ok {
			e.rsts[r.StreamID] = r.ErrCode
		}
	}
	rc.c.Close()
	<-writerDone
	res.end = e
	res.sent = int(sent.Load())
	return res
}

// TestAttackFloods sends floods of cheap frames while reading the answers. A
// strict impl must end the connection with GOAWAY(ENHANCE_YOUR_CALM) (or
// just close it) before the flood is over; every impl must keep the
// number of running handlers within MaxConcurrentStreams, and its
// goroutines must settle afterwards (serveTLS checks).
func TestAttackFloods(t *testing.T) {
	const maxStreams = 8
	cases := []struct {
		name  string
		n     int
		setup func(rc *rawConn)
		send  func(fr *http2.Framer, i int) error
		codes []http2.ErrCode
	}{
		{name: "ping", n: 100_000, send: func(fr *http2.Framer, i int) error {
			return fr.WritePing(false, [8]byte{byte(i), byte(i >> 8), byte(i >> 16)})
		}},
		{name: "settings", n: 100_000, send: func(fr *http2.Framer, i int) error {
			return fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0})
		}},
		{name: "rapid-reset", n: 50_000, send: func(fr *http2.Framer, i int) error {
			id := uint32(2*i + 1)
			if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rapidBlock, EndStream: true, EndHeaders: true}); err != nil {
				return err
			}
			return fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}},
		{name: "priority", n: 100_000, send: func(fr *http2.Framer, i int) error {
			return fr.WritePriority(uint32(2*(i%1000)+1), http2.PriorityParam{StreamDep: 0, Weight: 15})
		}},
		{name: "empty-data", n: 100_000, setup: func(rc *rawConn) {
			rc.writeHeaders(1, false, post("/block")...)
		}, send: func(fr *http2.Framer, i int) error {
			return fr.WriteData(1, false, nil)
		}},
		{name: "empty-continuation", n: 100_000, setup: func(rc *rawConn) {
			block := rc.encode(get("/block"))
			rc.write(func(fr *http2.Framer) error {
				return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:len(block)/2]})
			})
		}, send: func(fr *http2.Framer, i int) error {
			return fr.WriteContinuation(1, false, nil)
		}, codes: []http2.ErrCode{http2.ErrCodeEnhanceYourCalm, http2.ErrCodeProtocol}},
	}
	forEachImpl(t, func(t *testing.T, im impl) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var running, maxRunning, calls atomic.Int64
				ts := im.start(t, serverConfig{MaxConcurrentStreams: maxStreams, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					cur := running.Add(1)
					defer running.Add(-1)
					for m := maxRunning.Load(); cur > m && !maxRunning.CompareAndSwap(m, cur); m = maxRunning.Load() {
					}
					// Block until the stream or conn dies, like a slow upstream.
					<-r.Context().Done()
				})})
				rc := dialRaw(t, ts)
				rc.serverSettings()
				rc.sync()
				if tc.setup != nil {
					tc.setup(rc)
				}
				if tc.codes == nil {
					tc.codes = []http2.ErrCode{http2.ErrCodeEnhanceYourCalm}
				}
				res := flood(t, rc, tc.n, tc.send)
				t.Logf("%s: %v; handlers called %d, at most %d at once", im.name, res, calls.Load(), maxRunning.Load())
				if m := maxRunning.Load(); m > maxStreams {
					t.Errorf("%d handlers running at once, MaxConcurrentStreams is %d", m, maxStreams)
				}
				if !strictOnly(t, im) {
					return
				}
				if !res.ended {
					t.Fatalf("connection survived a flood of %d %s frames", tc.n, tc.name)
				}
				// Work done for the flood is bounded too: a cut-off flood
				// cannot have started a handler for most of its streams.
				if c := calls.Load(); c > int64(tc.n)/10 {
					t.Errorf("%d handler calls during a flood of %d frames", c, tc.n)
				}
				// Ended means the sentinel PING after the flood was never
				// answered. (How many frames were written says little: a
				// whole flood can sit in the kernel's socket buffers.)
				if g := res.end.goAway; g != nil && !slices.Contains(tc.codes, g.ErrCode) {
					t.Errorf("GOAWAY %v, want one of %v (or a close)", g.ErrCode, tc.codes)
				}
			})
		}
	})
}

var rapidBlock = func() []byte {
	var buf bytes.Buffer
	// :method GET, :scheme https, :path / are static-table indexed; the
	// authority is a literal without indexing so every copy decodes alike.
	buf.Write([]byte{0x82, 0x87, 0x84})
	buf.Write([]byte{0x01, 9})
	buf.WriteString("localhost")
	return buf.Bytes()
}()

// dialNoRead dials ts for a client that will never read. The socket keeps
// the kernel's default receive buffer: shrinking SO_RCVBUF (to make the
// server's writes block sooner) makes loopback TCP stall the client's own
// sends now and then, which looks exactly like a server that stopped
// reading; with the default, the kernel does not grow the buffer for a
// reader that never reads, so the server still blocks soon enough.
func dialNoRead(t *testing.T, ts *testServer) *rawConn {
	t.Helper()
	return dialRawConn(t, ts.dialTLS(t))
}

// TestAttackControlFramesWithoutReading: a client that sends PINGs (or SETTINGS,
// each needing an ACK) and never reads must be cut off: the server may not
// queue answers without bound. Every impl.
func TestAttackControlFramesWithoutReading(t *testing.T) {
	for _, kind := range []string{"ping", "settings"} {
		t.Run(kind, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, im impl) {
				// x/net coalesces SETTINGS ACKs (one ACK for many SETTINGS,
				// against RFC 9113 §6.5.3), so it queues nothing and never
				// cuts the client off: bounded, but not what we require.
				if kind == "settings" && !strictOnly(t, im) {
					return
				}
				ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})})
				rc := dialNoRead(t, ts)
				var buf bytes.Buffer
				bf := http2.NewFramer(&buf, nil)
				const batch, max = 1000, 5_000_000
				for range batch {
					if kind == "ping" {
						bf.WritePing(false, [8]byte{1})
					} else {
						bf.WriteSettings()
					}
				}
				sent := 0
				var err error
				for sent < max {
					if _, err = rc.c.Write(buf.Bytes()); err != nil {
						break
					}
					sent += batch
				}
				var ne net.Error
				switch {
				case err == nil:
					t.Fatalf("server took %d %s frames from a client that never reads", sent, kind)
				case errors.As(err, &ne) && ne.Timeout():
					t.Fatalf("after %d %s frames the server neither reads nor closes (write timed out)\n%s", sent, kind, allStacks())
				}
				t.Logf("%s: cut off after %d frames: %v", im.name, sent, err)
			})
		})
	}
}

// TestAttackContinuationWithoutEnd is CVE-2024-27316: HEADERS then CONTINUATION
// frames full of header bytes that never set END_HEADERS. The server must
// end the connection once MaxHeaderBytes is exceeded, not buffer on.
func TestAttackContinuationWithoutEnd(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		const maxHeader = 64 << 10
		var calls atomic.Int64
		ts := im.start(t, serverConfig{MaxHeaderBytes: maxHeader, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
		})})
		rc := dialRaw(t, ts)
		rc.serverSettings()
		// Each CONTINUATION carries fresh literal fields (not indexed), so
		// the decoded size grows with every frame.
		field := rc.encode([]hfield{{Name: "x-filler", Value: strings.Repeat("a", 1000), Sensitive: true}})
		frag := bytes.Repeat(field, 16000/len(field))
		head := rc.encode(get("/c"))
		rc.write(func(fr *http2.Framer) error {
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: head})
		})
		const limit = 1000 * maxHeader // 64 MiB, far beyond any bound
		res := flood(t, rc, limit/len(frag), func(fr *http2.Framer, i int) error {
			return fr.WriteContinuation(1, false, frag)
		})
		t.Logf("%s: %v", im.name, res)
		if !res.ended {
			t.Fatalf("connection took %d bytes of header block without END_HEADERS", limit)
		}
		if g := res.end.goAway; g != nil {
			switch g.ErrCode {
			case http2.ErrCodeEnhanceYourCalm, http2.ErrCodeProtocol, http2.ErrCodeCompression:
			default:
				t.Errorf("GOAWAY %v", g.ErrCode)
			}
		}
		if calls.Load() != 0 {
			t.Errorf("handler called for an unfinished header block")
		}
	})
}

// TestAttackOversizedHeaderList: a complete header list beyond MaxHeaderBytes is
// refused (431, RST_STREAM or GOAWAY) and the handler is never called.
func TestAttackOversizedHeaderList(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		var calls atomic.Int64
		ts := im.start(t, serverConfig{MaxHeaderBytes: 16 << 10, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
		})})
		rc := dialRaw(t, ts)
		rc.serverSettings()
		var fields []hfield
		for i := range 64 {
			fields = append(fields, hfield{Name: fmt.Sprintf("x-big-%d", i), Value: strings.Repeat("b", 1000), Sensitive: true})
		}
		rc.writeHeaders(1, true, get("/big", fields...)...)
		got := rc.observe(1)
		t.Logf("%s: %s", im.name, got)
		if strings.HasPrefix(got, "answered") && !strings.HasSuffix(got, "431") {
			t.Errorf("oversized header list: %s, want 431, RST_STREAM or GOAWAY", got)
		}
		if calls.Load() != 0 {
			t.Errorf("handler called for a header list over MaxHeaderBytes")
		}
	})
}

// TestAttackMaxConcurrentStreamsExceeded: one stream beyond the advertised limit
// (after the client ACKed the SETTINGS) is refused with RST_STREAM
// REFUSED_STREAM or PROTOCOL_ERROR; the streams within the limit finish.
func TestAttackMaxConcurrentStreamsExceeded(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		const limit = 3
		var calls atomic.Int64
		in := make(chan struct{}, limit+1)
		release := make(chan struct{})
		ts := im.start(t, serverConfig{MaxConcurrentStreams: limit, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			in <- struct{}{}
			<-release
			io.WriteString(w, "ok")
		})})
		rc := dialRaw(t, ts)
		rc.serverSettings()
		rc.sync() // our SETTINGS ACK has been read by now
		for i := range limit {
			rc.writeHeaders(uint32(2*i+1), true, get("/s")...)
		}
		for range limit {
			<-in
		}
		over := uint32(2*limit + 1)
		rc.writeHeaders(over, true, get("/over")...)
		switch code := rc.expectRST(over); code {
		case http2.ErrCodeRefusedStream, http2.ErrCodeProtocol:
		default:
			t.Errorf("stream over the limit reset with %v, want REFUSED_STREAM or PROTOCOL_ERROR", code)
		}
		close(release)
		var ids []uint32
		for i := range limit {
			ids = append(ids, uint32(2*i+1))
		}
		for id, res := range rc.readResponses(ids...) {
			if res.status != "200" {
				t.Errorf("stream %d: %s", id, res.status)
			}
		}
		if calls.Load() != limit {
			t.Errorf("handler called %d times, want %d", calls.Load(), limit)
		}
	})
}

// TestAttackPrefaceDeadline: a TLS connection that never sends the client
// preface is closed by the server within a deadline. All impls are waited
// for at once (x/net's deadline is a fixed 10 s).
func TestAttackPrefaceDeadline(t *testing.T) {
	checkGoroutines(t)
	var wg sync.WaitGroup
	for _, im := range impls {
		ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})})
		c := ts.dialTLS(t)
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(rawDeadline))
		wg.Go(func() {
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("%s: connection without a preface still open after %v", im.name, rawDeadline)
			}
		})
	}
	wg.Wait()
}

// TestAttackFlowControlViolations: RFC 9113 §6.9 errors.
func TestAttackFlowControlViolations(t *testing.T) {
	type check func(t *testing.T, rc *rawConn)
	streamData := func(rc *rawConn, id uint32, n int) error {
		chunk := make([]byte, 16384)
		for n > 0 {
			k := min(n, len(chunk))
			if err := rc.tryWrite(func(fr *http2.Framer) error { return fr.WriteData(id, false, chunk[:k]) }); err != nil {
				return err
			}
			n -= k
		}
		return nil
	}
	cases := []struct {
		name string
		run  check
	}{
		{"data-beyond-stream-window", func(t *testing.T, rc *rawConn) {
			rc.writeHeaders(1, false, post("/block")...)
			streamData(rc, 1, 256<<10+1)
			code, stream := rc.streamOrConnError(1)
			if code != http2.ErrCodeFlowControl {
				t.Errorf("%s error %v, want FLOW_CONTROL_ERROR", stream, code)
			}
		}},
		{"data-beyond-conn-window", func(t *testing.T, rc *rawConn) {
			// Five streams each within its 256 KiB window, 1.25 MiB in all.
			for i := range 5 {
				id := uint32(2*i + 1)
				rc.writeHeaders(id, false, post("/block")...)
				if err := streamData(rc, id, 256<<10); err != nil {
					break
				}
			}
			// The fifth stream overruns the connection window; RFC 9113
			// §6.9 allows a stream or a connection error.
			code, scope := rc.streamOrConnError(9)
			if code != http2.ErrCodeFlowControl {
				t.Errorf("%s error %v, want FLOW_CONTROL_ERROR", scope, code)
			}
		}},
		{"window-update-zero-conn", func(t *testing.T, rc *rawConn) {
			rc.write(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, 0) })
			rc.expectConnError(false, http2.ErrCodeProtocol)
		}},
		{"window-update-zero-stream", func(t *testing.T, rc *rawConn) {
			rc.writeHeaders(1, false, post("/block")...)
			rc.write(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(1, 0) })
			if code := rc.expectRST(1); code != http2.ErrCodeProtocol {
				t.Errorf("RST_STREAM %v, want PROTOCOL_ERROR", code)
			}
		}},
		{"window-overflow-conn", func(t *testing.T, rc *rawConn) {
			rc.write(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, 1<<31-1) })
			rc.expectConnError(false, http2.ErrCodeFlowControl)
		}},
		{"window-overflow-stream", func(t *testing.T, rc *rawConn) {
			rc.writeHeaders(1, false, post("/block")...)
			rc.write(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(1, 1<<31-1) })
			if code := rc.expectRST(1); code != http2.ErrCodeFlowControl {
				t.Errorf("RST_STREAM %v, want FLOW_CONTROL_ERROR", code)
			}
		}},
		{"initial-window-too-large", func(t *testing.T, rc *rawConn) {
			rc.write(func(fr *http2.Framer) error {
				return fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
			})
			rc.expectConnError(false, http2.ErrCodeFlowControl)
		}},
	}
	forEachImpl(t, func(t *testing.T, im impl) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ts := im.start(t, serverConfig{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					<-r.Context().Done() // never reads the body: no window is given back
				})})
				rc := dialRaw(t, ts)
				rc.serverSettings()
				rc.sync()
				tc.run(t, rc)
			})
		}
	})
}

// streamOrConnError reads until streamID is reset or the conn gets a
// GOAWAY with an error, either being allowed by the RFC.
func (rc *rawConn) streamOrConnError(streamID uint32) (http2.ErrCode, string) {
	rc.t.Helper()
	for {
		f, err := rc.readFrame()
		if err != nil {
			rc.failRead("RST_STREAM or GOAWAY", err)
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			if f.StreamID == streamID {
				return f.ErrCode, "stream"
			}
		case *http2.GoAwayFrame:
			if f.ErrCode != http2.ErrCodeNo {
				return f.ErrCode, "connection"
			}
		}
	}
}
