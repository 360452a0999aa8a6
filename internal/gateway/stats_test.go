package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/stats"
)

// The dashboard's aggregates see every request once: forwarded ones on
// their route, refusals by reason (through the observer) and upstream
// failures apart.
func TestStatsCountEveryRequest(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/boom" {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer up.Close()
	yaml := `version: 1
admin: { listen: "off" }
upstreams:
  app: { targets: ["` + up.URL + `"] }
routes:
  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: none }
  - { name: boom, path: /api/boom, methods: [GET], upstream: app, auth: none }
`
	st := stats.New()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw := compile(t, yaml, Deps{Logger: logger, Stats: st, Observer: &stats.Observer{Stats: st, Next: LogObserver{Logger: logger}}})
	for _, c := range []struct {
		method, path string
		status       int
	}{{"GET", "/api/items", 200}, {"GET", "/api/items", 200}, {"GET", "/nope", 404}, {"DELETE", "/api/items", 405}, {"GET", "/api/boom", 502}} {
		req := httptest.NewRequest(c.method, "http://example.test"+c.path, nil)
		req.RemoteAddr, req.RequestURI = "192.0.2.1:1234", c.path
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Fatalf("%s %s: status %d, want %d", c.method, c.path, rec.Code, c.status)
		}
	}
	sum := st.Summary(60, time.Now())
	if sum.Requests != 5 || sum.Refusals != 2 || sum.UpstreamErrors != 1 {
		t.Errorf("summary %+v; want 5 requests, 2 refusals, 1 upstream error", sum)
	}
	if sum.ByReason["route-not-found"] == 0 || sum.ByReason["method-not-allowed"] == 0 {
		t.Errorf("refusals by reason: %v", sum.ByReason)
	}
	rows := map[string]stats.RouteRow{}
	for _, r := range st.Routes(1, time.Now()) {
		rows[r.Route] = r
	}
	// A 405 is decided before a route matched, like a 404.
	if rows["items"].Requests != 2 || rows["items"].Refusals != 0 || rows["boom"].UpstreamErrors != 1 ||
		rows["(no route)"].Requests != 2 || rows["(no route)"].Refusals != 2 {
		t.Errorf("route table: %+v", rows)
	}
	if evs, _ := st.Events(0, 0); len(evs) != 2 || evs[0].Client != "192.0.2.1" {
		t.Errorf("events: %+v", evs)
	}
}

// BenchmarkCorePipelineWithStats is BenchmarkCorePipeline with the
// dashboard's aggregates on: the difference is their per-request cost.
func BenchmarkCorePipelineWithStats(b *testing.B) { benchDeps(b, "GET", "", Deps{Stats: stats.New()}) }
