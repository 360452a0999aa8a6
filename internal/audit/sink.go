package audit

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultSinkLimit is the pending-bytes cap of NewSink: past it, writers wait
// for the writer goroutine (backpressure) instead of growing memory or
// dropping lines. Memory is bounded by about twice the cap: the pending
// buffer plus the one being written.
const DefaultSinkLimit = 4 << 20

// BatchDelay is how long the writer goroutine lets lines gather after the
// first one of a batch arrives (see Sink); there is no wait when batchBytes
// are already pending, or when Flush or Close wait.
var BatchDelay = 10 * time.Millisecond

const batchBytes = 64 << 10

// Sink is a group-commit line writer. Callers append whole lines to a shared
// buffer under a mutex; one writer goroutine swaps buffers and hands
// everything accumulated to the underlying writer in a single Write. Under
// load many lines leave in one write(2); at idle a line leaves within
// BatchDelay (10 ms). The delay matters on a busy single core: without it the
// writer goroutine runs at every scheduling point — each time a request
// waits for its upstream — and writes about one line per write(2), which
// measured 5% of the gateway's CPU. 1 ms still cost 0.14 write(2) and a
// writer wake-up per request at 6k req/s (issue 21); 10 ms gathers ~60
// lines there (nginx's access_log buffer=… flush=1s waits far longer).
//
// Every Write is one whole line: lines are never torn or interleaved, and the
// lines of one goroutine keep their order. Lines are never dropped by the
// sink: when more than the limit is pending, Write blocks until the writer
// goroutine catches up. Errors of the underlying writer are counted and
// remembered (see Err) and the sink keeps going, so a broken log destination
// cannot wedge the callers; the lines of a failed Write are lost there.
//
// Close (or Flush) writes everything pending; after Close, Write goes
// straight through to the underlying writer, synchronously.
type Sink struct {
	w   io.Writer
	max int

	mu      sync.Mutex
	work    sync.Cond // the writer goroutine waits here for lines
	drained sync.Cond // producers (limit) and Flush wait here for progress
	buf     []byte    // pending lines
	spare   []byte    // the other buffer, reused after each write
	idle    bool      // the writer goroutine waits on work
	closing bool      // Close was called: drain and stop
	closed  bool      // the writer goroutine has stopped: writes go direct
	waiting int       // producers held by the limit (tests observe it)
	flushes int       // Flush calls waiting: the writer skips its batching delay
	queued  uint64    // bytes ever appended to buf
	written uint64    // bytes of queued handed to w (written or failed)
	done    chan struct{}

	errs    atomic.Int64
	lastErr atomic.Pointer[error]
}

// NewSink returns a running Sink writing to w with DefaultSinkLimit. Close it
// to flush and stop its goroutine.
func NewSink(w io.Writer) *Sink { return NewSinkLimit(w, DefaultSinkLimit) }

// NewSinkLimit is NewSink with a cap on pending bytes (minimum 1; a single
// line longer than the cap is still accepted when nothing else is pending).
func NewSinkLimit(w io.Writer, maxPending int) *Sink {
	if maxPending < 1 {
		maxPending = 1
	}
	s := &Sink{w: w, max: maxPending, done: make(chan struct{}),
		buf: make([]byte, 0, min(maxPending, 64<<10)), spare: make([]byte, 0, min(maxPending, 64<<10))}
	s.work.L = &s.mu
	s.drained.L = &s.mu
	go s.run()
	return s
}

// Write queues p as one line (a newline is added if p lacks one; an empty p
// is ignored) and returns len(p), nil. It blocks only while more than the
// limit is pending. The sink does not retain p.
func (s *Sink) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	nl := p[len(p)-1] != '\n'
	s.mu.Lock()
	for !s.closed && len(s.buf) > 0 && len(s.buf)+len(p) > s.max {
		s.waiting++
		s.drained.Wait()
		s.waiting--
	}
	if s.closed {
		// After Close: synchronous, still one Write per line (under mu, so
		// concurrent late writers do not interleave).
		var err error
		if nl {
			line := make([]byte, 0, len(p)+1)
			err = s.writeOut(append(append(line, p...), '\n'))
		} else {
			err = s.writeOut(p)
		}
		s.mu.Unlock()
		if err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if need := len(s.buf) + len(p) + 1; need > cap(s.buf) {
		// Double (up to the limit) rather than append's 1.25x for big
		// slices: fewer copies while the buffers warm up under load.
		nb := make([]byte, len(s.buf), max(need, min(2*cap(s.buf), s.max)))
		copy(nb, s.buf)
		s.buf = nb
	}
	s.buf = append(s.buf, p...)
	if nl {
		s.buf = append(s.buf, '\n')
	}
	s.queued += uint64(len(p))
	if nl {
		s.queued++
	}
	if s.idle {
		s.idle = false
		s.work.Signal()
	}
	s.mu.Unlock()
	return len(p), nil
}

// writeOut writes b to the underlying writer, counting failures.
func (s *Sink) writeOut(b []byte) error {
	n, err := s.w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		s.errs.Add(1)
		s.lastErr.Store(&err)
	}
	return err
}

func (s *Sink) run() {
	defer close(s.done)
	s.mu.Lock()
	for {
		for len(s.buf) == 0 && !s.closing {
			s.idle = true
			s.work.Wait()
		}
		s.idle = false
		if !s.closing && s.waiting == 0 && s.flushes == 0 && len(s.buf) < min(batchBytes, s.max/2) {
			// Let more lines gather before the write; producers append
			// meanwhile without waking us (idle is false).
			s.mu.Unlock()
			time.Sleep(BatchDelay)
			s.mu.Lock()
		}
		if len(s.buf) == 0 { // closing, and everything is out
			s.closed = true
			s.drained.Broadcast()
			s.mu.Unlock()
			return
		}
		out := s.buf
		s.buf = s.spare[:0]
		s.spare = nil
		upto := s.queued
		s.drained.Broadcast() // room again for producers held by the limit
		s.mu.Unlock()

		s.writeOut(out)

		s.mu.Lock()
		s.written = upto
		// Keep the buffer for the next swap unless one huge line blew it up.
		if cap(out) <= 2*s.max {
			s.spare = out[:0]
		}
		s.drained.Broadcast()
	}
}

// Flush waits until every line queued before the call has been handed to the
// underlying writer.
func (s *Sink) Flush() {
	s.mu.Lock()
	s.flushes++
	defer func() { s.flushes--; s.mu.Unlock() }()
	target := s.queued
	if s.idle && len(s.buf) > 0 {
		s.idle = false
		s.work.Signal()
	}
	for !s.closed && s.written < target {
		s.drained.Wait()
	}
}

// Close writes everything pending and stops the writer goroutine. Later
// writes go straight to the underlying writer. Close never closes the
// underlying writer; it returns the last write error, if any.
func (s *Sink) Close() error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		s.work.Signal()
	}
	s.mu.Unlock()
	<-s.done
	_, err := s.Err()
	return err
}

// Err reports how many writes to the underlying writer failed, and the last
// such error.
func (s *Sink) Err() (failures int64, last error) {
	if p := s.lastErr.Load(); p != nil {
		last = *p
	}
	return s.errs.Load(), last
}
