package store

import (
	"strings"
	"testing"
)

// FuzzParseKey: whatever a client sends in X-API-Key, ParseKey either
// refuses it or returns an id and a secret that rebuild exactly the input,
// and never panics.
func FuzzParseKey(f *testing.F) {
	f.Add(FormatKey("AbCdEf123456", strings.Repeat("x", SecretLen)))
	f.Add("rk_")
	f.Add("rk__")
	f.Add("")
	f.Add("rk_AbCdEf123456_" + strings.Repeat("x", SecretLen-1) + "é")
	h, _ := NewHasher(nil)
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := ParseKey(s)
		if err != nil {
			if id != "" || secret != "" {
				t.Fatalf("refused %q but returned parts", s)
			}
			return
		}
		if FormatKey(id, secret) != s || !ValidID(id) || len(secret) != SecretLen {
			t.Fatalf("ParseKey(%q) = %q, %q", s, id, secret)
		}
		if len(h.Sum(id, secret)) != 32 {
			t.Fatalf("accepted key %q does not hash", s)
		}
	})
}
