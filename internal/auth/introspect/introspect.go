// Package introspect authenticates opaque bearer tokens by asking the
// authorization server about them: OAuth 2.0 Token Introspection (RFC 7662).
//
// Each token is POSTed as `token=…&token_type_hint=access_token` to the
// configured endpoint, authenticating the gateway with HTTP Basic client
// credentials (RFC 7662 §2.1, with RFC 6749 §2.3.1 form-encoding of the id and
// secret). The answer is trusted only as far as RFC 7662 §4 allows:
//
//   - "active" must be the JSON boolean true; false is a 401 (RFC 6750
//     error="invalid_token"), and an answer without it is a server error.
//   - exp and nbf, when present, are checked against the gateway's own clock;
//     iss and aud are checked when configured; a token_type other than an
//     access token (a refresh token sent as a bearer token) is refused.
//   - Any failure to get a clear answer — timeout, transport error, non-200,
//     redirect, malformed or oversized body — fails closed as 503
//     "auth-unavailable": the request is refused, never let through, and the
//     outage is not remembered as a verdict about the token.
//
// Answers are cached by the token's SHA-256 (tokens themselves are never
// kept): an active token until its exp, bounded by CacheTTL (so a revocation
// at the IdP is honoured within CacheTTL); an inactive one for NegativeTTL.
// Positive and negative answers live in separate bounded caches, so a flood of
// junk tokens cannot evict the valid ones. Concurrent requests with the same
// token share one call to the server. Junk tokens still cost one call each:
// rate limits and lockout in front of this step bound that.
//
// Introspection takes every bearer token it sees. Listed after a JWT
// authenticator on a route, it receives the opaque tokens the JWT
// authenticator passes on (auth.ErrForeignCredential).
package introspect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Defaults.
const (
	DefaultTimeout          = 5 * time.Second
	DefaultCacheTTL         = 5 * time.Minute
	DefaultNegativeTTL      = 10 * time.Second
	DefaultCacheSize        = 10000
	DefaultMaxResponseBytes = 64 << 10
)

// Reasons, wrapped in Rejection.Err (logs and audit only).
var (
	ErrInactive    = errors.New("introspect: token not active")
	ErrRefused     = errors.New("introspect: active token refused") // expired/nbf/iss/aud/token_type/claims
	ErrUnavailable = errors.New("introspect: authorization server unavailable")
)

// Config configures one introspection authenticator (an entry of
// authenticators: with type: introspection).
type Config struct {
	Name string `yaml:"-"` // the entry's name; becomes Principal.Authenticator

	// URL is the introspection endpoint (RFC 7662): https, http only for a
	// loopback address; required.
	URL string `yaml:"url" conf:"required,weburl"`
	// ClientID is the gateway's client id at the endpoint; required.
	ClientID string `yaml:"client_id" conf:"required"`
	// ClientSecret is sent with client_id as HTTP Basic; required, at least 32
	// bytes, not a placeholder. Write it as ${ENV_VAR}.
	ClientSecret string `yaml:"client_secret" conf:"required,secret"`

	// Issuer, when set, is the `iss` the answer must carry.
	Issuer string `yaml:"issuer" conf:"weburl"`
	// Audiences, when set: the answer's `aud` must contain one of them.
	Audiences []string `yaml:"audiences" conf:"nonempty,unique"`
	// TokenHeader is the header carrying the token. Unset means
	// Authorization with the Bearer scheme.
	TokenHeader string `yaml:"token_header" conf:"token=header name"`
	// TokenCookie, when set, is the cookie the token is read from instead.
	TokenCookie string `yaml:"token_cookie" conf:"token=cookie name"`
	// RolesClaim is the dotted path of the roles member. Unset means "roles".
	RolesClaim string `yaml:"roles_claim" conf:"claim"`
	// ForwardToken passes the token on to the upstream; by default it is
	// removed.
	ForwardToken bool `yaml:"forward_token"`
	// Timeout bounds one call to the endpoint; at most 1m. Unset means 5s.
	Timeout time.Duration `yaml:"timeout" conf:"min=1ms,max=1m"`

	CacheTTL         time.Duration `yaml:"-"` // longest an active answer is reused; 0 = DefaultCacheTTL
	NegativeTTL      time.Duration `yaml:"-"` // how long an inactive answer is reused; 0 = DefaultNegativeTTL, negative = not cached
	CacheSize        int           `yaml:"-"` // entries per cache (active, inactive); 0 = DefaultCacheSize, negative = no cache
	MaxResponseBytes int64         `yaml:"-"` // 0 = DefaultMaxResponseBytes

	Now func() time.Time `yaml:"-"` // nil = time.Now
}

// Authenticator introspects bearer tokens. It is safe for concurrent use.
type Authenticator struct {
	cfg    Config
	src    auth.TokenSource
	client *http.Client
	logger *slog.Logger
	now    func() time.Time
	basic  string // precomputed Authorization value

	active   *auth.Cache[*pipeline.Principal]
	inactive *auth.Cache[error]

	mu       sync.Mutex
	inflight map[auth.Key]*call
}

type call struct {
	done chan struct{}
	p    *pipeline.Principal
	err  error // wraps ErrInactive, ErrRefused or ErrUnavailable
}

var (
	_ auth.Authenticator = (*Authenticator)(nil)
	_ auth.Challenger    = (*Authenticator)(nil)
)

// New validates cfg and returns the authenticator. client (nil = a new
// client) is copied; the copy never follows redirects, so the token and the
// client credentials are only ever sent to the configured URL.
func New(cfg Config, client *http.Client, logger *slog.Logger) (*Authenticator, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := applyDefaults(&cfg); err != nil {
		return nil, fmt.Errorf("introspection %q: %w", cfg.Name, err)
	}
	var hc http.Client
	if client != nil {
		hc = *client
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	req := &http.Request{Header: http.Header{}}
	// RFC 6749 §2.3.1: the id and secret are form-encoded before Basic.
	req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
	a := &Authenticator{
		cfg:      cfg,
		src:      auth.TokenSource{Header: cfg.TokenHeader, Cookie: cfg.TokenCookie},
		client:   &hc,
		logger:   logger,
		now:      now,
		basic:    req.Header.Get("Authorization"),
		inflight: make(map[auth.Key]*call),
	}
	if cfg.CacheSize > 0 {
		a.active = auth.NewCache[*pipeline.Principal](cfg.CacheSize, now)
		if cfg.NegativeTTL > 0 {
			a.inactive = auth.NewCache[error](cfg.CacheSize, now)
		}
	}
	return a, nil
}

func applyDefaults(cfg *Config) error {
	var errs []error
	if cfg.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if err := checkURL(cfg.URL); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		errs = append(errs, errors.New("client_id and client_secret are required (RFC 7662 §2.1: the endpoint must authenticate its callers)"))
	}
	for _, a := range cfg.Audiences {
		if a == "" {
			errs = append(errs, errors.New("audiences: empty audience"))
		}
	}
	if cfg.Timeout < 0 || cfg.CacheTTL < 0 || cfg.MaxResponseBytes < 0 {
		errs = append(errs, errors.New("timeout, cache_ttl and max_response_bytes must not be negative"))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.NegativeTTL == 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	return errors.Join(errs...)
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q must be an absolute URL with a host and no userinfo or fragment", s)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && conf.LoopbackHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q: the token and client secret travel in this request; use https (http only to a loopback address)", s)
}

// Name implements auth.Authenticator.
func (a *Authenticator) Name() string { return a.cfg.Name }

// Scheme implements auth.Challenger.
func (a *Authenticator) Scheme() string { return auth.SchemeBearer }

// Authenticate implements auth.Authenticator.
func (a *Authenticator) Authenticate(r *http.Request) (*pipeline.Principal, error) {
	tok, err := a.src.Token(r)
	if err != nil {
		return nil, err
	}
	key := auth.KeyOf(tok)
	if p, ok := a.active.Get(key); ok {
		cp := *p
		return &cp, nil
	}
	if reason, ok := a.inactive.Get(key); ok {
		return nil, refusal(fmt.Errorf("%w (cached)", reason))
	}

	a.mu.Lock()
	c, joined := a.inflight[key]
	if !joined {
		c = &call{done: make(chan struct{})}
		a.inflight[key] = c
	}
	a.mu.Unlock()
	if !joined {
		// The call outlives this request's cancellation: others may be
		// waiting for the same answer.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.cfg.Timeout)
		c.p, c.err = a.introspect(ctx, tok)
		cancel()
		a.remember(key, c)
		a.mu.Lock()
		delete(a.inflight, key)
		a.mu.Unlock()
		close(c.done)
	} else {
		select {
		case <-c.done:
		case <-r.Context().Done():
			return nil, unavailable(fmt.Errorf("%w: request ended while waiting: %w", ErrUnavailable, r.Context().Err()))
		}
	}
	if c.err != nil {
		if errors.Is(c.err, ErrUnavailable) {
			return nil, unavailable(c.err)
		}
		return nil, refusal(c.err)
	}
	cp := *c.p
	return &cp, nil
}

func (a *Authenticator) remember(key auth.Key, c *call) {
	now := a.now()
	switch {
	case c.err == nil:
		until := now.Add(a.cfg.CacheTTL)
		if exp, ok := numericDate(c.p.Claims["exp"]); ok && exp.Before(until) {
			until = exp
		}
		a.active.Put(key, c.p, until)
	case errors.Is(c.err, ErrUnavailable):
		// An outage says nothing about the token.
	default:
		a.inactive.Put(key, c.err, now.Add(a.cfg.NegativeTTL))
	}
}

func refusal(err error) *pipeline.Rejection {
	return &pipeline.Rejection{Status: http.StatusUnauthorized, Type: auth.TypeInvalidToken,
		Detail: "The access token is invalid.", Err: err}
}

func unavailable(err error) *pipeline.Rejection {
	return &pipeline.Rejection{Status: http.StatusServiceUnavailable, Type: auth.TypeAuthUnavailable,
		Detail: "The authorization server could not be reached; try again later.",
		Header: http.Header{"Retry-After": {"5"}}, Err: err}
}

// introspect asks the server about tok and judges the answer.
func (a *Authenticator) introspect(ctx context.Context, tok string) (*pipeline.Principal, error) {
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", a.basic)
	resp, err := a.client.Do(req)
	if err != nil {
		// *url.Error quotes the URL (ours), never the form.
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			a.logger.Error("introspection endpoint refused the gateway's client credentials",
				"authenticator", a.cfg.Name, "url", a.cfg.URL, "status", resp.StatusCode)
		}
		return nil, fmt.Errorf("%w: status %d", ErrUnavailable, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, a.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading answer: %w", ErrUnavailable, err)
	}
	if int64(len(body)) > a.cfg.MaxResponseBytes {
		return nil, fmt.Errorf("%w: answer larger than %d bytes", ErrUnavailable, a.cfg.MaxResponseBytes)
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil || claims == nil {
		return nil, fmt.Errorf("%w: answer is not a JSON object", ErrUnavailable)
	}
	active, ok := claims["active"].(bool)
	if !ok {
		return nil, fmt.Errorf("%w: answer has no boolean \"active\"", ErrUnavailable)
	}
	if !active {
		return nil, ErrInactive
	}
	return a.judge(claims)
}

// judge applies the gateway's own checks to an active answer.
func (a *Authenticator) judge(claims map[string]any) (*pipeline.Principal, error) {
	now := a.now()
	for _, name := range [...]string{"exp", "nbf", "iat"} {
		if v, present := claims[name]; present {
			if _, ok := numericDate(v); !ok {
				return nil, fmt.Errorf("%w: %q is not a number", ErrRefused, name)
			}
		}
	}
	if exp, ok := numericDate(claims["exp"]); ok && !now.Before(exp) {
		return nil, fmt.Errorf("%w: expired", ErrRefused)
	}
	if nbf, ok := numericDate(claims["nbf"]); ok && now.Before(nbf) {
		return nil, fmt.Errorf("%w: not valid yet (nbf)", ErrRefused)
	}
	if tt, present := claims["token_type"]; present {
		s, _ := tt.(string)
		switch strings.ToLower(s) {
		case "bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token":
		default:
			return nil, fmt.Errorf("%w: token_type is not an access token", ErrRefused)
		}
	}
	if a.cfg.Issuer != "" {
		if iss, _ := claims["iss"].(string); iss != a.cfg.Issuer {
			return nil, fmt.Errorf("%w: wrong issuer", ErrRefused)
		}
	}
	if len(a.cfg.Audiences) > 0 {
		aud, ok := auth.StringList(claims["aud"], false)
		if !ok || !slices.ContainsFunc(aud, func(s string) bool { return slices.Contains(a.cfg.Audiences, s) }) {
			return nil, fmt.Errorf("%w: wrong audience", ErrRefused)
		}
	}
	// sub, else client_id for client-credentials tokens (RFC 7662 §2.2).
	p, err := auth.PrincipalFromClaims(a.cfg.Name, claims, a.cfg.RolesClaim, "sub", "client_id")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return p, nil
}

// numericDate reads a JSON number of seconds since the epoch (RFC 7519 §2).
func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || f != f || f > 1e15 || f < -1e15 {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}
