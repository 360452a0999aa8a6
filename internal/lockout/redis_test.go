package lockout

import (
	"context"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/ratelimit/redistest"
)

// Two replicas (two clients) on one Redis share failures and lockouts.
func TestRedisSharedAcrossReplicas(t *testing.T) {
	r := redistest.Shared(t)
	a, b := NewRedis(r.Client(t), r.Prefix), NewRedis(r.Client(t), r.Prefix)
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
	be := NewRedis(r.Client(t), r.Prefix)
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
