// Package apikey is the api_key authenticator: it reads a Rampart API key
// (`rk_<id>_<secret>`, see package store) from a header, finds the key by its
// public id, checks the secret against the stored HMAC in constant time, and
// turns the key into a principal — the consumer as subject, the key's scopes
// and roles, and {key_id, labels} as claims.
//
// Where the key travels: the configured header (default X-API-Key) and,
// optionally, `Authorization: ApiKey <key>`. Never the query string: URLs end
// up in access logs, proxies, Referer headers and browser history, and a key
// that travelled there must be considered leaked. A request with the header
// twice, a comma-joined list, or the key in both places is refused with 400
// before any lookup (proxies and backends disagree about which copy wins).
//
// What clients learn: nothing beyond "not valid". Unknown, malformed, wrong,
// expired and revoked keys all get the same 401 problem (type
// invalid-api-key); the precise reason goes to the audit log only. A store
// that cannot answer gives 503 (fail closed), never a pass — except for keys
// it confirmed shortly before, which keep working for a bounded time (see
// Standby).
//
// Caching: a key record, once read, is kept for CacheTTL (5s) so the store
// is not asked on every request; unknown ids are remembered the same way.
// Every request still checks its secret against the cached hash, so a wrong
// secret for a cached id costs a hash, not a query. The store's change feed
// evicts a key the moment it is revoked or rotated anywhere (SQLite: this
// process, or others within PollInterval; PostgreSQL: LISTEN/NOTIFY from
// every replica). While the feed is down, the cache is bypassed and every
// request asks the store, so revocation never waits for the TTL.
//
// last_used_at is recorded asynchronously: a used key is noted at most once
// per TouchInterval (1m) and the notes are written in one batch per
// interval, never one write per request.
//
// Example:
//
//	a, err := apikey.New(apikey.Config{Name: "partners"}, keys)
//	defer a.Close()
//	authenticate := auth.Any("rampart", a)
package apikey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/store"
)

// TypeInvalidAPIKey is the problem type of every refused API key.
const TypeInvalidAPIKey = "invalid-api-key"

// SchemeAPIKey is the Authorization scheme read when Config.Authorization is set.
const SchemeAPIKey = "ApiKey"

// DefaultHeader is where keys are read from unless configured otherwise.
const DefaultHeader = "X-API-Key"

// maxCredentialBytes bounds what is trimmed and parsed; keys are KeyLen long.
const maxCredentialBytes = 1024

// Config configures an Authenticator (an entry of authenticators: with
// type: api_key).
type Config struct {
	// Name is the entry's name; it becomes Principal.Authenticator. Required.
	Name string `yaml:"-"`
	// Header carries the key. Authorization means the ApiKey scheme of that
	// header (Authorization: ApiKey <key>).
	Header string `yaml:"header" default:"X-API-Key" conf:"token=header name"`
	// Authorization also accepts `Authorization: ApiKey <key>`.
	Authorization bool `yaml:"-"`
	// CacheTTL is how long a key record read from the store is trusted;
	// 0 = 5s, negative = no cache (every request asks the store).
	CacheTTL time.Duration `yaml:"-"`
	// CacheSize bounds the cached records (known and unknown ids); 0 = 10000.
	CacheSize int `yaml:"-"`
	// TouchInterval is how often last_used_at is written (and so the
	// coarseness of it); 0 = 1m.
	TouchInterval time.Duration `yaml:"-"`
	// Standby is shared by the process's authenticators and outlives
	// reloads: store health, lookup timeout and the keys served through a
	// store outage. nil = one of this authenticator's own, with no grace.
	Standby *Standby `yaml:"-"`
	// Now is the clock for expiry and the cache; nil = time.Now.
	Now func() time.Time `yaml:"-"`
	// Logger receives operational messages; nil = slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

// Authenticator is the api_key authenticator.
type Authenticator struct {
	name     string
	header   string // canonical; "" when only Authorization is read
	authz    bool
	store    store.Store
	now      func() time.Time
	ttl      int64 // nanoseconds; <= 0: no cache
	standby  *Standby
	ownsSB   bool // standby was made by New: Close closes it
	logger   *slog.Logger
	cache    cache
	bypass   atomic.Bool // the change feed is down: do not trust the cache
	flightMu sync.Mutex
	flights  map[string]*flight

	touchEvery int64 // nanoseconds
	touchMu    sync.Mutex
	pending    map[string]time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

var (
	_ auth.Authenticator = (*Authenticator)(nil)
	_ auth.Challenger    = (*Authenticator)(nil)
)

// New returns an authenticator reading keys from s, and starts following
// s's change feed and writing last-used times. Close stops both.
func New(cfg Config, s store.Store) (*Authenticator, error) {
	if cfg.Name == "" {
		return nil, errors.New("apikey: a name is required")
	}
	if s == nil {
		return nil, errors.New("apikey: a key store is required")
	}
	a := &Authenticator{name: cfg.Name, store: s, now: cfg.Now, logger: cfg.Logger, authz: cfg.Authorization,
		flights: map[string]*flight{}, pending: map[string]time.Time{}, standby: cfg.Standby}
	switch h := textproto.CanonicalMIMEHeaderKey(cfg.Header); {
	case h == "":
		a.header = textproto.CanonicalMIMEHeaderKey(DefaultHeader)
	case h == "Authorization":
		a.authz = true
	case !validHeaderName(h):
		return nil, fmt.Errorf("apikey %q: header %q is not a valid header name", cfg.Name, cfg.Header)
	default:
		a.header = h
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if a.standby == nil {
		a.standby = NewStandby(s, StandbyConfig{Now: a.now, Logger: a.logger})
		a.ownsSB = true
	}
	switch {
	case cfg.CacheTTL == 0:
		a.ttl = int64(5 * time.Second)
	case cfg.CacheTTL > 0:
		a.ttl = int64(cfg.CacheTTL)
	}
	size := cfg.CacheSize
	if size <= 0 {
		size = 10000
	}
	a.cache.init(size)
	a.touchEvery = int64(cfg.TouchInterval)
	if a.touchEvery <= 0 {
		a.touchEvery = int64(time.Minute)
	}

	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	events := s.Watch(ctx) // subscribed before New returns: no change is missed
	a.wg.Add(2)
	go a.follow(ctx, events)
	go a.flushEvery(ctx, time.Duration(a.touchEvery))
	return a, nil
}

func validHeaderName(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return h != ""
}

// Name implements auth.Authenticator.
func (a *Authenticator) Name() string { return a.name }

// Scheme implements auth.Challenger: "ApiKey" when keys may travel in
// Authorization, else "" (a custom header has no challenge scheme).
func (a *Authenticator) Scheme() string {
	if a.authz {
		return SchemeAPIKey
	}
	return ""
}

// Close stops following the change feed and writes pending last-used times.
func (a *Authenticator) Close() error {
	var err error
	a.closed.Do(func() {
		a.cancel()
		a.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = a.Flush(ctx)
		if a.ownsSB {
			a.standby.Close()
		}
	})
	return err
}

// Authenticate implements auth.Authenticator.
func (a *Authenticator) Authenticate(r *http.Request) (*pipeline.Principal, error) {
	raw, err := a.credential(r)
	if err != nil {
		return nil, err
	}
	id, secret, err := store.ParseKey(raw)
	if err != nil {
		return nil, refuse(errMalformed)
	}
	now := a.now()
	e, err := a.lookup(id, now)
	if err != nil {
		return a.duringOutage(id, secret, now, err)
	}
	if err := a.check(e.key, id, secret, now); err != nil {
		return nil, err
	}
	if e.remembered.CompareAndSwap(false, true) {
		a.standby.remember(e)
	}
	a.used(e, now)
	return e.principal, nil // read-only (pipeline.Principal): shared, not copied
}

// check refuses k (nil: unknown) unless secret is its secret and it is
// usable at now.
func (a *Authenticator) check(k *store.Key, id, secret string, now time.Time) error {
	switch {
	case k == nil:
		return refuse(fmt.Errorf("unknown key id %s", id))
	case !a.store.Verify(k, secret):
		return refuse(fmt.Errorf("wrong secret for key %s", id))
	case !k.RevokedAt.IsZero():
		return refuse(fmt.Errorf("key %s was revoked at %s", id, k.RevokedAt.Format(time.RFC3339)))
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return refuse(fmt.Errorf("key %s expired at %s", id, k.ExpiresAt.Format(time.RFC3339)))
	}
	return nil
}

// duringOutage answers when the store could not be asked (cause): a key it
// confirmed recently is still checked, by its remembered record; any other
// gets 503, since it may be valid and nobody can say.
func (a *Authenticator) duringOutage(id, secret string, now time.Time, cause error) (*pipeline.Principal, error) {
	k := a.standby.recall(id, now)
	if k == nil {
		return nil, &pipeline.Rejection{Status: http.StatusServiceUnavailable, Type: auth.TypeAuthUnavailable,
			Detail: "API keys cannot be checked right now.", Header: http.Header{"Retry-After": {"1"}},
			Err: fmt.Errorf("key store lookup of %s: %w", id, cause)}
	}
	if err := a.check(k, id, secret, now); err != nil {
		return nil, err
	}
	a.standby.stale.Add(1)
	return a.newEntry(k, now).principal, nil
}

var errMalformed = errors.New("malformed API key")

// refuse is the one answer to every bad key; why travels in Err only.
func refuse(why error) *pipeline.Rejection {
	return &pipeline.Rejection{Status: http.StatusUnauthorized, Type: TypeInvalidAPIKey,
		Detail: "The API key is not valid.", Err: why}
}

// credential returns the key the request carries, ErrNoCredential when it
// carries none, or a 400 when it carries more than one.
func (a *Authenticator) credential(r *http.Request) (string, error) {
	var (
		v     string
		found bool
	)
	if a.header != "" {
		if vs := r.Header[a.header]; len(vs) > 0 {
			if len(vs) > 1 {
				return "", ambiguous()
			}
			v, found = vs[0], true
		}
	}
	if a.authz {
		for _, hv := range r.Header["Authorization"] {
			scheme, rest, _ := strings.Cut(strings.TrimLeft(hv, " \t"), " ")
			if !strings.EqualFold(scheme, SchemeAPIKey) {
				continue
			}
			if found || len(r.Header["Authorization"]) > 1 {
				// Two keys, or a key beside another Authorization field
				// that some hop may prefer.
				return "", ambiguous()
			}
			v, found = rest, true
		}
	}
	if !found {
		return "", auth.ErrNoCredential
	}
	if len(v) > maxCredentialBytes {
		return "", refuse(errMalformed)
	}
	if strings.IndexByte(v, ',') >= 0 {
		// RFC 9110 §5.3: a comma-joined value is a list of field values.
		return "", ambiguous()
	}
	return strings.Trim(v, " \t"), nil
}

func ambiguous() *pipeline.Rejection {
	return pipeline.Reject(http.StatusBadRequest, auth.TypeAmbiguousCredentials,
		"The request carries more than one credential of the same kind.")
}

// KeyID returns the id of the key the request claims to carry, unverified,
// or "" when it carries no well-formed key. It is for keying brute-force
// counters by key (lockout's "principal"), never for authorization.
func (a *Authenticator) KeyID(r *http.Request) string {
	raw, err := a.credential(r)
	if err != nil {
		return ""
	}
	id, _, err := store.ParseKey(raw)
	if err != nil {
		return ""
	}
	return id
}

// Strip removes the key from h (an upstream request's header), so the
// upstream gets the gateway's verdict (X-Rampart-*) instead of a replayable
// credential.
func (a *Authenticator) Strip(h http.Header) {
	if a.header != "" {
		delete(h, a.header)
	}
	if a.authz {
		if vs := h["Authorization"]; len(vs) == 1 {
			if scheme, _, _ := strings.Cut(strings.TrimLeft(vs[0], " \t"), " "); strings.EqualFold(scheme, SchemeAPIKey) {
				delete(h, "Authorization")
			}
		}
	}
}

// flight is one store lookup that concurrent requests for the same id share.
type flight struct {
	done chan struct{}
	e    *entry
	err  error
}

// lookup returns id's entry from the cache or, on a miss, from the store.
func (a *Authenticator) lookup(id string, now time.Time) (*entry, error) {
	caching := a.ttl > 0 && !a.bypass.Load()
	if caching {
		if e := a.cache.get(id, now.UnixNano()); e != nil {
			return e, nil
		}
	}
	a.flightMu.Lock()
	if f := a.flights[id]; f != nil {
		a.flightMu.Unlock()
		<-f.done
		return f.e, f.err
	}
	f := &flight{done: make(chan struct{})}
	a.flights[id] = f
	a.flightMu.Unlock()

	epoch, gen := a.cache.epoch.Load(), a.standby.gen.Load()
	k, err := a.standby.key(id)
	if err == nil {
		f.e = a.newEntry(k, now)
		f.e.gen = gen
		if caching && !a.bypass.Load() {
			a.cache.put(id, f.e, epoch)
		}
	}
	f.err = err
	a.flightMu.Lock()
	delete(a.flights, id)
	a.flightMu.Unlock()
	close(f.done)
	return f.e, f.err
}

func (a *Authenticator) newEntry(k *store.Key, now time.Time) *entry {
	e := &entry{key: k, at: now, expires: now.UnixNano() + a.ttl}
	if k != nil {
		labels := make(map[string]any, len(k.Labels))
		for name, v := range k.Labels {
			labels[name] = v
		}
		e.principal = &pipeline.Principal{Subject: k.Consumer, Authenticator: a.name, Scopes: k.Scopes, Roles: k.Roles,
			Claims: map[string]any{"key_id": k.ID, "labels": labels}}
	}
	return e
}

// follow applies the store's change feed to the cache.
func (a *Authenticator) follow(ctx context.Context, events <-chan store.KeyEvent) {
	defer a.wg.Done()
	for ev := range events {
		switch ev.Kind {
		case store.EventLost:
			a.bypass.Store(true)
			a.cache.purge()
			a.logger.Warn("api keys: the key store's change feed is down; every request asks the store", "authenticator", a.name)
		case store.EventReset:
			a.cache.purge()
			a.standby.distrust() // changes made while the feed was down went unheard
			if a.bypass.Swap(false) {
				a.logger.Info("api keys: the key store's change feed is back; caching again", "authenticator", a.name)
			}
		case store.EventCreated:
			a.cache.remove(ev.ID) // a cached "unknown id"
		default:
			a.cache.remove(ev.ID)
			a.standby.forget(ev.ID)
		}
	}
	if ctx.Err() == nil {
		// The store was closed under us: nothing will invalidate the cache
		// any more, so stop using it.
		a.bypass.Store(true)
		a.cache.purge()
		a.logger.Error("api keys: the key store's change feed ended; caching disabled", "authenticator", a.name)
	}
}

// used notes that e's key was used at now, at most once per touch interval.
func (a *Authenticator) used(e *entry, now time.Time) {
	n := now.UnixNano()
	last := e.touched.Load()
	if n-last < a.touchEvery || !e.touched.CompareAndSwap(last, n) {
		return
	}
	a.touchMu.Lock()
	if prev, ok := a.pending[e.key.ID]; !ok || now.After(prev) {
		a.pending[e.key.ID] = now
	}
	a.touchMu.Unlock()
}

func (a *Authenticator) flushEvery(ctx context.Context, every time.Duration) {
	defer a.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := a.Flush(fctx); err != nil && ctx.Err() == nil {
				a.logger.Warn("api keys: recording last use failed; will retry", "authenticator", a.name, "error", err)
			}
			cancel()
		}
	}
}

// Flush writes the last-used times noted since the previous flush in one
// batch. On failure they are kept for the next one.
func (a *Authenticator) Flush(ctx context.Context) error {
	a.touchMu.Lock()
	batch := a.pending
	a.pending = map[string]time.Time{}
	a.touchMu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := a.store.TouchLastUsed(ctx, batch); err != nil {
		a.touchMu.Lock()
		for id, at := range batch {
			if prev, ok := a.pending[id]; !ok || at.After(prev) {
				a.pending[id] = at
			}
		}
		a.touchMu.Unlock()
		return err
	}
	return nil
}
