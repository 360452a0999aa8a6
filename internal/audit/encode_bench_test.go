package audit

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// The encoder alone (no sink, no slog): what a request pays to format a line.
func BenchmarkEncodeAccess(b *testing.B) {
	r := httptest.NewRequest("GET", "/api/items/42?page=2&sort=name", nil)
	r = pipeline.WithInfo(r, &pipeline.Info{ID: "01HF8Z6Q3V9K2M7XW4T5R8N0CD", ClientIP: "203.0.113.7",
		Route: "items", Path: "/api/items/42", Target: "http://10.0.0.12:8080",
		Principal: &pipeline.Principal{Authenticator: "jwt", Subject: "user-1234"}})
	buf := make([]byte, 0, 1024)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		buf = appendAccess(buf[:0], now, r, 200, 1234, 1234567*time.Nanosecond)
	}
	b.SetBytes(int64(len(buf)))
}

// The same line through slog.JSONHandler, for comparison.
func BenchmarkEncodeAccessSlog(b *testing.B) {
	r := httptest.NewRequest("GET", "/api/items/42?page=2&sort=name", nil)
	r = pipeline.WithInfo(r, &pipeline.Info{ID: "01HF8Z6Q3V9K2M7XW4T5R8N0CD", ClientIP: "203.0.113.7",
		Route: "items", Path: "/api/items/42", Target: "http://10.0.0.12:8080",
		Principal: &pipeline.Principal{Authenticator: "jwt", Subject: "user-1234"}})
	h := slog.NewJSONHandler(io.Discard, nil)
	now := time.Now()
	var arr [14]slog.Attr
	b.ReportAllocs()
	for b.Loop() {
		rec := slog.NewRecord(now, slog.LevelInfo, "access", 0)
		rec.AddAttrs(accessAttrs(arr[:0], r, 200, 1234, 1234567*time.Nanosecond)...)
		_ = h.Handle(context.Background(), rec)
	}
}

// BenchmarkSinkWrite: one 300-byte line into the group-commit sink.
func BenchmarkSinkWrite(b *testing.B) {
	s := NewSink(io.Discard)
	defer s.Close()
	line := make([]byte, 300)
	line[299] = '\n'
	b.ReportAllocs()
	b.SetBytes(300)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Write(line)
		}
	})
}
