package gateway_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

const denyRoutes = `  - { name: user, path: "/users/v1/{username}", methods: [GET, PUT], upstream: app, auth: none }
  - { name: debug, path: /users/v1/_debug, methods: [GET], deny: true }
  - { name: report, path: "/reports/{id}", methods: [GET], upstream: app, auth: none }
  - { name: report_list, path: /reports/list, methods: [GET], upstream: app, auth: none }
  - { name: no_reports, path: "/reports/{rest...}", methods: [GET], deny: true }
  - { name: admin_status, path: /admin/status, methods: [GET], upstream: app, auth: none }
  - { name: no_admin, path: "/admin/{rest...}", methods: [GET, POST], deny: true, deny_status: 403 }
`

// problemBody is a problem document without its per-request members.
func problemBody(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	maps.DeleteFunc(m, func(k string, _ any) bool { return k == "instance" || k == "request_id" })
	return m
}

// auditEvents are the audit lines of the rejections at step.
func auditEvents(g *gt.Gateway, step string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(g.Logs.String(), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil && ev["event"] == "rejected" && ev["step"] == step {
			out = append(out, ev)
		}
	}
	return out
}

func TestDenyRoutes(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	g := gt.Start(t, gt.Config(up.URL, "", denyRoutes), nil)
	_, unknown := g.Get(t, "/nowhere")

	tests := []struct {
		name, method, path string
		status             int
		problem, route     string // problem type and deny route when refused
	}{
		{"denied literal beside a parameter route", "GET", "/users/v1/_debug", 404, "route-not-found", "debug"},
		{"the parameter route still routes other names", "GET", "/users/v1/alice", 200, "", ""},
		{"a method the deny route does not list is routed", "PUT", "/users/v1/_debug", 200, "", ""},
		{"denied prefix beats a parameter route", "GET", "/reports/7", 404, "route-not-found", "no_reports"},
		{"denied prefix beats a literal route", "GET", "/reports/list", 404, "route-not-found", "no_reports"},
		{"denied prefix with an empty rest", "GET", "/reports", 404, "route-not-found", "no_reports"},
		{"deny_status 403", "GET", "/admin/status", 403, "route-denied", "no_admin"},
		{"deny_status 403 deeper", "POST", "/admin/a/b", 403, "route-denied", "no_admin"},
		{"normalized before the deny route matches", "GET", "/users/v1/x/../%5F%64ebug", 404, "route-not-found", "debug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, events := up.Count(), len(auditEvents(g, "deny"))
			res := g.Raw(t, tt.method+" "+tt.path+" HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			if res.Resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d; body %s", res.Resp.StatusCode, tt.status, res.Body)
			}
			seen := up.Seen()[before:]
			if tt.problem == "" {
				if len(seen) != 1 {
					t.Fatalf("upstream saw %+v, want one request", seen)
				}
				return
			}
			gt.CheckProblem(t, res.Resp, res.Body, tt.status, tt.problem)
			if len(seen) != 0 {
				t.Fatalf("upstream was reached: %+v", seen)
			}
			if tt.status == 404 && !maps.Equal(problemBody(t, res.Body), problemBody(t, unknown)) {
				t.Errorf("denied: %s\nunknown path: %s", res.Body, unknown)
			}
			evs := auditEvents(g, "deny")
			if len(evs) != events+1 {
				t.Fatalf("%d deny audit events, want %d; logs:\n%s", len(evs), events+1, g.Logs.String())
			}
			if ev := evs[events]; ev["route"] != tt.route || ev["reason"] != tt.problem {
				t.Errorf("audit event %v, want route %q reason %q", ev, tt.route, tt.problem)
			}
		})
	}

	t.Run("a preflight for a denied path is answered as for an unknown path", func(t *testing.T) {
		before := up.Count()
		req, _ := http.NewRequest(http.MethodOptions, g.URL+"/users/v1/_debug", nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, body := g.Do(t, req)
		gt.CheckProblem(t, resp, body, 404, "route-not-found")
		if up.Count() != before {
			t.Fatal("upstream was reached")
		}
	})
}

func TestDenyRouteConfigErrors(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	g := gt.Start(t, gt.Config(up.URL, "", denyRoutes), nil)
	err := g.ReloadYAML(t, gt.Config(up.URL, "", "  - { name: d, path: /d, methods: [GET], deny: true, upstream: app, auth: none }\n"))
	for _, want := range []string{
		`reload.yaml:9:54: route "d": upstream is not allowed on a deny route`,
		`reload.yaml:9:69: route "d": auth is not allowed on a deny route`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("reload error %v, want %q", err, want)
		}
	}
	if resp, _ := g.Get(t, "/users/v1/_debug"); resp.StatusCode != 404 {
		t.Errorf("after the refused reload: status %d, want the deny route's 404", resp.StatusCode)
	}
}
