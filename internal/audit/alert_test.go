package audit

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/alert"
)

func alertCases() []alert.Alert {
	out := []alert.Alert{
		{Detector: "credential_stuffing", SubjectKind: "client_ip", Subject: "203.0.113.9", Action: "block",
			BlockFor: 15 * time.Minute, Evidence: map[string]int64{"failures": 57, "distinct_usernames": 41, "window_seconds": 60},
			Summary: "credential stuffing from 203.0.113.9", Replica: "gw-1"},
		{Detector: "scanning", SubjectKind: "client_ip", Subject: "::1", Action: "log", BlockFor: time.Hour}, // no block: no block_seconds
		{Detector: "volume", Action: "block", BlockFor: 1500 * time.Millisecond, Evidence: map[string]int64{"": -1, "max": 1<<63 - 1}},
	}
	for i, h := range hostile {
		out = append(out, alert.Alert{Detector: h, SubjectKind: h, Subject: h, Action: h, Summary: h + h, Replica: h,
			Evidence: map[string]int64{h: int64(i), "n": -int64(i)}})
	}
	rng := rand.New(rand.NewPCG(17, 2026))
	for range 500 {
		h := func() string { return hostile[rng.IntN(len(hostile))] }
		ev := map[string]int64{}
		for range rng.IntN(20) {
			ev[h()+h()] = rng.Int64() - 1<<62
		}
		out = append(out, alert.Alert{Detector: h(), SubjectKind: h(), Subject: h(), Action: []string{"log", "block", h()}[rng.IntN(3)],
			BlockFor: time.Duration(rng.Int64N(1 << 45)), Evidence: ev, Summary: h(), Replica: h()})
	}
	return out
}

// The direct encoder writes the alert line exactly as slog.JSONHandler does.
func TestAlertEncoderMatchesSlog(t *testing.T) {
	for i, a := range alertCases() {
		now := fixedTimes[i%len(fixedTimes)]
		keys := evidenceKeys(nil, a.Evidence)
		want := slogLine(t, now, slog.LevelWarn, "audit", alertAttrs(a, keys))
		got := string(appendAlert(nil, now, a, keys))
		if got != want {
			t.Fatalf("case %d:\n got %q\nwant %q", i, got, want)
		}
	}
}

func TestAlertLine(t *testing.T) {
	var viaSlog, viaSink bytes.Buffer
	slow := New(slog.New(slog.NewJSONHandler(&viaSlog, nil)), nil)
	sink := NewSink(&viaSink)
	fast := NewWithSink(slog.New(slog.NewJSONHandler(sink, nil)), sink, nil)
	a := alertCases()[0]
	slow.Notifier().Notify(a)
	fast.Notifier().Notify(a)
	sink.Close()
	got := timeValue.ReplaceAllString(viaSink.String(), `"time":"T"`)
	if want := timeValue.ReplaceAllString(viaSlog.String(), `"time":"T"`); got != want {
		t.Fatalf("paths differ:\nsink %s\nslog %s", got, want)
	}
	var line struct {
		Level, Msg, Event, Detector, Subject, Action string
		BlockSeconds                                 int64 `json:"block_seconds"`
		Evidence                                     map[string]int64
	}
	if err := json.Unmarshal([]byte(got), &line); err != nil {
		t.Fatal(err)
	}
	if line.Level != "WARN" || line.Msg != "audit" || line.Event != "alert" || line.Detector != "credential_stuffing" ||
		line.Action != "block" || line.BlockSeconds != 900 || line.Evidence["distinct_usernames"] != 41 {
		t.Fatalf("alert line %s", got)
	}
	if !strings.Contains(got, `"evidence":{"distinct_usernames":41,"failures":57,"window_seconds":60}`) {
		t.Errorf("evidence keys not sorted: %s", got)
	}
}

func TestAlertDoesNotAllocate(t *testing.T) {
	sink := NewSink(discard{})
	defer sink.Close()
	l := NewWithSink(slog.New(slog.NewJSONHandler(sink, nil)), sink, nil)
	a := alertCases()[0]
	if n := testing.AllocsPerRun(1000, func() { l.Alert(a) }); n != 0 {
		t.Errorf("Alert: %v allocs per call", n)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkAlert is the cost of one alert audit event through the sink.
func BenchmarkAlert(b *testing.B) {
	sink := NewSink(discard{})
	defer sink.Close()
	l := NewWithSink(slog.New(slog.NewJSONHandler(sink, nil)), sink, nil)
	a := alertCases()[0]
	b.ReportAllocs()
	for b.Loop() {
		l.Alert(a)
	}
}
