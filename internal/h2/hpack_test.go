package h2

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
)

// Fields that change on every response (a request id, the date) are sent
// as never-indexed literals, so the fields that repeat (a gateway's
// security headers) stay in the HPACK dynamic table and cost one byte each,
// response after response; entered in the table, the changing ones would
// push the repeating ones out again and again.
func TestHPACKKeepsRepeatingFieldsIndexed(t *testing.T) {
	var n atomic.Int64
	ts := startTCP(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Content-Type", "application/json")
		h.Set("X-Request-Id", fmt.Sprintf("%032x", uint64(n.Add(1))*0x9e3779b97f4a7c15))
		h.Set("Ratelimit", fmt.Sprintf(`"per_client";r=%d;t=1`, 100000-n.Load()))
		w.Write([]byte(`{"ok":true}`))
	})})
	rc := dialRaw(t, ts)
	for i := uint32(0); i < 200; i++ {
		id := 2*i + 1
		rc.headers(id, true, getFields...)
		f := rc.until(func(f http2.Frame) bool {
			_, ok := f.(*http2.MetaHeadersFrame)
			return ok && f.Header().StreamID == id
		}).(*http2.MetaHeadersFrame)
		// From the second response on: the repeating fields indexed (one
		// byte each), the changing ones as literals (request id ~40 bytes,
		// rate limit ~25, date ~25, content-length ~3): under 110 bytes.
		if size := f.Header().Length; i > 0 && size > 110 {
			t.Fatalf("response %d: header block of %d bytes; the repeating fields were not sent as table indexes", i+1, size)
		}
		if got := f.Fields; len(got) < 11 {
			t.Fatalf("response %d: %d fields", i+1, len(got))
		}
	}
}
