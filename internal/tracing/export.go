package tracing

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// boundedProcessor keeps the batch processor's queue from ever filling: a
// span ended while Queue spans are waiting (or being exported) is dropped
// here, where it can be counted — the SDK drops silently.
type boundedProcessor struct {
	sdktrace.SpanProcessor
	counts *counts
	max    int64
}

func (p *boundedProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return // the batch processor exports only sampled spans
	}
	if p.counts.pending.Add(1) > p.max {
		p.counts.pending.Add(-1)
		p.counts.dropped.Add(1)
		return
	}
	p.SpanProcessor.OnEnd(s)
}

// countingExporter counts export outcomes and logs failures itself, at
// most once a minute and with the header values (credentials) cut out of
// the message; it reports success to the batch processor either way, so
// nothing is retried nor handed to OpenTelemetry's global error handler.
type countingExporter struct {
	sdktrace.SpanExporter
	counts  *counts
	logger  *slog.Logger
	secrets []string
	lastLog atomic.Int64 // unix nanos of the last failure logged
}

func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	n := len(spans)
	e.counts.pending.Add(-int64(n))
	if err == nil {
		e.counts.exported.Add(uint64(n))
		return nil
	}
	e.counts.failed.Add(uint64(n))
	now, last := time.Now().UnixNano(), e.lastLog.Load()
	if now-last >= int64(time.Minute) && e.lastLog.CompareAndSwap(last, now) {
		e.logger.Warn("trace export failed; spans dropped", "spans", n, "failed_total", e.counts.failed.Load(),
			"error", redact(err.Error(), e.secrets))
	}
	return nil
}

// headerValues lists the export header values worth redacting.
func headerValues(h map[string]string) []string {
	var out []string
	for _, v := range h {
		if len(v) >= 4 {
			out = append(out, v)
		}
	}
	return out
}

// redact removes secrets from a message and bounds its length (a
// collector's error body is quoted in it).
func redact(msg string, secrets []string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "[redacted]")
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return msg
}
