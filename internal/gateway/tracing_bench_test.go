package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/tracing"
)

// BenchmarkTracing is BenchmarkCorePipeline with tracing off (the nil
// check: it must cost what the core pipeline costs), on with every trace
// sampled and exported to a local collector, and on with none sampled
// (spans and the upstream's traceparent, nothing exported).
func BenchmarkTracing(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchDeps(b, "GET", "", Deps{}) })
	for _, bc := range []struct {
		name  string
		ratio float64
	}{{"sampled", 1}, {"unsampled", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/x-protobuf")
			}))
			defer collector.Close()
			tr, err := tracing.New(&tracing.Config{Endpoint: collector.URL + "/v1/traces", SampleRatio: bc.ratio,
				ServiceName: "bench", Timeout: 10 * time.Second, Queue: 2048}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Shutdown(context.Background())
			benchDeps(b, "GET", "", Deps{Tracer: tr})
		})
	}
}
