package tracing

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// traceHeaders is what AppendTraceparent may write: a W3C traceparent line
// and, optionally, one tracestate line of printable characters.
var traceHeaders = regexp.MustCompile(`^Traceparent: 00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}\r\n(Tracestate: [\x20-\x7e]+\r\n)?$`)

func TestAppendTraceparent(t *testing.T) {
	ts, err := trace.ParseTraceState("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0x4b, 0xf9, 15: 0x36},
		SpanID: trace.SpanID{0x00, 0xf0, 7: 0xb7}, TraceFlags: trace.FlagsSampled, TraceState: ts})
	got := string(AppendTraceparent([]byte("X: y\r\n"), sc))
	want := "X: y\r\nTraceparent: 00-4bf90000000000000000000000000036-00f00000000000b7-01\r\nTracestate: rojo=00f067aa0ba902b7,congo=t61rcWkgMzE\r\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { AppendTraceparent(make([]byte, 0, 128), trace.SpanContext{}) }); n > 1 {
		t.Errorf("AppendTraceparent allocates %v times without a tracestate (the buffer aside)", n)
	}
}

func TestOffWithoutConfig(t *testing.T) {
	tr, err := New(nil, nil)
	if tr != nil || err != nil {
		t.Fatalf("New(nil) = %v, %v; want tracing off (nil, nil)", tr, err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Errorf("nil Shutdown: %v", err)
	}
}

// collector starts an OTLP endpoint that discards exports; release, when
// not nil, holds every export until it is closed.
func collector(t testing.TB, release chan struct{}) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if release != nil {
			<-release
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1/traces"
}

func testConfig(endpoint string, queue int, ratio float64) *Config {
	return &Config{Endpoint: endpoint, SampleRatio: ratio, ServiceName: "test", Timeout: 5 * time.Second, Queue: queue}
}

// serverSpan runs one request's spans: server, and upstream inside it.
func serverSpan(tr *Tracer, h http.Header, trusted bool) trace.SpanContext {
	ctx, span := tr.StartServer(context.Background(), h, trusted, time.Now())
	up := tr.StartUpstream(ctx)
	sc := up.SpanContext()
	tr.EndUpstream(up, Upstream{Name: "app", Method: "GET", Target: "127.0.0.1:8000", Status: 200, Elapsed: time.Millisecond})
	tr.EndServer(span, Server{Method: "GET", Scheme: "http", Route: "items", Template: "/items/{id}", Status: 200, Forwarded: true})
	return sc
}

func TestQueueBoundDropsAndCounts(t *testing.T) {
	release := make(chan struct{})
	tr, err := New(testConfig(collector(t, release), 2, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	const requests = 10
	for range requests {
		serverSpan(tr, nil, false)
	}
	// The collector holds the first export: at most 2 spans (the queue)
	// are waiting at any time, so at least the rest were dropped.
	if st := tr.Stats(); st.Dropped < 2*requests-2 {
		t.Errorf("dropped %d spans with a queue of 2 and a stuck collector, want at least %d", st.Dropped, 2*requests-2)
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Exported+st.Failed+st.Dropped != 2*requests || st.Exported == 0 {
		t.Errorf("stats %+v: every span must be exported, failed or dropped (%d), some exported", st, 2*requests)
	}
}

func TestUnsampledSpansStillPropagate(t *testing.T) {
	tr, err := New(testConfig(collector(t, nil), 16, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	sc := serverSpan(tr, nil, false)
	if !sc.IsValid() || sc.IsSampled() {
		t.Errorf("upstream span context %v: want valid and not sampled", sc)
	}
	// A trusted proxy's sampled flag wins over the ratio (parent-based).
	h := http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	if sc := serverSpan(tr, h, true); !sc.IsSampled() || sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("continued span context %v: want the proxy's trace, sampled", sc)
	}
	if sc := serverSpan(tr, h, false); sc.TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Error("an untrusted traceparent was continued")
	}
}

// FuzzTraceContext feeds a trusted proxy's traceparent and tracestate
// (whatever bytes they hold) through StartServer: the span either continues
// a valid trace or starts a new one, and the header lines written upstream
// are always well-formed, so a tracestate cannot inject a header.
func FuzzTraceContext(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "rojo=00f067aa0ba902b7")
	f.Add("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a=b\r\nX-Injected: 1")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-extra", "a=b,,c=d")
	tr, err := New(testConfig(collector(f, nil), 16, 0), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	f.Fuzz(func(t *testing.T, traceparent, tracestate string) {
		h := http.Header{"Traceparent": {traceparent}, "Tracestate": {tracestate}}
		ctx, span := tr.StartServer(context.Background(), h, true, time.Now())
		up := tr.StartUpstream(ctx)
		out := AppendTraceparent(nil, up.SpanContext())
		if !traceHeaders.Match(out) || bytes.Count(out, []byte("\n")) > 2 {
			t.Errorf("traceparent %q, tracestate %q wrote %q", traceparent, tracestate, out)
		}
		up.End()
		span.End()
	})
}

// BenchmarkSpans is what tracing adds to one forwarded request: a server
// span and an upstream span, started, described and ended (export happens
// in the background).
func BenchmarkSpans(b *testing.B) {
	for _, bc := range []struct {
		name  string
		ratio float64
	}{{"sampled", 1}, {"unsampled", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			tr, err := New(testConfig(collector(b, nil), 2048, bc.ratio), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Shutdown(context.Background())
			b.ReportAllocs()
			for b.Loop() {
				serverSpan(tr, nil, false)
			}
		})
	}
}
