package gateway_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/ipfilter"
)

// The test client always connects from 127.0.0.1.

const ipRoutes = `  - { name: items, path: /items, methods: [GET], upstream: app, auth: none }
`

// getFrom sends GET path, with X-Forwarded-For when xff is set.
func getFrom(t *testing.T, g *gt.Gateway, path, xff string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	return g.Do(t, req)
}

func TestIPFilterGlobal(t *testing.T) {
	tests := []struct {
		name, extra, path, xff string
		status                 int
	}{
		{name: "denied client refused", extra: "ip_filter: { deny: [127.0.0.0/8] }\n", path: "/items", status: 403},
		{name: "denied before routing: an unknown path looks the same", extra: "ip_filter: { deny: [127.0.0.1] }\n", path: "/nowhere", status: 403},
		{name: "other clients pass a deny list", extra: "ip_filter: { deny: [192.0.2.0/24, \"2001:db8::/32\"] }\n", path: "/items", status: 200},
		{name: "allowlisted client passes", extra: "ip_filter: { allow: [10.0.0.0/8, 127.0.0.1] }\n", path: "/items", status: 200},
		{name: "client not on the allowlist refused", extra: "ip_filter: { allow: [10.0.0.0/8] }\n", path: "/items", status: 403},
		{name: "deny wins over allow", extra: "ip_filter: { allow: [127.0.0.0/8], deny: [127.0.0.1] }\n", path: "/items", status: 403},
		{name: "mapped entry matches the IPv4 client", extra: "ip_filter: { deny: [\"::ffff:127.0.0.0/104\"] }\n", path: "/items", status: 403},
		// From a trusted proxy, the forwarded client decides.
		{name: "trusted peer: forwarded client denied", extra: "server: { trusted_proxies: [127.0.0.1] }\nip_filter: { deny: [203.0.113.0/24] }\n",
			path: "/items", xff: "203.0.113.7", status: 403},
		{name: "trusted peer: forwarded client allowed though the peer is not", extra: "server: { trusted_proxies: [127.0.0.1] }\nip_filter: { allow: [198.51.100.0/24] }\n",
			path: "/items", xff: "6.6.6.6, 198.51.100.9", status: 200},
		{name: "trusted peer: the rightmost untrusted hop decides, not a spoofed leftmost", extra: "server: { trusted_proxies: [127.0.0.1] }\nip_filter: { allow: [198.51.100.0/24] }\n",
			path: "/items", xff: "198.51.100.9, 6.6.6.6", status: 403},
		// From an untrusted peer, X-Forwarded-For is ignored.
		{name: "untrusted peer cannot claim an allowed address", extra: "server: { trusted_proxies: [10.9.9.9] }\nip_filter: { allow: [198.51.100.0/24] }\n",
			path: "/items", xff: "198.51.100.9", status: 403},
		{name: "untrusted peer cannot dodge a deny by claiming another address", extra: "server: { trusted_proxies: [10.9.9.9] }\nip_filter: { deny: [127.0.0.1] }\n",
			path: "/items", xff: "192.0.2.1", status: 403},
		{name: "untrusted peer's forwarded address is not refused either", extra: "ip_filter: { deny: [203.0.113.0/24] }\n",
			path: "/items", xff: "203.0.113.7", status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := gt.NewUpstream(t, nil)
			g := gt.Start(t, gt.Config(up.URL, tt.extra, ipRoutes), nil)
			resp, body := getFrom(t, g, tt.path, tt.xff)
			if tt.status == 200 {
				if resp.StatusCode != 200 || up.Count() != 1 {
					t.Fatalf("status %d, upstream saw %d; want 200 and 1 (body %s)", resp.StatusCode, up.Count(), body)
				}
				if n := len(auditEvents(g, ipfilter.Step)); n != 0 {
					t.Errorf("%d ip_filter audit events for an allowed request", n)
				}
				return
			}
			p := gt.CheckProblem(t, resp, body, 403, "ip-denied")
			if up.Count() != 0 {
				t.Fatalf("upstream was reached: %+v", up.Seen())
			}
			if strings.Contains(body, "203.0.113") || strings.Contains(body, "127.0.0") || strings.Contains(body, "198.51.100") {
				t.Errorf("the problem echoes an address or list: %s", body)
			}
			if p.Detail != "Requests from this client address are not allowed." {
				t.Errorf("detail = %q", p.Detail)
			}
			evs := auditEvents(g, ipfilter.Step)
			if len(evs) != 1 {
				t.Fatalf("%d ip_filter audit events, want 1; logs:\n%s", len(evs), g.Logs.String())
			}
			if _, routed := evs[0]["route"]; evs[0]["reason"] != "ip-denied" || routed {
				t.Errorf("audit event %v: want reason ip-denied, no route (refused before routing)", evs[0])
			}
		})
	}
}

func TestIPFilterRoute(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	routes := `  - { name: open, path: /open, methods: [GET], upstream: app, auth: none }
  - { name: office, path: /office, methods: [GET, POST], upstream: app, auth: none, cors: web, ip_filter: { allow: [10.0.0.0/8] } }
  - { name: lan, path: /lan, methods: [GET], upstream: app, auth: none, ip_filter: { allow: [127.0.0.0/8] } }
`
	extra := "cors:\n  web: { allow_origins: [\"https://app.example\"] }\nip_filter: { deny: [203.0.113.0/24] }\n"
	g := gt.Start(t, gt.Config(up.URL, extra, routes), nil)

	t.Run("a route without a list passes", func(t *testing.T) {
		before := up.Count()
		if resp, body := g.Get(t, "/open"); resp.StatusCode != 200 || up.Count() != before+1 {
			t.Fatalf("status %d (%s)", resp.StatusCode, body)
		}
	})
	t.Run("a route's allowlist admits its clients (the global list applies too)", func(t *testing.T) {
		before := up.Count()
		if resp, body := g.Get(t, "/lan"); resp.StatusCode != 200 || up.Count() != before+1 {
			t.Fatalf("status %d (%s)", resp.StatusCode, body)
		}
	})
	t.Run("a route's allowlist refuses others, with no CORS header", func(t *testing.T) {
		before, events := up.Count(), len(auditEvents(g, ipfilter.Step))
		req, _ := http.NewRequest(http.MethodGet, g.URL+"/office", nil)
		req.Header.Set("Origin", "https://app.example")
		resp, body := g.Do(t, req)
		gt.CheckProblem(t, resp, body, 403, "ip-denied")
		if up.Count() != before {
			t.Fatal("upstream was reached")
		}
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("Access-Control-Allow-Origin = %q on a refusal by address", v)
		}
		evs := auditEvents(g, ipfilter.Step)
		if len(evs) != events+1 || evs[events]["route"] != "office" {
			t.Fatalf("audit events %v, want one more for route office", evs)
		}
	})
	t.Run("a preflight from a refused client is refused, not answered", func(t *testing.T) {
		before := up.Count()
		req, _ := http.NewRequest(http.MethodOptions, g.URL+"/office", nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, body := g.Do(t, req)
		gt.CheckProblem(t, resp, body, 403, "ip-denied")
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("Access-Control-Allow-Origin = %q", v)
		}
		if up.Count() != before {
			t.Fatal("upstream was reached")
		}
	})
}

// status is the status of GET url, over c's kept-alive connection.
func status(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// metricValue reads one sample from the admin /metrics page ("" if absent).
func metricValue(t *testing.T, c *http.Client, g *gt.Gateway, series string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.AdminURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+gt.AdminToken)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

func replaceFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// listPoll bounds a wait for a list file change to apply: files are
// checked every 2s and re-read once a change has held for one check.
const listPoll = 15 * time.Second

func TestIPFilterFileReload(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 2s list-file poll")
	}
	up := gt.NewUpstream(t, nil)
	deny := filepath.Join(t.TempDir(), "deny.txt")
	replaceFile(t, deny, "# nobody local yet\n192.0.2.0/24\n")
	g := gt.Start(t, gt.Config(up.URL, "ip_filter: { deny_file: \""+deny+"\" }\n", ipRoutes), nil)
	c := gt.Client()
	defer c.CloseIdleConnections()
	if code := status(t, c, g.URL+"/items"); code != 200 {
		t.Fatalf("status %d before the list names the client", code)
	}

	replaceFile(t, deny, "192.0.2.0/24\n127.0.0.1 # the test client\n")
	gt.Eventually(t, listPoll, "the rewritten list refuses the client", func() bool { return status(t, c, g.URL+"/items") == 403 })
	if !strings.Contains(g.Logs.String(), `"msg":"ip list reloaded"`) {
		t.Error("the reload was not logged")
	}

	series := `rampart_ip_list_reload_errors_total{list="` + deny + `"}`
	replaceFile(t, deny, "192.0.2.0/24\n10.0.0.1/8\n") // invalid: the previous list stays
	gt.Eventually(t, listPoll, "the failed reload is counted", func() bool { return metricValue(t, c, g, series) == "1" })
	before := up.Count()
	resp, body := g.Get(t, "/items")
	gt.CheckProblem(t, resp, body, 403, "ip-denied")
	if up.Count() != before {
		t.Fatal("upstream was reached after an invalid rewrite")
	}
	if !strings.Contains(g.Logs.String(), `10.0.0.1/8\" has bits set`) {
		t.Errorf("the failed reload's cause was not logged:\n%s", g.Logs.String())
	}
}
