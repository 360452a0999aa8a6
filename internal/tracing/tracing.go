// Package tracing gives the gateway OpenTelemetry traces: one server span per
// request and a child span per upstream call, exported over OTLP/HTTP
// (protobuf, gzip) by the OpenTelemetry SDK's batch processor.
//
// Off by default: without a tracing: section New returns nil, and the
// gateway and proxy test that nil pointer and do nothing else — no span, no
// allocation, no context value.
//
// Trust: a W3C traceparent/tracestate is continued only when it comes from a
// trusted proxy (server.trusted_proxies); from anyone else it is removed
// before routing (internal/hygiene) and the request starts a new trace, so a
// client can neither choose the trace ids the upstream's own spans join nor
// force sampling. The upstream always gets the upstream span's traceparent,
// sampled or not.
//
// Export never slows a request: ended spans go to a bounded queue (Queue
// spans; the ones ended while it is full are dropped and counted), batches
// are sent by a background goroutine within Timeout, and a failed batch is
// dropped and counted, not retried. Header values (collector credentials)
// never reach a log line.
//
//	tr, err := tracing.New(cfg.Tracing, logger) // nil, nil when cfg.Tracing is nil
//	defer tr.Shutdown(ctx)                      // flushes what is queued, within ctx
package tracing

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/rampart-gw/rampart/internal/metrics"
)

// maxBatch is the most spans sent in one export.
const maxBatch = 512

// Tracer starts and ends the gateway's spans. A nil *Tracer is tracing off:
// callers check for nil before calling anything else.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	counts   *counts
}

// counts are the export outcomes, for metrics.
type counts struct {
	exported, failed, dropped atomic.Uint64
	pending                   atomic.Int64 // ended spans queued or being exported
}

// Stats are the span export outcomes since start.
type Stats struct {
	Exported uint64 // accepted by the collector
	Failed   uint64 // in batches the collector refused or did not answer in time
	Dropped  uint64 // ended while the queue was full
}

// New starts the exporter for cfg; nil cfg is tracing off (nil, nil).
// Nothing is contacted until the first batch is sent.
func New(cfg *Config, logger *slog.Logger) (*Tracer, error) {
	if cfg == nil {
		return nil, nil
	}
	if logger == nil {
		logger = slog.Default()
	}
	headers := make(map[string]string, len(cfg.Headers)) // non-nil: OTEL_EXPORTER_OTLP_HEADERS never adds any
	for k, v := range cfg.Headers {
		headers[k] = v
	}
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(cfg.Endpoint),
		otlptracehttp.WithHeaders(headers),
		otlptracehttp.WithTimeout(cfg.Timeout),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		return nil, errors.New("tracing: the OTLP exporter cannot be built from endpoint")
	}
	c := &counts{}
	bsp := sdktrace.NewBatchSpanProcessor(
		&countingExporter{SpanExporter: exp, counts: c, logger: logger, secrets: headerValues(cfg.Headers)},
		sdktrace.WithMaxQueueSize(cfg.Queue),
		sdktrace.WithMaxExportBatchSize(min(maxBatch, cfg.Queue)),
		sdktrace.WithExportTimeout(cfg.Timeout))
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		sdktrace.WithSpanProcessor(&boundedProcessor{SpanProcessor: bsp, counts: c, max: int64(cfg.Queue)}),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName))))
	return &Tracer{provider: provider, tracer: provider.Tracer("github.com/rampart-gw/rampart"), counts: c}, nil
}

// Shutdown exports what is queued, within ctx, and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// Stats returns the export outcomes so far.
func (t *Tracer) Stats() Stats {
	return Stats{Exported: t.counts.exported.Load(), Failed: t.counts.failed.Load(), Dropped: t.counts.dropped.Load()}
}

// StartServer starts a request's server span at start. The request's
// traceparent (and tracestate) in h are continued only when trusted (the
// peer is a trusted proxy); otherwise the span starts a new trace.
func (t *Tracer) StartServer(ctx context.Context, h http.Header, trusted bool, start time.Time) (context.Context, trace.Span) {
	if trusted && len(h["Traceparent"]) == 1 { // several: invalid (W3C Trace Context §3.2)
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(h))
	}
	return t.tracer.Start(ctx, "HTTP", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start))
}

// Server is what a server span reports when it ends.
type Server struct {
	Method    string // the request's method (bounded: unknown ones are _OTHER)
	Scheme    string // http or https
	Route     string // the matched route's name, "" when none matched
	Template  string // its path template, such as /api/items/{id}
	Status    int    // the status answered
	Refusal   string // the problem type of a refusal, "" when none
	Forwarded bool   // the request reached an upstream
	Principal string // the authenticator type that accepted the caller: jwt, api_key, mtls, introspection; "" for none
	RequestID string
	Client    string // the client address, as resolved through trusted proxies
}

// EndServer names and ends a server span. The name is the method and the
// route's template ("GET /api/items/{id}"), never the request's path, so
// that ids in paths do not become span names.
func (t *Tracer) EndServer(span trace.Span, s Server) {
	if !span.IsRecording() {
		span.End()
		return
	}
	method := spanMethod(s.Method)
	name := method
	if s.Template != "" {
		name += " " + s.Template
	}
	span.SetName(name)
	decision := s.Refusal
	switch {
	case decision != "":
	case s.Forwarded:
		decision = "forwarded"
	default:
		decision = "answered" // by the gateway itself without refusing (a CORS preflight, a client gone)
	}
	principal := s.Principal
	if principal == "" {
		principal = "none"
	}
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", method),
		attribute.String("url.scheme", s.Scheme),
		attribute.Int("http.response.status_code", s.Status),
		attribute.String("rampart.decision", decision),
		attribute.String("rampart.principal.kind", principal),
		attribute.String("rampart.request_id", s.RequestID),
		attribute.String("client.address", s.Client),
	}
	if s.Route != "" {
		attrs = append(attrs, attribute.String("http.route", s.Template), attribute.String("rampart.route", s.Route))
	}
	span.SetAttributes(attrs...)
	if s.Status >= 500 {
		span.SetAttributes(attribute.String("error.type", strconv.Itoa(s.Status)))
		span.SetStatus(codes.Error, decision)
	}
	span.End()
}

// StartUpstream starts the span of an upstream call, a child of ctx's
// server span.
func (t *Tracer) StartUpstream(ctx context.Context) trace.Span {
	_, span := t.tracer.Start(ctx, "upstream", trace.WithSpanKind(trace.SpanKindClient))
	return span
}

// Upstream is what an upstream span reports when it ends.
type Upstream struct {
	Name    string        // the upstreams: entry
	Method  string        // the request's method
	Target  string        // host:port of the target that was tried last, "" when none
	Status  int           // the upstream's status, 0 when it did not answer
	Elapsed time.Duration // until the response head (or the failure)
	Error   string        // the problem type of a failure (upstream-timeout...), "" when none
}

// EndUpstream names and ends an upstream span. A failure (no answer) or a
// 5xx answer gives it an error status.
func (t *Tracer) EndUpstream(span trace.Span, u Upstream) {
	if !span.IsRecording() {
		span.End()
		return
	}
	method := spanMethod(u.Method)
	span.SetName(method + " " + u.Name)
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", method),
		attribute.String("rampart.upstream", u.Name),
		attribute.Float64("rampart.upstream.time_ms", float64(u.Elapsed.Microseconds())/1000),
	}
	if host, port, ok := splitHostPort(u.Target); ok {
		attrs = append(attrs, attribute.String("server.address", host), attribute.Int("server.port", port))
	}
	if u.Status != 0 {
		attrs = append(attrs, attribute.Int("http.response.status_code", u.Status))
	}
	span.SetAttributes(attrs...)
	switch {
	case u.Error != "":
		span.SetAttributes(attribute.String("error.type", u.Error))
		span.SetStatus(codes.Error, u.Error)
	case u.Status >= 500:
		span.SetAttributes(attribute.String("error.type", strconv.Itoa(u.Status)))
		span.SetStatus(codes.Error, "upstream answered "+strconv.Itoa(u.Status))
	}
	span.End()
}

// spanMethod bounds a method for span names and attributes: a method the
// gateway does not know is _OTHER (OpenTelemetry's HTTP conventions), so a
// client cannot write span names.
func spanMethod(m string) string {
	m = metrics.Method(m)
	if m == "OTHER" {
		return "_OTHER"
	}
	return m
}

func splitHostPort(hostport string) (string, int, bool) {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 {
		return "", 0, false
	}
	port, err := strconv.Atoi(hostport[i+1:])
	if err != nil {
		return "", 0, false
	}
	return strings.Trim(hostport[:i], "[]"), port, true
}

// AppendTraceparent appends a "Traceparent: ..." request header line (and
// a Tracestate line when sc has one) for sc: the W3C Trace Context header
// an upstream continues the trace from. It allocates nothing without a
// tracestate.
func AppendTraceparent(b []byte, sc trace.SpanContext) []byte {
	tid, sid := sc.TraceID(), sc.SpanID()
	b = append(b, "Traceparent: 00-"...)
	b = hex.AppendEncode(b, tid[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, sid[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, []byte{byte(sc.TraceFlags())})
	b = append(b, "\r\n"...)
	if ts := sc.TraceState(); ts.Len() > 0 {
		b = append(b, "Tracestate: "...)
		b = append(b, ts.String()...)
		b = append(b, "\r\n"...)
	}
	return b
}

// IsTraceHeader reports the W3C Trace Context request headers, whatever
// their case: the forwarder writes its own instead of the client's.
func IsTraceHeader(k string) bool {
	return len(k) == 11 && strings.EqualFold(k, "Traceparent") || len(k) == 10 && strings.EqualFold(k, "Tracestate")
}
