package h1

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// refuseAll answers 401 without reading the body, as an authentication
// step does; /next answers 200 so a test can see the connection kept.
func refuseAll(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/next" {
		io.WriteString(w, "next")
		return
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusUnauthorized)
	io.WriteString(w, `{"type":"unauthenticated"}`)
}

// TestRefusalAnswersBeforeTheBody: a refusal of a request whose body has
// not arrived is sent at once, not after the body (or a read timeout); the
// body is then discarded and the connection serves the next request.
func TestRefusalAnswersBeforeTheBody(t *testing.T) {
	addr := startHandler(t, refuseAll)
	c, br := dial(t, addr)
	const size = 100000 // within the discard bound
	write(t, c, fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n0123456789", size))
	resp, body := readFull(t, br, "POST")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "unauthenticated") || resp.Close {
		t.Fatalf("status %d, body %q, close %v; want the 401 at once, keeping the connection", resp.StatusCode, body, resp.Close)
	}
	write(t, c, strings.Repeat("b", size-10)+"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	if status, body := readResponse(t, br); status != 200 || body != "next" {
		t.Fatalf("next request on the connection: %d %q", status, body)
	}
}

// TestRefusalCutsABodyPastTheDiscardBound: a body that goes on past the
// discard bound is not read forever: the connection is closed, lingering
// within its own bounds.
func TestRefusalCutsABodyPastTheDiscardBound(t *testing.T) {
	addr := startHandler(t, refuseAll)
	c, br := dial(t, addr)
	write(t, c, "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	if status, _ := readResponse(t, br); status != http.StatusUnauthorized {
		t.Fatalf("status %d", status)
	}
	chunk := fmt.Sprintf("%x\r\n%s\r\n", 64<<10, strings.Repeat("c", 64<<10))
	const most = 256 << 20 // the bounds, plus generous room for socket buffers
	sent := 0
	for ; sent < most; sent += len(chunk) {
		if _, err := io.WriteString(c, chunk); err != nil {
			break
		}
	}
	if sent >= most {
		t.Fatalf("the server read %d bytes of a refused body and still reads", sent)
	}
}

// TestRefusedUploadersReadTheAnswer: clients refused while they upload a
// large body all read the refusal, none a reset or a broken pipe — whether
// the declared length is past the discard bound (the connection closes,
// lingering) or unknown (chunked: discarded up to the bound, then closed).
func TestRefusedUploadersReadTheAnswer(t *testing.T) {
	addr := startHandler(t, refuseAll)
	const clients, size = 50, 8 << 20
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxConnsPerHost: clients, DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body io.Reader = io.LimitReader(zeros{}, size)
			if i%2 == 1 {
				body = struct{ io.Reader }{body} // unknown length: chunked
			}
			req, _ := http.NewRequest("POST", "http://"+addr+"/upload", body)
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "unauthenticated") {
				errs <- fmt.Errorf("status %d, body %q, err %v", resp.StatusCode, b, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	var failed []error
	for err := range errs {
		failed = append(failed, err)
	}
	if len(failed) > 0 {
		t.Fatalf("%d of %d refused uploaders did not read the 401: %v", len(failed), clients, errors.Join(failed...))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
