// Package redis is the shared rate limit backend (shared_state: redis://,
// rediss://, redis+cluster://): every gateway replica decides against the same
// counters, so a limit holds exactly across replicas.
//
// Why this shape. Each decision is one EVALSHA of one Lua script (loaded once;
// go-redis falls back to EVAL after a Redis restart empties the script cache)
// that reads every limit of a policy, decides with the server's clock (TIME)
// and writes only if all admit. One round trip, atomic, and no replica's clock
// takes part, so N replicas under a concurrent burst admit exactly the limit
// in total. A policy's keys share a hash tag ({policy:key}), so the script is
// valid on Redis Cluster too. go-redis/redis_rate (GCRA in one script) was the
// candidate library; it decides one limit per call and has no fixed window, so
// it could neither keep Flask-Limiter's "N per window" nor make a policy's
// limits all-or-nothing — the ~80 lines of Lua here do both.
//
// When Redis is unreachable or hangs. A decision not answered within
// Config.Timeout fails (the wait is bounded here, whatever the client does),
// and the first failed decision marks the backend down; from then on no
// request waits on Redis. Decisions follow Config.Failure —
// FailClosed: an error (the middleware answers 503); FailOpen: admit
// everything; Local: an in-memory limiter with the same limits decides (exact
// per replica, so N replicas admit up to N times the limit). A background
// probe retries Redis every ProbeInterval and marks it up again on success:
// recovery is automatic. Health reports the state for /readyz and metrics.
//
// The zero value is not usable; call New or Open.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rampart-gw/rampart/internal/ratelimit"
	"github.com/rampart-gw/rampart/internal/ratelimit/memory"
)

// Mode is what happens to decisions while Redis is unreachable
// (shared_state_failure).
type Mode uint8

const (
	FailClosed Mode = iota // refuse: Allow returns an error wrapping ratelimit.ErrUnavailable (503)
	FailOpen               // admit every request, uncounted
	Local                  // decide with a per-replica in-memory limiter
)

// ParseMode reads a shared_state_failure value: fail_closed, fail_open or
// local ("" is fail_closed, the config default).
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "fail_closed":
		return FailClosed, nil
	case "fail_open":
		return FailOpen, nil
	case "local":
		return Local, nil
	}
	return 0, fmt.Errorf("shared_state_failure must be fail_closed, fail_open or local")
}

func (m Mode) String() string {
	switch m {
	case FailOpen:
		return "fail_open"
	case Local:
		return "local"
	}
	return "fail_closed"
}

// Config tunes a Limiter. The zero value gives the defaults.
type Config struct {
	// Prefix starts every key. Default "rampart:rl:".
	Prefix string
	// Failure is the behaviour while Redis is unreachable. Default FailClosed.
	Failure Mode
	// Local decides in Local mode (Failure, or a route's WithMode). nil
	// means a memory.Limiter with its default size, created when first
	// needed (its tables are preallocated).
	Local ratelimit.Limiter
	// Timeout bounds one decision, waiting for a pooled connection
	// included; past it Redis counts as unreachable. Open also derives the
	// client's dial, read, write and pool timeouts from it. Default 250ms.
	Timeout time.Duration
	// ProbeInterval is how often an unreachable Redis is retried. Default 500ms.
	ProbeInterval time.Duration
	// Logger receives outage and recovery messages. nil means slog.Default().
	Logger *slog.Logger
	// NoAutoPipeline (Open, single server only) sends each decision on a
	// pooled connection of its own. By default concurrent decisions are
	// batched into pipelines by go-redis's AutoPipeliner: ~20% more
	// decisions per second here, and fewer connections to Redis.
	NoAutoPipeline bool
}

// Client is what the Limiter needs of a go-redis client; *goredis.Client and
// *goredis.ClusterClient both have it.
type Client interface {
	goredis.Scripter
	Ping(ctx context.Context) *goredis.StatusCmd
}

// Limiter is the Redis ratelimit.Limiter.
type Limiter struct {
	client Client
	closer func() error // closes a client Open created; nil for New
	cfg    Config
	script *goredis.Script

	local   sync.Once   // creates cfg.Local when nil
	down    atomic.Bool // read without mu on every decision; written under mu
	mu      sync.Mutex
	probing bool // a probe goroutine is running
	closed  bool
	health  Health
	stop    chan struct{}
	wg      sync.WaitGroup
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// Health is the backend's state, for /readyz and metrics.
type Health struct {
	Up                bool
	Since             time.Time // when the current state (up or down) began
	LastError         string    // what began the current outage; "" while up
	Outages           uint64    // outages since the Limiter was created
	DegradedDecisions uint64    // decisions made by the failure mode
	Mode              Mode
}

// New returns a Limiter on an existing client, which the caller keeps and
// closes. For readiness, the client is assumed reachable until a decision
// shows otherwise.
func New(client Client, cfg Config) *Limiter {
	cfg = withDefaults(cfg)
	return &Limiter{
		client: client,
		cfg:    cfg,
		script: goredis.NewScript(script),
		health: Health{Up: true, Since: time.Now(), Mode: cfg.Failure},
		stop:   make(chan struct{}),
	}
}

func withDefaults(cfg Config) Config {
	if cfg.Prefix == "" {
		cfg.Prefix = "rampart:rl:"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 250 * time.Millisecond
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

// Open connects to the Redis named by a shared_state URL: redis:// or
// rediss:// (one server; go-redis URL options such as ?pool_size=, db in the
// path), or redis+cluster:// / rediss+cluster:// (a Redis Cluster: the host
// and any ?addr=host:port seeds). It does not wait for Redis: an unreachable
// Redis at start is an outage like any other, handled by cfg.Failure. Close
// closes the client.
func Open(url string, cfg Config) (*Limiter, error) {
	cfg = withDefaults(cfg)
	var (
		c     Client
		close func() error
	)
	switch {
	case strings.HasPrefix(url, "redis+cluster://"), strings.HasPrefix(url, "rediss+cluster://"):
		opt, err := goredis.ParseClusterURL(strings.Replace(url, "+cluster", "", 1))
		if err != nil {
			return nil, fmt.Errorf("shared_state: %w", redactErr(err, url))
		}
		tuneCluster(opt, cfg.Timeout)
		cc := goredis.NewClusterClient(opt)
		c, close = cc, cc.Close
	case strings.HasPrefix(url, "redis://"), strings.HasPrefix(url, "rediss://"):
		opt, err := goredis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("shared_state: %w", redactErr(err, url))
		}
		tune(opt, cfg.Timeout)
		cl := goredis.NewClient(opt)
		c, close = cl, cl.Close
		if !cfg.NoAutoPipeline {
			ap, err := cl.AutoPipeline()
			if err != nil {
				cl.Close()
				return nil, fmt.Errorf("shared_state: %w", err)
			}
			c, close = ap, func() error { return errors.Join(ap.Close(), cl.Close()) }
		}
	default:
		return nil, errors.New("shared_state: not a redis URL")
	}
	l := New(c, cfg)
	l.closer = close
	return l, nil
}

// redactErr keeps a URL's password out of an error message.
func redactErr(err error, url string) error {
	msg := err.Error()
	if i := strings.Index(url, "@"); i > 0 {
		msg = strings.ReplaceAll(msg, url[:i], "[redacted]")
	}
	return errors.New(msg)
}

// tune sets what a rate limiter needs that go-redis does not default to:
// context deadlines honoured, every network timeout no longer than one
// decision (go-redis defaults to 1s reads and a pool wait of read timeout +
// 1s, which a hung Redis turned into seconds per request), and no retries —
// a retried script may already have run, and the failure mode plus the
// probe handle outages better than retrying into them (a dial is tried
// once, not go-redis's default 5 times). Timeouts set in the URL
// (?read_timeout=…) are kept; the decision deadline bounds them anyway.
func tune(o *goredis.Options, timeout time.Duration) {
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	o.DialerRetries = 1
	setTimeouts(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, timeout)
}

func tuneCluster(o *goredis.ClusterOptions, timeout time.Duration) {
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	o.DialerRetries = 1
	setTimeouts(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, timeout)
}

func setTimeouts(dial, read, write, pool *time.Duration, timeout time.Duration) {
	for _, d := range []*time.Duration{dial, read, write, pool} {
		if *d == 0 {
			*d = timeout
		}
	}
}

// Ping asks Redis whether it answers (`rampart check --online`); it changes
// nothing, neither in Redis nor in the Limiter's health.
func (l *Limiter) Ping(ctx context.Context) error { return l.client.Ping(ctx).Err() }

// Close stops the probe and, if Open created the client, closes it.
func (l *Limiter) Close() error {
	l.mu.Lock()
	closer := l.closer
	if !l.closed {
		l.closed = true
		close(l.stop)
	} else {
		closer = nil
	}
	l.mu.Unlock()
	l.wg.Wait()
	if closer != nil {
		return closer()
	}
	return nil
}

// Health returns the current state.
func (l *Limiter) Health() Health {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.health
}

// Err is nil while Redis is reachable, else why not; for /readyz and
// metrics. An outage does not make the replica unready: each route applies
// its failure mode (fail_closed answers 503 on that route only).
func (l *Limiter) Err() error {
	if !l.down.Load() {
		return nil
	}
	h := l.Health()
	return fmt.Errorf("%w: redis unreachable since %s: %s", ratelimit.ErrUnavailable, h.Since.Format(time.RFC3339), h.LastError)
}

// Allow implements ratelimit.Limiter. now is used only by the Local failure
// mode; Redis decides with its own clock.
func (l *Limiter) Allow(ctx context.Context, key string, limits []ratelimit.Limit, now time.Time) (ratelimit.Decision, error) {
	return l.allow(ctx, key, limits, now, l.cfg.Failure)
}

// WithMode returns a Limiter deciding with l's Redis and outage detection
// but applying mode while Redis is unreachable: a route's own
// shared_state_failure.
func (l *Limiter) WithMode(mode Mode) ratelimit.Limiter {
	if mode == l.cfg.Failure {
		return l
	}
	return modeView{l, mode}
}

type modeView struct {
	l    *Limiter
	mode Mode
}

func (v modeView) Allow(ctx context.Context, key string, limits []ratelimit.Limit, now time.Time) (ratelimit.Decision, error) {
	return v.l.allow(ctx, key, limits, now, v.mode)
}

func (l *Limiter) allow(ctx context.Context, key string, limits []ratelimit.Limit, now time.Time, mode Mode) (ratelimit.Decision, error) {
	if len(limits) > ratelimit.MaxLimits {
		limits = limits[:ratelimit.MaxLimits]
	}
	if !l.down.Load() {
		d, err := l.decide(ctx, key, limits)
		if err == nil {
			return d, nil
		}
		if ctx.Err() != nil {
			// The request was cancelled (client gone, server shutting down):
			// not Redis's fault, and nobody is waiting for the answer.
			return ratelimit.Decision{}, fmt.Errorf("%w: %w", ratelimit.ErrUnavailable, ctx.Err())
		}
		l.markDown(err)
	}
	return l.degraded(ctx, key, limits, now, mode)
}

func (l *Limiter) degraded(ctx context.Context, key string, limits []ratelimit.Limit, now time.Time, mode Mode) (ratelimit.Decision, error) {
	l.mu.Lock()
	l.health.DegradedDecisions++
	lastErr := l.health.LastError
	l.mu.Unlock()
	switch mode {
	case FailOpen:
		return ratelimit.Decision{Allowed: true, Degraded: true, Unlimited: true}, nil
	case Local:
		l.local.Do(func() {
			if l.cfg.Local == nil {
				l.cfg.Local = memory.New(memory.Config{})
			}
		})
		d, err := l.cfg.Local.Allow(ctx, key, limits, now)
		d.Degraded = true
		return d, err
	}
	return ratelimit.Decision{}, fmt.Errorf("%w: redis: %s", ratelimit.ErrUnavailable, lastErr)
}

// decide runs the script once.
func (l *Limiter) decide(ctx context.Context, key string, limits []ratelimit.Limit) (ratelimit.Decision, error) {
	var d ratelimit.Decision
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	keys := make([]string, len(limits))
	args := make([]any, 0, 3*len(limits))
	for i, lim := range limits {
		keys[i] = l.keyFor(key, lim)
		if lim.Algorithm == ratelimit.GCRA {
			t := max(int64(lim.Period/time.Duration(lim.Count)/time.Microsecond), 1)
			args = append(args, 1, t, lim.Burst*t)
		} else {
			args = append(args, 0, lim.Period.Milliseconds(), lim.Count)
		}
	}
	res, err := l.run(ctx, keys, args)
	if err != nil {
		return d, err
	}
	if len(res) != 1+3*len(limits) {
		return d, fmt.Errorf("rate limit script returned %d values, want %d", len(res), 1+3*len(limits))
	}
	d.Allowed = res[0] == 1
	for i := range limits {
		ls := ratelimit.LimitState{
			Remaining:  res[1+3*i],
			Reset:      time.Duration(res[2+3*i]) * time.Microsecond,
			RetryAfter: time.Duration(res[3+3*i]) * time.Microsecond,
		}
		d.Limits[i] = ls
		if !d.Allowed {
			d.RetryAfter = max(d.RetryAfter, ls.RetryAfter)
		}
	}
	return d, nil
}

type reply struct {
	res []int64
	err error
}

// run runs the script and waits for its answer until ctx is done. The wait
// is ours, not the client's: go-redis's AutoPipeliner waits for a batch
// without looking at the caller's context, and batches run one after the
// other, so under a hung Redis a decision queued behind two batches waited
// for three read timeouts. An abandoned call ends by itself within the
// client's own timeouts (set by tune), and after the first failure Allow
// stops calling Redis until the probe succeeds, so abandoned calls are few.
func (l *Limiter) run(ctx context.Context, keys []string, args []any) ([]int64, error) {
	done := make(chan reply, 1)
	go func() {
		res, err := l.script.Run(ctx, l.client, keys, args...).Int64Slice()
		done <- reply{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// keyFor is PREFIX{KEY}:LIMIT. The braces are a Redis Cluster hash tag: every
// limit of one key lands in one slot, as one script needs. The limit's own
// parameters are part of the name, so a changed limit starts afresh.
func (l *Limiter) keyFor(key string, lim ratelimit.Limit) string {
	b := make([]byte, 0, len(l.cfg.Prefix)+len(key)+32)
	b = append(b, l.cfg.Prefix...)
	b = append(b, '{')
	b = append(b, key...)
	b = append(b, "}:"...)
	b = strconv.AppendInt(b, lim.Count, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(lim.Period/time.Second), 10)
	b = append(b, 's')
	if lim.Algorithm == ratelimit.GCRA {
		b = append(b, ":b"...)
		b = strconv.AppendInt(b, lim.Burst, 10)
	}
	return string(b)
}

func (l *Limiter) markDown(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.down.Load() {
		l.down.Store(true)
		l.health.Up = false
		l.health.Since = time.Now()
		l.health.LastError = err.Error()
		l.health.Outages++
		l.cfg.Logger.Warn("rate limit shared state unreachable; deciding by shared_state_failure",
			"mode", l.cfg.Failure.String(), "err", err)
	}
	if l.probing || l.closed {
		return
	}
	l.probing = true
	l.wg.Add(1)
	go l.probe()
}

// probe retries Redis until it answers, then marks it up. It runs the
// decision script itself with no keys, so "up" means decisions work again
// (the script is reloaded after a restart), not merely that PING answers.
func (l *Limiter) probe() {
	defer l.wg.Done()
	tick := time.NewTicker(l.cfg.ProbeInterval)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			l.mu.Lock()
			l.probing = false
			l.mu.Unlock()
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Timeout)
		_, err := l.run(ctx, nil, nil)
		cancel()
		l.mu.Lock()
		if err != nil {
			l.health.LastError = err.Error()
			l.mu.Unlock()
			continue
		}
		l.probing = false
		l.down.Store(false)
		l.health.Up = true
		l.health.Since = time.Now()
		l.health.LastError = ""
		l.mu.Unlock()
		l.cfg.Logger.Info("rate limit shared state reachable again")
		return
	}
}
