package pathnorm

import (
	"github.com/rampart-gw/rampart/internal/framing"
	"slices"
	"strconv"
	"strings"
)

// Reasons, stable kebab-case codes: they appear in problem+json type URIs and
// in metric labels, so never rename one.
const (
	ReasonNotOriginForm      = "not-origin-form"      // empty, not starting with "/", or containing a raw '?'
	ReasonBackslash          = "backslash"            // '\' raw or %5C
	ReasonEncodedSlash       = "encoded-slash"        // %2F
	ReasonControlChar        = "control-char"         // bytes 0x00-0x1F and 0x7F, raw or encoded
	ReasonBadPercentEncoding = "bad-percent-encoding" // '%' not followed by two hex digits
	ReasonDoubleEncoding     = "double-encoding"      // %25 followed by two hex digits
	ReasonPathParameter      = "path-parameter"       // ';' raw or %3B in the path
	ReasonFragment           = "fragment"             // '#' raw, or %23 in the path
	ReasonEncodedDotSegment  = "encoded-dot-segment"  // a "." or ".." segment spelled with %2E
	ReasonPathTraversal      = "path-traversal"       // ".." above the root
	ReasonQuerySemicolon     = "query-semicolon"      // ';' in the query
	ReasonTooManyParams      = "too-many-params"      // more than maxParams query pairs
)

// DefaultMaxParams is the query parameter limit used when Query is given
// maxParams <= 0.
const DefaultMaxParams = 100

// Error is a rejected path or query. Reason is a stable kebab-case code (one of
// the Reason* constants, used in problem+json type URIs and metrics); Detail is
// a short sentence safe to show the client: it never quotes the input, it only
// names the offending construct and its byte offset.
type Error struct{ Reason, Detail string }

func (e *Error) Error() string { return "pathnorm: " + e.Reason + ": " + e.Detail }

// fail builds the *Error for a rejection at byte offset off of the input.
// Only rejections allocate.
func fail(reason, what string, off int) *Error {
	return &Error{Reason: reason, Detail: what + " at byte " + strconv.Itoa(off)}
}

// Path returns the canonical form of raw, the still-escaped path of an
// origin-form request target (the bytes of the request line before '?', not
// url.URL.EscapedPath, which may have been re-encoded already), or an *Error.
// See the package comment for the rules. When raw is already canonical, Path
// returns raw itself and does not allocate; when the canonical form is a prefix
// of raw (e.g. "/a/." or "/a//"), it returns that substring, also without
// allocating.
func Path(raw string) (string, error) {
	w := writer{raw: raw, lazy: true}
	if err := canonicalize(&w); err != nil {
		return "", err
	}
	if w.lazy {
		return raw[:w.n], nil
	}
	return string(w.buf), nil
}

// AppendPath appends the canonical form of raw (see Path) to dst and returns
// the extended slice. On error it returns dst unchanged (bytes past len(dst)
// in its backing array may have been overwritten). It does not allocate when
// dst has enough spare capacity.
func AppendPath(dst []byte, raw string) ([]byte, error) {
	w := writer{raw: raw, buf: dst, off: len(dst), lazy: true}
	if err := canonicalize(&w); err != nil {
		return dst, err
	}
	if w.lazy {
		return append(dst, raw[:w.n]...), nil
	}
	return w.buf, nil
}

// writer accumulates the output. While lazy, the output so far equals
// raw[:n] and nothing has been copied: a canonical input is never copied at
// all. The first byte that differs from raw switches to buf, where the output
// is buf[off:off+n].
type writer struct {
	raw  string
	buf  []byte
	off  int
	n    int
	lazy bool
}

func (w *writer) writeByte(c byte) {
	if w.lazy {
		if w.n < len(w.raw) && w.raw[w.n] == c {
			w.n++
			return
		}
		w.lazy = false
		// Escaping can triple a byte; size for the common, mildly dirty case.
		w.buf = slices.Grow(w.buf, len(w.raw)+16)
		w.buf = append(w.buf, w.raw[:w.n]...)
	}
	w.buf = append(w.buf, c)
	w.n++
}

func (w *writer) writeEscape(v byte) {
	w.writeByte('%')
	w.writeByte(upperHex[v>>4])
	w.writeByte(upperHex[v&0x0f])
}

// at returns output byte i (i < n).
func (w *writer) at(i int) byte {
	if w.lazy {
		return w.raw[i]
	}
	return w.buf[w.off+i]
}

// truncate shortens the output to n bytes. While lazy the invariant
// output == raw[:n] still holds afterwards.
func (w *writer) truncate(n int) {
	w.n = n
	if !w.lazy {
		w.buf = w.buf[:w.off+n]
	}
}

// canonicalize writes the canonical form of w.raw to w in a single pass over
// the segments of the input. The output is kept as "/" followed by segments
// joined with "/", so a dot segment can be undone by truncation.
func canonicalize(w *writer) *Error {
	raw := w.raw
	if raw == "" {
		return &Error{Reason: ReasonNotOriginForm, Detail: "empty path"}
	}
	if raw[0] != '/' {
		return &Error{Reason: ReasonNotOriginForm, Detail: `path must start with "/"`}
	}
	w.writeByte('/')

	// trailing is true when the last segment seen was empty or a dot segment,
	// i.e. when the canonical path must end in "/".
	trailing := false
	for start := 1; ; {
		end := strings.IndexByte(raw[start:], '/')
		if end < 0 {
			end = len(raw)
		} else {
			end += start
		}
		if start == end {
			trailing = true // empty segment: "//" is merged, a final "/" is kept
		} else {
			var err *Error
			if trailing, err = segment(w, start, end); err != nil {
				return err
			}
		}
		if end == len(raw) {
			break
		}
		start = end + 1
	}
	if trailing && w.at(w.n-1) != '/' {
		w.writeByte('/')
	}
	return nil
}

// segment writes the canonical form of the non-empty segment raw[start:end]
// and resolves it if it is a dot segment. It reports whether it was one.
func segment(w *writer, start, end int) (dot bool, _ *Error) {
	raw := w.raw
	if w.at(w.n-1) != '/' {
		w.writeByte('/')
	}
	segStart := w.n
	encodedDot := false
	for i := start; i < end; {
		c := raw[i]
		switch pathClass[c] {
		case clsKeep:
			w.writeByte(c)
			i++
			continue
		case clsEncode:
			w.writeEscape(c)
			i++
			continue
		case clsBackslash:
			return false, fail(ReasonBackslash, `path contains a backslash`, i)
		case clsSemicolon:
			return false, fail(ReasonPathParameter, `path contains ";" (path parameter)`, i)
		case clsHash:
			return false, fail(ReasonFragment, `path contains "#"`, i)
		case clsQuestion:
			return false, fail(ReasonNotOriginForm, `path contains "?"; the query must not be passed as path`, i)
		case clsControl:
			return false, fail(ReasonControlChar, `path contains a control character`, i)
		}
		// clsPercent
		if i+2 >= end || !framing.IsHexDigit(raw[i+1]) || !framing.IsHexDigit(raw[i+2]) {
			return false, fail(ReasonBadPercentEncoding, `path contains "%" not followed by two hex digits`, i)
		}
		v := byte(framing.HexDigit(raw[i+1]))<<4 | byte(framing.HexDigit(raw[i+2]))
		switch {
		case isUnreserved(v):
			encodedDot = encodedDot || v == '.'
			w.writeByte(v)
		case v == '/':
			return false, fail(ReasonEncodedSlash, `path contains an encoded slash (%2F)`, i)
		case v == '\\':
			return false, fail(ReasonBackslash, `path contains an encoded backslash (%5C)`, i)
		case v < 0x20 || v == 0x7f:
			return false, fail(ReasonControlChar, `path contains an encoded control character`, i)
		case v == ';':
			return false, fail(ReasonPathParameter, `path contains an encoded ";" (%3B)`, i)
		case v == '#':
			return false, fail(ReasonFragment, `path contains an encoded "#" (%23)`, i)
		case v == '%' && hexFollows(raw, i+3, end):
			return false, fail(ReasonDoubleEncoding, `path contains a double-encoded escape (%25 followed by two hex digits)`, i)
		default:
			w.writeEscape(v)
		}
		i += 3
	}

	// Dot segments. They are recognised on the canonical form, where an
	// encoded dot has become '.'; encodedDot tells the spellings apart.
	switch n := w.n - segStart; {
	case n == 1 && w.at(segStart) == '.':
	case n == 2 && w.at(segStart) == '.' && w.at(segStart+1) == '.':
	default:
		return false, nil
	}
	if encodedDot {
		return false, fail(ReasonEncodedDotSegment, `path contains a dot segment spelled with %2E`, start)
	}
	if w.n-segStart == 1 { // "."
		w.truncate(segStart)
		return true, nil
	}
	// "..": drop it, its separator and the previous segment, keeping the '/'
	// before that one. The output is "/" + segments joined by "/", so the
	// byte before segStart is '/', and it is the root when segStart == 1.
	if segStart == 1 {
		return false, fail(ReasonPathTraversal, `path climbs above the root with ".."`, start)
	}
	prev := segStart - 2
	for w.at(prev) != '/' {
		prev--
	}
	w.truncate(prev + 1)
	return true, nil
}

// hexFollows reports whether raw[k:end] starts with two characters that are
// hex digits once decoded, i.e. each is a raw hex digit or an escape of one
// ("%41" is 'A'). It is what makes "%25" + "41", "%25%34%31" and "%254%31" all
// double encodings of 'A', so that the canonical output never contains
// "%25" followed by two hex digits.
func hexFollows(raw string, k, end int) bool {
	for range 2 {
		if k >= end {
			return false
		}
		switch c := raw[k]; {
		case framing.IsHexDigit(c):
			k++
		case c == '%' && k+2 < end && framing.IsHexDigit(raw[k+1]) && framing.IsHexDigit(raw[k+2]) &&
			framing.IsHexDigit(byte(framing.HexDigit(raw[k+1]))<<4|byte(framing.HexDigit(raw[k+2]))):
			k += 3
		default:
			return false
		}
	}
	return true
}

// Query validates raw, the query string of a request target without the '?',
// and returns nil or an *Error. It splits on '&'; empty pairs are ignored
// and a pair is "key" or "key=value". It rejects ';' (query-semicolon), a '%'
// not followed by two hex digits (bad-percent-encoding), control bytes raw or
// encoded (control-char), a raw '#' (fragment) and more than maxParams
// non-empty pairs (too-many-params); maxParams <= 0 means DefaultMaxParams.
// The first problem in input order wins. Other bytes are not checked: the
// query is forwarded verbatim, and escapes such as %3B, %23 and %2F are data.
// Query never allocates unless it rejects.
func Query(raw string, maxParams int) error {
	if maxParams <= 0 {
		maxParams = DefaultMaxParams
	}
	pairs := 0
	inPair := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '&':
			inPair = false
			continue
		case c == ';':
			return fail(ReasonQuerySemicolon, `query contains ";"`, i)
		case c == '#':
			return fail(ReasonFragment, `query contains "#"`, i)
		case c < 0x20 || c == 0x7f:
			return fail(ReasonControlChar, `query contains a control character`, i)
		case c == '%':
			if i+2 >= len(raw) || !framing.IsHexDigit(raw[i+1]) || !framing.IsHexDigit(raw[i+2]) {
				return fail(ReasonBadPercentEncoding, `query contains "%" not followed by two hex digits`, i)
			}
			if v := byte(framing.HexDigit(raw[i+1]))<<4 | byte(framing.HexDigit(raw[i+2])); v < 0x20 || v == 0x7f {
				return fail(ReasonControlChar, `query contains an encoded control character`, i)
			}
		}
		if !inPair {
			inPair = true
			if pairs++; pairs > maxParams {
				return &Error{Reason: ReasonTooManyParams, Detail: "query has more than " + strconv.Itoa(maxParams) + " parameters"}
			}
		}
		if c == '%' {
			i += 2
		}
	}
	return nil
}

// Byte classes of the path scanner.
const (
	clsEncode    uint8 = iota // not allowed raw in a segment: percent-encode it
	clsKeep                   // pchar other than '%' and ';': copy it
	clsPercent                // start of an escape
	clsBackslash              // '\'
	clsSemicolon              // ';'
	clsHash                   // '#'
	clsQuestion               // '?'
	clsControl                // 0x00-0x1F, 0x7F
)

var pathClass = func() (t [256]uint8) {
	// Everything defaults to clsEncode: ' ', '"', '<', '>', '[', ']', '^',
	// '`', '{', '|', '}' and all bytes >= 0x80.
	for c := range 256 {
		if isUnreserved(byte(c)) {
			t[c] = clsKeep
		}
	}
	for _, c := range []byte("!$&'()*+,=:@") { // sub-delims minus ';', and ":" "@"
		t[c] = clsKeep
	}
	for c := range 0x20 {
		t[c] = clsControl
	}
	t[0x7f] = clsControl
	t['%'] = clsPercent
	t['\\'] = clsBackslash
	t[';'] = clsSemicolon
	t['#'] = clsHash
	t['?'] = clsQuestion
	return t
}()

const upperHex = "0123456789ABCDEF"

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
