package h1

import (
	"maps"
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
	// What a head with the previous head's names costs (fieldOrder's hit:
	// one lookup per name, which writing the values needs anyway).
	b.Run("remembered order", func(b *testing.B) {
		var o fieldOrder
		o.of(typicalResponse)
		for b.Loop() {
			o.of(typicalResponse)
			o.done()
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

// TestFieldOrderOf: a head with the remembered names is answered from
// memory (the names slice is the remembered one: no sort), anything else is
// sorted afresh; values always come from the head asked about, and done
// drops them.
func TestFieldOrderOf(t *testing.T) {
	var o fieldOrder
	check := func(h http.Header, wantHit bool) {
		t.Helper()
		var before *string
		if len(o.names) > 0 {
			before = &o.names[0]
		}
		prev := slices.Clone(o.names)
		names, vals := o.of(h)
		want := slices.Sorted(maps.Keys(h))
		if !slices.Equal(names, want) {
			t.Fatalf("names %q, want %q", names, want)
		}
		for i, k := range names {
			if !slices.Equal(vals[i], h[k]) {
				t.Errorf("%s: values %q, want %q", k, vals[i], h[k])
			}
		}
		hit := len(names) > 0 && before != nil && &names[0] == before && slices.Equal(prev, names)
		if len(h) > 0 && hit != wantHit {
			t.Errorf("%q: remembered order used = %v, want %v", want, hit, wantHit)
		}
		o.done()
		for i := range vals {
			if vals[i] != nil {
				t.Fatalf("done kept the values of %s", names[i])
			}
		}
	}
	check(http.Header{"B": {"1"}, "A": {"2"}, "C": {"3"}}, false)
	check(http.Header{"C": {"x"}, "B": {"y"}, "A": {"z"}}, true)
	check(http.Header{"C": {"x"}, "D": {"y"}, "A": {"z"}}, false) // as many, one swapped
	check(http.Header{"C": {"x"}, "D": {"y"}, "A": {"z"}}, true)
	check(http.Header{"C": {"x"}, "D": {"y"}}, false) // a subset
	check(http.Header{"C": {"x"}, "D": {"y"}, "A": {"z"}, "E": {"w"}}, false)
	check(http.Header{}, false)
	check(http.Header{"C": {"x"}}, false)
	check(typicalResponse, false)
	check(typicalResponse, true)
}
