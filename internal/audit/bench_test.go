package audit_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// benchRequest is a typical routed, authenticated request with a query.
func benchRequest() *http.Request {
	r := httptest.NewRequest("GET", "/api/items/42?page=2&sort=name", nil)
	return pipeline.WithInfo(r, &pipeline.Info{ID: "01HF8Z6Q3V9K2M7XW4T5R8N0CD", ClientIP: "203.0.113.7",
		Route: "items", Path: "/api/items/42", Target: "http://10.0.0.12:8080",
		Principal: &pipeline.Principal{Authenticator: "jwt", Subject: "user-1234"}})
}

var benchRejection = &pipeline.Rejection{Status: 429, Type: "rate-limited", Err: errors.New("rate limit \"per-client\" exceeded")}

func BenchmarkAccessSlog(b *testing.B) {
	l := audit.New(slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)
	r := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		l.Access(r, 200, 1234, 1234567*time.Nanosecond)
	}
}

func BenchmarkRejectedSlog(b *testing.B) {
	l := audit.New(slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)
	r := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		l.Rejected(r, "ratelimit", benchRejection)
	}
}

func sinkLogger(b *testing.B) *audit.Logger {
	sink := audit.NewSink(io.Discard)
	b.Cleanup(func() { sink.Close() })
	return audit.NewWithSink(slog.New(slog.NewJSONHandler(sink, nil)), sink, nil)
}

func BenchmarkAccessSink(b *testing.B) {
	l := sinkLogger(b)
	r := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		l.Access(r, 200, 1234, 1234567*time.Nanosecond)
	}
}

func BenchmarkRejectedSink(b *testing.B) {
	l := sinkLogger(b)
	r := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		l.Rejected(r, "ratelimit", benchRejection)
	}
}

// BenchmarkAccessSinkParallel is many request goroutines sharing the sink.
func BenchmarkAccessSinkParallel(b *testing.B) {
	l := sinkLogger(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := benchRequest()
		for pb.Next() {
			l.Access(r, 200, 1234, 1234567*time.Nanosecond)
		}
	})
}

func BenchmarkAccessSlogParallel(b *testing.B) {
	l := audit.New(slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := benchRequest()
		for pb.Next() {
			l.Access(r, 200, 1234, 1234567*time.Nanosecond)
		}
	})
}

func BenchmarkRedactQuery(b *testing.B) {
	for _, q := range []string{"page=2&sort=name&limit=50", "page=2&access_token=abc&sort=name"} {
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = audit.RedactQuery(q)
			}
		})
	}
}
