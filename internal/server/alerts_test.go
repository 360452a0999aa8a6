package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/alert"
	"github.com/rampart-gw/rampart/internal/alert/syslog"
	"github.com/rampart-gw/rampart/internal/alert/webhook"
	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/config"
)

// The running server's Notifier (what the detectors are handed) writes the
// alert to the audit log and delivers it, signed, to each webhook; closing
// the server's resources drains the webhook queue.
func TestAlertNotifierReachesAuditLogAndWebhook(t *testing.T) {
	const secret = "Hn4Kx8Qw2Zr6Vt1Lp9Jd3Bm7Fc5Gs0Ya"
	var mu sync.Mutex
	var bodies []string
	var sigs []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, sigs = append(bodies, string(b)), append(sigs, r.Header.Get(webhook.SignatureHeader))
		mu.Unlock()
	}))
	defer receiver.Close()
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`version: 1
server: { listen: "127.0.0.1:0" }
admin: { listen: "off" }
upstreams: { app: { targets: ["http://127.0.0.1:9"] } }
alerts:
  webhooks:
    - { name: ops, url: %q, secret: %q }
routes:
  - { name: r, path: /r, methods: [GET], upstream: app, auth: none }
`, receiver.URL+"/hook", secret)), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	// Read only after the sink is closed: its goroutine writes out.
	var out strings.Builder
	tee := syslog.NewTee(&out)
	sink := audit.NewSink(tee)
	logger := slog.New(slog.NewJSONHandler(sink, nil))
	res := &resources{logger: logger}
	s, err := start(context.Background(), cfg, Options{Logger: logger, LogSink: sink, LogTee: tee}, res)
	if err != nil {
		res.close()
		t.Fatal(err)
	}
	s.alerts.Notify(alert.Alert{Time: time.Now(), Detector: "token_sharing", SubjectKind: "principal", Subject: "key:k1",
		Action: "log", Evidence: map[string]int64{"distinct_clients": 40}, Summary: "key k1 used from 40 addresses"})
	res.close() // drains the webhook queue (drain_timeout)
	sink.Close()

	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || !strings.Contains(bodies[0], `"text":"key k1 used from 40 addresses"`) {
		t.Fatalf("webhook received %q", bodies)
	}
	if !strings.HasPrefix(sigs[0], "t=") || !strings.Contains(sigs[0], ",v1=") {
		t.Fatalf("signature header %q", sigs[0])
	}
	if !strings.Contains(out.String(), `"msg":"audit","event":"alert","detector":"token_sharing"`) {
		t.Fatalf("no alert audit event in the log:\n%s", out.String())
	}
	if strings.Contains(out.String(), "/hook") || strings.Contains(out.String(), secret) {
		t.Fatalf("the log shows the webhook URL's path or the secret:\n%s", out.String())
	}
}

// Without the log stream's tee (not run by rampart serve) a syslog section
// cannot work: refused at start rather than silently sending nothing.
func TestSyslogWithoutTeeIsRefused(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`version: 1
server: { listen: "127.0.0.1:0" }
admin: { listen: "off" }
upstreams: { app: { targets: ["http://127.0.0.1:9"] } }
alerts: { syslog: { address: "tcp://127.0.0.1:1" } }
routes:
  - { name: r, path: /r, methods: [GET], upstream: app, auth: none }
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	res := &resources{logger: logger}
	defer res.close()
	if _, err := start(context.Background(), cfg, Options{Logger: logger}, res); err == nil || !strings.Contains(err.Error(), "syslog") {
		t.Fatalf("start: %v", err)
	}
}
