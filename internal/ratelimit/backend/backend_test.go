package backend_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/ratelimit"
	"github.com/rampart-gw/rampart/internal/ratelimit/backend"
	"github.com/rampart-gw/rampart/internal/ratelimit/redistest"
)

func TestOpenMemory(t *testing.T) {
	b, err := backend.Open("memory://", "fail_closed", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Memory() == nil || b.Redis() != nil || b.Err() != nil || b.Ready() != nil {
		t.Fatalf("memory backend: %+v", b)
	}
	if !b.Same("memory://", "local") || b.Same("redis://127.0.0.1:6379", "fail_closed") {
		t.Fatal("Same")
	}
}

func TestOpenRedisReadiness(t *testing.T) {
	srv := redistest.Start(t)
	for _, tt := range []struct {
		failure   string
		readyDown bool // ready while Redis is down
	}{{"fail_closed", false}, {"fail_open", true}, {"local", true}} {
		t.Run(tt.failure, func(t *testing.T) {
			b, err := backend.Open(srv.URL, tt.failure, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if !b.Same(srv.URL, tt.failure) || b.Same(srv.URL, "other") {
				t.Fatal("Same")
			}
			l, _ := ratelimit.Parse("10/s")
			if _, err := b.Limiter.Allow(context.Background(), "k", []ratelimit.Limit{l}, time.Now()); err != nil || b.Ready() != nil {
				t.Fatalf("up: %v %v", err, b.Ready())
			}
			srv.Stop()
			defer srv.Restart(t)
			b.Limiter.Allow(context.Background(), "k", []ratelimit.Limit{l}, time.Now())
			if !errors.Is(b.Err(), ratelimit.ErrUnavailable) {
				t.Fatalf("Err during the outage = %v", b.Err())
			}
			if (b.Ready() == nil) != tt.readyDown {
				t.Fatalf("Ready during the outage = %v", b.Ready())
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	if _, err := backend.Open("etcd://x", "fail_closed", 0, nil); err == nil {
		t.Fatal("etcd accepted")
	}
	if _, err := backend.Open("redis://127.0.0.1:1", "sometimes", 0, nil); err == nil {
		t.Fatal("bad failure mode accepted")
	}
}
