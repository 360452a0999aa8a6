package audit

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder keeps every Write it receives, as a separate chunk.
type recorder struct {
	mu     sync.Mutex
	chunks [][]byte
	wrote  chan struct{} // optional: signalled (non-blocking) after each Write
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.chunks = append(r.chunks, bytes.Clone(p))
	r.mu.Unlock()
	if r.wrote != nil {
		select {
		case r.wrote <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(bytes.Join(r.chunks, nil))
}

// checkChunks fails if a Write of the underlying writer ends mid-line.
func (r *recorder) checkChunks(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, c := range r.chunks {
		if len(c) == 0 || c[len(c)-1] != '\n' {
			t.Fatalf("write %d does not end with a whole line: %q", i, c)
		}
	}
}

// line is the k-th line of writer g: varied lengths, self-checking content.
func line(g, k int) string {
	pad := strings.Repeat(string(rune('a'+(g+k)%26)), (g*7+k*13)%300)
	return fmt.Sprintf("g%d k%d %s end%d", g, k, pad, len(pad))
}

// checkLines verifies out holds, for each of writers goroutines, lines
// 0..n-1 exactly once, in order, each intact.
func checkLines(t *testing.T, out string, writers, n int) {
	t.Helper()
	next := make([]int, writers)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != writers*n {
		t.Fatalf("got %d lines, want %d", len(lines), writers*n)
	}
	for _, l := range lines {
		var g, k int
		if _, err := fmt.Sscanf(l, "g%d k%d", &g, &k); err != nil || g < 0 || g >= writers {
			t.Fatalf("torn or foreign line %q", l)
		}
		if k != next[g] {
			t.Fatalf("writer %d: line %d arrived, want %d (lost, duplicated or reordered)", g, k, next[g])
		}
		if l != line(g, k) {
			t.Fatalf("line corrupted: %q", l)
		}
		next[g]++
	}
}

func TestSinkConcurrentWritersOrderedComplete(t *testing.T) {
	for _, tc := range []struct {
		name             string
		limit            int
		writers, perGoro int
	}{
		{"default limit", DefaultSinkLimit, 8, 2000},
		{"tight limit", 2048, 8, 1000},
		{"limit below a line", 16, 4, 300},
		{"single writer", DefaultSinkLimit, 1, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			s := NewSinkLimit(rec, tc.limit)
			var wg sync.WaitGroup
			for g := range tc.writers {
				wg.Go(func() {
					for k := range tc.perGoro {
						// Half the lines come without their newline: the sink adds it.
						l := line(g, k)
						if k%2 == 0 {
							l += "\n"
						}
						if n, err := s.Write([]byte(l)); n != len(l) || err != nil {
							t.Errorf("Write = %d, %v", n, err)
						}
					}
				})
			}
			wg.Wait()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			rec.checkChunks(t)
			checkLines(t, rec.all(), tc.writers, tc.perGoro)
			if tc.writers*tc.perGoro > 1000 && tc.limit == DefaultSinkLimit {
				t.Logf("%d lines in %d writes", tc.writers*tc.perGoro, len(rec.chunks))
			}
		})
	}
}

func TestSinkFlushAndClose(t *testing.T) {
	rec := &recorder{}
	s := NewSink(rec)
	for k := range 100 {
		s.Write([]byte(line(0, k)))
	}
	s.Flush()
	checkLines(t, rec.all(), 1, 100) // Flush returned: all 100 are out
	for k := 100; k < 200; k++ {
		s.Write([]byte(line(0, k) + "\n"))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkLines(t, rec.all(), 1, 200) // Close returned: everything is out
	// After Close, writes go straight through, synchronously.
	s.Write([]byte(line(0, 200)))
	checkLines(t, rec.all(), 1, 201)
	s.Flush() // no-ops after Close
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rec.checkChunks(t)
	if n, err := s.Write(nil); n != 0 || err != nil {
		t.Fatalf("empty write: %d, %v", n, err)
	}
	checkLines(t, rec.all(), 1, 201)
}

// TestSinkIdleLineLeavesPromptly: with no Flush and no other traffic, a
// single line reaches the writer (no batching timer holds it back).
func TestSinkIdleLineLeavesPromptly(t *testing.T) {
	rec := &recorder{wrote: make(chan struct{}, 1)}
	s := NewSink(rec)
	defer s.Close()
	for k := range 3 {
		s.Write([]byte(line(0, k)))
		select {
		case <-rec.wrote:
		case <-time.After(10 * time.Second):
			t.Fatalf("line %d never left the sink", k)
		}
	}
	checkLines(t, rec.all(), 1, 3)
}

type failing struct {
	mu    sync.Mutex
	calls int
	short bool
}

func (f *failing) Write(p []byte) (int, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.short {
		return len(p) / 2, nil
	}
	return 0, errors.New("disk on fire")
}

func TestSinkFailingWriterDoesNotBlock(t *testing.T) {
	for _, tc := range []struct {
		name  string
		w     *failing
		error string
	}{
		{"error", &failing{}, "disk on fire"},
		{"short write without error", &failing{short: true}, "short write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSinkLimit(tc.w, 256) // tiny limit: producers depend on the writer's progress
			done := make(chan struct{})
			go func() {
				defer close(done)
				var wg sync.WaitGroup
				for g := range 4 {
					wg.Go(func() {
						for k := range 500 {
							s.Write([]byte(line(g, k)))
						}
					})
				}
				wg.Wait()
				s.Flush()
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("writers wedged behind a failing writer")
			}
			err := s.Close()
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Fatalf("Close = %v, want the writer's error", err)
			}
			n, last := s.Err()
			tc.w.mu.Lock()
			calls := tc.w.calls
			tc.w.mu.Unlock()
			if n == 0 || int(n) != calls || last == nil {
				t.Fatalf("Err() = %d, %v; writer saw %d calls", n, last, calls)
			}
			// After Close the failure is returned synchronously.
			if _, err := s.Write([]byte("late\n")); err == nil {
				t.Fatal("write after Close hid the writer's error")
			}
		})
	}
}

// gated blocks each Write until the test lets it through.
type gated struct {
	recorder
	entered chan struct{}
	release chan struct{}
}

func (g *gated) Write(p []byte) (int, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.recorder.Write(p)
}

func TestSinkBackpressureBlocksInsteadOfDropping(t *testing.T) {
	const limit = 1000
	g := &gated{entered: make(chan struct{}), release: make(chan struct{})}
	s := NewSinkLimit(g, limit)
	// The first line is taken by the writer goroutine, which then hangs in
	// the underlying Write.
	s.Write([]byte("g0 k0 first"))
	<-g.entered
	// Fill the pending buffer up to the limit: these return at once.
	lineLen := 99 // plus newline: 100 bytes
	mk := func(k int) []byte {
		p := []byte(fmt.Sprintf("g0 k%d ", k))
		return append(p, bytes.Repeat([]byte{'x'}, lineLen-len(p))...)
	}
	for k := 1; k <= limit/(lineLen+1); k++ {
		s.Write(mk(k))
	}
	// The next producers must wait for the writer, not drop or grow.
	const extra = 5
	var wg sync.WaitGroup
	returned := make(chan int, extra)
	for i := range extra {
		k := limit/(lineLen+1) + 1 + i
		wg.Go(func() {
			s.Write(mk(k))
			returned <- k
		})
	}
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.waiting == extra
	})
	select {
	case k := <-returned:
		t.Fatalf("line %d was accepted past the limit while the writer was stuck", k)
	default:
	}
	s.mu.Lock()
	pending := len(s.buf)
	s.mu.Unlock()
	if pending > limit {
		t.Fatalf("pending %d bytes, limit %d", pending, limit)
	}
	// Let the writer go: everybody gets through and nothing is lost.
	go func() {
		for {
			select {
			case <-g.entered:
				g.release <- struct{}{}
			case <-s.done:
				return
			}
		}
	}()
	g.release <- struct{}{} // the first, hung write
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	g.checkChunks(t)
	out := g.all()
	total := 1 + limit/(lineLen+1) + extra
	seen := map[int]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var k int
		if _, err := fmt.Sscanf(l, "g0 k%d", &k); err != nil || seen[k] {
			t.Fatalf("bad or duplicate line %q", l)
		}
		seen[k] = true
	}
	for k := range total {
		if !seen[k] {
			t.Fatalf("line %d lost (%d lines out, want %d)", k, len(seen), total)
		}
	}
}

// waitFor polls a condition on the sink's state (not a timed sleep: the
// condition is what the test waits for); it fails after a generous bound.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		runtime.Gosched()
	}
}

// chanWriter hands every Write to a channel.
type chanWriter chan string

func (c chanWriter) Write(p []byte) (int, error) { c <- string(p); return len(p), nil }

// A line written at idle leaves on its own (after the batching delay), with
// no Flush: the writer goroutine is never left asleep with lines pending.
func TestSinkIdleLineLeavesWithoutFlush(t *testing.T) {
	w := make(chanWriter, 16)
	s := NewSink(w)
	defer s.Close()
	for i, line := range []string{"first", "second", "third"} {
		_, _ = s.Write([]byte(line))
		select {
		case got := <-w:
			if got != line+"\n" {
				t.Fatalf("write %d = %q, want %q", i, got, line+"\n")
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("line %d never left the sink", i)
		}
	}
}
