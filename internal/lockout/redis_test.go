package lockout

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rampart-gw/rampart/internal/pipeline"

	"github.com/rampart-gw/rampart/internal/ratelimit/redistest"
)

// Two replicas (two clients) on one Redis share failures and lockouts.
func TestRedisSharedAcrossReplicas(t *testing.T) {
	r := redistest.Shared(t)
	a, b := NewRedis(r.Client(t), r.Prefix, 0), NewRedis(r.Client(t), r.Prefix, 0)
	ctx := context.Background()
	p := Policy{MaxFailures: 3, Window: time.Minute, Duration: 5 * time.Minute}
	now := time.Now()
	for i, be := range []*Redis{a, b} {
		until, err := be.Fail(ctx, "ip:198.51.100.7", now.Add(time.Duration(i)*time.Second), p)
		if err != nil || !until.IsZero() {
			t.Fatalf("failure %d: until %v err %v", i+1, until, err)
		}
	}
	until, err := a.Fail(ctx, "ip:198.51.100.7", now.Add(2*time.Second), p)
	if err != nil || until.IsZero() {
		t.Fatalf("third failure across replicas did not lock: %v %v", until, err)
	}
	for _, be := range []*Redis{a, b} {
		got, err := be.Locked(ctx, "ip:198.51.100.7", now.Add(3*time.Second))
		if err != nil || !got.Equal(until) {
			t.Fatalf("Locked = %v, %v; want %v", got, err, until)
		}
	}
	if got, _ := b.Locked(ctx, "ip:198.51.100.7", until.Add(time.Second)); !got.IsZero() {
		t.Errorf("still locked after the lockout ended: %v", got)
	}
	if got, _ := b.Locked(ctx, "ip:203.0.113.1", now); !got.IsZero() {
		t.Errorf("another client is locked: %v", got)
	}
}

// Failures older than the window do not count.
func TestRedisWindowSlides(t *testing.T) {
	r := redistest.Shared(t)
	be := NewRedis(r.Client(t), r.Prefix, 0)
	ctx := context.Background()
	p := Policy{MaxFailures: 2, Window: time.Minute, Duration: time.Minute}
	now := time.Now()
	if until, err := be.Fail(ctx, "k", now, p); err != nil || !until.IsZero() {
		t.Fatal(until, err)
	}
	if until, err := be.Fail(ctx, "k", now.Add(2*time.Minute), p); err != nil || !until.IsZero() {
		t.Fatalf("a failure outside the window counted: %v %v", until, err)
	}
	if until, err := be.Fail(ctx, "k", now.Add(2*time.Minute+time.Second), p); err != nil || until.IsZero() {
		t.Fatalf("two failures inside the window did not lock: %v %v", until, err)
	}
}

// Issue 14: a hung Redis (SIGSTOP) must cost a request at most the timeout,
// then the failure mode answers: fail_closed refuses with 503, fail_open
// lets the request through, local counts in memory. After SIGCONT the
// counters are Redis's again.
func TestHungRedisCostsAtMostTheTimeout(t *testing.T) {
	srv := redistest.Start(t) // private: only a server this test started is paused
	be, err := OpenRedis(srv.URL, 250*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	p := Policy{MaxFailures: 3, Window: time.Minute, Duration: time.Minute}
	cfg := Config{MaxFailures: p.MaxFailures, Window: p.Window, Duration: p.Duration}
	closed, _ := New(cfg, be)
	cfg.FailOpen = true
	open, _ := New(cfg, be)
	local := NewMemory(MemoryOptions{})
	cfg.FailOpen = false
	withLocal, _ := New(cfg, WithFallback(be, local))

	srv.Pause(t)
	for _, tc := range []struct {
		name   string
		lo     *Lockout
		status int // 0: let through
	}{
		{"fail_closed", closed, http.StatusServiceUnavailable},
		{"fail_open", open, 0},
		{"local", withLocal, 0},
	} {
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				r := httptest.NewRequest("GET", "/", nil)
				r.RemoteAddr = fmt.Sprintf("198.51.100.%d:1234", i)
				began := time.Now()
				err := tc.lo.Check(r)
				if el := time.Since(began); el > time.Second {
					t.Errorf("%s: a check took %s against a hung Redis; want < 1s (timeout 250ms)", tc.name, el)
				}
				var rej *pipeline.Rejection
				switch {
				case tc.status == 0 && err != nil:
					t.Errorf("%s: %v, want the request let through", tc.name, err)
				case tc.status != 0 && (!errors.As(err, &rej) || rej.Status != tc.status):
					t.Errorf("%s: %v, want %d", tc.name, err, tc.status)
				}
			})
		}
		wg.Wait()
	}
	// local counted in memory while Redis hung.
	now := time.Now()
	for range 3 {
		withLocal.backend.Fail(context.Background(), "ip:203.0.113.9", now, p)
	}
	if until, _ := local.Locked(context.Background(), "ip:203.0.113.9", now); until.IsZero() {
		t.Error("local: failures during the hang were not counted in memory")
	}

	srv.Resume(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := be.Fail(context.Background(), "ip:192.0.2.1", time.Now(), p); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis not used again within 10s of SIGCONT")
		}
		time.Sleep(50 * time.Millisecond) // the backend retries Redis retryAfterFailure after a failure
	}
	for range 2 {
		if _, err := be.Fail(context.Background(), "ip:192.0.2.1", time.Now(), p); err != nil {
			t.Fatal(err)
		}
	}
	// Another replica (another client) sees the lockout: it is in Redis.
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer c.Close()
	if until, err := NewRedis(c, "", 0).Locked(context.Background(), "ip:192.0.2.1", time.Now()); err != nil || until.IsZero() {
		t.Fatalf("after SIGCONT: three failures did not lock in Redis: %v %v", until, err)
	}
}
