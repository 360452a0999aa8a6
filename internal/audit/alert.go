package audit

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/rampart-gw/rampart/internal/alert"
)

// Alert writes one audit event for a detection ("event":"alert", level
// WARN): the detector, subject, action, block duration, evidence counts (an
// object, keys sorted), summary and replica. Alerts reach syslog through
// this line like every audit event.
func (l *Logger) Alert(a alert.Alert) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	var keyArr [16]string
	keys := evidenceKeys(keyArr[:0], a.Evidence)
	if l.sink != nil {
		line := getLine()
		line.b = appendAlert(line.b, time.Now(), a, keys)
		l.sink.Write(line.b)
		putLine(line)
		return
	}
	l.log.LogAttrs(ctx, slog.LevelWarn, "audit", alertAttrs(a, keys)...)
}

// Notifier is the audit log as an alert.Notifier (writing a line never
// waits on the network; the sink's backpressure is the log's own).
func (l *Logger) Notifier() alert.Notifier { return alert.Func(l.Alert) }

func evidenceKeys(keys []string, ev map[string]int64) []string {
	for k := range ev {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// blockSeconds rounds a block's duration up to whole seconds (0 when the
// action is not a block).
func blockSeconds(a alert.Alert) int64 {
	if a.Action != "block" {
		return 0
	}
	return int64((a.BlockFor + time.Second - 1) / time.Second)
}

func alertAttrs(a alert.Alert, keys []string) []slog.Attr {
	attrs := []slog.Attr{slog.String("event", "alert"), slog.String("detector", safe(a.Detector, 64)),
		slog.String("subject_kind", safe(a.SubjectKind, 32)), slog.String("subject", safe(a.Subject, 256)),
		slog.String("action", safe(a.Action, 32))}
	if s := blockSeconds(a); s > 0 {
		attrs = append(attrs, slog.Int64("block_seconds", s))
	}
	if len(keys) > 0 {
		ev := make([]any, 0, len(keys))
		for _, k := range keys {
			ev = append(ev, slog.Int64(k, a.Evidence[k]))
		}
		attrs = append(attrs, slog.Group("evidence", ev...))
	}
	attrs = append(attrs, slog.String("summary", safe(a.Summary, 1024)))
	if a.Replica != "" {
		attrs = append(attrs, slog.String("replica", safe(a.Replica, 256)))
	}
	return attrs
}

func appendAlert(b []byte, now time.Time, a alert.Alert, keys []string) []byte {
	b = appendHead(b, now, slog.LevelWarn, "audit")
	b = append(b, `,"event":"alert","detector":`...)
	b = appendBounded(b, a.Detector, 64)
	b = appendKey(b, "subject_kind")
	b = appendBounded(b, a.SubjectKind, 32)
	b = appendKey(b, "subject")
	b = appendBounded(b, a.Subject, 256)
	b = appendKey(b, "action")
	b = appendBounded(b, a.Action, 32)
	if s := blockSeconds(a); s > 0 {
		b = appendKey(b, "block_seconds")
		b = strconv.AppendInt(b, s, 10)
	}
	if len(keys) > 0 {
		b = append(b, `,"evidence":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = strconv.AppendInt(b, a.Evidence[k], 10)
		}
		b = append(b, '}')
	}
	b = appendKey(b, "summary")
	b = appendBounded(b, a.Summary, 1024)
	if a.Replica != "" {
		b = appendKey(b, "replica")
		b = appendBounded(b, a.Replica, 256)
	}
	return append(b, '}', '\n')
}
