package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/ratelimit/redistest"
)

// TestRedisOutageDoesNotStampede (issue 14, item 6): with
// shared_state_failure: fail_closed, a Redis outage makes the rate-limited
// fail_closed route answer 503 — and nothing else. The replica stays ready
// (every replica sharing the Redis would otherwise leave the load balancer at
// once), /readyz says the shared state is down, a route overriding the mode
// with fail_open passes, and a route without rate limits passes. When Redis
// returns, so do the limited route and the reported state.
func TestRedisOutageDoesNotStampede(t *testing.T) {
	redis := redistest.Start(t)
	up := gt.NewUpstream(t, nil)
	cfg := gt.Config(up.URL, fmt.Sprintf(`shared_state: %q
shared_state_failure: fail_closed
rate_limits:
  rl: { key: client_ip, limits: ["1000/minute"] }
`, redis.URL), `  - { name: closed, path: /closed, methods: [GET], upstream: app, auth: none, rate_limit: [rl] }
  - { name: open, path: /open, methods: [GET], upstream: app, auth: none, rate_limit: [rl], shared_state_failure: fail_open }
  - { name: plain, path: /plain, methods: [GET], upstream: app, auth: none }
`)
	g := gt.Start(t, cfg, nil)
	statuses := func() string {
		var out []string
		for _, p := range []string{"/closed", "/open", "/plain"} {
			resp, body := g.Get(t, p)
			s := fmt.Sprintf("%s %d", p, resp.StatusCode)
			if resp.StatusCode >= 400 {
				s += " " + problemType(body)
			}
			out = append(out, s)
		}
		return strings.Join(out, ", ")
	}
	readyz := func() (int, string) {
		resp, err := gt.Client().Get(g.AdminURL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rd, err := g.Readiness()
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, rd.SharedState.State + " " + rd.SharedState.Mode
	}

	if got, want := statuses(), "/closed 200, /open 200, /plain 200"; got != want {
		t.Fatalf("Redis up: %s, want %s", got, want)
	}
	if code, state := readyz(); code != 200 || state != "up fail_closed" {
		t.Fatalf("readyz with Redis up: %d %s", code, state)
	}

	redis.Stop()
	if got, want := statuses(), "/closed 503 urn:rampart:problem:rate-limit-unavailable, /open 200, /plain 200"; got != want {
		t.Fatalf("Redis down: %s, want %s", got, want)
	}
	if code, state := readyz(); code != 200 || state != "down fail_closed" {
		t.Fatalf("readyz with Redis down: %d %q, want 200 reporting the shared state down", code, state)
	}

	redis.Restart(t)
	deadline := time.Now().Add(10 * time.Second)
	for _, state := readyz(); state != "up fail_closed"; _, state = readyz() {
		if time.Now().After(deadline) {
			t.Fatalf("shared state still %q 10s after Redis restarted", state)
		}
		time.Sleep(50 * time.Millisecond) // the backend's probe runs every 500ms
	}
	if got, want := statuses(), "/closed 200, /open 200, /plain 200"; got != want {
		t.Fatalf("Redis back: %s, want %s", got, want)
	}
}

// problemType is a problem+json body's type.
func problemType(body string) string {
	var p struct{ Type string }
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return "(not a problem: " + err.Error() + ")"
	}
	return p.Type
}
