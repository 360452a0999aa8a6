package audit

import (
	"github.com/rampart-gw/rampart/internal/framing"
	"net/url"
	"strings"
)

// maxQuery bounds the logged query string (bytes of the raw query).
const maxQuery = 1024

// sensitiveParams are query parameter names whose values are credentials.
var sensitiveParams = []string{"token", "access_token", "id_token", "refresh_token", "api_key", "apikey",
	"api-key", "key", "password", "passwd", "pwd", "secret", "client_secret", "sig", "signature",
	"code", "auth", "authorization", "session", "sessionid", "jwt", "x-api-key", "private_token", "credential"}

// RedactQuery replaces the values of credential-looking parameters with
// REDACTED, keeping the rest for debugging; it never fails. A query with
// nothing to redact is returned as is (bounded), without allocating.
func RedactQuery(q string) string {
	if len(q) > maxQuery {
		q = q[:maxQuery]
	}
	if !querySensitive(q) {
		return q
	}
	return string(appendRedacted(make([]byte, 0, len(q)+16), q, false))
}

// appendRedactedQuery appends RedactQuery(q) as a quoted JSON string,
// redacting and escaping in one pass into b.
func appendRedactedQuery(b []byte, q string) []byte {
	if len(q) > maxQuery {
		q = q[:maxQuery]
	}
	b = append(b, '"')
	b = appendRedacted(b, q, true)
	return append(b, '"')
}

// querySensitive reports whether some parameter of q would be redacted.
func querySensitive(q string) bool {
	for {
		part, rest, more := strings.Cut(q, "&")
		if name, _, hasValue := strings.Cut(part, "="); hasValue && sensitiveName(name) {
			return true
		}
		if !more {
			return false
		}
		q = rest
	}
}

// appendRedacted appends q with sensitive values replaced, JSON-escaped if
// escape is set. Parts are escaped separately: they are joined by the ASCII
// '&' and '=', so that equals escaping the joined string.
func appendRedacted(b []byte, q string, escape bool) []byte {
	add := func(b []byte, s string) []byte {
		if escape {
			return appendEscaped(b, s)
		}
		return append(b, s...)
	}
	for first := true; ; first = false {
		part, rest, more := strings.Cut(q, "&")
		if !first {
			b = append(b, '&')
		}
		if name, _, hasValue := strings.Cut(part, "="); hasValue && sensitiveName(name) {
			b = add(b, name)
			b = append(b, "=REDACTED"...)
		} else {
			b = add(b, part)
		}
		if !more {
			return b
		}
		q = rest
	}
}

// sensitiveName reports whether the raw (still escaped) parameter name is a
// credential's: isSensitive of its query-unescaped form (or of the raw name
// if it does not unescape). Names that decode to short ASCII are checked
// without allocating; others take the exact general path.
func sensitiveName(name string) bool {
	var buf [128]byte
	dec, ok := unescapeLowerASCII(buf[:0], name)
	if !ok {
		return isSensitive(unescapeOrRaw(name))
	}
	return sensitiveLower(dec)
}

// unescapeLowerASCII query-unescapes name into b (like url.QueryUnescape:
// '+' is a space, %XX a byte) and lower-cases it. On an invalid escape it
// uses name itself, as RedactQuery does. ok is false when the result is not
// ASCII or does not fit in b's capacity.
func unescapeLowerASCII(b []byte, name string) (_ []byte, ok bool) {
	if len(name) > cap(b) {
		return nil, false
	}
	valid := true
	for i := 0; i < len(name); i++ {
		if name[i] == '%' && (i+2 >= len(name) || !framing.IsHexDigit(name[i+1]) || !framing.IsHexDigit(name[i+2])) {
			valid = false
			break
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if valid {
			switch c {
			case '+':
				c = ' '
			case '%':
				c = byte(framing.HexDigit(name[i+1]))<<4 | byte(framing.HexDigit(name[i+2]))
				i += 2
			}
		}
		if c >= 0x80 {
			return nil, false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b, true
}

// sensitiveSet holds sensitiveParams, for lookups.
var sensitiveSet = func() map[string]bool {
	m := make(map[string]bool, len(sensitiveParams))
	for _, s := range sensitiveParams {
		m[s] = true
	}
	return m
}()

// sensitiveLower is isSensitive for an already lower-cased ASCII name: n
// ends with "_"+s exactly when some '_' in n is followed by s to the end.
func sensitiveLower(n []byte) bool {
	if hasSuffix(n, "token") || hasSuffix(n, "secret") || contains(n, "password") || sensitiveSet[string(n)] {
		return true
	}
	for i, c := range n {
		if c == '_' && sensitiveSet[string(n[i+1:])] {
			return true
		}
	}
	return false
}

func hasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}

func contains(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

func unescapeOrRaw(name string) string {
	dec, err := url.QueryUnescape(name)
	if err != nil {
		return name
	}
	return dec
}

// isSensitive is the reference rule (any name, any case, Unicode lowering).
func isSensitive(name string) bool {
	n := strings.ToLower(name)
	for _, s := range sensitiveParams {
		if n == s || strings.HasSuffix(n, "_"+s) || strings.HasSuffix(n, "token") || strings.HasSuffix(n, "secret") || strings.Contains(n, "password") {
			return true
		}
	}
	return false
}
