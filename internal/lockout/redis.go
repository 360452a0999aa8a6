package lockout

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
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
type Redis struct {
	client *goredis.Client
	prefix string
}

var _ Backend = (*Redis)(nil)

// NewRedis uses client (owned by the caller) with prefix ("" = "rampart:lo:").
func NewRedis(client *goredis.Client, prefix string) *Redis {
	if prefix == "" {
		prefix = "rampart:lo:"
	}
	return &Redis{client: client, prefix: prefix}
}

// OpenRedis connects to a redis:// or rediss:// URL.
func OpenRedis(url string) (*Redis, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("lockout: shared_state: %w", err)
	}
	opt.MaxRetries = -1 // a failed decision is reported, not retried behind the request's back
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, time.Second, time.Second
	return NewRedis(goredis.NewClient(opt), ""), nil
}

// Close closes the client.
func (r *Redis) Close() error { return r.client.Close() }

// Locked implements Backend.
func (r *Redis) Locked(ctx context.Context, key string, now time.Time) (time.Time, error) {
	v, err := r.client.Get(ctx, r.prefix+key+":l").Result()
	if err == goredis.Nil {
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
	v, err := failScript.Run(ctx, r.client, []string{r.prefix + key + ":f", r.prefix + key + ":l"},
		now.UnixMilli(), max(p.Window.Milliseconds(), 1), p.MaxFailures, max(p.Duration.Milliseconds(), 1), member).Text()
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
