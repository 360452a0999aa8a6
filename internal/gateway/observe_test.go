package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// logLines decodes the gateway's JSON log.
func logLines(t *testing.T, g *gt.Gateway) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(g.Logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

func TestLogsNeverContainSecrets(t *testing.T) {
	g, _ := start(t, nil, "")
	secrets := []string{"Bearer-SECRET-tok-1", "cookie-SECRET-2", "apikey-SECRET-3", "query-SECRET-4", "query-SECRET-5", "SECRET-6-pw"}
	for _, path := range []string{"/api/items", "/nope", "/api/items/..%2fadmin"} {
		req, _ := http.NewRequest("GET", g.URL+path+"?access_token="+secrets[3]+"&api_key="+secrets[4]+"&password="+secrets[5]+"&page=2", nil)
		req.Header.Set("Authorization", "Bearer "+secrets[0])
		req.Header.Set("Cookie", "session="+secrets[1])
		req.Header.Set("X-API-Key", secrets[2])
		g.Do(t, req)
	}
	// An access line is written when the handler returns, which can be just
	// after the client has its response: wait for all three (bounded).
	for deadline := time.Now().Add(10 * time.Second); strings.Count(g.Logs.String(), `"msg":"access"`) < 3 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	logs := g.Logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("secret %q found in logs", s)
		}
	}
	var access, audit int
	for _, l := range logLines(t, g) {
		switch l["msg"] {
		case "access":
			access++
			if l["request_id"] == "" || l["status"] == nil || l["client_ip"] != "127.0.0.1" {
				t.Errorf("incomplete access line: %v", l)
			}
			if q, _ := l["query"].(string); !strings.Contains(q, "page=2") || !strings.Contains(q, "access_token=REDACTED") {
				t.Errorf("query not logged with redaction: %q", q)
			}
		case "audit":
			audit++
			if l["reason"] != "route-not-found" && l["reason"] != "bad-path" {
				t.Errorf("unexpected audit reason: %v", l)
			}
		}
	}
	if access != 3 || audit != 2 {
		t.Errorf("access lines %d (want 3), audit events %d (want 2)", access, audit)
	}
}

func TestMetricsExposed(t *testing.T) {
	g, _ := start(t, nil, "")
	g.Get(t, "/api/items")
	g.Get(t, "/api/items")
	g.Get(t, "/nope")
	req, _ := http.NewRequest("GET", g.AdminURL+"/metrics", nil)
	if resp, _ := g.Do(t, req); resp.StatusCode != 401 {
		t.Fatalf("metrics without token: %d", resp.StatusCode)
	}
	req.Header.Set("Authorization", "Bearer "+gt.AdminToken)
	// A request is counted when its handler returns, which can be just after
	// the client has its response: wait until the in-flight gauge is back to
	// zero (bounded) before reading the counters.
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var resp *http.Response
		resp, body = g.Do(t, req)
		if resp.StatusCode != 200 {
			t.Fatalf("metrics: %d", resp.StatusCode)
		}
		if strings.Contains(body, "rampart_requests_in_flight 0\n") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, want := range []string{
		`rampart_requests_total{code="200",method="GET",route="items"} 2`,
		`rampart_requests_total{code="404",method="GET",route="(none)"} 1`,
		`rampart_rejections_total{reason="route-not-found"} 1`,
		`rampart_request_duration_seconds_count{route="items"} 2`,
		`rampart_upstream_duration_seconds_count{route="items"} 2`,
		`rampart_requests_in_flight 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestReloadUnderLoad keeps requests flowing while the config is reloaded 20
// times, every other time with a config the gateway must refuse.
func TestReloadUnderLoad(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	good := gt.Config(up.URL, "", basicRoutes)
	bad := gt.Config(up.URL, "", basicRoutes+"  - { name: broken, path: /api/broken, methods: [GET], upstream: nowhere, auth: none }\n")
	g := gt.Start(t, good, nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	client := gt.Client()
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(g.URL + "/api/items")
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		// Let traffic flow between reloads: each reload happens while
		// requests are being answered.
		seen := ok.Load()
		for deadline := time.Now().Add(10 * time.Second); ok.Load() < seen+3 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		text, wantErr := good, false
		if i%2 == 1 {
			text, wantErr = bad, true
		}
		if err := g.ReloadYAML(t, text); (err != nil) != wantErr {
			t.Errorf("reload %d: err %v, want error %v", i, err, wantErr)
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("during reloads: %d ok, %d failed", ok.Load(), failed.Load())
	}
	req, _ := http.NewRequest("GET", g.AdminURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+gt.AdminToken)
	_, body := g.Do(t, req)
	if !strings.Contains(body, `rampart_config_reloads_total{result="success"} 10`) || !strings.Contains(body, `rampart_config_reloads_total{result="failure"} 10`) {
		t.Errorf("reload metrics wrong:\n%s", grep(body, "reloads"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
