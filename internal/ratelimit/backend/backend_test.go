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
	if b.Memory() == nil || b.Redis() != nil || b.Err() != nil {
		t.Fatalf("memory backend: %+v", b)
	}
	if state, mode, err := b.Status(); state != "up" || mode != "" || err != nil {
		t.Fatalf("memory Status = %s %q %v", state, mode, err)
	}
	if l, err := b.For("fail_open"); err != nil || l != b.Limiter {
		t.Fatalf("memory For = %v %v, want its one limiter", l, err)
	}
	if !b.Same("memory://", "local") || b.Same("redis://127.0.0.1:6379", "fail_closed") {
		t.Fatal("Same")
	}
}

// TestOpenRedisOutage: a Redis outage is reported by Status (down, with the
// global mode) whatever the mode, and each route's limiter (For) applies its
// own mode: fail_closed refuses, fail_open admits, local counts per node.
func TestOpenRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	for _, global := range []string{"fail_closed", "fail_open", "local"} {
		t.Run(global, func(t *testing.T) {
			b, err := backend.Open(srv.URL, global, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if !b.Same(srv.URL, global) || b.Same(srv.URL, "other") {
				t.Fatal("Same")
			}
			l, _ := ratelimit.Parse("1/m")
			limits := []ratelimit.Limit{l}
			if _, err := b.Limiter.Allow(context.Background(), "k", limits, time.Now()); err != nil {
				t.Fatalf("up: %v", err)
			}
			if state, mode, err := b.Status(); state != "up" || mode != global || err != nil {
				t.Fatalf("Status while up = %s %s %v", state, mode, err)
			}
			srv.Stop()
			defer srv.Restart(t)
			b.Limiter.Allow(context.Background(), "k", limits, time.Now())
			if !errors.Is(b.Err(), ratelimit.ErrUnavailable) {
				t.Fatalf("Err during the outage = %v", b.Err())
			}
			if state, mode, err := b.Status(); state != "down" || mode != global || err == nil {
				t.Fatalf("Status during the outage = %s %s %v", state, mode, err)
			}
			for _, tt := range []struct {
				mode       string
				wantErr    bool
				wantSecond bool // a second request for the same key, limit 1/m
			}{{"fail_closed", true, false}, {"fail_open", false, true}, {"local", false, false}, {"", global == "fail_closed", global == "fail_open"}} {
				lim, err := b.For(tt.mode)
				if err != nil {
					t.Fatal(err)
				}
				key := "route-" + tt.mode
				d1, err1 := lim.Allow(context.Background(), key, limits, time.Now())
				d2, _ := lim.Allow(context.Background(), key, limits, time.Now())
				if (err1 != nil) != tt.wantErr {
					t.Errorf("For(%q): err %v, want error %v", tt.mode, err1, tt.wantErr)
				}
				if !tt.wantErr && (!d1.Allowed || d2.Allowed != tt.wantSecond) {
					t.Errorf("For(%q): first %v second %v, want true %v", tt.mode, d1.Allowed, d2.Allowed, tt.wantSecond)
				}
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
