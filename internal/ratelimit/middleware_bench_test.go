package ratelimit_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/ratelimit"
	"github.com/rampart-gw/rampart/internal/ratelimit/memory"
)

// BenchmarkMiddleware is the whole per-request cost of one policy of two
// limits on the memory backend: key hashing, decision, headers.
func BenchmarkMiddleware(b *testing.B) {
	p := policy(b, "per_client", "client_ip", 0, "1000000/s burst 1000", "1000000000/day")
	h := ratelimit.Middleware([]*ratelimit.Policy{p}, memory.New(memory.Config{}), nil, ratelimit.Options{})(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	reqs := make([]*http.Request, 1024)
	for i := range reqs {
		r := httptest.NewRequest("GET", "/api/items/1", nil)
		reqs[i] = pipeline.WithInfo(r, &pipeline.Info{ClientIP: "192.0.2." + strconv.Itoa(i%250), Route: "items"})
	}
	var seq atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &nopWriter{h: http.Header{}}
		i := seq.Add(1) * 7919
		for pb.Next() {
			i++
			clear(w.h)
			h.ServeHTTP(w, reqs[i%uint64(len(reqs))])
		}
	})
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}
