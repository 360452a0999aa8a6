package framing

// tokenChars marks RFC 9110 §5.6.2 tchar: the bytes of methods, field names
// and chunk-extension names. A table, not a switch: the head parsers test
// every byte of every field name.
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// IsTokenChar reports whether c may appear in a token (RFC 9110 §5.6.2).
func IsTokenChar(c byte) bool { return tokenChars[c] }

// ValidToken reports whether s is a non-empty token.
func ValidToken[T ~string | ~[]byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return true
}

// ValidValue reports whether v may be a field value on the wire: no control
// byte other than HTAB (so no CR, LF or NUL); obs-text is allowed
// (RFC 9110 §5.5).
func ValidValue[T ~string | ~[]byte](v T) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// TrimOWS removes SP and HTAB at both ends, as net/textproto does with field
// values.
func TrimOWS[T ~string | ~[]byte](v T) T {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// IsHexDigit reports whether c is 0-9, a-f or A-F.
func IsHexDigit(c byte) bool { return HexDigit(c) >= 0 }

// HexDigit is the value of hex digit c, or -1.
func HexDigit(c byte) int {
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
