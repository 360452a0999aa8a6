package websocket

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
)

// Opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// Close codes (RFC 6455 §7.4.1).
const (
	closeNormal        = 1000
	closeGoingAway     = 1001
	closeProtocolError = 1002
	closePolicy        = 1008
	closeTooBig        = 1009
	closeInternal      = 1011
)

// header is a parsed frame header.
type header struct {
	fin     bool
	rsv     byte // the three RSV bits; no extension is negotiated, so 0
	opcode  byte
	masked  bool
	key     [4]byte
	length  int64 // payload length
	control bool  // opcode >= 0x8
}

var (
	errLength  = errors.New("websocket: payload length not minimally encoded or above 2^63")
	errControl = errors.New("websocket: control frame fragmented or longer than 125 bytes")
	errOpcode  = errors.New("websocket: reserved opcode")
	errRSV     = errors.New("websocket: RSV bit set without a negotiated extension")
)

// parseHeader parses the frame header at the start of b. size is the
// header's length: when len(b) < size, b holds only part of it and the
// caller reads more (size is then the least it needs to know more). A
// header that breaks RFC 6455 §5.2 — an RSV bit (no extension is ever
// negotiated), a reserved opcode, a fragmented or long control frame, a
// length not in its shortest form or with the top bit set — is an error.
func parseHeader(b []byte) (h header, size int, err error) {
	if len(b) < 2 {
		return h, 2, nil
	}
	h.fin = b[0]&0x80 != 0
	h.rsv = b[0] & 0x70 >> 4
	h.opcode = b[0] & 0x0F
	h.masked = b[1]&0x80 != 0
	h.control = h.opcode >= 0x8
	switch {
	case h.rsv != 0:
		return h, 0, errRSV
	case h.opcode > opBinary && h.opcode < opClose || h.opcode > opPong:
		return h, 0, errOpcode
	}
	n := int64(b[1] & 0x7F)
	if h.control && (!h.fin || n > 125) {
		return h, 0, errControl
	}
	size = 2
	switch n {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if h.masked {
		size += 4
	}
	if len(b) < size {
		return h, size, nil
	}
	switch n {
	case 126:
		n = int64(binary.BigEndian.Uint16(b[2:]))
		if n < 126 {
			return h, 0, errLength
		}
	case 127:
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 || u <= 0xFFFF {
			return h, 0, errLength
		}
		n = int64(u)
	}
	h.length = n
	if h.masked {
		copy(h.key[:], b[size-4:size])
	}
	return h, size, nil
}

// unmask XORs p with the masking key, p starting at payload offset pos.
func unmask(p []byte, key [4]byte, pos int64) {
	for i := range p {
		p[i] ^= key[(pos+int64(i))&3]
	}
}

// closeFrame builds a close frame with code and reason (at most 123
// bytes), masked with a random key when masked (frames the gateway sends
// to the upstream, as its client, must be; RFC 6455 §5.3).
func closeFrame(code int, reason string, masked bool) []byte {
	reason = reason[:min(len(reason), 123)]
	payload := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), uint16(code))
	payload = append(payload, reason...)
	f := []byte{0x80 | opClose, byte(len(payload))}
	if masked {
		var key [4]byte
		_, _ = rand.Read(key[:])
		f[1] |= 0x80
		f = append(f, key[:]...)
		unmask(payload, key, 0)
	}
	return append(f, payload...)
}

// closeCode reads the status code of an unmasked close payload: 1005 (no
// status) for an empty one, 0 for one that is malformed (one byte, or a
// code that must not be sent, RFC 6455 §7.4).
func closeCode(p []byte) int {
	switch {
	case len(p) == 0:
		return 1005
	case len(p) == 1:
		return 0
	}
	c := int(binary.BigEndian.Uint16(p))
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014, c >= 3000 && c <= 4999:
		return c
	}
	return 0
}
