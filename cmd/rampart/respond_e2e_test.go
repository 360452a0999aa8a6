package main_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/rampart-gw/rampart/internal/alert/syslogtest"
	"github.com/rampart-gw/rampart/internal/auth/authtest"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// webhookSecret signs the alerts in these tests (32 random-looking bytes:
// weak secrets are refused at load).
const webhookSecret = "Qm7Xc2Vb9Lp4Rt8Hs1Kd6Nw3Fy5Gj0Za"

// receivedAlert is one webhook delivery whose signature verified.
type receivedAlert struct {
	Detector    string           `json:"detector"`
	SubjectKind string           `json:"subject_kind"`
	Subject     string           `json:"subject"`
	Action      string           `json:"action"`
	Evidence    map[string]int64 `json:"evidence"`
	Text        string           `json:"text"`
}

// alertReceiver is a webhook endpoint that checks each delivery's
// X-Rampart-Signature the way docs/alerts.md tells receivers to (HMAC-SHA-256
// over "t.body"), keeping the verified alerts and counting the others.
type alertReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	alerts   []receivedAlert
	unsigned int
}

func newAlertReceiver(t *testing.T) *alertReceiver {
	rc := &alertReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ts, sig string
		for _, part := range strings.Split(r.Header.Get("X-Rampart-Signature"), ",") {
			if v, ok := strings.CutPrefix(part, "t="); ok {
				ts = v
			} else if v, ok := strings.CutPrefix(part, "v1="); ok {
				sig = v
			}
		}
		mac := hmac.New(sha256.New, []byte(webhookSecret))
		mac.Write([]byte(ts + "." + string(body)))
		got, err := hex.DecodeString(sig)
		var a receivedAlert
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if ts == "" || err != nil || !hmac.Equal(got, mac.Sum(nil)) || json.Unmarshal(body, &a) != nil {
			rc.unsigned++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rc.alerts = append(rc.alerts, a)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// waitFor returns the first verified alert of detector, failing after 10 s.
func (rc *alertReceiver) waitFor(t *testing.T, srv *served, detector string) receivedAlert {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rc.mu.Lock()
		for _, a := range rc.alerts {
			if a.Detector == detector {
				rc.mu.Unlock()
				return a
			}
		}
		unsigned := rc.unsigned
		rc.mu.Unlock()
		srv.alive(t, "waiting for an alert")
		if time.Now().After(deadline) {
			t.Fatalf("no signed %s alert reached the webhook (%d deliveries failed verification)\n%s", detector, unsigned, srv.logs.String())
		}
	}
}

// A scanner probing 100 well-known paths is blocked by the real binary, and
// the detection reaches a webhook as a signed payload and rsyslog (over
// TLS) as an RFC 5424 alert event. A token used from 40 addresses (through
// a trusted proxy's X-Forwarded-For) raises a token_sharing alert.
func TestDetectionsBlockAndAlertThroughTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	rs := syslogtest.Start(t)
	hook := newAlertReceiver(t)
	var seen sync.Map // paths the application was asked for
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.Path, true)
		_, _ = io.WriteString(w, "{}")
	}))
	defer upstream.Close()
	listen, adminListen := gt.FreeAddr(t), gt.FreeAddr(t)
	cfg := fmt.Sprintf(`version: 1
server: { listen: %q, trusted_proxies: ["127.0.0.1/32"] }
admin: { listen: %q, token: "${RAMPART_ADMIN_TOKEN}" }
upstreams:
  app: { targets: [%q] }
authenticators:
  keys: { type: jwt, issuer: any, audiences: [any], algorithms: [HS256], secret: "${APP_SECRET}" }
detect:
  token_sharing: { addresses: 20 }
alerts:
  webhooks:
    - { name: soc, url: %q, secret: %q }
  syslog: { address: "tls://%s", ca_file: %q, server_name: %s }
routes:
  - { name: home, path: /, methods: [GET], upstream: app, auth: none }
  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: [keys] }
`, listen, adminListen, upstream.URL, hook.URL, webhookSecret, rs.TLSAddr, rs.CAFile, syslogtest.ServerName)
	const secret = "Kq7Vn2Xr9Tb4Lm8Zc1Wd6Hs3Fp0Gy5Ju"
	srv := serveBinary(t, cfg, "APP_SECRET="+secret)
	client := gt.Client()
	srv.waitReady(t, client, adminListen)

	// The scanner: 100 paths scanners probe, from one client.
	probes := []string{"/.env", "/.git/config", "/actuator/env", "/wp-admin/", "/phpmyadmin/", "/server-status",
		"/.aws/credentials", "/config.json", "/backup.zip", "/cgi-bin/test.cgi"}
	var blocked, forwarded int
	for i := range 100 {
		path := probes[i%len(probes)]
		if i >= len(probes) {
			path = fmt.Sprintf("/old/%d%s", i, path)
		}
		req, _ := http.NewRequest("GET", "http://"+listen+path, nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.66")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusNotFound:
		case http.StatusTooManyRequests, http.StatusForbidden:
			if blocked == 0 && !strings.Contains(string(body), "client-") {
				t.Errorf("blocked with %d %s", resp.StatusCode, body)
			}
			blocked++
		default:
			forwarded++
		}
	}
	if blocked < 80 || forwarded != 0 {
		t.Fatalf("scanner: %d of 100 probes blocked, %d forwarded; want the scan blocked early and nothing forwarded\n%s", blocked, forwarded, srv.logs.String())
	}
	// The scanner's block covers routed paths too; another client is served.
	for xff, want := range map[string]int{"203.0.113.66": http.StatusTooManyRequests, "198.51.100.7": http.StatusOK} {
		req, _ := http.NewRequest("GET", "http://"+listen+"/", nil)
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want && !(want == http.StatusTooManyRequests && resp.StatusCode == http.StatusForbidden) {
			t.Errorf("GET / from %s: %d, want %d", xff, resp.StatusCode, want)
		}
	}
	a := hook.waitFor(t, srv, "scanning")
	if a.SubjectKind != "client_ip" || a.Subject != "203.0.113.66" || a.Action != "block" || a.Text == "" {
		t.Errorf("scanning alert %+v", a)
	}
	m := rs.WaitFor(t, "the scanning alert", func(m syslogtest.Message) bool {
		return m.MsgID == "alert" && strings.Contains(m.Msg, `"detector":"scanning"`)
	})
	var line map[string]any
	if err := json.Unmarshal([]byte(m.Msg), &line); err != nil || line["subject"] != "203.0.113.66" || m.Version != "1" {
		t.Errorf("syslog alert %+v (%v)", m, err)
	}

	// One token from 40 addresses.
	token := authtest.Mint(t, &authtest.Key{Alg: "HS256", Signer: []byte(secret)},
		jwtlib.MapClaims{"sub": "shared-user", "exp": time.Now().Add(time.Hour).Unix()}, nil)
	for i := range 40 {
		req, _ := http.NewRequest("GET", "http://"+listen+"/api/items", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i+1))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d with the shared token: %d", i, resp.StatusCode)
		}
	}
	a = hook.waitFor(t, srv, "token_sharing")
	if a.SubjectKind != "principal" || !strings.Contains(a.Subject, "shared-user") || a.Action != "log" {
		t.Errorf("token_sharing alert %+v", a)
	}
	if strings.Contains(srv.logs.String(), token) || strings.Contains(srv.logs.String(), webhookSecret) {
		t.Error("a token or the webhook secret reached the logs")
	}
}
