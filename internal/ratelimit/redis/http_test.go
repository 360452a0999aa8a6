package redis_test

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/ratelimit"
	"github.com/rampart-gw/rampart/internal/ratelimit/redis"
	"github.com/rampart-gw/rampart/internal/ratelimit/redistest"
)

// gateway is one replica: Info as the gateway sets it, the rate limit
// middleware on a Redis limiter, and an upstream stand-in that counts calls.
func gateway(t *testing.T, l ratelimit.Limiter, upstream *atomic.Int64, limits ...string) *httptest.Server {
	t.Helper()
	k, _ := ratelimit.ParseKey("client_ip", nil)
	p, err := ratelimit.NewPolicy("per_client", k, limitsOf(t, limits...), 0)
	if err != nil {
		t.Fatal(err)
	}
	h := ratelimit.Middleware([]*ratelimit.Policy{p}, l, nil, ratelimit.Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstream.Add(1)
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, pipeline.WithInfo(r, &pipeline.Info{ID: "r", ClientIP: "192.0.2.1", Route: "items"}))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func limitsOf(t *testing.T, ss ...string) []ratelimit.Limit { return limits(t, ss...) }

func statuses(t *testing.T, urls []string, n int) map[int]int {
	t.Helper()
	got, _ := timedStatuses(t, urls, n)
	return got
}

// Three gateways sharing one Redis, a concurrent burst over HTTP spread over
// all three: exactly the limit reaches the upstreams, the rest get 429.
func TestThreeGatewaysOverHTTP(t *testing.T) {
	r := redistest.Shared(t)
	var upstream atomic.Int64
	var urls []string
	for range 3 {
		urls = append(urls, gateway(t, newLimiter(t, r.URL, r.Prefix, redis.Config{}), &upstream, "1/minute burst 24").URL)
	}
	got := statuses(t, urls, 150)
	if got[200] != 25 || got[429] != 125 || upstream.Load() != 25 {
		t.Fatalf("statuses %v, upstream reached %d times; want 25 admitted in total", got, upstream.Load())
	}
}

// fail_closed over HTTP: 503 problems while Redis is down, nothing reaches
// the upstream, and service resumes when Redis is back.
func TestFailClosedOverHTTP(t *testing.T) {
	srv := redistest.Start(t)
	l := newLimiter(t, srv.URL, "http:", redis.Config{Failure: redis.FailClosed, ProbeInterval: 20 * time.Millisecond})
	var upstream atomic.Int64
	gw := gateway(t, l, &upstream, "100/minute")
	if got := statuses(t, []string{gw.URL}, 5); got[200] != 5 {
		t.Fatalf("before: %v", got)
	}
	srv.Stop()
	if got := statuses(t, []string{gw.URL}, 20); got[503] != 20 {
		t.Fatalf("during the outage: %v, want 20×503", got)
	}
	if upstream.Load() != 5 {
		t.Fatalf("upstream reached %d times, want 5", upstream.Load())
	}
	srv.Restart(t)
	waitFor(t, "recovery", func() bool { return l.Health().Up })
	if got := statuses(t, []string{gw.URL}, 5); got[200] != 5 {
		t.Fatalf("after recovery: %v", got)
	}
}

// Issue 14: a hung Redis (SIGSTOP: connections stay open, nothing answers)
// stalled every in-flight request ~3s at 64 connections, although the
// decision timeout is 250ms. Now each of 64 concurrent requests through a
// rate-limited route gets the failure mode's answer within a generous 1s,
// and once Redis continues, decisions are Redis's and exact again.
func TestHungRedisCostsAtMostTheDecisionTimeout(t *testing.T) {
	modes := []struct {
		mode redis.Mode
		want map[int]int // statuses of the 64 requests during the hang
	}{
		{redis.FailClosed, map[int]int{503: 64}},
		{redis.FailOpen, map[int]int{200: 64}},
		{redis.Local, map[int]int{200: 10, 429: 54}}, // the in-memory "1/minute burst 9"
	}
	for _, m := range modes {
		for _, noPipe := range []bool{false, true} {
			name := m.mode.String() + map[bool]string{false: "/autopipeline", true: "/pool"}[noPipe]
			t.Run(name, func(t *testing.T) {
				srv := redistest.Start(t) // private: only a server this test started is paused
				l := newLimiter(t, srv.URL, "hang:", redis.Config{Failure: m.mode, Timeout: 250 * time.Millisecond,
					ProbeInterval: 20 * time.Millisecond, NoAutoPipeline: noPipe})
				var upstream atomic.Int64
				gw := gateway(t, l, &upstream, "1/minute burst 9")
				if got := statuses(t, []string{gw.URL}, 1); got[200] != 1 {
					t.Fatalf("before the hang: %v", got)
				}

				srv.Pause(t)
				got, slowest := timedStatuses(t, []string{gw.URL}, 64)
				if slowest > time.Second {
					t.Errorf("slowest request took %s during the hang; want < 1s (decision timeout 250ms)", slowest)
				}
				if !maps.Equal(got, m.want) {
					t.Errorf("statuses during the hang: %v, want %v", got, m.want)
				}

				srv.Resume(t)
				waitFor(t, "recovery", func() bool { return l.Health().Up })
				// Decisions abandoned during the hang may still have run in
				// Redis when it continued: start the window afresh.
				c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
				defer c.Close()
				endWindows(t, c, "hang:*")
				if got := statuses(t, []string{gw.URL}, 30); got[200] != 10 || got[429] != 20 {
					t.Errorf("after the hang: %v, want exactly 10 admitted by Redis", got)
				}
			})
		}
	}
}

// timedStatuses sends n requests at once, spread over urls, and returns
// their statuses and the longest time one took.
func timedStatuses(t *testing.T, urls []string, n int) (map[int]int, time.Duration) {
	t.Helper()
	var (
		mu      sync.Mutex
		got     = map[int]int{}
		slowest time.Duration
		wg      sync.WaitGroup
	)
	start := make(chan struct{})
	for i := range n {
		u := urls[i%len(urls)]
		wg.Go(func() {
			<-start
			began := time.Now()
			resp, err := http.Get(u)
			el := time.Since(began)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			got[resp.StatusCode]++
			slowest = max(slowest, el)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return got, slowest
}
