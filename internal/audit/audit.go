// Package audit writes the access log (one line per request) and the audit
// log (one event per security decision), and counts rejections in metrics.
//
// Nothing secret is ever logged: no request or response headers at all
// (Authorization, Cookie and API keys therefore cannot leak), query strings
// only with the values of credential-looking parameters replaced, and raw
// request targets of refused requests truncated. The audit "reason" is the
// problem type the client received, so a client's report and the operator's
// log meet on the same code.
//
// In production the lines go through a Sink (group commit: many lines per
// write(2), none torn, none dropped) and are encoded directly, without slog
// and without allocating, in exactly the format slog.JSONHandler writes.
package audit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/metrics"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/ratelimit"
)

// Logger is a pipeline.Observer that also writes access lines.
type Logger struct {
	log     *slog.Logger
	metrics *metrics.Metrics // nil: no metrics
	sink    *Sink            // nil: format through log's handler
}

// New returns a Logger writing to log and counting into m (which may be nil).
func New(log *slog.Logger, m *metrics.Metrics) *Logger { return &Logger{log: log, metrics: m} }

// NewWithSink returns a Logger that encodes its lines directly (no slog
// formatting, no allocation) and writes them to sink, consulting log only for
// its level. log must be a slog.JSONHandler logger with default options (no
// attrs, groups or ReplaceAttr) writing to the same sink: then operational
// messages and access lines share one stream, in the same format, never
// interleaved mid-line. A nil sink is New(log, m).
func NewWithSink(log *slog.Logger, sink *Sink, m *metrics.Metrics) *Logger {
	return &Logger{log: log, metrics: m, sink: sink}
}

var _ pipeline.Observer = (*Logger)(nil)

// Rejected writes one audit event for a refused request.
func (l *Logger) Rejected(r *http.Request, step string, rej *pipeline.Rejection) {
	if l.metrics != nil {
		l.metrics.Rejected(rej.Type)
		if ex, ok := errors.AsType[*ratelimit.Exceeded](rej.Err); ok {
			l.metrics.RateLimited(ex.Policy)
		}
	}
	level := slog.LevelWarn
	if rej.Status >= 500 {
		level = slog.LevelError
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	if l.sink != nil {
		line := getLine()
		line.b = appendRejected(line.b, time.Now(), level, r, step, rej)
		l.sink.Write(line.b)
		putLine(line)
		return
	}
	var arr [12]slog.Attr
	l.log.LogAttrs(ctx, level, "audit", rejectedAttrs(arr[:0], r, step, rej)...)
}

// Access writes one access line, stamped now.
func (l *Logger) Access(r *http.Request, status int, bytes int64, elapsed time.Duration) {
	l.AccessAt(r, time.Now(), status, bytes, elapsed)
}

// AccessAt writes one access line stamped at (the request's end, which
// the caller has just read to compute elapsed).
func (l *Logger) AccessAt(r *http.Request, at time.Time, status int, bytes int64, elapsed time.Duration) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	if l.sink != nil {
		line := getLine()
		line.b = appendAccess(line.b, at, r, status, bytes, elapsed)
		l.sink.Write(line.b)
		putLine(line)
		return
	}
	var arr [14]slog.Attr
	l.log.LogAttrs(ctx, slog.LevelInfo, "access", accessAttrs(arr[:0], r, status, bytes, elapsed)...)
}

// The attrs of the slog path define the lines; appendRejected and
// appendAccess encode the same lines directly (tests compare them byte for
// byte with slog.JSONHandler's output of these attrs).

func rejectedAttrs(attrs []slog.Attr, r *http.Request, step string, rej *pipeline.Rejection) []slog.Attr {
	attrs = append(attrs, slog.String("event", "rejected"), slog.String("reason", rej.Type),
		slog.Int("status", rej.Status), slog.String("step", step), slog.String("method", safe(r.Method, 32)))
	attrs = appendInfo(attrs, r)
	if rej.Err != nil {
		attrs = append(attrs, slog.String("error", safe(rej.Err.Error(), 512)))
	}
	return attrs
}

func accessAttrs(attrs []slog.Attr, r *http.Request, status int, bytes int64, elapsed time.Duration) []slog.Attr {
	attrs = append(attrs, slog.String("method", safe(r.Method, 32)), slog.Int("status", status),
		slog.Int64("bytes", bytes), slog.Float64("latency_ms", latencyMS(elapsed)))
	attrs = appendInfo(attrs, r)
	if info := pipeline.InfoFrom(r.Context()); info != nil && info.Target != "" {
		attrs = append(attrs, slog.String("upstream", info.Target))
		if info.UpstreamAborted {
			attrs = append(attrs, slog.Bool("upstream_aborted", true))
		}
		if ws := info.WebSocket; ws != nil {
			attrs = append(attrs, slog.Int64("ws_bytes_from_client", ws.FromClient), slog.Int64("ws_bytes_from_upstream", ws.FromUpstream),
				slog.Int("ws_close_code", ws.CloseCode), slog.String("ws_closed_by", ws.ClosedBy))
		}
	}
	return attrs
}

func latencyMS(elapsed time.Duration) float64 { return float64(elapsed.Microseconds()) / 1000 }

// appendLatencyMS appends latencyMS(elapsed) as appendFloat would, from
// the integer microseconds: a number of at most 15 significant digits is
// what the float's shortest form prints, without the float formatting
// (~100 ns of every access line).
func appendLatencyMS(b []byte, elapsed time.Duration) []byte {
	us := elapsed.Microseconds()
	if us < 0 || us >= 1e14 {
		return appendFloat(b, latencyMS(elapsed))
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	if frac == 0 {
		return b
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

func appendRejected(b []byte, now time.Time, level slog.Level, r *http.Request, step string, rej *pipeline.Rejection) []byte {
	b = appendHead(b, now, level, "audit")
	b = append(b, `,"event":"rejected","reason":`...)
	b = appendString(b, rej.Type)
	b = appendKey(b, "status")
	b = strconv.AppendInt(b, int64(rej.Status), 10)
	b = appendKey(b, "step")
	b = appendString(b, step)
	b = appendKey(b, "method")
	b = appendBounded(b, r.Method, 32)
	b = appendInfoJSON(b, r, pipeline.InfoFrom(r.Context()))
	if rej.Err != nil {
		b = appendKey(b, "error")
		b = appendBounded(b, rej.Err.Error(), 512)
	}
	return append(b, '}', '\n')
}

func appendAccess(b []byte, now time.Time, r *http.Request, status int, bytes int64, elapsed time.Duration) []byte {
	info := pipeline.InfoFrom(r.Context())
	b = appendHead(b, now, slog.LevelInfo, "access")
	b = append(b, `,"method":`...)
	b = appendBounded(b, r.Method, 32)
	b = appendKey(b, "status")
	b = strconv.AppendInt(b, int64(status), 10)
	b = appendKey(b, "bytes")
	b = strconv.AppendInt(b, bytes, 10)
	b = appendKey(b, "latency_ms")
	b = appendLatencyMS(b, elapsed)
	b = appendInfoJSON(b, r, info)
	if info != nil && info.Target != "" {
		b = appendKey(b, "upstream")
		b = appendString(b, info.Target)
		if info.UpstreamAborted {
			b = append(b, `,"upstream_aborted":true`...)
		}
		if ws := info.WebSocket; ws != nil {
			b = appendKey(b, "ws_bytes_from_client")
			b = strconv.AppendInt(b, ws.FromClient, 10)
			b = appendKey(b, "ws_bytes_from_upstream")
			b = strconv.AppendInt(b, ws.FromUpstream, 10)
			b = appendKey(b, "ws_close_code")
			b = strconv.AppendInt(b, int64(ws.CloseCode), 10)
			b = appendKey(b, "ws_closed_by")
			b = appendString(b, ws.ClosedBy)
		}
	}
	return append(b, '}', '\n')
}

// appendInfoJSON is appendInfo for the direct encoder: the same fields, the
// same bounds, in the same order.
func appendInfoJSON(b []byte, r *http.Request, info *pipeline.Info) []byte {
	if info == nil {
		return b
	}
	b = appendKey(b, "request_id")
	b = appendString(b, info.ID)
	b = appendKey(b, "client_ip")
	b = appendString(b, info.ClientIP)
	if info.Route != "" {
		b = appendKey(b, "route")
		b = appendString(b, info.Route)
	}
	if info.Path != "" {
		b = appendKey(b, "path")
		b = appendString(b, info.Path)
	} else {
		target, _, _ := strings.Cut(r.RequestURI, "?")
		b = appendKey(b, "raw_path")
		b = appendBounded(b, target, 256)
	}
	if r.URL != nil && r.URL.RawQuery != "" {
		b = appendKey(b, "query")
		b = appendRedactedQuery(b, r.URL.RawQuery)
	}
	if p := info.Principal; p != nil {
		b = appendKey(b, "principal")
		b = appendPrincipal(b, p.Authenticator, p.Subject)
	}
	return b
}

func appendInfo(attrs []slog.Attr, r *http.Request) []slog.Attr {
	info := pipeline.InfoFrom(r.Context())
	if info == nil {
		return attrs
	}
	attrs = append(attrs, slog.String("request_id", info.ID), slog.String("client_ip", info.ClientIP))
	if info.Route != "" {
		attrs = append(attrs, slog.String("route", info.Route))
	}
	if info.Path != "" {
		attrs = append(attrs, slog.String("path", info.Path))
	} else {
		// Refused before normalization: keep some evidence, bounded.
		target, _, _ := strings.Cut(r.RequestURI, "?")
		attrs = append(attrs, slog.String("raw_path", safe(target, 256)))
	}
	if r.URL != nil && r.URL.RawQuery != "" {
		attrs = append(attrs, slog.String("query", RedactQuery(r.URL.RawQuery)))
	}
	if p := info.Principal; p != nil {
		attrs = append(attrs, slog.String("principal", safe(p.Authenticator+":"+p.Subject, 256)))
	}
	return attrs
}

// safe bounds client-controlled text; JSON encoding escapes the rest.
func safe(s string, max int) string {
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
