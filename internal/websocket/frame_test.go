package websocket

import (
	"encoding/binary"
	"errors"
	"testing"
)

// maxHeaderLen is the longest frame header: 2 bytes, a 64-bit length, a
// masking key.
const maxHeaderLen = 14

// encode writes h the way RFC 6455 §5.2 says, lengths in their shortest form.
func encode(h header) []byte {
	b := []byte{h.opcode | h.rsv<<4, 0}
	if h.fin {
		b[0] |= 0x80
	}
	switch {
	case h.length < 126:
		b[1] = byte(h.length)
	case h.length <= 0xFFFF:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(h.length))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(h.length))
	}
	if h.masked {
		b[1] |= 0x80
		b = append(b, h.key[:]...)
	}
	return b
}

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		size int
		err  error
		len  int64
	}{
		{"masked text, 5 bytes", []byte{0x81, 0x85, 1, 2, 3, 4}, 6, nil, 5},
		{"unmasked binary, 16-bit length", []byte{0x82, 126, 0x01, 0x00}, 4, nil, 256},
		{"64-bit length", []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}, 10, nil, 1 << 16},
		{"one byte: need two", []byte{0x81}, 2, nil, 0},
		{"16-bit length not read yet", []byte{0x82, 126}, 4, nil, 0},
		{"mask key not read yet", []byte{0x81, 0x85, 1}, 6, nil, 0},
		{"16-bit length below 126 → not minimal", []byte{0x82, 126, 0, 125}, 0, errLength, 0},
		{"64-bit length fitting 16 bits → not minimal", []byte{0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, 0, errLength, 0},
		{"64-bit length with the top bit → refused", []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, 0, errLength, 0},
		{"RSV1 (permessage-deflate was never negotiated)", []byte{0xC1, 0x80}, 0, errRSV, 0},
		{"reserved data opcode 3", []byte{0x83, 0x80}, 0, errOpcode, 0},
		{"reserved control opcode 0xB", []byte{0x8B, 0x80}, 0, errOpcode, 0},
		{"fragmented ping", []byte{0x09, 0x80}, 0, errControl, 0},
		{"close longer than 125 bytes", []byte{0x88, 126, 0, 126}, 0, errControl, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, size, err := parseHeader(tc.in)
			if !errors.Is(err, tc.err) || err == nil && (size != tc.size || size <= len(tc.in) && h.length != tc.len) {
				t.Errorf("parseHeader(% x) = length %d, size %d, %v; want length %d, size %d, %v", tc.in, h.length, size, err, tc.len, tc.size, tc.err)
			}
		})
	}
}

// FuzzParseHeader: any bytes parse without panicking; an accepted complete
// header is canonical (encoding what was parsed gives the same bytes) and
// within RFC 6455's bounds.
func FuzzParseHeader(f *testing.F) {
	for _, seed := range [][]byte{
		{0x81, 0x85, 1, 2, 3, 4}, {0x82, 126, 1, 0}, {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}, {0x88, 0x82, 0, 0, 0, 0},
		{0x89, 0x00}, {0x01, 0x80, 9, 9, 9, 9}, {0x80, 0x00}, {0xC1, 0x80}, {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, {},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, size, err := parseHeader(b)
		if err != nil {
			return
		}
		if size < 2 || size > maxHeaderLen {
			t.Fatalf("size %d out of [2, %d]", size, maxHeaderLen)
		}
		if size > len(b) {
			return // incomplete
		}
		if h.length < 0 || h.control && (h.length > 125 || !h.fin) || h.rsv != 0 {
			t.Fatalf("accepted out-of-bounds header %+v", h)
		}
		if got := encode(h); string(got) != string(b[:size]) {
			t.Fatalf("re-encoded % x, parsed % x", got, b[:size])
		}
	})
}

func TestCloseFrame(t *testing.T) {
	f := closeFrame(closeTooBig, "message too big", true)
	h, size, err := parseHeader(f)
	if err != nil || !h.masked || h.opcode != opClose || int(h.length) != len(f)-size {
		t.Fatalf("masked close frame % x: %+v, %v", f, h, err)
	}
	p := append([]byte(nil), f[size:]...)
	unmask(p, h.key, 0)
	if got := closeCode(p); got != closeTooBig || string(p[2:]) != "message too big" {
		t.Errorf("payload %q: code %d", p, got)
	}
	if f := closeFrame(closeGoingAway, "", false); string(f) != "\x88\x02\x03\xe9" {
		t.Errorf("unmasked close frame % x", f)
	}
	for _, tc := range []struct {
		p    string
		want int
	}{{"", 1005}, {"\x03", 0}, {"\x03\xe8", 1000}, {"\x03\xed", 0}, {"\x03\xee", 0}, {"\x0b\xb8ok", 3000}, {"\x13\x88", 0}} {
		if got := closeCode([]byte(tc.p)); got != tc.want {
			t.Errorf("closeCode(% x) = %d, want %d", tc.p, got, tc.want)
		}
	}
}
