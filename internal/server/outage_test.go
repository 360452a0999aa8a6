package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/ratelimit/redistest"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/pgtest"
	"github.com/rampart-gw/rampart/internal/store/postgres"
)

// get sends GET path through g with headers (name, value pairs) and returns
// the status and how long the answer took.
func get(t *testing.T, g *gt.Gateway, path string, headers ...string) (int, time.Duration) {
	t.Helper()
	req, _ := http.NewRequest("GET", g.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	began := time.Now()
	res, _ := g.Do(t, req)
	return res.StatusCode, time.Since(began)
}

// concurrently sends n requests at once and checks each answers want
// within limit.
func concurrently(t *testing.T, n int, limit time.Duration, want int, send func() (int, time.Duration)) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if got, took := send(); got != want || took > limit {
				t.Errorf("answered %d in %s, want %d within %s", got, took, want, limit)
			}
		})
	}
	wg.Wait()
}

func metrics(t *testing.T, g *gt.Gateway) string {
	t.Helper()
	req, _ := http.NewRequest("GET", g.AdminURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+gt.AdminToken)
	res, err := gt.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling a state only the gateway's probe changes
	}
}

// Issue 14, through the production server and its config: a hung
// PostgreSQL (SIGSTOP) costs an API-key request at most store_timeout; a
// key used before keeps working, an unknown one gets 503, and
// rampart_keystore_up says so.
func TestHungPostgresThroughTheGateway(t *testing.T) {
	c := pgtest.Private(t)
	s, err := postgres.Open(context.Background(), c.URL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := s.CreateKey(context.Background(), store.KeySpec{Consumer: "acme"})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	up := gt.NewUpstream(t, nil)
	g := gt.Start(t, gt.Config(up.URL, "store: \"${PG}\"\nstore_timeout: 300ms\nstore_outage_grace: 1m\n"+
		"authenticators:\n  partners: { type: api_key }\n",
		"  - { name: items, path: /items, methods: [GET], upstream: app, auth: [partners] }\n"), map[string]string{"PG": c.URL})
	if got, _ := get(t, g, "/items", "X-API-Key", key); got != 200 {
		t.Fatalf("before: %d", got)
	}

	c.Pause(t)
	unknown := "rk_000000000001_" + key[len(key)-43:]
	if got, took := get(t, g, "/items", "X-API-Key", unknown); got != 503 || took > 1500*time.Millisecond {
		t.Errorf("unknown key, PostgreSQL hung: %d in %s; want 503 within 1.5s (store_timeout 300ms)", got, took)
	}
	concurrently(t, 20, 1500*time.Millisecond, 200, func() (int, time.Duration) { return get(t, g, "/items", "X-API-Key", key) })
	if m := metrics(t, g); !strings.Contains(m, "\nrampart_keystore_up 0\n") {
		t.Error("rampart_keystore_up is not 0 while PostgreSQL hangs")
	}

	c.Resume(t)
	eventually(t, "rampart_keystore_up 1", func() bool { return strings.Contains(metrics(t, g), "\nrampart_keystore_up 1\n") })
	if got, _ := get(t, g, "/items", "X-API-Key", unknown); got != 401 {
		t.Errorf("unknown key after recovery: %d, want 401", got)
	}
}

// Issue 14, through the production server and its config: a hung Redis
// (SIGSTOP) costs each of 64 concurrent rate-limited requests at most
// shared_state_timeout before fail_closed answers 503; after SIGCONT
// requests pass again.
func TestHungRedisThroughTheGateway(t *testing.T) {
	r := redistest.Start(t) // private: only a server this test started is paused
	up := gt.NewUpstream(t, nil)
	g := gt.Start(t, gt.Config(up.URL, "shared_state: \""+r.URL+"\"\nshared_state_failure: fail_closed\nshared_state_timeout: 200ms\n"+
		"rate_limits:\n  per_client: { key: client_ip, limits: [\"1000/minute\"] }\n",
		"  - { name: items, path: /items, methods: [GET], upstream: app, auth: none, rate_limit: [per_client] }\n"), nil)
	if got, _ := get(t, g, "/items"); got != 200 {
		t.Fatalf("before: %d", got)
	}
	r.Pause(t)
	concurrently(t, 64, time.Second, 503, func() (int, time.Duration) { return get(t, g, "/items") })
	r.Resume(t)
	eventually(t, "requests admitted again", func() bool { got, _ := get(t, g, "/items"); return got == 200 })
}
