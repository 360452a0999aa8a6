package h1

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
)

// TestSortFieldNames: the order is the names' byte order (what slices.Sort
// gives), for sets sorted by insertion and by pdqsort, with names shorter
// than, equal to and longer than the 16-byte prefix, sharing it or not.
func TestSortFieldNames(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	stems := []string{"", "A", "Content-", "Content-Security-Policy", "X-Content-Type-Option", "Cross-Origin-Resource-", "\x00", "a\x00", "Zzzzzzzzzzzzzzzz"}
	var names []fieldName
	for round := 0; round < 2000; round++ {
		n := rng.IntN(insertionMax + 10)
		if round%100 == 0 {
			n = 300
		}
		h := http.Header{}
		for len(h) < n {
			b := []byte(stems[rng.IntN(len(stems))])
			for k := rng.IntN(20); k > 0; k-- {
				b = append(b, "\x00Aab-Z~\xff"[rng.IntN(8)])
			}
			h[string(b)] = nil
		}
		want := make([]string, 0, len(h))
		for k := range h {
			want = append(want, k)
		}
		slices.Sort(want)
		names = sortFieldNames(h, names)
		got := make([]string, len(names))
		for i := range names {
			got[i] = names[i].name
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d (%d names):\n got %q\nwant %q", round, n, got, want)
		}
	}
}

// typicalResponse is a proxied JSON response with the security headers.
var typicalResponse = http.Header{
	"Content-Type": {"application/json"}, "Content-Length": {"194"}, "Cache-Control": {"no-store"},
	"Content-Security-Policy": {"default-src 'none'"}, "Cross-Origin-Opener-Policy": {"same-origin"},
	"Cross-Origin-Resource-Policy": {"same-origin"}, "Cross-Origin-Embedder-Policy": {"require-corp"},
	"Permissions-Policy": {"()"}, "Referrer-Policy": {"no-referrer"}, "Strict-Transport-Security": {"max-age=63072000"},
	"X-Content-Type-Options": {"nosniff"}, "X-Frame-Options": {"DENY"}, "X-Request-Id": {"0123456789abcdef"},
	"Vary": {"Origin"}, "Etag": {`"abc"`}, "Last-Modified": {"x"}, "X-Ratelimit-Limit": {"100"}, "X-Ratelimit-Remaining": {"99"},
}

func BenchmarkSortFieldNames(b *testing.B) {
	b.Run("prefix+insertion", func(b *testing.B) {
		var names []fieldName
		for b.Loop() {
			names = sortFieldNames(typicalResponse, names)
		}
	})
	// What slices.Sort costs on top of the map iteration both need.
	for _, sorted := range []bool{false, true} {
		name := "iteration only (the floor)"
		if sorted {
			name = "slices.Sort"
		}
		b.Run(name, func(b *testing.B) {
			var keys []string
			for b.Loop() {
				keys = keys[:0]
				for k := range typicalResponse {
					keys = append(keys, k)
				}
				if sorted {
					slices.Sort(keys)
				}
			}
		})
	}
}
