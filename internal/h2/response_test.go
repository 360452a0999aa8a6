package h2

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

func TestContentLengthDeclared(t *testing.T) {
	errs := make(chan error, 1)
	ts := startTLS(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		switch r.URL.Path {
		case "/long":
			_, err := io.WriteString(w, "too long")
			errs <- err
			io.WriteString(w, "exact")
		case "/short":
			io.WriteString(w, "abc")
		}
	})})
	c := h2Client(t)
	resp, err := c.Get(ts.url("/long"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := <-errs; !errors.Is(err, http.ErrContentLength) || string(b) != "exact" {
		t.Fatalf("%v %q", err, b)
	}
	resp, err = c.Get(ts.url("/short"))
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("short body read without error")
	}
}

// TestPeerWindowSettings: a peer's SETTINGS_INITIAL_WINDOW_SIZE applies
// to open streams, also when it makes their window negative (RFC 9113
// §6.9.2).
func TestPeerWindowSettings(t *testing.T) {
	ts := startTCP(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 10000)))
	})})
	rc := dialRaw(t, ts, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 6000})
	rc.headers(1, true, getFields...)
	got := 0
	rc.until(func(f http2.Frame) bool {
		if d, ok := f.(*http2.DataFrame); ok {
			got += len(d.Data())
		}
		return got == 6000
	})
	rc.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1000}) // window -5000
	rc.until(func(f http2.Frame) bool { s, ok := f.(*http2.SettingsFrame); return ok && s.IsAck() })
	rc.fr.WriteWindowUpdate(1, 5000) // back to 0: still nothing
	rc.fr.WritePing(false, [8]byte{7})
	rc.until(func(f http2.Frame) bool {
		if _, ok := f.(*http2.DataFrame); ok {
			t.Fatal("DATA sent on a window <= 0")
		}
		_, ok := f.(*http2.PingFrame)
		return ok
	})
	rc.fr.WriteWindowUpdate(1, 4000)
	rc.until(func(f http2.Frame) bool {
		if d, ok := f.(*http2.DataFrame); ok {
			got += len(d.Data())
			return d.StreamEnded()
		}
		return false
	})
	if got != 10000 {
		t.Fatalf("got %d bytes", got)
	}
}

func TestSwitchingProtocolsRefused(t *testing.T) {
	ts := startTCP(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusSwitchingProtocols)
	})})
	rc := dialRaw(t, ts)
	rc.headers(1, true, getFields...)
	rc.expectRST(1, http2.ErrCodeInternal)
}

func TestBodyReadDeadline(t *testing.T) {
	errs := make(chan error, 1)
	ts := startTCP(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, err := r.Body.Read(make([]byte, 10))
		errs <- err
		io.WriteString(w, "after")
	})})
	rc := dialRaw(t, ts)
	rc.headers(1, false, get(":method", "POST")[2:]...)
	if err := <-errs; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal(err)
	}
	rc.expectResponse(1)
}

// TestNotModifiedKeepsContentLength: a 304 may carry the representation's
// Content-Length without a body.
func TestNotModifiedKeepsContentLength(t *testing.T) {
	ts := startTLS(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1234")
		w.WriteHeader(http.StatusNotModified)
		if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
			t.Errorf("write on 304: %v", err)
		}
	})})
	resp, err := h2Client(t).Get(ts.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // (x/net's client reads 1234 expected bytes as a short body)
	if resp.StatusCode != 304 || resp.Header.Get("Content-Length") != "1234" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
}

// TestResponseFraming: DATA frames respect the peer's max frame size, a
// head larger than a frame continues in CONTINUATION frames, names are
// lowercase, connection-specific fields are dropped, date is added.
func TestResponseFraming(t *testing.T) {
	big := strings.Repeat("v", 20000)
	ts := startTCP(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", big)
		w.Header().Set("Connection", "close")
		w.Header().Set("Transfer-Encoding", "chunked")
		w.Header().Set("Keep-Alive", "5")
		w.Header().Set("X-Bad", "a\r\nb")
		w.Write(make([]byte, 100000))
	})})
	rc := dialRaw(t, ts, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	rc.fr.WriteWindowUpdate(0, 1<<20)
	rc.headers(1, true, getFields...)
	var head *http2.MetaHeadersFrame
	got := 0
	rc.until(func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			head = f
		case *http2.DataFrame:
			if len(f.Data()) > 16384 {
				t.Fatalf("DATA of %d bytes", len(f.Data()))
			}
			got += len(f.Data())
			return f.StreamEnded()
		}
		return false
	})
	if got != 100000 || head == nil {
		t.Fatalf("got %d, head %v", got, head)
	}
	seen := map[string]string{}
	for _, hf := range head.Fields {
		seen[hf.Name] = hf.Value
		if strings.ToLower(hf.Name) != hf.Name {
			t.Errorf("name %q", hf.Name)
		}
	}
	for _, k := range []string{"connection", "transfer-encoding", "keep-alive", "x-bad"} {
		if _, ok := seen[k]; ok {
			t.Errorf("%s sent", k)
		}
	}
	if seen["x-big"] != big || seen["date"] == "" || seen[":status"] != "200" {
		t.Errorf("head %v", len(seen))
	}
}
