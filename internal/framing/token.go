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
//
// It tests 8 bytes at a time (every field value of every response is
// checked): a word with no byte below 0x20 and none equal to 0x7f is
// clean; one with such a byte (an HTAB, or a refusal) is looked at byte by
// byte.
func ValidValue[T ~string | ~[]byte](v T) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; len(v)-i >= 8; i += 8 {
		b := v[i : i+8]
		w := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		below := (w - 0x20*ones) &^ w & highs // a byte < 0x20 (exact as a yes/no)
		del := w ^ 0x7f*ones
		del = (del - ones) &^ del & highs // a byte == 0x7f
		if below|del != 0 {
			break
		}
	}
	for ; i < len(v); i++ {
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
