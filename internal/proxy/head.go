package proxy

import (
	"bufio"
	"errors"
	"io"
	"strings"

	"github.com/rampart-gw/rampart/internal/framing"
)

// Limits on what an upstream may send before the body.
const (
	maxHeadBytes    = 64 << 10 // all heads of one response (1xx included)
	maxHeadFields   = 128      // per head
	maxTrailerBytes = 16 << 10 // a chunked body's trailer section
)

// Errors for malformed upstream responses. All of them become a 502 and the
// connection is closed.
var (
	errHeadTooLarge  = errors.New("upstream response head too large")
	errTooManyFields = errors.New("upstream response has too many header fields")
	errStatusLine    = errors.New("malformed upstream status line")
	errBareLF        = errors.New("upstream response line not ended by CRLF")
	errObsFold       = errors.New("obsolete line folding in upstream response")
	errFieldName     = errors.New("invalid header field name in upstream response")
	errFieldValue    = errors.New("invalid header field value in upstream response")
	errCLAndTE       = errors.New("upstream response has both Content-Length and Transfer-Encoding")
	errBadCL         = errors.New("invalid Content-Length in upstream response")
	errBadTE         = errors.New("unsupported Transfer-Encoding in upstream response")
	errUpgrade       = errors.New("upstream switched protocols on a request that did not ask to")
)

// field is one parsed header field. Its key is an interned canonical name,
// or "" when the (canonicalised) name is text[k0:k1] of the head.
type field struct {
	key            string
	k0, k1, v0, v1 int32
}

// respHead is a strictly parsed HTTP/1.x response head. It is reused across
// requests: keys of common fields are interned and all names and values live
// in one string (text), so a head costs one allocation however many fields.
type respHead struct {
	status        int
	minor         int   // HTTP/1.minor
	contentLength int64 // -1 when absent
	chunked       bool
	close         bool // the connection cannot be reused after this response
	hasConn       bool // a Connection field is present
	heads         int  // heads read, 1xx included
	raw           []byte
	fields        []field
	text          string
}

func (h *respHead) reset() {
	h.status, h.minor, h.contentLength, h.chunked, h.close, h.hasConn = 0, 0, -1, false, false, false
	h.raw = h.raw[:0]
	h.fields = h.fields[:0]
	h.text = ""
}

func (h *respHead) key(f *field) string {
	if f.key != "" {
		return f.key
	}
	return h.text[f.k0:f.k1]
}

func (h *respHead) value(f *field) string { return h.text[f.v0:f.v1] }

// read parses the response head from br, skipping informational (1xx)
// responses other than 101, which is refused: only Upgrade asks for one.
func (h *respHead) read(br *bufio.Reader) error {
	total := 0
	h.heads = 0
	for {
		if err := h.readOne(br, &total); err != nil {
			return err
		}
		h.heads++
		switch {
		case h.status == 101:
			return errUpgrade
		case h.status >= 200:
			if len(h.raw) > 0 {
				h.text = string(h.raw)
			}
			return nil
		}
	}
}

// readSwitch is read for an upgrade request, where a 101 is a final
// answer too.
func (h *respHead) readSwitch(br *bufio.Reader) error {
	total := 0
	for {
		if err := h.readOne(br, &total); err != nil {
			return err
		}
		if h.status == 101 || h.status >= 200 {
			h.text = string(h.raw)
			return nil
		}
	}
}

// readLine returns the next line without its CRLF. The slice is only valid
// until the next read from br.
func readLine(br *bufio.Reader, total *int, limit int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	*total += len(line)
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) || *total > limit {
			return nil, errHeadTooLarge
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if *total > limit {
		return nil, errHeadTooLarge
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errBareLF
	}
	return line[:len(line)-2], nil
}

func (h *respHead) readOne(br *bufio.Reader, total *int) error {
	h.reset()
	line, err := readLine(br, total, maxHeadBytes)
	if err != nil {
		return err
	}
	// HTTP/1.x SP 3DIGIT [SP reason-phrase]
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[7] != '0' && line[7] != '1' || line[8] != ' ' {
		return errStatusLine
	}
	h.minor = int(line[7] - '0')
	d0, d1, d2 := line[9], line[10], line[11]
	if d0 < '1' || d0 > '5' || d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9' {
		return errStatusLine
	}
	h.status = int(d0-'0')*100 + int(d1-'0')*10 + int(d2-'0')
	if len(line) > 12 {
		if line[12] != ' ' || !framing.ValidValue(line[13:]) {
			return errStatusLine
		}
	}
	sawTE := false
	for {
		line, err := readLine(br, total, maxHeadBytes)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
		if len(h.fields) >= maxHeadFields {
			return errTooManyFields
		}
		name, v, reason := framing.SplitField(line)
		switch reason {
		case "":
		case framing.ReasonObsFold:
			return errObsFold
		case framing.ReasonBadHeaderValue:
			return errFieldValue
		default:
			return errFieldName
		}
		k0 := len(h.raw)
		h.raw = append(h.raw, name...)
		canonicalize(h.raw[k0:])
		k1 := len(h.raw)
		h.raw = append(h.raw, v...)
		key := commonKeys[string(h.raw[k0:k1])]
		h.fields = append(h.fields, field{key: key, k0: int32(k0), k1: int32(k1), v0: int32(k1), v1: int32(len(h.raw))})
		switch key {
		case "Content-Length":
			n, ok := framing.ParseContentLength(v)
			if !ok {
				return errBadCL
			}
			if h.contentLength >= 0 && h.contentLength != n {
				return errBadCL
			}
			h.contentLength = n
		case "Transfer-Encoding":
			if sawTE || len(v) != 7 || !strings.EqualFold(string(v), "chunked") {
				return errBadTE
			}
			sawTE, h.chunked = true, true
		case "Connection":
			h.hasConn = true
			if hasToken(v, "close") {
				h.close = true
			}
		}
	}
	if h.chunked && (h.contentLength >= 0 || h.minor == 0) {
		if h.contentLength >= 0 {
			return errCLAndTE
		}
		return errBadTE
	}
	if h.minor == 0 {
		h.close = true // no HTTP/1.0 keep-alive
	}
	return nil
}

// hasToken reports whether the comma-separated list v contains tok (ASCII
// case-insensitive).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		t := framing.TrimOWS(v[:i])
		if len(t) == len(tok) && strings.EqualFold(string(t), tok) {
			return true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}

// listHas is hasToken for a string.
func listHas(v, tok string) bool {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(strings.Trim(t, " \t"), tok) {
			return true
		}
	}
	return false
}

// canonicalize rewrites a valid token in place the way
// textproto.CanonicalMIMEHeaderKey does: upper case first and after '-'.
func canonicalize(b []byte) {
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		} else if !upper && 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
}

// commonKeys interns the canonical names of common response headers, so that
// parsing them costs no allocation.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept-Ranges", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
		"Access-Control-Allow-Methods", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
		"Access-Control-Max-Age", "Age", "Allow", "Alt-Svc", "Cache-Control", "Connection",
		"Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length", "Content-Location",
		"Content-Range", "Content-Security-Policy", "Content-Type", "Cross-Origin-Embedder-Policy",
		"Cross-Origin-Opener-Policy", "Cross-Origin-Resource-Policy", "Date", "Etag", "Expires",
		"Keep-Alive", "Last-Modified", "Link", "Location", "Pragma", "Proxy-Authenticate",
		"Proxy-Connection", "Referrer-Policy", "Retry-After", "Server", "Set-Cookie",
		"Strict-Transport-Security", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Vary", "Via",
		"Www-Authenticate", "X-Aspnet-Version", "X-Aspnetmvc-Version", "X-Content-Type-Options",
		"X-Debug-Token", "X-Debug-Token-Link", "X-Drupal-Cache", "X-Frame-Options", "X-Generator",
		"X-Powered-By", "X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset",
		"X-Request-Id", "X-Runtime", "X-Version", "X-Xss-Protection", "Ratelimit", "Ratelimit-Policy",
		"Server-Timing", "Timing-Allow-Origin", "Permissions-Policy",
	} {
		m[k] = k
	}
	return m
}()
