package h2

import (
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestWriteTimeout: a client that grants window but does not read has its
// connection closed after WriteTimeout; the handler's write fails.
func TestWriteTimeout(t *testing.T) {
	werr := make(chan error, 1)
	ts := startTCP(t, &Server{WriteTimeout: 100 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		for range 4096 { // 128 MiB: more than any socket buffers
			if _, err := w.Write(chunk); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	})})
	rc := dialRaw(t, ts, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	rc.fr.WriteWindowUpdate(0, 1<<31-1-65535)
	rc.headers(1, true, getFields...)
	if err := <-werr; err == nil {
		t.Fatal("128 MiB written to a client that does not read")
	}
	rc.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	rc.expectEOF()
}

// TestStreamWriteDeadline: a write blocked on the stream's flow-control
// window past its deadline fails and the stream is reset (CANCEL); the
// connection goes on.
func TestStreamWriteDeadline(t *testing.T) {
	werr := make(chan error, 1)
	ts := startTCP(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/block" {
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
			werr <- err
			return
		}
		_, err := w.Write(make([]byte, 200<<10)) // > the 64 KiB window
		werr <- err
	})})
	rc := dialRaw(t, ts)
	rc.headers(1, true, ":method", "GET", ":scheme", "https", ":authority", "a", ":path", "/block")
	if err := <-werr; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write error %v", err)
	}
	rc.expectRST(1, http2.ErrCodeCancel)
	rc.fr.WriteWindowUpdate(0, 1<<20) // the connection window it used comes back
	rc.headers(3, true, getFields...)
	rc.expectResponse(3)
}
