package gateway_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/ratelimit/redistest"
)

// uniq names a policy so that runs sharing one Redis never share counters.
func uniq(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

func limitedGateway(t *testing.T, server, policies, routeLimits string, h http.HandlerFunc) (*gt.Gateway, *gt.Upstream) {
	t.Helper()
	up := gt.NewUpstream(t, h)
	routes := fmt.Sprintf("  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: none, rate_limit: [%s] }\n", routeLimits)
	return gt.Start(t, gt.Config(up.URL, server+"rate_limits:\n"+policies, routes), nil), up
}

// burst fires n requests at once and returns how many got each status.
func burst(t *testing.T, g *gt.Gateway, n int, hdr func(i int) http.Header) map[int]int {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	counts := map[int]int{}
	start := make(chan struct{})
	client := gt.Client()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest("GET", g.URL+"/api/items", nil)
			if hdr != nil {
				req.Header = hdr(i)
			}
			<-start
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			counts[resp.StatusCode]++
			mu.Unlock()
		}(i)
	}
	close(start)
	wg.Wait()
	return counts
}

func TestRateLimitNginxBurst(t *testing.T) {
	// nginx: limit_req zone=… rate=1r/m burst=5 nodelay admits burst+1 at an
	// idle start. A per-minute rate keeps the test independent of timing.
	g, up := limitedGateway(t, "", "  b: { key: client_ip, limits: [\"1/minute burst 5\"] }\n", "b", nil)
	got := burst(t, g, 20, nil)
	if got[200] != 6 || got[429] != 14 || up.Count() != 6 {
		t.Fatalf("admitted %d, refused %d, upstream saw %d; want 6, 14, 6", got[200], got[429], up.Count())
	}
}

func TestRateLimitWindowsAndHeaders(t *testing.T) {
	g, up := limitedGateway(t, "", "  w: { key: client_ip, limits: [\"10/minute\", \"12/hour\"] }\n", "w", nil)
	for i := 0; i < 10; i++ {
		resp, _ := g.Get(t, "/api/items")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		if i == 0 && (resp.Header.Get("RateLimit") == "" || resp.Header.Get("RateLimit-Policy") == "") {
			t.Errorf("success lacks RateLimit headers: %v", resp.Header)
		}
	}
	resp, body := g.Get(t, "/api/items")
	gt.CheckProblem(t, resp, body, 429, "rate-limited")
	if resp.Header.Get("Retry-After") == "" || !strings.Contains(resp.Header.Get("RateLimit-Policy"), "w") {
		t.Errorf("429 headers: %v", resp.Header)
	}
	if up.Count() != 10 {
		t.Fatalf("upstream saw %d, want exactly 10", up.Count())
	}
	req, _ := http.NewRequest("GET", g.AdminURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+gt.AdminToken)
	_, metrics := g.Do(t, req)
	for _, want := range []string{`rampart_rate_limited_total{policy="w"} 1`, `rampart_shared_state_up 1`, `rampart_rejections_total{reason="rate-limited"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestRateLimitPerKeyAndSpoofing(t *testing.T) {
	t.Run("per header value: one tenant's exhaustion does not touch another", func(t *testing.T) {
		g, _ := limitedGateway(t, "", "  t: { key: \"header:X-Tenant\", limits: [\"2/minute\"] }\n", "t", nil)
		tenant := func(name string) int {
			req, _ := http.NewRequest("GET", g.URL+"/api/items", nil)
			req.Header.Set("X-Tenant", name)
			resp, _ := g.Do(t, req)
			return resp.StatusCode
		}
		for _, want := range []int{200, 200, 429} {
			if got := tenant("acme"); got != want {
				t.Fatalf("acme: %d, want %d", got, want)
			}
		}
		if got := tenant("globex"); got != 200 {
			t.Fatalf("globex: %d", got)
		}
	})
	t.Run("spoofed X-Forwarded-For from an untrusted peer does not change the key", func(t *testing.T) {
		g, _ := limitedGateway(t, "", "  ip: { key: client_ip, limits: [\"3/minute\"] }\n", "ip", nil)
		got := burst(t, g, 8, func(i int) http.Header { return http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i)}} })
		if got[200] != 3 {
			t.Fatalf("admitted %d with spoofed addresses, want 3", got[200])
		}
	})
	t.Run("X-Forwarded-For from a trusted proxy separates clients", func(t *testing.T) {
		g, _ := limitedGateway(t, "server:\n  trusted_proxies: [127.0.0.1]\n", "  ip: { key: client_ip, limits: [\"3/minute\"] }\n", "ip", nil)
		got := burst(t, g, 8, func(i int) http.Header { return http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i)}} })
		if got[200] != 8 {
			t.Fatalf("admitted %d distinct clients, want 8", got[200])
		}
	})
}

func TestConcurrencyLimit(t *testing.T) {
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	g, up := limitedGateway(t, "", "  c: { key: client_ip, limits: [\"1000/s\"], concurrency: 1 }\n", "c", func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	done := make(chan int, 1)
	go func() {
		resp, err := gt.Client().Get(g.URL + "/api/items")
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-entered // the first request holds the only slot
	resp, body := g.Get(t, "/api/items")
	gt.CheckProblem(t, resp, body, 429, "concurrency-limited")
	close(release)
	if s := <-done; s != 200 {
		t.Fatalf("first request: %d", s)
	}
	if up.Count() != 1 {
		t.Fatalf("upstream saw %d", up.Count())
	}
	// The slot is released when the first handler returns, which can be a
	// moment after its client has the response: wait for it (bounded).
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := g.Get(t, "/api/items")
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not released: %d", resp.StatusCode)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Three gateways sharing one Redis admit exactly the limit in total.
func TestRateLimitAcrossReplicasOnRedis(t *testing.T) {
	r := redistest.Shared(t)
	policy := uniq("shared")
	up := gt.NewUpstream(t, nil)
	text := gt.Config(up.URL, fmt.Sprintf("shared_state: %q\nrate_limits:\n  %s: { key: route, limits: [\"10/minute\"] }\n", r.URL, policy),
		fmt.Sprintf("  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: none, rate_limit: [%s] }\n", policy))
	gws := []*gt.Gateway{gt.Start(t, text, nil), gt.Start(t, text, nil), gt.Start(t, text, nil)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := 0
	start := make(chan struct{})
	client := gt.Client()
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func(g *gt.Gateway) {
			defer wg.Done()
			<-start
			resp, err := client.Get(g.URL + "/api/items")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == 200 {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}(gws[i%3])
	}
	close(start)
	wg.Wait()
	if ok != 10 || up.Count() != 10 {
		t.Fatalf("three replicas admitted %d (upstream saw %d), want exactly 10", ok, up.Count())
	}
}
