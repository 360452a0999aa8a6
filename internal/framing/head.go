package framing

import "bytes"

// verdict is what the head scanner decided about a request head.
type verdict uint8

const (
	needMore   verdict = iota // the head is not complete yet
	headOK                    // complete and valid
	headPass                  // the request line is not HTTP/1.x: refused by ScanHead
	headReject                // refused for a reason
)

// maxContentLength bounds Content-Length and chunk sizes. net/http accepts up
// to 2^63-1; nobody sends a body of 2^62 bytes.
const maxContentLength = 1 << 62

// headScan parses a request head incrementally. Offsets are relative to the
// first byte of the head, so the caller may move the bytes between calls as
// long as it passes them again from that first byte. Each byte is examined
// once, however the head is split across reads.
type headScan struct {
	pos       int  // bytes examined so far
	lineStart int  // start of the line being read
	started   bool // the CR/LF bytes before the request line are behind
	reqLine   bool // the request line has been read
	http10    bool // the request is HTTP/1.0

	nCL, nTE int  // Content-Length and Transfer-Encoding field lines
	nHost    int  // Host field lines
	clBad    bool // a Content-Length value was not 1*DIGIT <= 2^62
	teBad    bool // a Transfer-Encoding value was not "chunked"
}

// scan continues parsing the head in b (which starts at the first byte of
// the head). limit is the largest head allowed. It returns the verdict, the
// length of the head for headOK, and the reason for headReject.
//
// Lines end at LF; one CR right before the LF is dropped. That is how
// bufio.Reader.ReadLine, and so net/http, splits the head, bare-LF heads
// included.
func (h *headScan) scan(b []byte, limit int) (v verdict, n int, reason Reason) {
	for {
		if !h.started {
			// CR and LF bytes before the request line (RFC 9112 §2.2)
			// are part of the head.
			for h.pos < len(b) && (b[h.pos] == '\r' || b[h.pos] == '\n') {
				h.pos++
			}
			if h.pos == len(b) {
				break
			}
			h.started = true
			h.lineStart = h.pos
		}
		i := bytes.IndexByte(b[h.pos:], '\n')
		if i < 0 {
			h.pos = len(b)
			break
		}
		end := h.pos + i
		h.pos = end + 1
		if h.pos > limit {
			return headReject, 0, ReasonHeaderTooLarge
		}
		line := b[h.lineStart:end]
		h.lineStart = h.pos
		if k := len(line); k > 0 && line[k-1] == '\r' {
			line = line[:k-1]
		}

		if !h.reqLine {
			h.reqLine = true
			major, minor, ok := requestVersion(line)
			if !ok || major != 1 {
				return headPass, len(b), ""
			}
			h.http10 = minor == 0
			if badTarget(line) {
				return headReject, 0, ReasonBadTarget
			}
			continue
		}
		if len(line) == 0 {
			if reason := h.framingError(); reason != "" {
				return headReject, 0, reason
			}
			return headOK, h.pos, ""
		}
		if reason := h.field(line); reason != "" {
			return headReject, 0, reason
		}
	}
	// No end of head in b: all of b is head.
	if len(b) >= limit {
		return headReject, 0, ReasonHeaderTooLarge
	}
	return needMore, 0, ""
}

// field checks one field line (not empty, without its line ending) and
// records Content-Length and Transfer-Encoding.
func (h *headScan) field(line []byte) Reason {
	name, value, reason := SplitField(line)
	if reason != "" {
		return reason
	}
	switch {
	case equalFold(name, "host"):
		h.nHost++
	case equalFold(name, "content-length"):
		h.nCL++
		_, ok := ParseContentLength(value)
		h.clBad = h.clBad || !ok
	case equalFold(name, "transfer-encoding"):
		h.nTE++
		h.teBad = h.teBad || !equalFold(value, "chunked")
	}
	return ""
}

// SplitField checks a field line of a request or response head (not empty,
// without its line ending) and splits it into its name, a token, and its
// value without the whitespace around it. A line that starts with
// whitespace (obs-fold, RFC 9112 §5.2), has no colon or an empty name, has
// whitespace before the colon (RFC 9112 §5.1) or a name that is not a token,
// or a control byte other than HTAB in its value is refused.
func SplitField(line []byte) (name, value []byte, reason Reason) {
	// One pass over the name in the common case; the faults are told apart
	// only when there is one.
	i := 0
	for i < len(line) && tokenChars[line[i]] {
		i++
	}
	if i == 0 || i == len(line) || line[i] != ':' {
		return nil, nil, fieldFault(line)
	}
	value = line[i+1:]
	if !ValidValue(value) {
		return nil, nil, ReasonBadHeaderValue
	}
	return line[:i], TrimOWS(value), ""
}

// fieldFault says what is wrong with a field line whose name is not a token
// followed by a colon.
func fieldFault(line []byte) Reason {
	if line[0] == ' ' || line[0] == '\t' {
		return ReasonObsFold
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return ReasonBadHeaderLine
	}
	if c := line[colon-1]; c == ' ' || c == '\t' {
		return ReasonSpaceBeforeColon
	}
	return ReasonBadHeaderLine
}

// framingError checks the body framing fields of a complete head.
func (h *headScan) framingError() Reason {
	switch {
	case h.nHost > 1:
		return ReasonBadHost
	case h.nTE > 0 && h.http10:
		return ReasonTEOnHTTP10
	case h.nTE > 0 && h.nCL > 0:
		return ReasonCLAndTE
	case h.nTE > 1 || h.teBad:
		return ReasonBadTransferEncoding
	case h.nCL > 1 || h.clBad:
		return ReasonBadContentLength
	}
	return ""
}

// requestVersion splits a request line exactly like net/http
// (parseRequestLine: method SP target SP version, where version is all that
// follows the second space) and parses the version like
// http.ParseHTTPVersion. ok is false when net/http would refuse the line for
// its shape or its version.
func requestVersion(line []byte) (major, minor int, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return 0, 0, false
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return 0, 0, false
	}
	v := rest[sp+1:]
	if len(v) != len("HTTP/X.Y") || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		!isDigit(v[5]) || !isDigit(v[7]) {
		return 0, 0, false
	}
	return int(v[5] - '0'), int(v[7] - '0'), true
}

// ParseContentLength parses a Content-Length value: 1*DIGIT up to 2^62.
// Signs, spaces, commas and lists are refused, and so is the empty value
// (RFC 9110 §8.6; a list of equal values, which RFC 9110 lets a recipient
// accept, is refused too).
func ParseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		d := int64(c - '0')
		if n > (maxContentLength-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// equalFold compares b with the lower-case ASCII string s, ignoring ASCII
// case only. (strings.EqualFold would also match "ſ" or "K" against s and
// k, which net/http does not.)
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// badTarget reports a request-target with a malformed percent-escape in the
// path or a control byte anywhere (net/http's URL parser refuses them too). Escapes
// in the query are left to the gateway's strict query check.
func badTarget(line []byte) bool {
	sp := bytes.IndexByte(line, ' ')
	target := line[sp+1:]
	target = target[:bytes.IndexByte(target, ' ')]
	inQuery := false
	for i := 0; i < len(target); i++ {
		c := target[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return true
		case c == '?':
			inQuery = true
		case c == '%' && !inQuery:
			if i+2 >= len(target) || HexDigit(target[i+1]) < 0 || HexDigit(target[i+2]) < 0 {
				return true
			}
		}
	}
	return false
}
