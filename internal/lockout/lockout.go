// Package lockout is brute-force protection: it counts failed
// authentications per client and, past `max_failures` within `window`,
// refuses that client for `duration` with 429 and Retry-After — before any
// credential is checked, so that during the lockout a correct guess is
// worth exactly as much as a wrong one. That is the point: an attacker
// cannot tell which of its guesses would have worked.
//
// What counts as a failure: a 400 or 401 refusal by authentication (a
// malformed, ambiguous, unknown, wrong, expired or revoked credential).
// A request without any credential is not a guess and does not count, nor
// do 403s (the credential was right) or 503s (our verifier was down).
// A success does not reset the count: otherwise one valid key would let its
// holder interleave unlimited guesses at others.
//
// Whom it counts: Config.Key "client_ip" (the default) counts per client
// address as the gateway resolved it (trusted proxies only); IPv6 clients
// are counted per /64, the block one subscriber usually holds, so that
// rotating through its own addresses does not reset the count. "principal"
// counts per claimed identity — the id of the API key presented
// (Config.Claimant), which is public, so the count follows the key however
// many addresses guess at it; a request claiming no identity is counted by
// client address. Locking by key lets anyone who knows a key id lock its
// holder out for `duration`; that is the usual trade-off of account lockout.
//
// Counting is a sliding window: the last max_failures failure times are
// kept per client, and the client is locked when all of them fall within
// window. The counters live behind Backend: Memory (this package) for one
// node; a Redis implementation shares them between replicas.
//
// The gateway wraps each route's authentication with Wrap:
//
//	lo, err := lockout.New(lockout.Config{MaxFailures: 10, Window: time.Minute, Duration: 5 * time.Minute}, lockout.NewMemory(lockout.MemoryOptions{}))
//	authenticate = lo.Wrap(auth.Any("rampart", as...))
//
// or, when authentication is its own step, places lo.Middleware before it
// and calls lo.Failed with the authentication error.
package lockout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// TypeLockedOut is the problem type of a refusal during a lockout.
const TypeLockedOut = "locked-out"

// TypeLockoutUnavailable: the counter backend failed and Config.FailOpen is
// not set.
const TypeLockoutUnavailable = "lockout-unavailable"

// MaxMaxFailures bounds MaxFailures: each counted client keeps that many
// timestamps.
const MaxMaxFailures = 1000

// Keys.
const (
	KeyClientIP  = "client_ip"
	KeyPrincipal = "principal"
)

// Events reported to Config.Count.
const (
	EventFailure = "failure" // a failed authentication was counted
	EventLocked  = "locked"  // a client was locked out
	EventRefused = "refused" // a request was refused because its client is locked out
)

// Policy is what a Backend enforces.
type Policy struct {
	MaxFailures int
	Window      time.Duration
	Duration    time.Duration
}

// Backend holds the failure counters. Keys are opaque strings of at most a
// few hundred bytes. Implementations are safe for concurrent use and bound
// their own calls in time (a networked backend sets its own timeouts: the
// check runs on every authenticated request).
type Backend interface {
	// Locked returns the end of key's lockout, or the zero time when key is
	// not locked out at now.
	Locked(ctx context.Context, key string, now time.Time) (time.Time, error)
	// Fail counts one failure of key at now. When it is the MaxFailures-th
	// within Window, key is locked until now+Duration, its failures are
	// forgotten, and that end is returned; otherwise the zero time.
	Fail(ctx context.Context, key string, now time.Time, p Policy) (time.Time, error)
}

// Config configures a Lockout (the lockout: section of the config file).
type Config struct {
	// MaxFailures is how many counted failures within window lock a client
	// out; between 1 and 1000.
	MaxFailures int `yaml:"max_failures" default:"10" conf:"min=1,max=1000"`
	// Window is how far back failures are counted.
	Window time.Duration `yaml:"window" default:"1m" conf:"positive"`
	// Duration is how long a locked-out client is refused.
	Duration time.Duration `yaml:"duration" default:"5m" conf:"positive"`
	// Key is whom failures count against: client_ip, or principal (the API
	// key a request claims, so guessing one key's secret locks that key).
	Key string `yaml:"key" default:"client_ip" conf:"oneof=client_ip|principal"`
	// Claimant returns the identity a request claims before it is verified
	// (an API key's id, prefixed by its kind), or "" for none. Used when Key
	// is "principal"; nil = none (every request is counted by address).
	Claimant func(*http.Request) string `yaml:"-"`
	// FailOpen lets requests through when the backend fails; the default
	// refuses them with 503 (a lockout that silently stops is no lockout).
	// The gateway sets it from shared_state_failure.
	FailOpen bool `yaml:"-"`
	// Now is the clock; nil = time.Now.
	Now func() time.Time `yaml:"-"`
	// Audit receives one "lockout" audit event per client locked out (who,
	// until when, after how many failures); nil = slog.Default(). Refused
	// requests are reported through the pipeline.Observer like every
	// refusal.
	Audit *slog.Logger `yaml:"-"`
	// Count, when set, is called for every EventFailure, EventLocked and
	// EventRefused (wire it to a metrics counter).
	Count func(event string) `yaml:"-"`
}

// Lockout decides and counts.
type Lockout struct {
	cfg     Config
	policy  Policy
	backend Backend
}

// New checks cfg and returns a Lockout counting in b.
func New(cfg Config, b Backend) (*Lockout, error) {
	var errs []error
	if cfg.MaxFailures < 1 || cfg.MaxFailures > MaxMaxFailures {
		errs = append(errs, fmt.Errorf("max_failures must be between 1 and %d, got %d", MaxMaxFailures, cfg.MaxFailures))
	}
	if cfg.Window <= 0 {
		errs = append(errs, errors.New("window must be positive"))
	}
	if cfg.Duration <= 0 {
		errs = append(errs, errors.New("duration must be positive"))
	}
	switch cfg.Key {
	case "":
		cfg.Key = KeyClientIP
	case KeyClientIP, KeyPrincipal:
	default:
		errs = append(errs, fmt.Errorf("key must be client_ip or principal, got %q", cfg.Key))
	}
	if b == nil {
		errs = append(errs, errors.New("a counter backend is required"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("lockout: %w", errors.Join(errs...))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Audit == nil {
		cfg.Audit = slog.Default()
	}
	if cfg.Count == nil {
		cfg.Count = func(string) {}
	}
	return &Lockout{cfg: cfg, backend: b, policy: Policy{MaxFailures: cfg.MaxFailures, Window: cfg.Window, Duration: cfg.Duration}}, nil
}

// key is whom r counts against.
func (l *Lockout) key(r *http.Request) string {
	if l.cfg.Key == KeyPrincipal && l.cfg.Claimant != nil {
		if c := l.cfg.Claimant(r); c != "" {
			return "principal:" + c
		}
	}
	return clientBlock(r) // never starts with "principal:"
}

// clientBlock is the client's address, or its /64 for IPv6.
func clientBlock(r *http.Request) string {
	ip := ""
	if info := pipeline.InfoFrom(r.Context()); info != nil {
		ip = info.ClientIP
	}
	if ip == "" {
		ip, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	switch {
	case addr.Is4In6():
		return addr.Unmap().String()
	case addr.Is6():
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return ip
}

// Check returns a 429 *pipeline.Rejection when r's client is locked out, a
// 503 one when the backend failed (unless FailOpen), and nil otherwise.
func (l *Lockout) Check(r *http.Request) error {
	now := l.cfg.Now()
	until, err := l.backend.Locked(r.Context(), l.key(r), now)
	if err != nil {
		if l.cfg.FailOpen {
			return nil
		}
		return &pipeline.Rejection{Status: http.StatusServiceUnavailable, Type: TypeLockoutUnavailable,
			Detail: "The gateway cannot check authentication limits right now.", Header: http.Header{"Retry-After": {"1"}},
			Err: fmt.Errorf("lockout backend: %w", err)}
	}
	if until.IsZero() || !now.Before(until) {
		return nil
	}
	l.cfg.Count(EventRefused)
	return &pipeline.Rejection{Status: http.StatusTooManyRequests, Type: TypeLockedOut,
		Detail: "Too many failed authentication attempts. Try again later.",
		Header: http.Header{"Retry-After": {retryAfter(until.Sub(now))}},
		Err:    fmt.Errorf("locked out until %s", until.UTC().Format(time.RFC3339))}
}

// retryAfter is d in whole seconds, rounded up (RFC 9110 §10.2.3).
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// Counts reports whether err is an authentication failure that counts: a
// 400 or 401 refusal for a credential that was present.
func Counts(err error) bool {
	var rej *pipeline.Rejection
	if !errors.As(err, &rej) {
		return false
	}
	if rej.Status != http.StatusBadRequest && rej.Status != http.StatusUnauthorized {
		return false
	}
	return rej.Type != auth.TypeCredentialsMissing
}

// Failed counts err against r's client when Counts(err). A backend error is
// logged and otherwise ignored: the request is refused anyway.
func (l *Lockout) Failed(r *http.Request, err error) {
	if !Counts(err) {
		return
	}
	l.cfg.Count(EventFailure)
	// Counted even if the client hangs up: its guess was made.
	ctx := context.WithoutCancel(r.Context())
	key := l.key(r)
	until, ferr := l.backend.Fail(ctx, key, l.cfg.Now(), l.policy)
	if ferr != nil {
		l.cfg.Audit.LogAttrs(ctx, slog.LevelError, "lockout: counting a failed authentication failed", slog.String("error", ferr.Error()))
		return
	}
	if until.IsZero() {
		return
	}
	l.cfg.Count(EventLocked)
	attrs := []slog.Attr{slog.String("event", "lockout"), slog.String("key", key),
		slog.Int("failures", l.policy.MaxFailures), slog.String("window", l.policy.Window.String()),
		slog.Time("until", until.UTC())}
	if info := pipeline.InfoFrom(r.Context()); info != nil {
		attrs = append(attrs, slog.String("request_id", info.ID), slog.String("client_ip", info.ClientIP))
		if info.Route != "" {
			attrs = append(attrs, slog.String("route", info.Route))
		}
	}
	l.cfg.Audit.LogAttrs(ctx, slog.LevelWarn, "audit", attrs...)
}

// Wrap returns authenticate guarded by the lockout: a locked-out client is
// refused before authenticate runs, and authenticate's counting refusals
// are counted.
func (l *Lockout) Wrap(authenticate func(*http.Request) (*pipeline.Principal, error)) func(*http.Request) (*pipeline.Principal, error) {
	return func(r *http.Request) (*pipeline.Principal, error) {
		if err := l.Check(r); err != nil {
			return nil, err
		}
		p, err := authenticate(r)
		if err != nil {
			l.Failed(r, err)
		}
		return p, err
	}
}

// Middleware refuses locked-out clients; place it before authentication and
// report that step's errors with Failed. Refusals are written as
// problem+json and reported to obs under step "lockout".
func (l *Lockout) Middleware(obs pipeline.Observer) pipeline.Middleware {
	return pipeline.Guard("lockout", obs, func(r *http.Request) (*http.Request, error) {
		return r, l.Check(r)
	})
}
