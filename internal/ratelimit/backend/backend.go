// Package backend opens the rate limit state a gateway runs on, from the two
// config settings that choose it (shared_state, shared_state_failure), so the
// server has one value to create at start, keep across reloads, report in
// /readyz and close at shutdown.
//
// Why a separate package: ratelimit cannot import its own backends (they
// import it), and the server should not need to know which URL means which
// backend.
package backend

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/ratelimit"
	"github.com/rampart-gw/rampart/internal/ratelimit/memory"
	"github.com/rampart-gw/rampart/internal/ratelimit/redis"
)

// Backend is a Limiter plus what outlives a config reload with it.
type Backend struct {
	// Limiter decides; pass it to ratelimit.Middleware.
	Limiter ratelimit.Limiter
	// InFlight counts concurrency; pass it in ratelimit.Options.
	InFlight *ratelimit.InFlight

	url, failure string
	memory       *memory.Limiter // set for memory://
	redis        *redis.Limiter  // set for redis URLs
}

// Open returns the backend for a shared_state URL, a shared_state_failure
// mode and a shared_state_timeout (0 = 250ms). memory:// ignores both. A
// Redis that is down at start is not an error: it is an outage handled by
// the mode, and recovers by itself.
func Open(sharedState, failure string, timeout time.Duration, logger *slog.Logger) (*Backend, error) {
	b := &Backend{InFlight: ratelimit.NewInFlight(), url: sharedState, failure: failure}
	switch {
	case sharedState == "" || sharedState == "memory://":
		b.memory = memory.New(memory.Config{})
		b.Limiter = b.memory
	case strings.HasPrefix(sharedState, "redis://"), strings.HasPrefix(sharedState, "rediss://"),
		strings.HasPrefix(sharedState, "redis+cluster://"), strings.HasPrefix(sharedState, "rediss+cluster://"):
		mode, err := redis.ParseMode(failure)
		if err != nil {
			return nil, err
		}
		l, err := redis.Open(sharedState, redis.Config{Failure: mode, Timeout: timeout, Logger: logger})
		if err != nil {
			return nil, err
		}
		b.redis, b.Limiter = l, l
	default:
		return nil, errors.New("shared_state must be memory:// or a redis URL")
	}
	return b, nil
}

// Same reports whether a reloaded config asks for this very backend, so the
// server can keep it (and its counters) instead of opening a new one.
func (b *Backend) Same(sharedState, failure string) bool {
	if sharedState == "" {
		sharedState = "memory://"
	}
	url := b.url
	if url == "" {
		url = "memory://"
	}
	return url == sharedState && (b.memory != nil || b.failure == failure)
}

// Err is nil while decisions are made by the configured backend; during a
// Redis outage it says why not (whatever the failure mode).
func (b *Backend) Err() error {
	if b.redis != nil {
		return b.redis.Err()
	}
	return nil
}

// For returns the Limiter of a route whose shared_state_failure is mode
// ("" = the global one): the same counters and outage detection, with that
// route's behaviour during a Redis outage. memory:// has no outages.
func (b *Backend) For(mode string) (ratelimit.Limiter, error) {
	if b.redis == nil || mode == "" {
		return b.Limiter, nil
	}
	m, err := redis.ParseMode(mode)
	if err != nil {
		return nil, err
	}
	return b.redis.WithMode(m), nil
}

// Status is the state for /readyz: "up" or "down", the global failure mode
// ("" for memory://), and during an outage its cause.
func (b *Backend) Status() (state, mode string, err error) {
	if b.redis == nil {
		return "up", "", nil
	}
	state, mode, err = "up", b.redis.Health().Mode.String(), b.redis.Err()
	if err != nil {
		state = "down"
	}
	return state, mode, err
}

// Ping checks that a Redis backend answers (memory:// always does).
func (b *Backend) Ping(ctx context.Context) error {
	if b.redis != nil {
		return b.redis.Ping(ctx)
	}
	return nil
}

// Redis returns the Redis limiter, for its Health (metrics), or nil.
func (b *Backend) Redis() *redis.Limiter { return b.redis }

// Memory returns the memory limiter, for its Stats (metrics), or nil.
func (b *Backend) Memory() *memory.Limiter { return b.memory }

// Close releases the Redis connection, if any.
func (b *Backend) Close() error {
	if b.redis != nil {
		return b.redis.Close()
	}
	return nil
}
