package framing

// maxChunkLine bounds a chunk-size line, chunk extensions and CRLF included.
// net/http refuses longer lines too: they do not fit its 4 KiB read buffer.
const maxChunkLine = 4096

// States of chunkScan.
const (
	chSize         uint8 = iota // in the hex digits of a chunk size
	chSizeWS                    // OWS after the size, before CRLF
	chExt                       // in a chunk extension, after ';'
	chSizeLF                    // after the CR of a size line
	chData                      // in chunk data
	chDataCR                    // after chunk data, expecting CR
	chDataLF                    // expecting the LF after chunk data
	chTrailer                   // at the start of a trailer line
	chTrailerName               // in a trailer field name
	chTrailerValue              // in a trailer field value
	chTrailerLF                 // after the CR of a trailer line
	chEndLF                     // after the CR of the empty line that ends the body
)

// chunkScan follows a chunked body (RFC 9112 §7.1) byte by byte. It accepts
// a subset of what net/http's chunked reader accepts, so that wherever both
// accept a body they agree on where it ends:
//
//	chunk-size  = 1*16HEXDIG, at most 2^62
//	size line   = chunk-size [ OWS ] CRLF | chunk-size ";" ext CRLF
//	ext         = any bytes but CTLs other than HTAB (net/http ignores them)
//	chunk       = size line, chunk-size bytes of data, CRLF
//	last chunk  = a size line of size 0, then trailer fields, then CRLF
//	trailer     = 1*tchar ":" value CRLF, value without CTLs other than HTAB
//
// Bare CR, bare LF, obs-fold and whitespace before ';' are refused.
//
// Chunk data is released as it arrives. Everything else is held back until
// it is complete: the CRLF after a chunk's data together with the next size
// line, and the last chunk together with the trailer section. So net/http
// never reads a piece of a malformed line; it reads what came before, then
// the error. (Given half a line it might notice the fault itself first and
// report its own error instead of ErrBadChunk.)
type chunkScan struct {
	st      uint8
	digits  uint8  // hex digits read in the current size
	size    uint64 // chunk size being parsed, then data bytes left
	line    int    // bytes of the current size line
	pending int    // bytes scanned but held back
}

// scan follows the body through b, which starts where the previous call
// stopped. It returns how many bytes of b it consumed, whether the body
// ended (with the n-th byte), and whether the byte after those n is
// malformed. Of all the bytes consumed so far, the last s.pending are held
// back; limit bounds s.pending.
func (s *chunkScan) scan(b []byte, limit int) (n int, done, bad bool) {
	for i := 0; i < len(b); {
		if s.st == chData {
			k := len(b) - i
			if uint64(k) > s.size {
				k = int(s.size)
			}
			i += k
			s.size -= uint64(k)
			if s.size == 0 {
				s.st = chDataCR
			}
			continue
		}
		c := b[i]
		ok, release := true, false
		switch s.st {
		case chSize, chSizeWS, chExt, chSizeLF:
			s.line++
			if s.line > maxChunkLine {
				return i, false, true
			}
		}
		switch s.st {
		case chSize:
			switch {
			case hexValue(c) >= 0:
				// net/http allows 16 digits, leading zeros included.
				s.digits++
				s.size = s.size<<4 | uint64(hexValue(c))
				ok = s.digits <= 16 && s.size <= maxContentLength
			case s.digits == 0:
				ok = false
			case c == ';':
				s.st = chExt
			case c == ' ' || c == '\t':
				s.st = chSizeWS
			case c == '\r':
				s.st = chSizeLF
			default:
				ok = false
			}
		case chSizeWS:
			switch c {
			case ' ', '\t':
			case '\r':
				s.st = chSizeLF
			default:
				ok = false
			}
		case chExt:
			switch {
			case c == '\r':
				s.st = chSizeLF
			case isCtl(c):
				ok = false
			}
		case chSizeLF:
			ok = c == '\n'
			s.line, s.digits = 0, 0
			if s.size == 0 {
				s.st = chTrailer // the last chunk is held back with the trailers
			} else {
				s.st = chData
				release = true
			}
		case chDataCR:
			ok = c == '\r'
			s.st = chDataLF
		case chDataLF:
			ok = c == '\n'
			s.st = chSize
		case chTrailer:
			switch {
			case c == '\r':
				s.st = chEndLF
			case isTchar(c):
				s.st = chTrailerName
			default:
				ok = false
			}
		case chTrailerName:
			switch {
			case c == ':':
				s.st = chTrailerValue
			case !isTchar(c):
				ok = false
			}
		case chTrailerValue:
			switch {
			case c == '\r':
				s.st = chTrailerLF
			case isCtl(c):
				ok = false
			}
		case chTrailerLF:
			ok = c == '\n'
			s.st = chTrailer
		case chEndLF:
			ok = c == '\n'
			release, done = true, true
		}
		if !ok {
			return i, false, true
		}
		i++
		if release {
			s.pending = 0
			if done {
				return i, true, false
			}
			continue
		}
		s.pending++
		if s.pending >= limit {
			// What is held back must fit the buffer, and this is not
			// complete yet.
			return i, false, true
		}
	}
	return len(b), false, false
}

// hexValue is the value of the hex digit c, or -1.
func hexValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
