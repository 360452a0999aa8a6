package h2

import (
	"encoding/binary"
	"time"

	"golang.org/x/net/http2"
)

// Frames are appended to c.out under c.mu and written by flushLocked.

func appendFrameHeader(b []byte, length int, t http2.FrameType, flags http2.Flags, sid uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), byte(t), byte(flags),
		byte(sid>>24)&0x7f, byte(sid>>16), byte(sid>>8), byte(sid))
}

func (c *conn) appendSettings(settings ...http2.Setting) {
	c.out = appendFrameHeader(c.out, 6*len(settings), http2.FrameSettings, 0, 0)
	for _, s := range settings {
		c.out = binary.BigEndian.AppendUint16(c.out, uint16(s.ID))
		c.out = binary.BigEndian.AppendUint32(c.out, s.Val)
	}
}

func (c *conn) appendSettingsAck() {
	c.out = appendFrameHeader(c.out, 0, http2.FrameSettings, http2.FlagSettingsAck, 0)
}

func (c *conn) appendWindowUpdate(sid uint32, n uint32) {
	c.out = appendFrameHeader(c.out, 4, http2.FrameWindowUpdate, 0, sid)
	c.out = binary.BigEndian.AppendUint32(c.out, n&0x7fffffff)
}

func (c *conn) appendPingAck(data [8]byte) {
	c.out = appendFrameHeader(c.out, 8, http2.FramePing, http2.FlagPingAck, 0)
	c.out = append(c.out, data[:]...)
}

// appendRST resets a stream, and remembers that we did: the client may
// have sent frames on it before it got the RST_STREAM, which are ignored
// (RFC 9113 §5.1, "closed").
func (c *conn) appendRST(sid uint32, code http2.ErrCode) {
	c.out = appendFrameHeader(c.out, 4, http2.FrameRSTStream, 0, sid)
	c.out = binary.BigEndian.AppendUint32(c.out, uint32(code))
	c.resetIDs[c.resetNext%uint32(len(c.resetIDs))] = sid
	c.resetNext++
}

// weResetLocked reports whether sid is one of the streams we reset last.
func (c *conn) weResetLocked(sid uint32) bool {
	for _, id := range c.resetIDs {
		if id == sid {
			return true
		}
	}
	return false
}

func (c *conn) appendGoAway(last uint32, code http2.ErrCode) {
	c.out = appendFrameHeader(c.out, 8, http2.FrameGoAway, 0, 0)
	c.out = binary.BigEndian.AppendUint32(c.out, last&0x7fffffff)
	c.out = binary.BigEndian.AppendUint32(c.out, uint32(code))
}

func (c *conn) appendData(sid uint32, p []byte, end bool) {
	var fl http2.Flags
	if end {
		fl = http2.FlagDataEndStream
	}
	c.out = appendFrameHeader(c.out, len(p), http2.FrameData, fl, sid)
	c.out = append(c.out, p...)
}

// appendHeaderBlock writes the block encoded in c.hbuf as HEADERS and as
// many CONTINUATION frames as the peer's frame size requires.
func (c *conn) appendHeaderBlock(sid uint32, end bool) {
	blk := c.hbuf.Bytes()
	max := int(c.peerMaxFrame)
	first := true
	for first || len(blk) > 0 {
		n := min(len(blk), max)
		var fl http2.Flags
		if n == len(blk) {
			fl |= http2.FlagHeadersEndHeaders
		}
		t := http2.FrameContinuation
		if first {
			t = http2.FrameHeaders
			if end {
				fl |= http2.FlagHeadersEndStream
			}
		}
		c.out = appendFrameHeader(c.out, n, t, fl, sid)
		c.out = append(c.out, blk[:n]...)
		blk = blk[n:]
		first = false
	}
	c.hbuf.Reset()
}

// flushLocked writes everything buffered unless a write is in progress (the
// writer then writes it too: group commit). Called and returns with c.mu
// held; the lock is released during the write.
func (c *conn) flushLocked() {
	c.ctlPending = false
	if c.flushing {
		return
	}
	c.flushing = true
	for len(c.out) > 0 && c.werr == nil {
		buf := c.out
		c.out = c.spare[:0]
		c.spare = nil
		c.mu.Unlock()
		err := c.write(buf)
		c.mu.Lock()
		if cap(buf) <= 4*outLimit {
			c.spare = buf[:0]
		}
		if err != nil && c.werr == nil {
			c.werr = err
			c.nc.Close() // the reader ends and tears the connection down
		}
		c.wcond.Broadcast()
	}
	if c.werr != nil {
		c.out = c.out[:0]
	}
	c.flushing = false
}

// write writes b to the connection. With a WriteTimeout the deadline is
// moved lazily: a write starts with at least WriteTimeout and at most
// 9/8 of it ahead.
func (c *conn) write(b []byte) error {
	if wt := c.srv.WriteTimeout; wt > 0 && !c.final {
		now := time.Now()
		if c.wdl.Sub(now) < wt {
			c.wdl = now.Add(wt + wt/8)
			c.nc.SetWriteDeadline(c.wdl)
		}
	}
	_, err := c.nc.Write(b)
	return err
}
