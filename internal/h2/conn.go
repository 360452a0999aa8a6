package h2

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

var (
	errFlood       = errors.New("h2: header block spans too many frames")
	errConnClosed  = errors.New("h2: connection closed")
	errStreamReset = errors.New("h2: stream reset")
	errBodyClosed  = errors.New("h2: request body closed")
	errBadLength   = errors.New("h2: request body does not match its content-length")
	pastDeadline   = time.Unix(1, 0)
	errCodeNoClose = http2.ErrCode(0xffffffff) // end without a GOAWAY
	maxWindow      = int64(1<<31 - 1)
)

type conn struct {
	srv        *Server
	nc         net.Conn
	ctx        context.Context
	cancel     context.CancelFunc
	remote     string
	tlsState   *tls.ConnectionState
	maxStreams int
	maxHeader  int

	// reader goroutine only
	br          *bufio.Reader
	fr          *http2.Framer
	hdec        *hpackDecoder
	block       headerBlock // the last header block read (readFrame)
	blockFrames int
	maxClientID uint32
	junk        int
	junkStart   time.Time
	canon       map[string]string
	prefaceDone bool
	endCode     http2.ErrCode // why a read deadline ended the connection

	mu           sync.Mutex
	wcond        sync.Cond // writers waiting for window or buffer space; teardown waiting for handlers
	streams      map[uint32]*stream
	handlers     int // handlers started and not returned (reset streams included)
	pending      []*stream
	out, spare   []byte
	flushing     bool
	ctlPending   bool // frames appended for the reader to flush before it reads
	readerIdle   bool // the reader waits for the client: it will not flush
	final        bool // the last write: its deadline is set already
	werr         error
	wdl          time.Time
	sendWindow   int64
	peerInitWin  int64
	peerMaxFrame uint32
	henc         *hpack.Encoder
	respKeys     map[string]respKey // responseKeyLocked's cache
	hbuf         bytes.Buffer
	recvWindow   int64 // bytes the peer may still send on the connection
	connUnacked  int64 // consumed bytes not yet returned by WINDOW_UPDATE
	goAway       bool  // our GOAWAY was sent: no new streams
	shutdownReq  bool
	dead         bool
	acked        bool
	ackOverdue   bool
	idleAt       time.Time
	rdlArmed     bool
	ackTimer     *time.Timer
	resetIDs     [64]uint32 // the streams we reset last (appendRST), a ring
	resetNext    uint32
}

func newConn(s *Server, ctx context.Context, nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc, remote: nc.RemoteAddr().String(),
		maxStreams: int(s.maxStreams()), maxHeader: s.maxHeaderBytes(),
		streams: make(map[uint32]*stream), sendWindow: 65535, peerInitWin: 65535, peerMaxFrame: 16384,
		recvWindow: connWindow}
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		c.tlsState = &st
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.wcond.L = &c.mu
	c.henc = hpack.NewEncoder(&c.hbuf)
	c.br = bufio.NewReaderSize(netReader{c}, 16<<10)
	c.fr = http2.NewFramer(nil, countReader{c})
	c.hdec = newHPACKDecoder(int(c.headerListSize()), c.block.add, c.canonical)
	c.fr.SetMaxReadFrameSize(s.maxFrame())
	c.fr.SetReuseFrames()
	return c
}

// countReader sits between the Framer and the buffered reader: it counts
// the frame headers read within one ReadFrame call, which bounds the frames
// of one header block (a CONTINUATION flood).
type countReader struct{ c *conn }

func (r countReader) Read(p []byte) (int, error) {
	c := r.c
	if len(p) == 9 {
		c.blockFrames++
		if c.blockFrames > maxBlockFrames {
			return 0, errFlood
		}
	}
	return c.br.Read(p)
}

// netReader reads the connection for the buffered reader, which calls it
// only when its buffer is empty: the moment to write the control frames
// the reader queued. It also handles the read deadlines, which are used
// as signals: preface, idle, SETTINGS ACK and Shutdown.
type netReader struct{ c *conn }

func (r netReader) Read(p []byte) (int, error) {
	c := r.c
	for {
		c.mu.Lock()
		if c.ctlPending {
			c.flushLocked()
		}
		c.readerIdle = true
		c.mu.Unlock()
		n, err := c.nc.Read(p)
		c.mu.Lock()
		c.readerIdle = false
		c.mu.Unlock()
		if n == 0 && err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && c.onReadTimeout() {
				continue
			}
		}
		return n, err
	}
}

// onReadTimeout decides what a read deadline meant: true to read on.
func (c *conn) onReadTimeout() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.prefaceDone {
		c.endCode = errCodeNoClose
		return false
	}
	if c.ackOverdue {
		c.endCode = http2.ErrCodeSettingsTimeout
		return false
	}
	if c.shutdownReq && !c.goAway {
		c.goAway = true
		c.appendGoAway(c.maxClientID, http2.ErrCodeNo)
		c.flushLocked()
	}
	idle := c.idleLocked()
	if c.goAway && idle {
		c.endCode = errCodeNoClose
		return false
	}
	if t := c.srv.IdleTimeout; t > 0 && idle {
		if !time.Now().Before(c.idleAt.Add(t)) {
			c.endCode = http2.ErrCodeNo
			return false
		}
		c.nc.SetReadDeadline(c.idleAt.Add(t))
		c.rdlArmed = true
		return true
	}
	c.nc.SetReadDeadline(time.Time{})
	c.rdlArmed = false
	return true
}

func (c *conn) idleLocked() bool {
	return len(c.streams) == 0 && c.handlers == 0 && len(c.pending) == 0
}

// kickLocked gets what was appended written: by the reader before it next
// waits for the client when it is busy with frames already read (so that
// the responses to a burst of requests leave in one write), else now.
func (c *conn) kickLocked() {
	if c.dead {
		c.flushLocked()
		return
	}
	if !c.readerIdle {
		c.ctlPending = true
		return
	}
	if c.handlers > 1 && !c.flushing {
		// Other handlers of this connection may be about to finish: let
		// those that are runnable run first and append their frames, so
		// that one write carries them all.
		c.mu.Unlock()
		runtime.Gosched()
		c.mu.Lock()
	}
	c.flushLocked()
}

// becameIdleLocked is called when the last stream ended.
func (c *conn) becameIdleLocked() {
	if c.goAway {
		c.nc.SetReadDeadline(pastDeadline)
		c.rdlArmed = true
		return
	}
	if t := c.srv.IdleTimeout; t > 0 {
		c.idleAt = time.Now()
		if !c.rdlArmed {
			c.nc.SetReadDeadline(c.idleAt.Add(t))
			c.rdlArmed = true
		}
	}
}

func (c *conn) startShutdown() {
	c.mu.Lock()
	c.shutdownReq = true
	if c.prefaceDone {
		c.nc.SetReadDeadline(pastDeadline)
		c.rdlArmed = true
	}
	c.mu.Unlock()
}

func (c *conn) serve() {
	code, linger := c.readLoop()
	c.mu.Lock()
	if code != errCodeNoClose && c.werr == nil {
		c.appendGoAway(c.maxClientID, code)
		if !c.flushing {
			c.final = true
			c.nc.SetWriteDeadline(time.Now().Add(lingerTime))
			c.flushLocked()
		}
	}
	c.dead = true
	c.mu.Unlock()
	if linger && code != errCodeNoClose {
		// Read (and drop) what the client still sends for a while, so that
		// closing does not reset the connection before it read the GOAWAY.
		c.nc.SetReadDeadline(time.Now().Add(lingerTime))
		io.CopyN(io.Discard, c.nc, lingerBytes)
	}
	c.nc.Close()
	c.cancel()
	c.mu.Lock()
	if c.ackTimer != nil {
		c.ackTimer.Stop()
	}
	if c.werr == nil {
		c.werr = errConnClosed
	}
	for _, st := range c.streams {
		st.recvClosed, st.sendClosed = true, true
		if st.rerr == nil {
			st.rerr = errConnClosed
		}
		st.rcond.Broadcast()
		c.removeLocked(st)
	}
	for _, st := range c.pending {
		c.dropLocked(st)
	}
	c.pending = nil
	c.wcond.Broadcast()
	for c.handlers > 0 {
		c.wcond.Wait()
	}
	c.out, c.spare = nil, nil
	c.mu.Unlock()
}

func (c *conn) readLoop() (code http2.ErrCode, linger bool) {
	s := c.srv
	pt := prefaceTimeout
	if s.IdleTimeout > 0 {
		pt = s.IdleTimeout
	}
	c.nc.SetReadDeadline(time.Now().Add(pt))
	c.mu.Lock()
	c.appendSettings(
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: uint32(c.maxStreams)},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: streamWindow},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: s.maxFrame()},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: uint32(min(c.maxHeader, 1<<31-1))},
	)
	c.appendWindowUpdate(0, connWindow-65535)
	c.flushLocked()
	c.ackTimer = time.AfterFunc(settingsAckTimeout, func() {
		c.mu.Lock()
		if !c.acked {
			c.ackOverdue = true
			c.nc.SetReadDeadline(pastDeadline)
		}
		c.mu.Unlock()
	})
	c.mu.Unlock()

	var pre [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(c.br, pre[:]); err != nil || string(pre[:]) != http2.ClientPreface {
		return errCodeNoClose, false
	}
	f, err := c.readFrame()
	if err != nil {
		return c.readError(err)
	}
	if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
		return http2.ErrCodeProtocol, true
	}
	c.mu.Lock()
	c.prefaceDone = true
	c.junkStart = time.Now()
	c.nc.SetReadDeadline(time.Time{})
	c.rdlArmed = false
	if c.shutdownReq {
		c.nc.SetReadDeadline(pastDeadline)
		c.rdlArmed = true
	} else {
		c.becameIdleLocked()
	}
	c.mu.Unlock()
	for {
		if err := c.handle(f); err != nil {
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				return http2.ErrCode(ce), true
			}
			return errCodeNoClose, false
		}
		f, err = c.readFrame()
		for err != nil {
			var se http2.StreamError
			if !errors.As(err, &se) {
				return c.readError(err)
			}
			if err := c.onStreamError(se); err != nil {
				return http2.ErrCode(err.(http2.ConnectionError)), true
			}
			f, err = c.readFrame()
		}
	}
}

// readFrame reads the next frame; a HEADERS frame comes with its whole
// block, decoded into c.block (readHeaderBlock).
func (c *conn) readFrame() (http2.Frame, error) {
	c.blockFrames = 0
	f, err := c.fr.ReadFrame()
	if err != nil {
		return nil, err
	}
	if hf, ok := f.(*http2.HeadersFrame); ok {
		if err := c.readHeaderBlock(hf); err != nil {
			c.block.release()
			return nil, err
		}
	}
	return f, nil
}

func (c *conn) readError(err error) (http2.ErrCode, bool) {
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &ce):
		return http2.ErrCode(ce), true
	case errors.Is(err, errFlood):
		return http2.ErrCodeEnhanceYourCalm, true
	case errors.Is(err, http2.ErrFrameTooLarge):
		return http2.ErrCodeFrameSize, true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return c.endCode, false // set by onReadTimeout (ErrCodeNo: idle)
	}
	return errCodeNoClose, false
}

// junkFrame counts a frame that makes no work against the budget.
func (c *conn) junkFrame() error {
	c.junk++
	if c.junk <= junkBudget {
		return nil
	}
	if now := time.Now(); now.Sub(c.junkStart) > junkPeriod {
		c.junk, c.junkStart = 1, now
		return nil
	}
	return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
}

// control checks the bound on queued bytes after the reader appended a
// control frame.
func (c *conn) controlLocked() error {
	c.ctlPending = true
	if len(c.out) > controlLimit {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	return nil
}

func (c *conn) onStreamError(se http2.StreamError) error {
	c.mu.Lock()
	if st := c.streams[se.StreamID]; st != nil {
		c.resetLocked(st, se.Code)
	} else {
		if se.StreamID > c.maxClientID && se.StreamID%2 == 1 {
			c.maxClientID = se.StreamID
		}
		c.appendRST(se.StreamID, se.Code)
	}
	err := c.controlLocked()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.junkFrame()
}

func (c *conn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.HeadersFrame:
		err := c.onHeaders(&c.block)
		c.block.release()
		return err
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.PingFrame:
		if err := c.junkFrame(); err != nil || f.IsAck() {
			return err
		}
		c.mu.Lock()
		c.appendPingAck(f.Data)
		err := c.controlLocked()
		c.mu.Unlock()
		return err
	case *http2.RSTStreamFrame:
		return c.onRST(f)
	case *http2.GoAwayFrame:
		// The client leaves: finish the open streams, accept no new ones.
		c.mu.Lock()
		if !c.goAway {
			c.goAway = true
			c.appendGoAway(c.maxClientID, http2.ErrCodeNo)
			c.ctlPending = true
		}
		idle := c.idleLocked()
		c.mu.Unlock()
		if idle {
			return io.EOF
		}
		return nil
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol)
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			// A stream cannot depend on itself (RFC 9113 §5.3.1).
			c.mu.Lock()
			if st := c.streams[f.StreamID]; st != nil {
				c.resetLocked(st, http2.ErrCodeProtocol)
			} else {
				c.appendRST(f.StreamID, http2.ErrCodeProtocol)
			}
			err := c.controlLocked()
			c.mu.Unlock()
			if err != nil {
				return err
			}
		}
		return c.junkFrame()
	default: // unknown types
		return c.junkFrame()
	}
}

func (c *conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		c.mu.Lock()
		c.acked = true
		c.ackTimer.Stop()
		c.mu.Unlock()
		return nil
	}
	if err := c.junkFrame(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			c.henc.SetMaxDynamicTableSizeLimit(s.Val)
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - c.peerInitWin
			c.peerInitWin = int64(s.Val)
			for _, st := range c.streams {
				st.sendWindow += delta
				if st.sendWindow > maxWindow {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
			c.wcond.Broadcast()
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = s.Val
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.appendSettingsAck()
	return c.controlLocked()
}

func (c *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		c.sendWindow += inc
		if c.sendWindow > maxWindow {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		c.wcond.Broadcast()
		return nil
	}
	st := c.streams[f.StreamID]
	if st == nil {
		if f.StreamID > c.maxClientID {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil // a closed stream
	}
	st.sendWindow += inc
	if st.sendWindow > maxWindow {
		c.resetLocked(st, http2.ErrCodeFlowControl)
		return c.controlLocked()
	}
	c.wcond.Broadcast()
	return nil
}

func (c *conn) onRST(f *http2.RSTStreamFrame) error {
	if err := c.junkFrame(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.streams[f.StreamID]
	if st == nil {
		if f.StreamID > c.maxClientID {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil
	}
	c.closeStreamLocked(st, errStreamReset)
	return nil
}

func (c *conn) onData(f *http2.DataFrame) error {
	n := int64(f.Length)
	data := f.Data()
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > c.recvWindow {
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	c.recvWindow -= n
	st := c.streams[f.StreamID]
	if st == nil || st.recvClosed {
		c.returnConnLocked(n)
		if st == nil {
			if f.StreamID > c.maxClientID {
				return http2.ConnectionError(http2.ErrCodeProtocol)
			}
			if !c.weResetLocked(f.StreamID) {
				// Closed by its END_STREAM or by the client's RST_STREAM:
				// STREAM_CLOSED (RFC 9113 §5.1); later frames on it are then
				// ignored as on any stream we reset.
				c.appendRST(f.StreamID, http2.ErrCodeStreamClosed)
				if err := c.controlLocked(); err != nil {
					return err
				}
				return c.junkFrame()
			}
			if n == 0 {
				return c.junkFrame()
			}
			return c.controlLocked()
		}
		c.resetLocked(st, http2.ErrCodeStreamClosed)
		return c.controlLocked()
	}
	if n > st.recvWindow {
		c.returnConnLocked(n)
		c.resetLocked(st, http2.ErrCodeFlowControl)
		return c.controlLocked()
	}
	st.recvWindow -= n
	if pad := n - int64(len(data)); pad > 0 {
		st.unacked += pad
		c.returnConnLocked(pad)
	}
	if len(data) > 0 {
		st.gotData += int64(len(data))
		if st.declCL >= 0 && st.gotData > st.declCL {
			c.returnConnLocked(int64(len(data)))
			c.resetLocked(st, http2.ErrCodeProtocol)
			return c.controlLocked()
		}
		if st.bodyClosed {
			c.returnConnLocked(int64(len(data)))
		} else {
			if st.roff > 0 && len(st.rbuf)+len(data) > cap(st.rbuf) {
				k := copy(st.rbuf, st.rbuf[st.roff:])
				st.rbuf, st.roff = st.rbuf[:k], 0
			}
			st.rbuf = append(st.rbuf, data...)
			st.rcond.Signal()
		}
	} else if !f.StreamEnded() {
		if err := c.junkFrame(); err != nil {
			return err
		}
	}
	if f.StreamEnded() && !st.recvClosed {
		c.endRecvLocked(st)
	}
	if c.ctlPending {
		return c.controlLocked()
	}
	return nil
}

// returnConnLocked gives n received bytes back to the connection window,
// by batches of a quarter window.
func (c *conn) returnConnLocked(n int64) {
	c.connUnacked += n
	if c.connUnacked >= connWindow/4 {
		c.appendWindowUpdate(0, uint32(c.connUnacked))
		c.recvWindow += c.connUnacked
		c.connUnacked = 0
		c.ctlPending = true
	}
}

// endRecvLocked: the request's END_STREAM arrived.
func (c *conn) endRecvLocked(st *stream) {
	if st.declCL >= 0 && st.gotData != st.declCL {
		c.resetLocked(st, http2.ErrCodeProtocol)
		return
	}
	st.recvClosed = true
	if st.rerr == nil {
		st.rerr = io.EOF
	}
	st.rcond.Broadcast()
	if st.sendClosed {
		c.removeLocked(st)
	}
}

// resetLocked sends RST_STREAM and closes st.
func (c *conn) resetLocked(st *stream, code http2.ErrCode) {
	if st.inMap {
		c.appendRST(st.id, code)
		c.ctlPending = true
	}
	c.closeStreamLocked(st, errStreamReset)
}

// closeStreamLocked ends both directions of st (a reset either way).
func (c *conn) closeStreamLocked(st *stream, err error) {
	st.reset = true
	st.recvClosed, st.sendClosed = true, true
	if st.rerr == nil || st.rerr == io.EOF {
		st.rerr = err
	}
	if st.cancel != nil {
		st.cancel()
	}
	st.rcond.Broadcast()
	c.wcond.Broadcast()
	c.removeLocked(st)
}

// removeLocked takes st out of the stream map, giving back the
// connection window its unread body held.
func (c *conn) removeLocked(st *stream) {
	if !st.inMap {
		return
	}
	st.inMap = false
	delete(c.streams, st.id)
	if unread := len(st.rbuf) - st.roff; unread > 0 {
		st.rbuf, st.roff = st.rbuf[:0], 0
		c.returnConnLocked(int64(unread))
	}
	if c.idleLocked() && !c.dead {
		c.becameIdleLocked()
	}
	c.unrefLocked(st)
}

// dropLocked forgets a stream that waited for a handler slot.
func (c *conn) dropLocked(st *stream) {
	c.unrefLocked(st)
}

func (c *conn) unrefLocked(st *stream) {
	st.refs--
	if st.refs == 0 {
		st.release()
	}
}
