package h2

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawClient speaks HTTP/2 frame by frame over plain TCP, for malformed
// requests and floods.
type rawClient struct {
	t    testing.TB
	c    net.Conn
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
}

// dialRaw connects, sends the preface and settings, and reads the server's
// SETTINGS (which it acknowledges) and WINDOW_UPDATE.
func dialRaw(t testing.TB, ts *testServer, settings ...http2.Setting) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second)) // a hang guard, not a timing assertion
	rc := &rawClient{t: t, c: c, fr: http2.NewFramer(c, c)}
	rc.enc = hpack.NewEncoder(&rc.hbuf)
	rc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	rc.fr.MaxHeaderListSize = 1 << 20
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := rc.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	f := rc.read()
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		t.Fatalf("first frame %v", f)
	}
	rc.fr.WriteSettingsAck()
	if wu, ok := rc.read().(*http2.WindowUpdateFrame); !ok || wu.StreamID != 0 || wu.Increment != connWindow-65535 {
		t.Fatalf("second frame %v", wu)
	}
	if f, ok := rc.read().(*http2.SettingsFrame); !ok || !f.IsAck() {
		t.Fatalf("third frame %v", f)
	}
	return rc
}

func (rc *rawClient) read() http2.Frame {
	rc.t.Helper()
	f, err := rc.fr.ReadFrame()
	if err != nil {
		rc.t.Fatalf("read frame: %v", err)
	}
	return f
}

// headers sends a HEADERS frame with fields given as name, value pairs.
func (rc *rawClient) headers(id uint32, end bool, fields ...string) {
	rc.t.Helper()
	rc.hbuf.Reset()
	for i := 0; i < len(fields); i += 2 {
		rc.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	if err := rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.hbuf.Bytes(),
		EndStream: end, EndHeaders: true}); err != nil {
		rc.t.Fatal(err)
	}
}

var getFields = []string{":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/"}

func get(extra ...string) []string { return append(append([]string{}, getFields...), extra...) }

// until reads frames until pred accepts one, and returns it.
func (rc *rawClient) until(pred func(http2.Frame) bool) http2.Frame {
	rc.t.Helper()
	for {
		f := rc.read()
		if pred(f) {
			return f
		}
	}
}

func (rc *rawClient) expectRST(id uint32, code http2.ErrCode) {
	rc.t.Helper()
	f := rc.until(func(f http2.Frame) bool {
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			rc.t.Fatalf("GOAWAY %v, want RST_STREAM %v on %d", ga.ErrCode, code, id)
		}
		_, ok := f.(*http2.RSTStreamFrame)
		return ok && f.Header().StreamID == id
	}).(*http2.RSTStreamFrame)
	if f.ErrCode != code {
		rc.t.Fatalf("RST_STREAM %v, want %v", f.ErrCode, code)
	}
}

// expectGoAway reads until GOAWAY, checks its code and that the
// connection then ends.
func (rc *rawClient) expectGoAway(code http2.ErrCode) {
	rc.t.Helper()
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			rc.t.Fatalf("connection ended without GOAWAY %v: %v", code, err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			if ga.ErrCode != code {
				rc.t.Fatalf("GOAWAY %v, want %v", ga.ErrCode, code)
			}
			break
		}
	}
	rc.expectEOF()
}

// expectEOF reads until the server closes the connection.
func (rc *rawClient) expectEOF() {
	rc.t.Helper()
	for {
		_, err := rc.fr.ReadFrame()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			rc.t.Fatalf("connection not closed: %v", err)
		}
		return
	}
}

// expectResponse reads until the response HEADERS on id and returns its
// :status.
func (rc *rawClient) expectResponse(id uint32) string {
	rc.t.Helper()
	f := rc.until(func(f http2.Frame) bool {
		if r, ok := f.(*http2.RSTStreamFrame); ok && r.StreamID == id {
			rc.t.Fatalf("stream %d reset: %v", id, r.ErrCode)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			rc.t.Fatalf("GOAWAY %v", ga.ErrCode)
		}
		_, ok := f.(*http2.MetaHeadersFrame)
		return ok && f.Header().StreamID == id
	}).(*http2.MetaHeadersFrame)
	return f.PseudoValue("status")
}

func netDial(ts *testServer) (net.Conn, error) { return net.Dial("tcp", ts.addr) }

func hpackField(name, value string) hpack.HeaderField {
	return hpack.HeaderField{Name: name, Value: value}
}
