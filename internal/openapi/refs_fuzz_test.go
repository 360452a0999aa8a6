package openapi

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRefPointer: any two keys, written into a $ref fragment the way
// documents write them (RFC 6901 escapes, then optionally percent-encoded),
// resolve to the value under those keys; a malformed fragment is an error,
// never a panic. A raw "%" must be percent-encoded in a fragment (RFC 3986),
// so keys with one are only checked in the encoded form.
func FuzzRefPointer(f *testing.F) {
	f.Add("a/b~c", "~1", false, "")
	f.Add("with space", "%7E", true, "")
	f.Add("~01", "", true, "#/~2")
	f.Add("", "0", false, "#/x/%zz")
	f.Fuzz(func(t *testing.T, k1, k2 string, percent bool, raw string) {
		if !utf8.ValidString(k1) || !utf8.ValidString(k2) {
			return // JSON would replace the invalid bytes
		}
		doc, err := json.Marshal(map[string]map[string]int{k1: {k2: 7}, k1 + "x": {k2: 8}})
		if err != nil {
			t.Fatal(err)
		}
		root, err := parseDocument(doc)
		if err != nil {
			t.Fatalf("parse %s: %v", doc, err)
		}
		src := &source{uri: "/api.json", name: "api.json", root: root}
		l := &loader{cfg: &Config{Name: "fuzz"}, sources: map[string]*source{src.uri: src}, root: src}
		ptr := "/" + ptrToken(k1) + "/" + ptrToken(k2)
		switch {
		case percent:
			ptr = (&url.URL{Fragment: ptr}).EscapedFragment()
		case strings.Contains(ptr, "%"):
			return
		}
		got, err := l.resolve(loc{src: src}, "#"+ptr)
		if err != nil || got.n == nil || got.n.kind != kNum || got.n.s != "7" {
			t.Fatalf("#%s in %s: %v, %+v", ptr, doc, err, got.n)
		}
		_, _ = l.resolve(loc{src: src}, raw)
	})
}
