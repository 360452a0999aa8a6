package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/alert/syslogtest"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// TestAuditEventsReachRsyslogThroughTheBinary: with alerts.syslog pointing
// at a real rsyslog over TLS, refusals the binary audits arrive as RFC 5424
// messages whose MSG is the JSON line, and /metrics reports the forwarder
// up; operational messages and access lines stay out.
func TestAuditEventsReachRsyslogThroughTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	rs := syslogtest.Start(t)
	upstream := gt.NewUpstream(t, nil)
	listen, adminListen := gt.FreeAddr(t), gt.FreeAddr(t)
	cfg := fmt.Sprintf(`version: 1
server: { listen: %q }
admin: { listen: %q, token: "${RAMPART_ADMIN_TOKEN}" }
upstreams:
  app: { targets: [%q] }
alerts:
  syslog:
    address: tls://%s
    ca_file: %q
    server_name: %s
    hostname: gw-e2e
routes:
  - { name: open, path: /open, methods: [GET], upstream: app, auth: none }
  - { name: admin_only, path: /internal, methods: [GET], deny: true }
`, listen, adminListen, upstream.URL, rs.TLSAddr, rs.CAFile, syslogtest.ServerName)
	srv := serveBinary(t, cfg)
	client := gt.Client()
	srv.waitReady(t, client, adminListen)

	resp, err := client.Get("http://" + listen + "/internal")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
		t.Fatalf("denied route answered %d", resp.StatusCode)
	}
	if resp, err = client.Get("http://" + listen + "/open"); err == nil {
		resp.Body.Close()
	}
	m := rs.WaitFor(t, "the refusal", func(m syslogtest.Message) bool { return m.MsgID == "rejected" })
	var line map[string]any
	if err := json.Unmarshal([]byte(m.Msg), &line); err != nil {
		t.Fatalf("MSG %q: %v", m.Msg, err)
	}
	if line["msg"] != "audit" || line["event"] != "rejected" || m.AppName != "rampart" || m.Hostname != "gw-e2e" ||
		m.Facility != "10" || m.Version != "1" {
		t.Fatalf("received %+v", m)
	}
	for _, m := range rs.Messages(t) {
		if !strings.Contains(m.Msg, `"msg":"audit"`) {
			t.Errorf("forwarded a line that is not an audit event: %s", m.Msg)
		}
	}
	req, _ := http.NewRequest("GET", "http://"+adminListen+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "rampart_syslog_up 1") || !strings.Contains(string(body), "rampart_syslog_dropped_total 0") {
		t.Errorf("metrics lack the syslog state:\n%s", grepLines(string(body), "syslog"))
	}
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
