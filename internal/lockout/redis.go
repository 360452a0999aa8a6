package lockout

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Redis keeps lockout counters in Redis, so every replica sharing it sees
// the same failures and the same lockouts (a client cannot spread its guesses
// over replicas). Counting a failure is one atomic script; failures are
// stamped with the replica's clock, so replicas are assumed to be
// NTP-synchronised to well under the window.
//
// Keys: PREFIX+key+":f" is a sorted set of failure times (unix ms) and
// PREFIX+key+":l" holds the lockout end; both expire by themselves.
//
// A hung or unreachable Redis costs a request at most the timeout: every
// call runs under it, the client's own dial, read, write and pool timeouts
// are no longer (OpenRedis), and nothing is retried. After a failure, calls
// fail at once for retryAfterFailure, so an outage does not cost every
// request the timeout; the Lockout's failure mode answers meanwhile.
type Redis struct {
	client  *goredis.Client
	prefix  string
	timeout time.Duration
	retryAt atomic.Int64 // unix nanoseconds; until then calls fail at once
}

var _ Backend = (*Redis)(nil)

// defaultRedisTimeout bounds one call when NewRedis or OpenRedis get 0; it
// is shared_state_timeout's default.
const defaultRedisTimeout = 250 * time.Millisecond

// retryAfterFailure is how long calls fail without asking Redis after one
// failed (the rate limiter's probe interval too).
const retryAfterFailure = 500 * time.Millisecond

// errRedisDown is returned while calls are skipped after a failure.
var errRedisDown = errors.New("lockout: redis failed recently; not asking it again yet")

// NewRedis uses client (owned by the caller) with prefix ("" = "rampart:lo:"),
// bounding every call by timeout (0 = defaultRedisTimeout).
func NewRedis(client *goredis.Client, prefix string, timeout time.Duration) *Redis {
	if prefix == "" {
		prefix = "rampart:lo:"
	}
	if timeout <= 0 {
		timeout = defaultRedisTimeout
	}
	return &Redis{client: client, prefix: prefix, timeout: timeout}
}

// OpenRedis connects to a redis:// or rediss:// URL; every call is bounded by
// timeout (0 = defaultRedisTimeout), and so are the client's own timeouts.
func OpenRedis(url string, timeout time.Duration) (*Redis, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("lockout: shared_state: %w", err)
	}
	if timeout <= 0 {
		timeout = defaultRedisTimeout
	}
	// A failed decision is reported, not retried behind the request's back
	// (a dial is tried once, not go-redis's default 5 times).
	opt.MaxRetries, opt.DialerRetries = -1, 1
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout, timeout
	return NewRedis(goredis.NewClient(opt), "", timeout), nil
}

// Close closes the client.
func (r *Redis) Close() error { return r.client.Close() }

// call runs fn under the timeout, unless Redis failed within
// retryAfterFailure.
func (r *Redis) call(ctx context.Context, fn func(context.Context) error) error {
	if time.Now().UnixNano() < r.retryAt.Load() {
		return errRedisDown
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	err := fn(ctx)
	if err != nil && !errors.Is(err, goredis.Nil) {
		r.retryAt.Store(time.Now().Add(retryAfterFailure).UnixNano())
	}
	return err
}

// Locked implements Backend.
func (r *Redis) Locked(ctx context.Context, key string, now time.Time) (time.Time, error) {
	var v string
	err := r.call(ctx, func(ctx context.Context) (err error) {
		v, err = r.client.Get(ctx, r.prefix+key+":l").Result()
		return err
	})
	if errors.Is(err, goredis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("lockout: corrupt lock value")
	}
	if until := time.UnixMilli(ms); until.After(now) {
		return until, nil
	}
	return time.Time{}, nil
}

// failScript records a failure and locks the key at the max-th failure in
// the window, atomically: KEYS = fails, lock; ARGV = now, window, max,
// duration, a unique member. Times are milliseconds: Lua numbers are
// doubles, exact only up to 2^53 (unix nanoseconds are not).
var failScript = goredis.NewScript(`
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local dur = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], window)
if redis.call('ZCARD', KEYS[1]) >= max then
  redis.call('DEL', KEYS[1])
  local untl = now + dur
  redis.call('SET', KEYS[2], string.format('%d', untl), 'PX', dur)
  return string.format('%d', untl)
end
return '0'
`)

// Fail implements Backend.
func (r *Redis) Fail(ctx context.Context, key string, now time.Time, p Policy) (time.Time, error) {
	member := strconv.FormatInt(now.UnixNano(), 10) + ":" + strconv.FormatUint(rand.Uint64(), 36)
	var v string
	err := r.call(ctx, func(ctx context.Context) (err error) {
		v, err = failScript.Run(ctx, r.client, []string{r.prefix + key + ":f", r.prefix + key + ":l"},
			now.UnixMilli(), max(p.Window.Milliseconds(), 1), p.MaxFailures, max(p.Duration.Milliseconds(), 1), member).Text()
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}, err
	}
	return time.UnixMilli(ms), nil
}

// WithFallback answers from local whenever primary fails (shared_state_failure:
// local): during a Redis outage each replica keeps a lockout of its own
// instead of refusing or admitting everyone.
func WithFallback(primary, local Backend) Backend { return fallback{primary, local} }

type fallback struct{ primary, local Backend }

func (f fallback) Locked(ctx context.Context, key string, now time.Time) (time.Time, error) {
	t, err := f.primary.Locked(ctx, key, now)
	if err != nil {
		return f.local.Locked(ctx, key, now)
	}
	return t, nil
}

func (f fallback) Fail(ctx context.Context, key string, now time.Time, p Policy) (time.Time, error) {
	t, err := f.primary.Fail(ctx, key, now, p)
	if err != nil {
		return f.local.Fail(ctx, key, now, p)
	}
	return t, nil
}
