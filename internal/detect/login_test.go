package detect

import (
	"strings"
	"testing"
)

func TestLoginUsername(t *testing.T) {
	for _, c := range []struct{ body, ct, want string }{
		{`{"username":"Alice","password":"s3cret"}`, "application/json", "alice"},
		{`{"password":"s3cret","nested":{"username":"x"},"username":" Bob "}`, "application/json; charset=utf-8", "bob"},
		{`{"username":42}`, "application/json", ""},
		{`["username"]`, "application/json", ""},
		{`password=s3cret&username=carol%40example.com`, "application/x-www-form-urlencoded", "carol@example.com"},
		{`username=a%ZZ`, "application/x-www-form-urlencoded", ""},
		{`username=dave`, "text/plain", ""},
		{`{"username":"` + strings.Repeat("é", 200) + `"}`, "application/json", strings.Repeat("é", 64)},
		{`{"username":"ev\u0000e\nx"}`, "", "evex"},
	} {
		if got := LoginUsername([]byte(c.body), c.ct, "username"); got != c.want {
			t.Errorf("%s (%s): got %q, want %q", c.body, c.ct, got, c.want)
		}
	}
}

func FuzzLoginUsername(f *testing.F) {
	f.Add([]byte(`{"username":"a","password":"b"}`), "application/json")
	f.Add([]byte(`username=a&password=b`), "application/x-www-form-urlencoded")
	f.Add([]byte(`{"username":"\ud800"}`), "")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		u := LoginUsername(body, ct, "username")
		if len(u) > MaxUsername || strings.ContainsAny(u, "\x00\r\n") || strings.ToValidUTF8(u, "") != u {
			t.Fatalf("unsanitised username %q", u)
		}
	})
}

func FuzzParseSubject(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "198.51.100.0/24", "2001:db8::/64", "::ffff:1.2.3.4", "principal:jwt:alice", "principal:", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, subject, err := ParseSubject(s)
		if err != nil {
			return
		}
		// Canonical: parsing the ID again gives the same block.
		k2, s2, err := ParseSubject(Block{Kind: kind, Subject: subject}.ID())
		if err != nil || k2 != kind || s2 != subject {
			t.Fatalf("%q → %s %q → %s %q %v", s, kind, subject, k2, s2, err)
		}
	})
}
