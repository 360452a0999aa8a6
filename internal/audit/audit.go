// Package audit writes the access log (one line per request) and the audit
// log (one event per security decision), and counts rejections in metrics.
//
// Nothing secret is ever logged: no request or response headers at all
// (Authorization, Cookie and API keys therefore cannot leak), query strings
// only with the values of credential-looking parameters replaced, and raw
// request targets of refused requests truncated. The audit "reason" is the
// problem type the client received, so a client's report and the operator's
// log meet on the same code.
package audit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
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
}

// New returns a Logger writing to log and counting into m (which may be nil).
func New(log *slog.Logger, m *metrics.Metrics) *Logger { return &Logger{log: log, metrics: m} }

var _ pipeline.Observer = (*Logger)(nil)

// Rejected writes one audit event for a refused request.
func (l *Logger) Rejected(r *http.Request, step string, rej *pipeline.Rejection) {
	if l.metrics != nil {
		l.metrics.Rejected(rej.Type)
		var ex *ratelimit.Exceeded
		if errors.As(rej.Err, &ex) {
			l.metrics.RateLimited(ex.Policy)
		}
	}
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs, slog.String("event", "rejected"), slog.String("reason", rej.Type),
		slog.Int("status", rej.Status), slog.String("step", step), slog.String("method", safe(r.Method, 32)))
	attrs = appendInfo(attrs, r)
	if rej.Err != nil {
		attrs = append(attrs, slog.String("error", safe(rej.Err.Error(), 512)))
	}
	level := slog.LevelWarn
	if rej.Status >= 500 {
		level = slog.LevelError
	}
	l.log.LogAttrs(context.Background(), level, "audit", attrs...)
}

// Access writes one access line.
func (l *Logger) Access(r *http.Request, status int, bytes int64, elapsed time.Duration) {
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs, slog.String("method", safe(r.Method, 32)), slog.Int("status", status),
		slog.Int64("bytes", bytes), slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000))
	attrs = appendInfo(attrs, r)
	if info := pipeline.InfoFrom(r.Context()); info != nil && info.Target != "" {
		attrs = append(attrs, slog.String("upstream", info.Target))
	}
	l.log.LogAttrs(context.Background(), slog.LevelInfo, "access", attrs...)
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

// sensitiveParams are query parameter names whose values are credentials.
var sensitiveParams = []string{"token", "access_token", "id_token", "refresh_token", "api_key", "apikey",
	"api-key", "key", "password", "passwd", "pwd", "secret", "client_secret", "sig", "signature",
	"code", "auth", "authorization", "session", "sessionid", "jwt", "x-api-key", "private_token", "credential"}

// RedactQuery replaces the values of credential-looking parameters with
// REDACTED, keeping the rest for debugging; it never fails.
func RedactQuery(q string) string {
	if len(q) > 1024 {
		q = q[:1024]
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		name, _, hasValue := strings.Cut(p, "=")
		if !hasValue {
			continue
		}
		dec, err := url.QueryUnescape(name)
		if err != nil {
			dec = name
		}
		if isSensitive(dec) {
			parts[i] = name + "=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}

func isSensitive(name string) bool {
	n := strings.ToLower(name)
	for _, s := range sensitiveParams {
		if n == s || strings.HasSuffix(n, "_"+s) || strings.HasSuffix(n, "token") || strings.HasSuffix(n, "secret") || strings.Contains(n, "password") {
			return true
		}
	}
	return false
}

// safe bounds client-controlled text; JSON encoding escapes the rest.
func safe(s string, max int) string {
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
