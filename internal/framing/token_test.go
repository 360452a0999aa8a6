package framing

import (
	"strings"
	"testing"
)

// validValueBytewise is ValidValue's definition, one byte at a time.
func validValueBytewise(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// TestValidValueEveryByteEveryPlace: each of the 256 bytes, at each place of
// values from 1 to 24 bytes long (so in the word-at-a-time part, its tail
// and both), in clean text and in obs-text, is judged as byte by byte.
func TestValidValueEveryByteEveryPlace(t *testing.T) {
	for _, fill := range []byte{'a', 0x80, 0xff, '\t', ' '} {
		for n := 1; n <= 24; n++ {
			for at := 0; at < n; at++ {
				for c := 0; c < 256; c++ {
					v := []byte(strings.Repeat(string([]byte{fill}), n))
					v[at] = byte(c)
					want := validValueBytewise(string(v))
					if got := ValidValue(string(v)); got != want {
						t.Fatalf("ValidValue(%q) = %v, want %v", v, got, want)
					}
					if got := ValidValue(v); got != want {
						t.Fatalf("ValidValue([]byte %q) = %v, want %v", v, got, want)
					}
				}
			}
		}
	}
}

// FuzzValidValue checks ValidValue against the byte-by-byte definition.
func FuzzValidValue(f *testing.F) {
	for _, s := range []string{"", "application/json", "a\tb", "max-age=63072000; includeSubDomains", "x\r\nInjected: 1", "\x7f", "caf\xc3\xa9 \x80\xff", "12345678\x00", "1234567\x1f90"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := ValidValue(v), validValueBytewise(v); got != want {
			t.Fatalf("ValidValue(%q) = %v, want %v", v, got, want)
		}
	})
}

func BenchmarkValidValue(b *testing.B) {
	v := "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if !ValidValue(v) {
			b.Fatal("refused")
		}
	}
}
