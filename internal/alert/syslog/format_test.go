package syslog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

// slogLines are lines as the production logger writes them.
func slogLines(t testing.TB) [][]byte {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l.LogAttrs(context.Background(), slog.LevelWarn, "audit", slog.String("event", "rejected"), slog.String("reason", "unauthorized"))
	l.LogAttrs(context.Background(), slog.LevelError, "audit", slog.String("event", "key_revoked"), slog.String("x", `,"event":"fake"`))
	l.LogAttrs(context.Background(), slog.LevelInfo, "audit", slog.String("reason", "no event first"), slog.String("event", "lockout"))
	l.LogAttrs(context.Background(), slog.LevelInfo, "access", slog.String("method", "GET"))
	l.Info("config reloaded", "routes", 3)
	l.Debug("audit")
	l.LogAttrs(context.Background(), slog.LevelWarn+2, "audit", slog.String("event", "weird level"))
	return bytes.SplitAfter(buf.Bytes(), []byte("\n"))
}

func TestParseHead(t *testing.T) {
	lines := slogLines(t)
	want := []struct {
		kind  int
		event string
		sev   int
	}{{kindAudit, "rejected", 4}, {kindAudit, "key_revoked", 3}, {kindAudit, "lockout", 6}, {kindAccess, "", 6},
		{kindOther, "", 0}, {kindAudit, "", 7}, {kindAudit, "weird level", 4}}
	for i, w := range want {
		line := bytes.TrimSuffix(lines[i], []byte("\n"))
		h := parseHead(line)
		if h.kind != w.kind || string(h.event) != w.event || (h.kind != kindOther && severity(h.level) != w.sev) {
			t.Errorf("%s: kind %d event %q severity %d, want %+v", line, h.kind, h.event, severity(h.level), w)
		}
	}
}

func TestMessageFormat(t *testing.T) {
	hd := header{facility: 10, rest: []byte(" host rampart 42 ")}
	line := []byte(`{"time":"2026-12-05T15:04:05.123456789+05:30","level":"WARN","msg":"audit","event":"weird level with a very long name over 32 bytes","a":1}`)
	got := string(hd.appendMessage(nil, parseHead(line), line))
	want := `<84>1 2026-12-05T15:04:05.123456+05:30 host rampart 42 weird_level_with_a_very_long_nam - ` + string(line)
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for in, out := range map[string]string{"2026-12-05T15:04:05Z": "2026-12-05T15:04:05Z", "2026-12-05T15:04:05.5Z": "2026-12-05T15:04:05.5Z",
		"2026-12-05T15:04:05.Z": "-", "2026-12-05 15:04:05Z": "-", "2026-12-05T15:04:05.1234567+0100": "-", "x": "-", "": "-"} {
		if got := string(appendTimestamp([]byte("p"), []byte(in))); got != "p"+out {
			t.Errorf("timestamp %q -> %q, want %q", in, got, "p"+out)
		}
	}
}

// FuzzParseHead: the filter never panics on arbitrary bytes, and what it
// forwards as an audit event is, when the line is JSON at all, a record
// whose msg is "audit" and whose event is the MSGID (when plain).
func FuzzParseHead(f *testing.F) {
	for _, l := range slogLines(f) {
		f.Add(l)
	}
	f.Add([]byte(`{"time":"","level":"","msg":"audit","event":"\"x"}`))
	f.Add([]byte(`{"time":"t","level":"INFO","msg":"audit\"","event":"x"}`))
	f.Add([]byte(`{"time":"t"`))
	f.Fuzz(func(t *testing.T, line []byte) {
		h := parseHead(line)
		if h.kind == kindOther {
			return
		}
		hd := header{facility: 4, rest: []byte(" h a 1 ")}
		msg := hd.appendMessage(nil, h, line)
		fields := bytes.SplitN(msg, []byte(" "), 7)
		if len(fields) != 7 || !bytes.Equal(fields[6], append([]byte("- "), line...)) {
			t.Fatalf("message %q", msg)
		}
		for _, f := range fields[:6] {
			if !validField(string(f), 255) {
				t.Fatalf("header field %q of %q", f, msg)
			}
		}
		if !json.Valid(line) {
			return
		}
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			return // duplicate keys or the like
		}
		want := map[int]string{kindAudit: "audit", kindAccess: "access"}[h.kind]
		if rec["msg"] != want {
			t.Fatalf("kind %d but msg %v in %s", h.kind, rec["msg"], line)
		}
		// The MSGID is the event's text up to its first escape.
		if h.event != nil && utf8.Valid(h.event) && bytes.Count(line, eventKey) == 1 {
			if ev, ok := rec["event"].(string); ok && !strings.HasPrefix(ev, string(h.event)) {
				t.Fatalf("event %q, JSON says %q in %s", h.event, ev, line)
			}
		}
	})
}

// BenchmarkTee is the tee's cost per line: filter every line, frame and
// queue the audit ones (the collector side is not running).
func BenchmarkTee(b *testing.B) {
	line := []byte(`{"time":"2026-12-05T15:04:05.123456789Z","level":"WARN","msg":"audit","event":"rejected","reason":"unauthorized","status":401,"step":"auth","method":"GET","request_id":"0f3c5e2a9b","client_ip":"203.0.113.7","route":"items","path":"/api/items/42"}` + "\n")
	access := []byte(`{"time":"2026-12-05T15:04:05.123456789Z","level":"INFO","msg":"access","method":"GET","status":200,"bytes":512,"latency_ms":1.25,"request_id":"0f3c5e2a9b","client_ip":"203.0.113.7","route":"items","path":"/api/items/42"}` + "\n")
	for _, bc := range []struct {
		name string
		line []byte
	}{{"audit", line}, {"access_filtered_out", access}} {
		b.Run(bc.name, func(b *testing.B) {
			c := &Client{cfg: Config{Queue: 1 << 30}, hd: header{facility: 10, rest: []byte(" host rampart 4242 ")}}
			c.work.L = &c.mu
			tee := NewTee(discard{})
			tee.Forward(c)
			b.SetBytes(int64(len(bc.line)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				tee.Write(bc.line)
				if i%4096 == 0 { // what the sending goroutine would take
					c.mu.Lock()
					c.buf = c.buf[:0]
					c.mu.Unlock()
				}
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
