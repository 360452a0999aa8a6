package ratelimit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/h1/h1test"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/ratelimit"
	"github.com/rampart-gw/rampart/internal/ratelimit/memory"
)

// fakeClock is an injected clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// recorder is an Observer that keeps rejections.
type recorder struct {
	mu   sync.Mutex
	rejs []*pipeline.Rejection
}

func (o *recorder) Rejected(_ *http.Request, step string, rej *pipeline.Rejection) {
	if step != ratelimit.Step {
		panic("unexpected step " + step)
	}
	o.mu.Lock()
	o.rejs = append(o.rejs, rej)
	o.mu.Unlock()
}

func policy(t testing.TB, name, key string, concurrency int, limits ...string) *ratelimit.Policy {
	t.Helper()
	k, err := ratelimit.ParseKey(key, []string{"partners"})
	if err != nil {
		t.Fatal(err)
	}
	var ls []ratelimit.Limit
	for _, s := range limits {
		l, err := ratelimit.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	p, err := ratelimit.NewPolicy(name, k, ls, concurrency)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// harness is a real HTTP server: an Info-setting front (as the gateway does,
// client address from the X-Test-Client header standing in for the resolved
// client), the rate limit middleware, and a handler that counts its calls.
type harness struct {
	srv     *h1test.Server
	calls   atomic.Int64
	obs     *recorder
	clock   *fakeClock
	gate    chan struct{} // requests with X-Test-Block wait for it to close
	entered chan struct{} // one value per blocking request that reached the handler
}

func newHarness(t *testing.T, lim ratelimit.Limiter, opts ratelimit.Options, policies ...*ratelimit.Policy) *harness {
	t.Helper()
	h := &harness{obs: &recorder{}, clock: &fakeClock{now: time.Unix(1_700_000_000, 0)},
		gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	if opts.Now == nil {
		opts.Now = h.clock.Now
	}
	mw := ratelimit.Middleware(policies, lim, h.obs, opts)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		if r.Header.Get("X-Test-Block") == "1" {
			h.entered <- struct{}{}
			<-h.gate
		}
		w.WriteHeader(http.StatusOK)
	})
	limited := mw(next)
	h.srv = h1test.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &pipeline.Info{ID: "req-1", ClientIP: r.Header.Get("X-Test-Client"), Route: "items"}
		if sub := r.Header.Get("X-Test-Subject"); sub != "" {
			info.Principal = &pipeline.Principal{Subject: sub, Authenticator: r.Header.Get("X-Test-Authn"),
				Claims: map[string]any{"tenant": r.Header.Get("X-Test-Tenant")}}
		}
		limited.ServeHTTP(w, pipeline.WithInfo(r, info))
	}))
	return h
}

func (h *harness) get(t testing.TB, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/api/items/1", nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// burst sends n requests at once and returns the status counts.
func (h *harness) burst(t testing.TB, n int, hdr map[string]string) map[int]int {
	t.Helper()
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp := h.get(t, hdr)
			mu.Lock()
			got[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return got
}

var client1 = map[string]string{"X-Test-Client": "192.0.2.1"}

func TestMiddlewareNginxBurstOverHTTP(t *testing.T) {
	h := newHarness(t, memory.New(memory.Config{}), ratelimit.Options{}, policy(t, "per_client", "client_ip", 0, "10/s burst 20"))
	got := h.burst(t, 60, client1)
	if got[200] != 21 || got[429] != 39 {
		t.Fatalf("60 simultaneous requests against 10/s burst 20: %v, want 21×200 and 39×429", got)
	}
	if h.calls.Load() != 21 {
		t.Fatalf("handler called %d times, want 21 (refused requests must not reach it)", h.calls.Load())
	}
	h.clock.Advance(100 * time.Millisecond)
	if got := h.burst(t, 5, client1); got[200] != 1 {
		t.Fatalf("100ms later: %v, want exactly one admitted", got)
	}
}

func TestMiddlewareExactTenPerMinute(t *testing.T) {
	h := newHarness(t, memory.New(memory.Config{}), ratelimit.Options{}, policy(t, "per_client", "client_ip", 0, "10/minute"))
	if got := h.burst(t, 25, client1); got[200] != 10 {
		t.Fatalf("first minute: %v, want exactly 10 admitted", got)
	}
	h.clock.Advance(59 * time.Second)
	if got := h.burst(t, 5, client1); got[200] != 0 {
		t.Fatalf("59s later: %v, want none admitted", got)
	}
	h.clock.Advance(time.Second)
	if got := h.burst(t, 25, client1); got[200] != 10 {
		t.Fatalf("next window: %v, want exactly 10 admitted", got)
	}
	if h.calls.Load() != 20 {
		t.Fatalf("handler called %d times, want 20", h.calls.Load())
	}
}

func TestMiddlewareMultipleWindows(t *testing.T) {
	h := newHarness(t, memory.New(memory.Config{}), ratelimit.Options{}, policy(t, "quota", "client_ip", 0, "5/s", "8/hour"))
	if got := h.burst(t, 10, client1); got[200] != 5 {
		t.Fatalf("first second: %v, want 5", got)
	}
	h.clock.Advance(time.Second)
	if got := h.burst(t, 10, client1); got[200] != 3 {
		t.Fatalf("second second: %v, want 3 (8/hour binds)", got)
	}
	h.clock.Advance(time.Minute)
	resp := h.get(t, client1)
	if resp.StatusCode != 429 {
		t.Fatalf("a minute later: %d, want 429 (hour quota spent)", resp.StatusCode)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "3539" {
		t.Fatalf("Retry-After = %q, want 3539 (the hour started 61s ago)", ra)
	}
}

func TestMiddlewarePerKeyIndependence(t *testing.T) {
	h := newHarness(t, memory.New(memory.Config{}), ratelimit.Options{}, policy(t, "per_client", "client_ip", 0, "3/minute"))
	for i := range 20 {
		c := map[string]string{"X-Test-Client": fmt.Sprintf("192.0.2.%d", i+1)}
		if got := h.burst(t, 5, c); got[200] != 3 {
			t.Fatalf("client %d: %v, want 3 admitted each", i, got)
		}
	}
}

func TestMiddlewareSpoofedForwardedForIgnored(t *testing.T) {
	// The key is the gateway's resolved client (Info.ClientIP), never a
	// header the client wrote: rotating X-Forwarded-For buys nothing.
	h := newHarness(t, memory.New(memory.Config{}), ratelimit.Options{}, policy(t, "per_client", "client_ip", 0, "2/minute"))
	ok := 0
	for i := range 10 {
		if h.get(t, map[string]string{"X-Test-Client": "192.0.2.1", "X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i)}).StatusCode == 200 {
			ok++
		}
	}
	if ok != 2 {
		t.Fatalf("admitted %d with rotating X-Forwarded-For, want 2", ok)
	}
}

func TestMiddleware429Response(t *testing.T) {
	h := newHarness(t, memory.New(memory.Config{}), ratelimit.Options{},
		policy(t, "per_client", "client_ip", 0, "2/s burst 1"), policy(t, "daily", "client_ip", 0, "100/day", "10/hour"))
	for i := range 2 {
		resp := h.get(t, client1)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		if got, want := resp.Header.Get("RateLimit-Policy"),
			`"per_client";q=2;w=1;rampart-burst=1, "daily:100/day";q=100;w=86400, "daily:10/hour";q=10;w=3600`; got != want {
			t.Fatalf("RateLimit-Policy = %s\nwant               %s", got, want)
		}
		if i == 0 {
			if got, want := resp.Header.Get("RateLimit"),
				`"per_client";r=1;t=1, "daily:100/day";r=99;t=86400, "daily:10/hour";r=9;t=3600`; got != want {
				t.Fatalf("RateLimit = %s\nwant        %s", got, want)
			}
		}
	}
	h.clock.Advance(200 * time.Millisecond)
	resp := h.get(t, client1)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", resp.StatusCode)
	}
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After = %q, want 1 (300ms rounded up)", got)
	}
	if got, want := resp.Header.Get("RateLimit"), `"per_client";r=0;t=1`; got != want {
		t.Fatalf("RateLimit = %q, want %q", got, want)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/problem+json" {
		t.Fatalf("Content-Type = %q", got)
	}
	var body struct {
		Type, Title, Detail string
		Status              int
		RequestID           string `json:"request_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Type != pipeline.TypePrefix+ratelimit.TypeRateLimited || body.Status != 429 ||
		!strings.Contains(body.Detail, `"per_client"`) || body.RequestID != "req-1" {
		t.Fatalf("problem body = %+v", body)
	}
	if h.calls.Load() != 2 {
		t.Fatalf("handler called %d times, want 2", h.calls.Load())
	}
	h.obs.mu.Lock()
	defer h.obs.mu.Unlock()
	var ex *ratelimit.Exceeded
	if len(h.obs.rejs) != 1 || !errors.As(h.obs.rejs[0].Err, &ex) || ex.Policy != "per_client" {
		t.Fatalf("observer saw %v, want one rejection for per_client", h.obs.rejs)
	}
}

func TestMiddlewareOmitSuccessHeaders(t *testing.T) {
	h := newHarness(t, memory.New(memory.Config{}), ratelimit.Options{OmitSuccessHeaders: true}, policy(t, "p", "client_ip", 0, "1/minute"))
	resp := h.get(t, client1)
	if resp.StatusCode != 200 || resp.Header.Get("RateLimit") != "" || resp.Header.Get("RateLimit-Policy") != "" {
		t.Fatalf("admitted response: %d %v", resp.StatusCode, resp.Header)
	}
	resp = h.get(t, client1)
	if resp.StatusCode != 429 || resp.Header.Get("RateLimit") == "" || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("refusal: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestMiddlewareConcurrencyLimit(t *testing.T) {
	h := newHarness(t, memory.New(memory.Config{}), ratelimit.Options{}, policy(t, "slots", "client_ip", 2, "1000/s"))
	blocking := map[string]string{"X-Test-Client": "192.0.2.1", "X-Test-Block": "1"}
	done := make(chan int, 2)
	for range 2 {
		go func() { done <- h.get(t, blocking).StatusCode }()
	}
	<-h.entered
	<-h.entered // two requests of 192.0.2.1 are in flight now
	resp := h.get(t, client1)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("third concurrent request: %d %v, want 429 with Retry-After", resp.StatusCode, resp.Header)
	}
	var body struct{ Type string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if body.Type != pipeline.TypePrefix+ratelimit.TypeConcurrencyLimited {
		t.Fatalf("type = %q", body.Type)
	}
	if got := h.get(t, map[string]string{"X-Test-Client": "192.0.2.2"}).StatusCode; got != 200 {
		t.Fatalf("another client meanwhile: %d, want 200", got)
	}
	close(h.gate) // finish the two in-flight responses; their slots come back
	for range 2 {
		if got := <-done; got != 200 {
			t.Fatalf("in-flight request ended with %d", got)
		}
	}
	if got := h.get(t, client1).StatusCode; got != 200 {
		t.Fatalf("after the in-flight requests finished: %d, want 200", got)
	}
	if h.calls.Load() != 4 {
		t.Fatalf("handler called %d times, want 4", h.calls.Load())
	}
}

// A request refused for concurrency costs no rate quota.
func TestMiddlewareConcurrencyRefusalChargesNoQuota(t *testing.T) {
	h := newHarness(t, memory.New(memory.Config{}), ratelimit.Options{}, policy(t, "slots", "client_ip", 1, "2/minute"))
	blocking := map[string]string{"X-Test-Client": "192.0.2.1", "X-Test-Block": "1"}
	done := make(chan int, 1)
	go func() { done <- h.get(t, blocking).StatusCode }()
	<-h.entered
	for range 5 {
		if got := h.get(t, client1).StatusCode; got != 429 {
			t.Fatalf("while one is in flight: %d, want 429", got)
		}
	}
	close(h.gate)
	<-done
	if got := h.get(t, client1).StatusCode; got != 200 {
		t.Fatalf("second request of the minute: %d, want 200", got)
	}
}

type failing struct{}

func (failing) Allow(context.Context, string, []ratelimit.Limit, time.Time) (ratelimit.Decision, error) {
	return ratelimit.Decision{}, fmt.Errorf("redis: %w", ratelimit.ErrUnavailable)
}

func TestMiddlewareLimiterError503(t *testing.T) {
	h := newHarness(t, failing{}, ratelimit.Options{}, policy(t, "p", "client_ip", 0, "10/s"))
	resp := h.get(t, client1)
	var body struct{ Type string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 503 || body.Type != pipeline.TypePrefix+ratelimit.TypeUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("got %d %q %v", resp.StatusCode, body.Type, resp.Header)
	}
	if h.calls.Load() != 0 {
		t.Fatal("handler reached while limits could not be checked")
	}
}

func TestMiddlewareKeysByPrincipalAndAPIKey(t *testing.T) {
	h := newHarness(t, memory.New(memory.Config{}), ratelimit.Options{}, policy(t, "per_key", "api_key", 0, "2/minute"))
	alice := map[string]string{"X-Test-Client": "192.0.2.1", "X-Test-Subject": "key-alice", "X-Test-Authn": "partners"}
	aliceElsewhere := map[string]string{"X-Test-Client": "198.51.100.7", "X-Test-Subject": "key-alice", "X-Test-Authn": "partners"}
	bob := map[string]string{"X-Test-Client": "192.0.2.1", "X-Test-Subject": "key-bob", "X-Test-Authn": "partners"}
	if got := h.burst(t, 3, alice); got[200] != 2 {
		t.Fatalf("alice: %v", got)
	}
	if got := h.get(t, aliceElsewhere).StatusCode; got != 429 {
		t.Fatalf("alice's key from another address: %d, want 429 (same key)", got)
	}
	if got := h.burst(t, 3, bob); got[200] != 2 {
		t.Fatalf("bob on alice's address: %v, want his own 2", got)
	}
}
