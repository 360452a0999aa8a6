package h2

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

func idleWorkers(s *Server) int {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return len(s.idle)
}

// The workers a burst started wait for more work, then exit once idle for
// workerIdle(): their goroutines and grown stacks do not stay for good.
func TestIdleWorkersRetire(t *testing.T) {
	const n = 20
	var entered sync.WaitGroup
	entered.Add(n)
	release := make(chan struct{})
	s := &Server{workerIdleFor: 100 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/burst" {
			entered.Done()
			<-release // n handlers at once: n workers
		}
		io.WriteString(w, "ok")
	})}
	ts := startTLS(t, s)
	c := h2Client(t)
	var done sync.WaitGroup
	for i := 0; i < n; i++ {
		done.Add(1)
		go func() {
			defer done.Done()
			if resp, err := c.Get(ts.url("/burst")); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	entered.Wait()
	close(release)
	done.Wait()
	// All n are idle now (or about to be); then they retire.
	deadline := time.Now().Add(10 * time.Second)
	for idleWorkers(s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle workers after the burst, want %d", idleWorkers(s), n)
		}
		time.Sleep(time.Millisecond)
	}
	for idleWorkers(s) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers still idle long after workerIdleTimeout", idleWorkers(s))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The server still serves, on a new worker.
	resp, err := c.Get(ts.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Fatalf("after the retirement: %q", b)
	}
}
