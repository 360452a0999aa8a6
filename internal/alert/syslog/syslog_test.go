package syslog_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/alert"
	"github.com/rampart-gw/rampart/internal/alert/syslog"
	"github.com/rampart-gw/rampart/internal/alert/syslogtest"
	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/config/conf"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// stack is the production log stream: slog and the audit logger write to a
// group-commit sink over a tee, whose branch goes to a syslog client.
type stack struct {
	stderr *gt.SyncBuffer
	sink   *audit.Sink
	log    *slog.Logger
	audit  *audit.Logger
	client *syslog.Client
}

func newStack(t *testing.T, cfg syslog.Config) *stack {
	t.Helper()
	s := &stack{stderr: &gt.SyncBuffer{}}
	tee := syslog.NewTee(s.stderr)
	s.sink = audit.NewSink(tee)
	s.log = slog.New(slog.NewJSONHandler(s.sink, nil))
	s.audit = audit.NewWithSink(s.log, s.sink, nil)
	if cfg.Hostname == "" {
		cfg.Hostname = "gw-test"
	}
	c, err := syslog.New(cfg, s.log)
	if err != nil {
		t.Fatal(err)
	}
	s.client = c
	tee.Forward(c)
	t.Cleanup(func() {
		s.sink.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return s
}

func (s *stack) reject(clientIP string) {
	r := httptest.NewRequest("GET", "/api/items?access_token=SECRET", nil)
	r = pipeline.WithInfo(r, &pipeline.Info{ID: "req-1", ClientIP: clientIP, Route: "items", Path: "/api/items"})
	s.audit.Rejected(r, "auth", &pipeline.Rejection{Status: 401, Type: "unauthorized", Err: errors.New("no credential")})
}

func sampleAlert() alert.Alert {
	return alert.Alert{Time: time.Now(), Detector: "scanning", SubjectKind: "client_ip", Subject: "198.51.100.4",
		Action: "block", BlockFor: time.Minute, Evidence: map[string]int64{"not_found": 100}, Summary: "scanner blocked", Replica: "gw-test"}
}

func checkDelivery(t *testing.T, rs *syslogtest.Rsyslog, cfg syslog.Config) {
	s := newStack(t, cfg)
	s.log.Info("an operational message, not forwarded")
	s.reject("203.0.113.7")
	s.audit.Notifier().Notify(sampleAlert())
	r := httptest.NewRequest("GET", "/api/items", nil)
	s.audit.Access(pipeline.WithInfo(r, &pipeline.Info{ID: "req-2", ClientIP: "203.0.113.8", Path: "/api/items"}), 200, 5, time.Millisecond)

	rejected := rs.WaitFor(t, "the rejected event", func(m syslogtest.Message) bool { return m.MsgID == "rejected" })
	alerted := rs.WaitFor(t, "the alert", func(m syslogtest.Message) bool { return m.MsgID == "alert" })
	s.sink.Flush()
	written := lines(s.stderr.String())
	for _, m := range []syslogtest.Message{rejected, alerted} {
		if m.Version != "1" || m.Facility != "10" || m.Severity != "4" || m.AppName != "rampart" || m.Hostname != "gw-test" ||
			m.ProcID != strconv.Itoa(os.Getpid()) || m.SD != "-" {
			t.Errorf("RFC 5424 fields: %+v", m)
		}
		if _, err := time.Parse(time.RFC3339, m.Timestamp); err != nil {
			t.Errorf("timestamp %q: %v", m.Timestamp, err)
		}
		var line map[string]any
		if err := json.Unmarshal([]byte(m.Msg), &line); err != nil {
			t.Fatalf("MSG is not the JSON line: %q: %v", m.Msg, err)
		}
		if line["msg"] != "audit" || line["event"] != m.MsgID {
			t.Errorf("MSG %s", m.Msg)
		}
		found := false
		for _, w := range written {
			found = found || w == m.Msg
		}
		if !found {
			t.Errorf("MSG differs from every line on stderr: %q", m.Msg)
		}
	}
	if !strings.Contains(alerted.Msg, `"evidence":{"not_found":100}`) {
		t.Errorf("alert MSG %s", alerted.Msg)
	}
	if strings.Contains(rejected.Msg, "SECRET") {
		t.Errorf("a credential reached syslog: %s", rejected.Msg)
	}
	// The access line and the operational message were written before the
	// alert, from this goroutine, so they would have arrived by now.
	for _, m := range rs.Messages(t) {
		if m.MsgID != "rejected" && m.MsgID != "alert" {
			t.Errorf("forwarded a line that is not an audit event: %+v", m)
		}
	}
	if st := s.client.Stats(); !st.Up || st.Sent != 2 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestAuditEventsReachRsyslogOverTCP(t *testing.T) {
	rs := syslogtest.Start(t)
	checkDelivery(t, rs, syslog.Config{Address: "tcp://" + rs.TCPAddr})
}

func TestAuditEventsReachRsyslogOverTLS(t *testing.T) {
	rs := syslogtest.Start(t)
	checkDelivery(t, rs, syslog.Config{Address: "tls://" + rs.TLSAddr, CAFile: rs.CAFile,
		ServerName: syslogtest.ServerName, Hostname: "gw-test"})
}

func TestAccessLinesWhenIncluded(t *testing.T) {
	rs := syslogtest.Start(t)
	s := newStack(t, syslog.Config{Address: "tcp://" + rs.TCPAddr, IncludeAccess: true, Facility: "local3"})
	r := httptest.NewRequest("GET", "/api/items", nil)
	s.audit.Access(pipeline.WithInfo(r, &pipeline.Info{ID: "req-2", ClientIP: "203.0.113.8", Path: "/api/items"}), 200, 5, time.Millisecond)
	m := rs.WaitFor(t, "the access line", func(m syslogtest.Message) bool { return m.MsgID == "access" })
	if m.Facility != "19" || m.Severity != "6" || !strings.Contains(m.Msg, `"msg":"access"`) {
		t.Fatalf("access message %+v", m)
	}
}

// A collector whose certificate does not carry the configured name is
// never sent to: verification is not optional.
func TestTLSVerifiesTheServerName(t *testing.T) {
	rs := syslogtest.Start(t)
	s := newStack(t, syslog.Config{Address: "tls://" + rs.TLSAddr, CAFile: rs.CAFile, ServerName: "other.test"})
	s.reject("203.0.113.7")
	s.sink.Flush()
	// Against a listening collector a verified handshake takes
	// milliseconds; give it far longer, then check nothing arrived.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if st := s.client.Stats(); st.Up || st.Sent > 0 {
			t.Fatalf("connected to a collector whose certificate is not for the configured name: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(rs.Messages(t)); n != 0 {
		t.Fatalf("collector received %d messages", n)
	}
}

func TestCollectorOutageNeverBlocksAndDeliveryResumes(t *testing.T) {
	syslog.SetBackoff(t, 10*time.Millisecond, 50*time.Millisecond)
	rs := syslogtest.Start(t)
	s := newStack(t, syslog.Config{Address: "tcp://" + rs.TCPAddr, Queue: 64 << 10, WriteTimeout: time.Second})
	s.reject("192.0.2.1")
	rs.WaitFor(t, "the first event", func(m syslogtest.Message) bool { return strings.Contains(m.Msg, "192.0.2.1") })

	rs.Stop()
	start := time.Now()
	for range 2000 { // ~0.5 MB of audit lines: far past the 64 KiB queue
		s.reject("192.0.2.2")
	}
	s.sink.Flush()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("logging 2000 lines took %v with the collector down", took)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.client.Stats().Dropped == 0 || s.client.Stats().Up {
		if time.Now().After(deadline) {
			t.Fatalf("with the collector down: %+v, want drops counted and up=false", s.client.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(lines(s.stderr.String())); n < 2001 {
		t.Fatalf("stderr has %d lines: the log itself lost lines during the outage", n)
	}

	rs.Restart(t)
	// The backlog kept within the queue is sent first; events logged while
	// it is still full are dropped, so keep logging until one arrives.
	deadline = time.Now().Add(10 * time.Second)
	for !received(t, rs, "192.0.2.3") {
		if time.Now().After(deadline) {
			t.Fatalf("no event arrived after the restart: %+v", s.client.Stats())
		}
		s.reject("192.0.2.3")
		time.Sleep(20 * time.Millisecond)
	}
	if !s.client.Stats().Up {
		t.Error("up = false after delivery resumed")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  syslog.Config
		want string // substring of the joined problems; "" = valid
	}{
		{syslog.Config{Address: "tls://siem.example.com:6514"}, ""},
		{syslog.Config{Address: "tcp://127.0.0.1:514"}, ""},
		{syslog.Config{Address: "tcp://siem.example.com:514"}, "clear text"},
		{syslog.Config{Address: "tcp://siem.example.com:514", AllowInsecure: true}, ""},
		{syslog.Config{Address: "udp://siem.example.com:514"}, "must be tls://"},
		{syslog.Config{Address: "tls://siem.example.com"}, "port"},
		{syslog.Config{Address: "tls://siem.example.com:0"}, "port"},
		{syslog.Config{Address: "tcp://127.0.0.1:514", CAFile: "ca.pem"}, "only for tls://"},
		{syslog.Config{Address: "tls://siem.example.com:6514", CertFile: "c.pem"}, "go together"},
		{syslog.Config{Address: "tls://siem.example.com:6514", AppName: "ramp art"}, "printable"},
	} {
		var msgs []string
		for _, err := range tc.cfg.Validate() {
			var fe *conf.FieldError
			if errors.As(err, &fe) {
				msgs = append(msgs, fe.Field+" "+fe.Msg)
			} else {
				msgs = append(msgs, err.Error())
			}
		}
		got := strings.Join(msgs, "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%+v: problems %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

func received(t *testing.T, rs *syslogtest.Rsyslog, ip string) bool {
	for _, m := range rs.Messages(t) {
		if strings.Contains(m.Msg, ip) {
			return true
		}
	}
	return false
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

// With no collector at all, Close gives up at its deadline and counts what
// was still queued as dropped.
func TestCloseWithCollectorDownKeepsItsDeadline(t *testing.T) {
	c, err := syslog.New(syslog.Config{Address: "tcp://127.0.0.1:1", Hostname: "h"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	line := `{"time":"2026-12-05T15:04:05Z","level":"WARN","msg":"audit","event":"rejected"}` + "\n"
	c.WriteLines([]byte(line + line + line))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.Close(ctx); err == nil {
		t.Fatal("Close reported everything sent with no collector")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Close took %v past a 200ms deadline", took)
	}
	if st := c.Stats(); st.Dropped != 3 || st.Sent != 0 || st.Up {
		t.Fatalf("stats %+v, want 3 dropped", st)
	}
}
