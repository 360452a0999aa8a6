package h2_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawConn is a hand-driven HTTP/2 client over real TLS: it writes whatever
// frames a test asks for (malformed ones included) and reads the server's
// frames. An overall deadline on the conn keeps any test from hanging.
type rawConn struct {
	t  *testing.T
	c  *tls.Conn
	fr *http2.Framer

	wmu  sync.Mutex // writes: the reader ACKs SETTINGS concurrently with a test's writer
	henc *hpack.Encoder
	hbuf bytes.Buffer

	settings     map[http2.SettingID]uint32 // the server's first SETTINGS
	gotSettings  bool
	connWin      int64 // server's connection receive window as advertised so far
	maxFrameSize uint32
}

const rawDeadline = 20 * time.Second

// dialRaw dials ts, negotiates h2, and sends the preface and an empty
// SETTINGS frame.
func dialRaw(t *testing.T, ts *testServer) *rawConn {
	t.Helper()
	return dialRawConn(t, ts.dialTLS(t))
}

func dialRawConn(t *testing.T, c *tls.Conn) *rawConn {
	t.Helper()
	c.SetDeadline(time.Now().Add(rawDeadline))
	t.Cleanup(func() { c.Close() })
	rc := &rawConn{t: t, c: c, connWin: 65535, maxFrameSize: 16384}
	rc.fr = http2.NewFramer(c, c)
	rc.fr.AllowIllegalWrites = true
	rc.fr.ReadMetaHeaders = hpack.NewDecoder(65536, nil)
	rc.fr.MaxHeaderListSize = 16 << 20
	rc.fr.SetMaxReadFrameSize(16 << 20)
	rc.henc = hpack.NewEncoder(&rc.hbuf)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatalf("preface: %v", err)
	}
	rc.write(func(fr *http2.Framer) error { return fr.WriteSettings() })
	return rc
}

// write runs f under the write lock and fails the test on error.
func (rc *rawConn) write(f func(fr *http2.Framer) error) {
	rc.t.Helper()
	if err := rc.tryWrite(f); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

func (rc *rawConn) tryWrite(f func(fr *http2.Framer) error) error {
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	return f(rc.fr)
}

// hfield is one header field written as given (no validation, any order).
type hfield = hpack.HeaderField

func hf(name, value string) hfield { return hfield{Name: name, Value: value} }

// get is a valid GET request's header list, with extra fields after.
func get(path string, extra ...hfield) []hfield {
	return append([]hfield{hf(":method", "GET"), hf(":scheme", "https"), hf(":authority", "localhost"), hf(":path", path)}, extra...)
}

// post is a valid POST request's header list, with extra fields after.
func post(path string, extra ...hfield) []hfield {
	return append([]hfield{hf(":method", "POST"), hf(":scheme", "https"), hf(":authority", "localhost"), hf(":path", path)}, extra...)
}

// encode returns the HPACK block for fields.
func (rc *rawConn) encode(fields []hfield) []byte {
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	rc.hbuf.Reset()
	for _, f := range fields {
		rc.henc.WriteField(f)
	}
	return bytes.Clone(rc.hbuf.Bytes())
}

// writeHeaders sends a HEADERS frame (plus CONTINUATION frames if the block
// is larger than the frame size) for the given fields.
func (rc *rawConn) writeHeaders(streamID uint32, endStream bool, fields ...hfield) {
	rc.t.Helper()
	if err := rc.tryWriteHeaders(streamID, endStream, fields...); err != nil {
		rc.t.Fatalf("write headers: %v", err)
	}
}

func (rc *rawConn) tryWriteHeaders(streamID uint32, endStream bool, fields ...hfield) error {
	block := rc.encode(fields)
	const chunk = 16384
	first := block
	if len(first) > chunk {
		first = block[:chunk]
	}
	rest := block[len(first):]
	err := rc.tryWrite(func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: streamID, BlockFragment: first, EndStream: endStream, EndHeaders: len(rest) == 0})
	})
	for err == nil && len(rest) > 0 {
		n := min(len(rest), chunk)
		frag := rest[:n]
		rest = rest[n:]
		err = rc.tryWrite(func(fr *http2.Framer) error { return fr.WriteContinuation(streamID, len(rest) == 0, frag) })
	}
	return err
}

func (rc *rawConn) writeData(streamID uint32, endStream bool, data []byte) {
	rc.t.Helper()
	rc.write(func(fr *http2.Framer) error { return fr.WriteData(streamID, endStream, data) })
}

// readFrame reads one frame, ACKing the server's SETTINGS and tracking its
// advertised connection window. DATA payloads are copied.
func (rc *rawConn) readFrame() (http2.Frame, error) {
	f, err := rc.fr.ReadFrame()
	if err != nil {
		return nil, err
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if !f.IsAck() {
			if !rc.gotSettings {
				rc.gotSettings = true
				rc.settings = map[http2.SettingID]uint32{}
				f.ForeachSetting(func(s http2.Setting) error {
					rc.settings[s.ID] = s.Val
					return nil
				})
			}
			rc.tryWrite(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
		}
	case *http2.WindowUpdateFrame:
		if f.StreamID == 0 {
			rc.connWin += int64(f.Increment)
		}
	case *http2.DataFrame:
		d := bytes.Clone(f.Data())
		return &dataFrame{StreamID: f.StreamID, EndStream: f.StreamEnded(), Data: d}, nil
	case *http2.GoAwayFrame:
		g := *f
		return &g, nil
	}
	return f, nil
}

// dataFrame is a DATA frame whose payload outlives the next read.
type dataFrame struct {
	http2.FrameHeader
	StreamID  uint32
	EndStream bool
	Data      []byte
}

func (rc *rawConn) failRead(what string, err error) {
	rc.t.Helper()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		rc.t.Fatalf("waiting for %s: no answer within %v (connection left open)", what, rawDeadline)
	}
	rc.t.Fatalf("waiting for %s: connection ended: %v", what, err)
}

// serverSettings returns the server's first SETTINGS.
func (rc *rawConn) serverSettings() map[http2.SettingID]uint32 {
	rc.t.Helper()
	for !rc.gotSettings {
		if _, err := rc.readFrame(); err != nil {
			rc.failRead("server SETTINGS", err)
		}
	}
	return rc.settings
}

// sync sends a PING and reads until its ACK, so everything the server sent
// before answering is seen. It returns the frames read meanwhile.
func (rc *rawConn) sync() []http2.Frame {
	rc.t.Helper()
	data := [8]byte{'s', 'y', 'n', 'c'}
	rc.write(func(fr *http2.Framer) error { return fr.WritePing(false, data) })
	var seen []http2.Frame
	for {
		f, err := rc.readFrame()
		if err != nil {
			rc.failRead("PING ACK", err)
		}
		if p, ok := f.(*http2.PingFrame); ok && p.IsAck() && p.Data == data {
			return seen
		}
		seen = append(seen, f)
	}
}

// connWindow returns the connection receive window the server advertised
// before answering a PING.
func (rc *rawConn) connWindow() int64 {
	rc.t.Helper()
	rc.serverSettings()
	rc.sync()
	return rc.connWin
}

type response struct {
	status  string
	header  http.Header
	body    []byte
	trailer http.Header
}

// readResponse reads until streamID ends and returns its response. A reset
// of the stream, a GOAWAY with an error or a closed conn fail the test.
// Frames of other streams are dropped.
func (rc *rawConn) readResponse(streamID uint32) *response {
	rc.t.Helper()
	return rc.readResponses(streamID)[streamID]
}

// readResponses reads until all of ids ended and returns their responses.
func (rc *rawConn) readResponses(ids ...uint32) map[uint32]*response {
	rc.t.Helper()
	out := map[uint32]*response{}
	open := map[uint32]bool{}
	for _, id := range ids {
		open[id] = true
	}
	for len(open) > 0 {
		f, err := rc.readFrame()
		if err != nil {
			rc.failRead(fmt.Sprintf("responses on streams %v", ids), err)
		}
		var id uint32
		end := false
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			id = f.StreamID
			if !open[id] {
				continue
			}
			h := http.Header{}
			for _, r := range f.RegularFields() {
				h.Add(r.Name, r.Value)
			}
			st := f.PseudoValue("status")
			switch {
			case out[id] == nil && strings.HasPrefix(st, "1"):
			case out[id] == nil:
				out[id] = &response{status: st, header: h}
			default:
				out[id].trailer = h
			}
			end = f.StreamEnded()
		case *dataFrame:
			id = f.StreamID
			if !open[id] {
				continue
			}
			if out[id] == nil {
				rc.t.Fatalf("DATA before HEADERS on stream %d", id)
			}
			out[id].body = append(out[id].body, f.Data...)
			end = f.EndStream
		case *http2.RSTStreamFrame:
			if open[f.StreamID] {
				rc.t.Fatalf("stream %d reset (%v) instead of answered", f.StreamID, f.ErrCode)
			}
		case *http2.GoAwayFrame:
			if f.ErrCode != http2.ErrCodeNo {
				rc.t.Fatalf("GOAWAY %v (%q) while waiting for streams %v", f.ErrCode, f.DebugData(), ids)
			}
		}
		if end {
			if out[id] == nil {
				rc.t.Fatalf("stream %d ended without a response", id)
			}
			delete(open, id)
		}
	}
	return out
}

// expectRST reads until streamID is reset and returns the code. A response
// on that stream, a GOAWAY or the conn's end fail the test.
func (rc *rawConn) expectRST(streamID uint32) http2.ErrCode {
	rc.t.Helper()
	for {
		f, err := rc.readFrame()
		if err != nil {
			rc.failRead("RST_STREAM on stream "+itoa(streamID), err)
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			if f.StreamID == streamID {
				return f.ErrCode
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == streamID {
				rc.t.Fatalf("stream %d answered with :status %s, want RST_STREAM", streamID, f.PseudoValue("status"))
			}
		case *http2.GoAwayFrame:
			rc.t.Fatalf("GOAWAY %v (%q), want RST_STREAM on stream %d (a stream error)", f.ErrCode, f.DebugData(), streamID)
		}
	}
}

// expectGoAway reads until a GOAWAY and returns it.
func (rc *rawConn) expectGoAway() *http2.GoAwayFrame {
	rc.t.Helper()
	for {
		f, err := rc.readFrame()
		if err != nil {
			rc.failRead("GOAWAY", err)
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			return g
		}
	}
}

// connEnd is how a connection ended: with a GOAWAY (goAway non-nil) or just
// closed, plus what was seen on the way.
type connEnd struct {
	goAway *http2.GoAwayFrame
	rsts   map[uint32]http2.ErrCode
	frames int
}

func (e connEnd) String() string {
	if e.goAway != nil {
		return "GOAWAY " + e.goAway.ErrCode.String() + " (" + string(e.goAway.DebugData()) + ")"
	}
	return "closed without GOAWAY"
}

// awaitConnEnd reads until the server sends a GOAWAY with an error code or
// closes the connection; a connection still open at the deadline fails the
// test. A GOAWAY(NO_ERROR) is noted and reading goes on.
func (rc *rawConn) awaitConnEnd() connEnd {
	rc.t.Helper()
	e := connEnd{rsts: map[uint32]http2.ErrCode{}}
	for {
		f, err := rc.readFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				rc.t.Fatalf("connection still open %v after the attack (%d frames read)", rawDeadline, e.frames)
			}
			return e
		}
		e.frames++
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			e.goAway = f
			if f.ErrCode != http2.ErrCodeNo {
				return e
			}
		case *http2.RSTStreamFrame:
			e.rsts[f.StreamID] = f.ErrCode
		}
	}
}

// expectConnError waits for the conn to end and requires a GOAWAY with one
// of codes or, if closedOK, a plain close.
func (rc *rawConn) expectConnError(closedOK bool, codes ...http2.ErrCode) connEnd {
	rc.t.Helper()
	e := rc.awaitConnEnd()
	if e.goAway == nil || e.goAway.ErrCode == http2.ErrCodeNo {
		if !closedOK {
			rc.t.Fatalf("connection %v, want GOAWAY %v", e, codes)
		}
		return e
	}
	for _, c := range codes {
		if e.goAway.ErrCode == c {
			return e
		}
	}
	rc.t.Fatalf("connection ended with %v, want one of %v", e, codes)
	return e
}

// expectClosed reads until the server closes the connection.
func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	for {
		if _, err := rc.readFrame(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				rc.t.Fatalf("connection not closed within %v", rawDeadline)
			}
			return
		}
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
