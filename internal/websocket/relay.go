package websocket

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// copyBufSize is the most of a frame's payload held at once.
const copyBufSize = 8 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// aLongTimeAgo is a deadline in the past: setting it wakes blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// peer is one side of a relay.
type peer struct {
	name   string // "client" or "upstream"
	conn   net.Conn
	r      *bufio.Reader
	client bool // frames from it must be masked, frames to it must not

	// Owned by the pump reading this side.
	bytes     int64
	closeRecv bool // its close frame was read (and forwarded)

	closeSent atomic.Bool // a close frame went to it
	midFrame  atomic.Bool // a frame is partly written to it: nothing else can follow
}

// relay is one WebSocket: a pump per direction, and the gateway's own
// decision to end it (stop).
type relay struct {
	h       *Handler
	peers   [2]*peer
	last    atomic.Int64 // unix nanos of the last byte read from either side
	hardEnd atomic.Int64 // unix nanos; 0, or when the closing handshake has to be over

	stopped  atomic.Bool
	stopOnce sync.Once
	codes    map[*peer]int // close codes the gateway sends (set once, by stop)
	reason   string

	mu       sync.Mutex
	code     int    // of the first close frame
	closedBy string // who sent it
}

// stop ends the relay on the gateway's decision: both pumps are woken, and
// run sends each side its close code.
func (rl *relay) stop(toClient, toUpstream int, reason string) {
	rl.stopOnce.Do(func() {
		rl.codes = map[*peer]int{rl.peers[0]: toClient, rl.peers[1]: toUpstream}
		rl.reason = reason
		rl.noteClose(toClient, "gateway")
		rl.stopped.Store(true)
		for _, p := range rl.peers {
			if p != nil {
				_ = p.conn.SetDeadline(aLongTimeAgo)
			}
		}
	})
}

// noteClose records the first close of the connection.
func (rl *relay) noteClose(code int, by string) {
	rl.mu.Lock()
	if rl.closedBy == "" {
		rl.code, rl.closedBy = code, by
	}
	rl.mu.Unlock()
}

// run relays until both pumps ended, finishes the closing handshake the
// gateway started, closes both connections and sums up.
func (rl *relay) run(client, upstream *peer) *pipeline.WebSocket {
	rl.h.mu.Lock() // stop may run from GoingAway as soon as peers are set
	rl.peers = [2]*peer{client, upstream}
	gone := rl.h.gone
	rl.h.mu.Unlock()
	if gone {
		rl.stop(closeGoingAway, closeGoingAway, "gateway going away")
	}
	rl.last.Store(time.Now().UnixNano())
	done := make(chan struct{})
	go func() {
		defer close(done)
		rl.pump(upstream, client)
	}()
	rl.pump(client, upstream)
	<-done
	if rl.stopped.Load() {
		rl.sendCloses()
	} else {
		// Whoever sent a close and got none back (the other side did not
		// answer in time) is answered by the gateway, with its own code.
		rl.mu.Lock()
		code := rl.code
		rl.mu.Unlock()
		for _, p := range rl.peers {
			if p.closeRecv && !p.closeSent.Load() {
				rl.send(p, code, "")
			}
		}
	}
	_ = client.conn.Close()
	_ = upstream.conn.Close()
	rl.mu.Lock()
	defer rl.mu.Unlock()
	sum := &pipeline.WebSocket{FromClient: client.bytes, FromUpstream: upstream.bytes, CloseCode: rl.code, ClosedBy: rl.closedBy}
	if sum.ClosedBy == "" {
		sum.CloseCode = 1006 // a side left without a close frame
	}
	return sum
}

// sendCloses sends the gateway's close codes and waits, up to CloseWait,
// for each side's answering close, so that the close frame is read before
// the connection goes (closing with unread input would reset it).
func (rl *relay) sendCloses() {
	var wg sync.WaitGroup
	for _, p := range rl.peers {
		if !rl.send(p, rl.codes[p], rl.reason) || p.closeRecv {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			awaitClose(p)
		}()
	}
	wg.Wait()
}

// send writes a close frame to p unless one went already or a frame is cut
// in the middle; it reports whether it did.
func (rl *relay) send(p *peer, code int, reason string) bool {
	if code == 0 || p.midFrame.Load() || p.closeSent.Swap(true) {
		return false
	}
	if code == 1005 {
		code = closeNormal // 1005 means "no code in the frame"; it is never sent
	}
	_ = p.conn.SetDeadline(time.Now().Add(rl.h.closeWait))
	_, err := p.conn.Write(closeFrame(code, reason, !p.client))
	return err == nil
}

// awaitClose reads p's frames, up to its deadline, until its close frame.
func awaitClose(p *peer) {
	for {
		hb, h, err := readHeader(p.r)
		if err != nil {
			return
		}
		if _, err := p.r.Discard(len(hb)); err != nil {
			return
		}
		if _, err := p.r.Discard(int(min(h.length, 1<<30))); err != nil || h.opcode == opClose {
			return
		}
	}
}

// readHeader peeks a whole frame header from r (without consuming it).
func readHeader(r *bufio.Reader) ([]byte, header, error) {
	need := 2
	for {
		b, err := r.Peek(need)
		if err != nil {
			return nil, header{}, err
		}
		h, size, err := parseHeader(b)
		if err != nil {
			return nil, h, err
		}
		if size <= len(b) {
			return b[:size], h, nil
		}
		need = size
	}
}

// arm sets from's read deadline: idle timeout after the last byte either
// way, or the end of the closing handshake if sooner. It reports false once
// the gateway stopped the relay (whose wake-up must not be undone).
func (rl *relay) arm(c net.Conn) bool {
	for {
		end := rl.hardEnd.Load()
		d := rl.last.Load() + int64(rl.h.idle)
		if end != 0 && end < d {
			d = end
		}
		_ = c.SetReadDeadline(time.Unix(0, d))
		if rl.stopped.Load() {
			return false
		}
		if rl.hardEnd.Load() == end {
			return true
		}
	}
}

// waitMore is called when a read timed out: it reports whether to read on
// (another byte came the other way meanwhile), and otherwise ends the relay
// on idleness or leaves it to run once the closing handshake ran out of time.
func (rl *relay) waitMore() bool {
	if rl.stopped.Load() {
		return false
	}
	now := time.Now().UnixNano()
	if end := rl.hardEnd.Load(); end != 0 && now >= end {
		return false
	}
	if now >= rl.last.Load()+int64(rl.h.idle) {
		rl.stop(closeGoingAway, closeGoingAway, "idle timeout")
		return false
	}
	return true
}

// violation ends the relay because from broke a rule: from gets code, the
// other side 1001 (its peer is going away).
func (rl *relay) violation(from *peer, code int, reason string) {
	if from.client {
		rl.stop(code, closeGoingAway, reason)
		return
	}
	// A misbehaving upstream is the gateway's problem, not the client's.
	rl.stop(closeInternal, code, reason)
}

// pump forwards frames from one side to the other until a close frame, a
// violation, idleness, the gateway's stop or either connection's end.
func (rl *relay) pump(from, to *peer) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var (
		fragmented bool  // a data message's continuation frames are expected
		msgLen     int64 // bytes of the current client message
		tokens     = rl.h.rate
		refilled   = time.Now()
	)
	for {
		if !rl.arm(from.conn) {
			return
		}
		hb, h, err := readHeader(from.r)
		if err != nil {
			switch {
			case isTimeout(err):
				if rl.waitMore() {
					continue
				}
			case errors.Is(err, errRSV), errors.Is(err, errOpcode), errors.Is(err, errControl), errors.Is(err, errLength):
				rl.violation(from, closeProtocolError, "protocol error")
			default:
				rl.left(from)
			}
			return
		}
		now := time.Now()
		rl.last.Store(now.UnixNano())
		switch {
		case h.masked != from.client:
			rl.violation(from, closeProtocolError, "masking")
			return
		case !h.control && (h.opcode == opContinuation) != fragmented:
			rl.violation(from, closeProtocolError, "fragmentation")
			return
		}
		if !h.control {
			if h.opcode != opContinuation {
				msgLen = 0
			}
			fragmented = !h.fin
		}
		if from.client {
			if h.opcode != opContinuation {
				// A token bucket: rate per second, bursts of as many.
				tokens = min(rl.h.rate, tokens+now.Sub(refilled).Seconds()*rl.h.rate)
				refilled = now
				if tokens < 1 {
					rl.violation(from, closePolicy, "message rate limit")
					return
				}
				tokens--
			}
			if !h.control {
				msgLen += h.length
				if msgLen > rl.h.maxMessage {
					rl.violation(from, closeTooBig, "message too big")
					return
				}
			}
		}
		if !rl.forward(from, to, hb, h, buf) {
			return
		}
		if h.opcode == opClose {
			from.closeRecv = true
			// The other side answers within CloseWait, or the relay ends.
			end := time.Now().Add(rl.h.closeWait)
			rl.hardEnd.Store(end.UnixNano())
			_ = to.conn.SetReadDeadline(end)
			return
		}
	}
}

// forward copies one frame, header hb then payload, from one side to the
// other. A close frame's code is noted. It reports false when the relay is
// over.
func (rl *relay) forward(from, to *peer, hb []byte, h header, buf []byte) bool {
	size := len(hb)
	n := copy(buf, hb)
	_, _ = from.r.Discard(size)
	from.bytes += int64(size) + h.length
	if h.opcode == opClose {
		// At most 125 bytes: read whole, to note its code.
		p := buf[n : n+int(h.length)]
		for got := 0; got < len(p); {
			if !rl.arm(from.conn) {
				return false
			}
			k, err := from.r.Read(p[got:])
			got += k
			if err != nil && !(isTimeout(err) && rl.waitMore()) {
				rl.left(from)
				return false
			}
		}
		code := make([]byte, len(p))
		copy(code, p)
		if h.masked {
			unmask(code, h.key, 0)
		}
		c := closeCode(code)
		if c == 0 {
			rl.violation(from, closeProtocolError, "bad close frame")
			return false
		}
		rl.noteClose(c, from.name)
		n += len(p)
		if to.closeSent.Swap(true) {
			return true // the gateway closed that side already
		}
		return rl.write(to, buf[:n])
	}
	to.midFrame.Store(true)
	if !rl.write(to, buf[:n]) {
		return false
	}
	for left := h.length; left > 0; {
		if !rl.arm(from.conn) {
			return false
		}
		k, err := from.r.Read(buf[:min(int64(len(buf)), left)])
		if k > 0 {
			rl.last.Store(time.Now().UnixNano())
			left -= int64(k)
			if !rl.write(to, buf[:k]) {
				return false
			}
		}
		if err != nil && !(isTimeout(err) && rl.waitMore()) {
			rl.left(from)
			return false
		}
	}
	to.midFrame.Store(false)
	return true
}

// write writes b to `to`, bounded by the idle timeout and by the end of a
// closing handshake under way.
func (rl *relay) write(to *peer, b []byte) bool {
	d := time.Now().Add(rl.h.idle)
	if end := rl.hardEnd.Load(); end != 0 && end < d.UnixNano() {
		d = time.Unix(0, end)
	}
	_ = to.conn.SetWriteDeadline(d)
	if rl.stopped.Load() {
		return false
	}
	if _, err := to.conn.Write(b); err != nil {
		if isTimeout(err) && !rl.stopped.Load() {
			rl.stop(closeGoingAway, closeGoingAway, "idle timeout") // that side stopped reading
		} else {
			rl.left(to)
		}
		return false
	}
	return true
}

// left ends the relay because p's connection ended or failed: the other
// side is told 1001.
func (rl *relay) left(p *peer) {
	if rl.stopped.Load() {
		return
	}
	rl.noteClose(1006, p.name) // no close frame: RFC 6455's "abnormal closure"
	if p.client {
		rl.stop(0, closeGoingAway, "client gone")
	} else {
		rl.stop(closeGoingAway, 0, "upstream gone")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
