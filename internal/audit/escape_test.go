package audit

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// checkEscaped: appendEscaped's output, quoted, is a JSON string that
// decodes to s (invalid bytes as U+FFFD), holds no raw control byte and no
// invalid UTF-8, and leaves safe ASCII as it is. Access and audit lines
// carry client-chosen paths, headers and ids.
func checkEscaped(t *testing.T, s string) {
	t.Helper()
	out := string(appendEscaped(nil, s))
	if !utf8.ValidString(out) {
		t.Fatalf("appendEscaped(%q) = %q: not valid UTF-8", s, out)
	}
	for i := 0; i < len(out); i++ {
		if out[i] < 0x20 {
			t.Fatalf("appendEscaped(%q) = %q: raw control byte", s, out)
		}
	}
	var got string
	if err := json.Unmarshal([]byte(`"`+out+`"`), &got); err != nil {
		t.Fatalf("appendEscaped(%q) = %q: %v", s, out, err)
	}
	if want := string([]rune(s)); got != want {
		t.Fatalf("appendEscaped(%q) decodes to %q, want %q", s, got, want)
	}
	safe := true
	for i := 0; i < len(s); i++ {
		safe = safe && s[i] < utf8.RuneSelf && jsonSafe[s[i]]
	}
	if safe && out != s {
		t.Fatalf("appendEscaped(%q) = %q: safe ASCII changed", s, out)
	}
}

// TestAppendEscapedEveryByteEveryPlace: each byte at each place of strings
// from 1 to 20 bytes.
func TestAppendEscapedEveryByteEveryPlace(t *testing.T) {
	for _, fill := range []string{"a", "~", " "} {
		for n := 1; n <= 20; n++ {
			for at := 0; at < n; at++ {
				for c := 0; c < 256; c++ {
					b := []byte(strings.Repeat(fill, n))
					b[at] = byte(c)
					checkEscaped(t, string(b))
				}
			}
		}
	}
	for _, s := range []string{"/api/items/42?q=caf\u00e9", "line\u2028sep\u2029", "12345678\xff\xfe", "\"quoted\" \\path\\", "日本語のパス/12345678"} {
		checkEscaped(t, s)
	}
}

func FuzzAppendEscaped(f *testing.F) {
	for _, s := range []string{"", "/api/items/42", "a\"b\\c\n\r\t\x00", "caf\xc3\xa9\xff", "\u2028", "12345678\x1f"} {
		f.Add(s)
	}
	f.Fuzz(checkEscaped)
}

// TestAppendLatencyMS: the integer formatting prints what the float's
// shortest form does, across the range it takes (and the fallback past it).
func TestAppendLatencyMS(t *testing.T) {
	check := func(d time.Duration) {
		t.Helper()
		got, want := string(appendLatencyMS(nil, d)), string(appendFloat(nil, latencyMS(d)))
		if got != want {
			t.Fatalf("appendLatencyMS(%v) = %s, want %s", d, got, want)
		}
	}
	for us := int64(0); us < 20000; us++ {
		check(time.Duration(us) * time.Microsecond)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200000; i++ {
		check(time.Duration(rng.Int64N(1<<62) >> rng.IntN(62)))
	}
	for _, d := range []time.Duration{-time.Second, 1e14*time.Microsecond - 1, 1e14 * time.Microsecond, 1<<63 - 1} {
		check(d)
	}
}
