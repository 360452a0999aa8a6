package h2

import (
	"strings"

	"golang.org/x/net/http2"
)

// headerBlock is a request's decoded HEADERS (+ CONTINUATION) block: what
// x/net's Framer returned as a MetaHeadersFrame, with the same checks
// (readHeaderBlock). The connection has one, reused for every block; its
// slices are valid until the next block is read.
type headerBlock struct {
	streamID    uint32
	endStream   bool
	hasPriority bool
	priorityDep uint32
	truncated   bool // the list went past the header list bound: answered 431
	pseudo      []field
	regular     []field

	// while decoding
	invalid       bool // a bad name or value, or a pseudo-header after a regular field
	sawRegular    bool
	remain        uint32 // header list bytes left (RFC 9113 §6.5.2, counted as x/net does)
	trailerRemain uint32 // the same for the names a trailer field announces
}

// add takes a decoded field (x/net's readMetaFrame emit function): false
// stops the passing on of the block's later fields.
func (b *headerBlock) add(f field) bool {
	isPseudo := strings.HasPrefix(f.name, ":")
	if !f.valueOK {
		b.invalid = true
	}
	if isPseudo {
		if b.sawRegular {
			b.invalid = true
		}
	} else {
		b.sawRegular = true
		if !f.nameOK {
			b.invalid = true
		}
	}
	if b.invalid {
		return false
	}
	remain, size := &b.remain, f.size()
	if f.name == "trailer" {
		remain = &b.trailerRemain
		n := strings.Count(f.value, ",") + 1
		size = uint32(len(f.value)-n+1) + uint32(n)*32
	}
	if size > *remain {
		b.truncated = true
		b.remain, b.trailerRemain = 0, 0
		return false
	}
	*remain -= size
	if isPseudo {
		b.pseudo = append(b.pseudo, f)
	} else {
		b.regular = append(b.regular, f)
	}
	return true
}

// release drops the block's references to its strings once the request
// is built: an idle connection does not keep the last request's fields.
func (b *headerBlock) release() {
	clear(b.pseudo)
	clear(b.regular)
}

// checkPseudos is x/net's MetaHeadersFrame.checkPseudos: known names, no
// duplicates, not request and response ones mixed.
func (b *headerBlock) checkPseudos() bool {
	var isRequest, isResponse bool
	for i, f := range b.pseudo {
		switch f.name {
		case ":method", ":path", ":scheme", ":authority", ":protocol":
			isRequest = true
		case ":status":
			isResponse = true
		default:
			return false
		}
		for _, g := range b.pseudo[:i] {
			if f.name == g.name {
				return false
			}
		}
	}
	return !(isRequest && isResponse)
}

// maxBlockFields: a larger field slice of a block is not kept for the
// connection's next blocks.
const maxBlockFields = 64

// readHeaderBlock reads the rest of the header block hf starts (its
// CONTINUATION frames) and decodes it into c.block, with every check of
// x/net's Framer.readMetaFrame, in its order, and its errors: a
// ConnectionError (PROTOCOL_ERROR for a block far past the header list
// bound or continued after an invalid field, COMPRESSION_ERROR for HPACK
// errors), a StreamError PROTOCOL_ERROR for an invalid field or bad
// pseudo-headers, or the error of reading a frame.
func (c *conn) readHeaderBlock(hf *http2.HeadersFrame) error {
	b := &c.block
	if cap(b.regular) > maxBlockFields {
		b.regular = nil
	}
	*b = headerBlock{streamID: hf.StreamID, endStream: hf.StreamEnded(),
		hasPriority: hf.HasPriority(), priorityDep: hf.Priority.StreamDep,
		pseudo: b.pseudo[:0], regular: b.regular[:0],
		remain: c.headerListSize(), trailerRemain: c.headerListSize()}
	d := c.hdec
	d.startBlock()
	frag, ended := hf.HeaderBlockFragment(), hf.HeadersEnded()
	for {
		// Far past the bound, or continued after an invalid field: the
		// connection ends (x/net: "avoid parsing large amounts of headers
		// that we will then discard"; CVE-2024-27316).
		if int64(len(frag)) > 2*int64(b.remain+b.trailerRemain) || b.invalid {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if err := d.write(frag); err != nil {
			return http2.ConnectionError(http2.ErrCodeCompression)
		}
		if ended {
			break
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			return err
		}
		cf := f.(*http2.ContinuationFrame) // the Framer checks the sequence
		frag, ended = cf.HeaderBlockFragment(), cf.HeadersEnded()
	}
	if err := d.close(); err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	if b.invalid || !b.checkPseudos() {
		return http2.StreamError{StreamID: b.streamID, Code: http2.ErrCodeProtocol}
	}
	return nil
}

// headerListSize is the bound on a decoded header list, as the Framer
// counted it (16 MiB when none).
func (c *conn) headerListSize() uint32 {
	if n := uint32(min(c.maxHeader, 1<<31-1)); n != 0 {
		return n
	}
	return 16 << 20
}
