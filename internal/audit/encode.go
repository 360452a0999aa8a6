package audit

import (
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// The direct encoder writes exactly what slog.JSONHandler (nil options, no
// attrs or groups) writes for the same record: the same keys in the same
// order, the same value formats and the same string escaping. The functions
// below are adapted from log/slog/json_handler.go and encoding/json; the
// tests compare the output with slog's byte for byte.

// lineBuf is a pooled line buffer (a pointer, so Put does not allocate).
type lineBuf struct{ b []byte }

// maxPooledLine: larger buffers (a line full of escaped hostile text) are
// left to the garbage collector instead of pinning memory in the pool.
const maxPooledLine = 16 << 10

var linePool = sync.Pool{New: func() any { return &lineBuf{b: make([]byte, 0, 1024)} }}

func getLine() *lineBuf { return linePool.Get().(*lineBuf) }

func putLine(l *lineBuf) {
	if cap(l.b) > maxPooledLine {
		return
	}
	l.b = l.b[:0]
	linePool.Put(l)
}

// appendHead starts a record: {"time":...,"level":...,"msg":...
func appendHead(b []byte, t time.Time, level slog.Level, msg string) []byte {
	b = append(b, `{"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":`...)
	b = appendString(b, level.String()) // constant strings for the named levels
	b = append(b, `,"msg":`...)
	return appendString(b, msg)
}

// appendKey appends ,"key": for a key that needs no escaping.
func appendKey(b []byte, key string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// appendString appends s as a quoted JSON string, escaped like slog does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendBounded appends safe(s, max) as a quoted JSON string without
// building the bounded string. Escaping is rune by rune and "…" starts with a
// lead byte, so escaping s[:max] and then "…" gives the same bytes as
// escaping their concatenation (a rune cut at max becomes \ufffd either way).
func appendBounded(b []byte, s string, max int) []byte {
	b = append(b, '"')
	if len(s) > max {
		b = appendEscaped(b, s[:max])
		b = append(b, "…"...)
	} else {
		b = appendEscaped(b, s)
	}
	return append(b, '"')
}

// appendPrincipal appends safe(auth+":"+subject, 256) as a quoted JSON
// string without concatenating (see appendBounded for why pieces may be
// escaped separately: ':' is ASCII).
func appendPrincipal(b []byte, auth, subject string) []byte {
	const max = 256
	b = append(b, '"')
	if len(auth)+1+len(subject) <= max {
		b = appendEscaped(b, auth)
		b = append(b, ':')
		b = appendEscaped(b, subject)
		return append(b, '"')
	}
	switch {
	case len(auth) >= max:
		b = appendEscaped(b, auth[:max])
	case len(auth)+1 == max:
		b = appendEscaped(b, auth)
		b = append(b, ':')
	default:
		b = appendEscaped(b, auth)
		b = append(b, ':')
		b = appendEscaped(b, subject[:max-len(auth)-1])
	}
	b = append(b, "…"...)
	return append(b, '"')
}

// appendFloat appends f as encoding/json (and so slog) formats a float64.
func appendFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		// json.Marshal refuses these; slog would log an error string. Never
		// happens for latencies; keep the line valid JSON.
		return append(b, '0')
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendEscaped escapes s for JSON like slog's appendEscapedJSONString
// (encoding/json with HTML escaping off): quotes, backslash and control
// characters escaped, invalid UTF-8 as \ufffd, U+2028/U+2029 escaped, <>&
// kept as is. No quotation marks are added.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, '\\')
			switch c {
			case '\\', '"':
				b = append(b, c)
			case '\n':
				b = append(b, 'n')
			case '\r':
				b = append(b, 'r')
			case '\t':
				b = append(b, 't')
			default:
				b = append(b, 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

const hexDigits = "0123456789abcdef"

// jsonSafe: printable ASCII except '"' and '\\' (as encoding/json's safeSet).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
