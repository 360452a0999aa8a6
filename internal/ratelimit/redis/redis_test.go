package redis_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rampart-gw/rampart/internal/ratelimit"
	"github.com/rampart-gw/rampart/internal/ratelimit/memory"
	"github.com/rampart-gw/rampart/internal/ratelimit/redis"
	"github.com/rampart-gw/rampart/internal/ratelimit/redistest"
)

func limits(t testing.TB, ss ...string) []ratelimit.Limit {
	t.Helper()
	var out []ratelimit.Limit
	for _, s := range ss {
		l, err := ratelimit.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// newLimiter opens a Limiter with its own client on r, under r's prefix.
// Without a Timeout it gets a generous one: the exactness tests send bursts
// of cold decisions on a shared, loaded machine, and a decision refused for
// being slow is not what they test (the hang test sets its own).
func newLimiter(t testing.TB, url, prefix string, cfg redis.Config) *redis.Limiter {
	t.Helper()
	cfg.Prefix = prefix
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	l, err := redis.Open(url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// burst runs n simultaneous decisions spread over the limiters and returns
// how many were admitted.
func burst(t testing.TB, ls []*redis.Limiter, key string, lim []ratelimit.Limit, n int) int {
	t.Helper()
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		l := ls[i%len(ls)]
		wg.Go(func() {
			<-start
			d, err := l.Allow(context.Background(), key, lim, time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			if d.Degraded {
				t.Error("decision made without Redis")
			}
			if d.Allowed {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	return ok
}

// endWindows moves every state of key past its end, as if its time had
// passed: PEXPIREAT in the past deletes the key at once. This is how the
// tests skip a minute without sleeping (Redis keeps the time, not us).
func endWindows(t testing.TB, c *goredis.Client, pattern string) {
	t.Helper()
	ctx := context.Background()
	keys, err := c.Keys(ctx, pattern).Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys %q: %v %v", pattern, keys, err)
	}
	for _, k := range keys {
		c.PExpireAt(ctx, k, time.Unix(1, 0))
	}
}

// nginx rate=1r/m burst=20 nodelay: 21 of 100 simultaneous requests. (A slow
// rate keeps regeneration out of a burst that takes a few milliseconds.)
func TestRedisNginxBurstCount(t *testing.T) {
	r := redistest.Shared(t)
	l := newLimiter(t, r.URL, r.Prefix, redis.Config{})
	if got := burst(t, []*redis.Limiter{l}, "k", limits(t, "1/minute burst 20"), 100); got != 21 {
		t.Fatalf("admitted %d of 100, want 21", got)
	}
}

func TestRedisExactTenPerMinute(t *testing.T) {
	r := redistest.Shared(t)
	c := r.Client(t)
	l := newLimiter(t, r.URL, r.Prefix, redis.Config{})
	lim := limits(t, "10/minute")
	if got := burst(t, []*redis.Limiter{l}, "k", lim, 30); got != 10 {
		t.Fatalf("admitted %d of 30, want 10", got)
	}
	d, err := l.Allow(context.Background(), "k", lim, time.Now())
	if err != nil || d.Allowed || d.RetryAfter < 59*time.Second || d.RetryAfter > time.Minute {
		t.Fatalf("11th: %+v %v, want refused for about a minute", d, err)
	}
	endWindows(t, c, r.Prefix+"*")
	if got := burst(t, []*redis.Limiter{l}, "k", lim, 30); got != 10 {
		t.Fatalf("next window: admitted %d of 30, want 10", got)
	}
}

func TestRedisMultipleWindows(t *testing.T) {
	r := redistest.Shared(t)
	c := r.Client(t)
	l := newLimiter(t, r.URL, r.Prefix, redis.Config{})
	lim := limits(t, "5/minute", "8/hour")
	if got := burst(t, []*redis.Limiter{l}, "k", lim, 20); got != 5 {
		t.Fatalf("first minute: %d, want 5", got)
	}
	endWindows(t, c, r.Prefix+"*:5/60s")
	if got := burst(t, []*redis.Limiter{l}, "k", lim, 20); got != 3 {
		t.Fatalf("second minute: %d, want 3 (8/hour binds)", got)
	}
	d, _ := l.Allow(context.Background(), "k", lim, time.Now())
	if d.Allowed || d.Limits[0].Remaining != 2 || d.Limits[1].Remaining != 0 || d.RetryAfter < 59*time.Minute {
		t.Fatalf("after the hour quota: %+v", d)
	}
}

func TestRedisPerKeyIndependence(t *testing.T) {
	r := redistest.Shared(t)
	l := newLimiter(t, r.URL, r.Prefix, redis.Config{})
	lim := limits(t, "3/minute")
	for i := range 20 {
		if got := burst(t, []*redis.Limiter{l}, "client-"+strconv.Itoa(i), lim, 6); got != 3 {
			t.Fatalf("client %d: %d, want 3", i, got)
		}
	}
}

// The same sequence gives the same counts from Redis as from memory.
func TestRedisAgreesWithMemory(t *testing.T) {
	r := redistest.Shared(t)
	rl := newLimiter(t, r.URL, r.Prefix, redis.Config{})
	ml := memory.New(memory.Config{})
	for _, spec := range [][]string{{"10/minute"}, {"1/hour burst 5"}, {"4/minute", "1/day burst 6"}} {
		lim := limits(t, spec...)
		key := "agree-" + spec[0]
		for i := range 12 {
			rd, err := rl.Allow(context.Background(), key, lim, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			md, _ := ml.Allow(context.Background(), key, lim, time.Now())
			if rd.Allowed != md.Allowed {
				t.Fatalf("%v request %d: redis %v, memory %v", spec, i, rd.Allowed, md.Allowed)
			}
			for j := range lim {
				if rd.Limits[j].Remaining != md.Limits[j].Remaining {
					t.Fatalf("%v request %d limit %d: remaining redis %d, memory %d", spec, i, j, rd.Limits[j].Remaining, md.Limits[j].Remaining)
				}
			}
		}
	}
}

// Three gateway replicas (three limiters, three clients) sharing one Redis
// admit exactly the limit in total under a concurrent burst.
func TestRedisThreeReplicasShareExactly(t *testing.T) {
	r := redistest.Shared(t)
	var replicas []*redis.Limiter
	for range 3 {
		replicas = append(replicas, newLimiter(t, r.URL, r.Prefix, redis.Config{}))
	}
	if got := burst(t, replicas, "window", limits(t, "50/minute"), 300); got != 50 {
		t.Fatalf("50/minute: three replicas admitted %d of 300, want 50", got)
	}
	if got := burst(t, replicas, "gcra", limits(t, "1/minute burst 29"), 300); got != 30 {
		t.Fatalf("1/minute burst 29: three replicas admitted %d of 300, want 30", got)
	}
	if got := burst(t, replicas, "both", limits(t, "20/minute", "1/hour burst 99"), 300); got != 20 {
		t.Fatalf("two limits: three replicas admitted %d of 300, want 20", got)
	}
}

// waitFor polls cond: the probe runs on its own schedule and reports through
// Health, and nothing else tells when it has succeeded.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Redis stopped mid-run, then restarted: each shared_state_failure mode does
// what it documents, and decisions return to Redis by themselves.
func TestRedisOutageAndRecovery(t *testing.T) {
	srv := redistest.Start(t) // a private server: the shared one is never stopped
	lim := limits(t, "3/minute")
	type check func(t *testing.T, d ratelimit.Decision, err error, i int)
	modes := []struct {
		mode  redis.Mode
		check check
	}{
		{redis.FailClosed, func(t *testing.T, d ratelimit.Decision, err error, i int) {
			if !errors.Is(err, ratelimit.ErrUnavailable) || d.Allowed {
				t.Fatalf("fail_closed decision %d: %+v %v, want ErrUnavailable", i, d, err)
			}
		}},
		{redis.FailOpen, func(t *testing.T, d ratelimit.Decision, err error, i int) {
			if err != nil || !d.Allowed || !d.Degraded || !d.Unlimited {
				t.Fatalf("fail_open decision %d: %+v %v, want admitted, degraded, unlimited", i, d, err)
			}
		}},
		{redis.Local, func(t *testing.T, d ratelimit.Decision, err error, i int) {
			if err != nil || !d.Degraded || d.Allowed != (i < 3) {
				t.Fatalf("local decision %d: %+v %v, want the in-memory 3/minute (first 3 admitted)", i, d, err)
			}
		}},
	}
	for _, m := range modes {
		for _, noPipe := range []bool{false, true} {
			name := m.mode.String()
			if noPipe {
				name += "/pool"
			} else {
				name += "/autopipeline"
			}
			t.Run(name, func(t *testing.T) {
				l := newLimiter(t, srv.URL, "outage-"+name+":", redis.Config{Failure: m.mode, ProbeInterval: 20 * time.Millisecond, NoAutoPipeline: noPipe})
				ctx := context.Background()
				if d, err := l.Allow(ctx, "k", lim, time.Now()); err != nil || !d.Allowed || d.Degraded {
					t.Fatalf("before the outage: %+v %v", d, err)
				}
				srv.Stop()
				for i := range 6 {
					d, err := l.Allow(ctx, "fresh-key", lim, time.Now())
					m.check(t, d, err, i)
				}
				h := l.Health()
				if h.Up || h.Outages != 1 || h.LastError == "" || h.DegradedDecisions != 6 || l.Err() == nil {
					t.Fatalf("health during the outage: %+v, err %v", h, l.Err())
				}
				srv.Restart(t)
				waitFor(t, "recovery", func() bool { return l.Health().Up })
				if l.Err() != nil {
					t.Fatal(l.Err())
				}
				d, err := l.Allow(ctx, "k", lim, time.Now())
				if err != nil || !d.Allowed || d.Degraded || d.Limits[0].Remaining != 2 {
					// The restarted server is empty: "k" starts a new window.
					t.Fatalf("after recovery: %+v %v, want a Redis decision", d, err)
				}
			})
		}
	}
}

// An unreachable Redis at start is an outage like any other: no error from
// Open, decisions follow the mode at once.
func TestRedisUnreachableAtStart(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	l := newLimiter(t, srv.URL, "x:", redis.Config{Failure: redis.FailClosed, ProbeInterval: time.Hour})
	start := time.Now()
	_, err := l.Allow(context.Background(), "k", limits(t, "1/s"), time.Now())
	if !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	// Later decisions do not wait on the dead server.
	for range 100 {
		l.Allow(context.Background(), "k", limits(t, "1/s"), time.Now())
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("101 decisions against a dead Redis took %s", el)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]redis.Mode{"": redis.FailClosed, "fail_closed": redis.FailClosed, "fail_open": redis.FailOpen, "local": redis.Local} {
		if got, err := redis.ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := redis.ParseMode("open"); err == nil {
		t.Error("ParseMode(open) succeeded")
	}
}

func TestOpenRejectsOtherURLs(t *testing.T) {
	for _, u := range []string{"memory://", "http://x", "redis://user:s3cret@[::1"} {
		_, err := redis.Open(u, redis.Config{})
		if err == nil {
			t.Errorf("Open(%q) succeeded", u)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) error leaks the password: %v", u, err)
		}
	}
}

// On a real Redis Cluster (three masters), three replicas admit exactly the
// limit in total too: each key's counters live in one slot (hash tag), and
// keys spread over the nodes.
func TestRedisClusterReplicasShareExactly(t *testing.T) {
	cl := redistest.StartCluster(t)
	var replicas []*redis.Limiter
	for range 3 {
		replicas = append(replicas, newLimiter(t, cl.URL, "rl:", redis.Config{}))
	}
	for i, key := range []string{"alpha", "bravo", "charlie", "delta"} { // several keys: several slots, several nodes
		if got := burst(t, replicas, key, limits(t, "20/minute", "1/hour burst 99"), 120); got != 20 {
			t.Fatalf("key %d: three replicas admitted %d of 120 over the cluster, want 20", i, got)
		}
	}
}
