package ratelimit

import (
	"context"
	"errors"
	"time"
)

// MaxLimits is the most limits one policy may have. Decisions carry their
// per-limit states in a fixed array so that deciding allocates nothing.
const MaxLimits = 8

// Limiter decides requests. Implementations: memory.Limiter (one node) and
// redis.Limiter (shared by every replica).
type Limiter interface {
	// Allow decides one request for key against every limit at once: it is
	// admitted only if each limit has room, and only then is each charged,
	// so a request refused by one limit uses none of the others' quota.
	// len(limits) is at most MaxLimits. now is the decision time for
	// backends that keep time themselves (memory); backends that take time
	// from a shared server (Redis) ignore it. A non-nil error means no
	// decision could be made (the shared store is unreachable and the
	// limiter is configured to fail closed).
	Allow(ctx context.Context, key string, limits []Limit, now time.Time) (Decision, error)
}

// Decision is the outcome of Allow.
type Decision struct {
	Allowed bool
	// RetryAfter is, for a refused request, how long until the same request
	// would be admitted by every limit. Zero when Allowed.
	RetryAfter time.Duration
	// Limits holds the state of limits[i] after the decision, for the
	// RateLimit header; only the first len(limits) entries are set.
	Limits [MaxLimits]LimitState
	// Degraded is set when the decision was not made by the configured
	// backend (Redis unreachable; fail_open or local mode decided instead).
	// Limits is then meaningless for fail_open and per-replica for local.
	Degraded bool
	// Unlimited is set by fail_open: nothing was counted, so no RateLimit
	// header should describe the request.
	Unlimited bool
}

// LimitState is one limit's view of a key after a decision.
type LimitState struct {
	Remaining  int64         // requests that would be admitted right now
	Reset      time.Duration // until the quota is whole again
	RetryAfter time.Duration // until one more request would be admitted; 0 if Remaining > 0
}

// ErrUnavailable is returned (wrapped) by limiters that cannot decide, such as
// a Redis limiter failing closed while Redis is unreachable.
var ErrUnavailable = errors.New("rate limit state unavailable")

// Decide applies limits to the states in st (one per limit, Fresh for a key
// never seen) at now and, when the request is admitted, writes the new states
// back into st. It is the whole algorithm that in-process backends share; the
// Redis script is its transcription.
func Decide(limits []Limit, st *[MaxLimits]State, now int64) Decision {
	var d Decision
	var next [MaxLimits]State
	d.Allowed = true
	for i, l := range limits {
		ok, n := l.Take(st[i], now)
		next[i] = n
		if !ok {
			d.Allowed = false
		}
	}
	if d.Allowed {
		for i := range limits {
			st[i] = next[i]
		}
	}
	for i, l := range limits {
		v := l.View(st[i], now)
		d.Limits[i] = v
		if !d.Allowed {
			d.RetryAfter = max(d.RetryAfter, v.RetryAfter)
		}
	}
	return d
}
