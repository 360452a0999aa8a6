package server

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// h2Server serves h with h2Deadlines over HTTP/2 (TLS).
func h2Server(t *testing.T, h http.HandlerFunc, write, total time.Duration) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h2Deadlines(h, write, total))
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// An HTTP/2 client that stops reading (and so stops granting flow-control
// window) is cut after write_timeout, as an HTTP/1 one is.
func TestH2WriteTimeoutCutsStalledReader(t *testing.T) {
	errc := make(chan error, 1)
	s := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				errc <- err
				return
			}
		}
	}, 200*time.Millisecond, 0)
	resp, err := s.Client().Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("served over %s", resp.Proto)
	}
	select {
	case err := <-errc: // the client read nothing of the body
		if err == nil {
			t.Fatal("no write error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled HTTP/2 reader was not cut")
	}
}

// A stream the handler pauses longer than write_timeout (an upstream that
// is slow, not the client) is not cut; response_timeout caps it.
func TestH2PauseIsNotStallButResponseTimeoutCaps(t *testing.T) {
	errc := make(chan error, 1)
	s := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for {
			_, err := io.WriteString(w, "tick\n")
			if err == nil {
				err = rc.Flush()
			}
			if err != nil {
				errc <- err
				return
			}
			time.Sleep(150 * time.Millisecond) // longer than write_timeout
		}
	}, 100*time.Millisecond, 700*time.Millisecond)
	start := time.Now()
	resp, err := s.Client().Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatal("the stream ended cleanly; want it reset at response_timeout")
	}
	if n := bytes.Count(body, []byte("tick")); n < 3 {
		t.Errorf("got %d ticks before the cut: pauses were taken for stalls", n)
	}
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Errorf("cut after %v, before response_timeout", d)
	}
	if err := <-errc; err == nil {
		t.Fatal("no handler write error")
	}
}
