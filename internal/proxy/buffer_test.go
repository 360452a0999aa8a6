package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/spool"
)

func testSpool(t *testing.T) *spool.Budget {
	t.Helper()
	b, err := spool.New(spool.Config{Dir: t.TempDir(), Threshold: 64 << 10, MemoryBudget: 1 << 20, SpillBudget: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pattern is a body whose every byte depends on its offset, so a body
// reordered or cut shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// TestBufferedResponseFreesTheUpstream: with buffer_response, the upstream
// has written its whole answer and its connection is idle again while the
// client has not read past the first bytes.
func TestBufferedResponseFreesTheUpstream(t *testing.T) {
	body := pattern(16 << 20) // more than socket buffers hold
	idle := make(chan struct{}, 1)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for off := 0; off < len(body); off += 1 << 20 {
			w.Write(body[off : off+1<<20]) // no Content-Length: chunked
		}
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateIdle {
			select {
			case idle <- struct{}{}:
			default:
			}
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	u := newUpstream(t, Config{BufferResponse: true, BufferResponseBytes: 32 << 20, Spool: testSpool(t)}, up.URL)
	fe := front(t, u)

	c, err := net.Dial("tcp", fe.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReaderSize(c, 16)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	select { // the client reads nothing more meanwhile
	case <-idle:
	case <-time.After(20 * time.Second):
		t.Fatal("the upstream connection is still busy while the client is slow to read")
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := append(first, rest...); !bytes.Equal(got, body) || resp.ContentLength != int64(len(body)) {
		t.Fatalf("client got %d bytes (Content-Length %d), want the %d the upstream sent", len(got), resp.ContentLength, len(body))
	}
}

// TestBufferedResponsePastTheCapStreams: a response larger than
// buffer_response_bytes (or than the budget's room) is sent whole: the
// buffered start, then the rest as it comes.
func TestBufferedResponsePastTheCapStreams(t *testing.T) {
	body := pattern(3 << 20)
	for _, withLength := range []bool{true, false} {
		t.Run(fmt.Sprintf("content-length=%v", withLength), func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if withLength {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				for off := 0; off < len(body); off += 1 << 20 {
					w.Write(body[off : off+1<<20])
				}
			}))
			t.Cleanup(up.Close)
			u := newUpstream(t, Config{BufferResponse: true, BufferResponseBytes: 1 << 20, Spool: testSpool(t)}, up.URL)
			fe := front(t, u)
			resp, got := get(t, client(), fe.URL+"/big")
			if resp.StatusCode != 200 || got != string(body) {
				t.Fatalf("status %d, %d bytes, want %d intact", resp.StatusCode, len(got), len(body))
			}
		})
	}
}

// TestBufferedResponseBrokenUpstreamIs502: a body the upstream cuts short
// while it is buffered becomes a clean 502: nothing had reached the client.
func TestBufferedResponseBrokenUpstreamIs502(t *testing.T) {
	raw := newRawUpstream(t, func(int, seenRequest) (string, bool) {
		return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part", true
	})
	u := newUpstream(t, Config{BufferResponse: true, BufferResponseBytes: 1 << 20, Spool: testSpool(t)}, raw.url())
	fe := front(t, u)
	resp, body := get(t, client(), fe.URL+"/x")
	checkProblem(t, resp, body, http.StatusBadGateway, "upstream-unavailable")
}
