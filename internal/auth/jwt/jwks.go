package jwt

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	jwtlib "github.com/golang-jwt/jwt/v5"
)

// jwksClient keeps a JWK Set fresh and answers key lookups.
//
// keyfunc/v3 selects the key by kid (checking the JWK's alg and use); jwkset
// parses and validates the JWKs. Fetching is done here rather than by
// jwkset's HTTP storage, for four reasons the library does not cover: the
// refresh interval follows the IdP's Cache-Control/Expires within a floor and
// a ceiling (jwkset refreshes at a fixed interval); the JWKS body is size
// limited; the unknown-kid refresh never blocks a request waiting for the
// rate limiter (jwkset's RefreshUnknownKID waits on a rate.Limiter, and its
// wait bound also cuts short the fetch itself) and uses an injectable clock;
// and concurrent lookups share one in-flight fetch.
type jwksClient struct {
	issuer   string // set with discovery: where jwks_uri is looked up
	source   string // keySourceOf the config
	client   *http.Client
	logger   *slog.Logger
	now      func() time.Time
	allowed  []string
	floor    time.Duration
	ceiling  time.Duration
	cooldown time.Duration
	timeout  time.Duration
	retry    Backoff
	onChange func()

	store *jwkset.MemoryJWKSet
	kf    keyfunc.Keyfunc

	ctx    context.Context // ends the refresh goroutine and in-flight fetches
	cancel context.CancelFunc
	done   chan struct{}
	tried  chan struct{} // closed when the first fetch attempt has ended
	loaded atomic.Bool   // keys have arrived; read on every lookup

	mu          sync.Mutex
	url         string     // the JWKS; "" until discovery found it
	inflight    *fetchCall // the fetch running now, shared by all who need one
	lastUnknown time.Time  // when an unknown kid last caused a fetch
	digest      [sha256.Size]byte
	state       State
	retryAt     time.Time // next attempt while waiting, for Retry-After
}

type fetchCall struct {
	done chan struct{}
	next time.Duration // refresh interval the response allows
	err  error
}

// errUnknownKID is what the storage reports for a kid it lacks; it never
// carries the kid (the storage's own error quotes it).
var errUnknownKID = errors.New("unknown kid")

// refreshingStorage is the jwkset.Storage handed to keyfunc: the in-memory set,
// with KeyRead trying one rate-limited refresh before reporting a kid unknown.
type refreshingStorage struct {
	*jwkset.MemoryJWKSet
	c *jwksClient
}

func (s refreshingStorage) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	if k, err := s.MemoryJWKSet.KeyRead(ctx, kid); err == nil {
		return k, nil
	}
	if !s.c.refreshForUnknownKID(ctx) {
		return jwkset.JWK{}, errUnknownKID
	}
	k, err := s.MemoryJWKSet.KeyRead(ctx, kid)
	if err != nil {
		return jwkset.JWK{}, errUnknownKID
	}
	return k, nil
}

func newJWKSClient(cfg Config, client *http.Client, logger *slog.Logger, now func() time.Time, onChange func()) (*jwksClient, error) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &jwksClient{
		url: cfg.JWKSURL, client: fetchClient(client, cfg.FetchTimeout), logger: logger, now: now, allowed: cfg.Algorithms,
		floor: cfg.JWKSRefreshFloor, ceiling: cfg.JWKSRefreshCeiling,
		cooldown: cfg.UnknownKIDCooldown, timeout: cfg.FetchTimeout, retry: cfg.Retry,
		source: keySourceOf(cfg), onChange: onChange,
		store: jwkset.NewMemoryStorage(),
		ctx:   ctx, cancel: cancel, done: make(chan struct{}), tried: make(chan struct{}),
		state: State{State: StateWaiting},
	}
	if cfg.Discovery {
		c.issuer = cfg.Issuer
		c.url = "" // found by the first fetch
	}
	kf, err := keyfunc.New(keyfunc.Options{
		Ctx:          ctx,
		Storage:      refreshingStorage{MemoryJWKSet: c.store, c: c},
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		cancel()
		return nil, err
	}
	c.kf = kf
	if cfg.Previous != nil {
		c.inherit(cfg.Previous.keys.jwks)
	}
	// No fetch here: an IdP that is down must not keep the gateway (and its
	// other routes) from starting. run fetches at once and retries with
	// backoff; until keys arrive, key() answers ErrKeysUnavailable (503).
	go c.run()
	return c, nil
}

// keySourceOf identifies where keys come from and which of them are kept:
// a reload with the same one may start with the running keys.
func keySourceOf(cfg Config) string {
	return fmt.Sprintf("%q %t %q %q", cfg.Issuer, cfg.Discovery, cfg.JWKSURL, cfg.Algorithms)
}

// inherit starts c with prev's keys when prev fetched keys from the same
// source: a reload during an IdP outage keeps verifying tokens instead of
// going back to waiting. The first fetch still runs at once.
func (c *jwksClient) inherit(prev *jwksClient) {
	if prev == nil || prev.source != c.source {
		return
	}
	prev.mu.Lock()
	loaded, url, digest := prev.state.State == StateReady, prev.url, prev.digest
	prev.mu.Unlock()
	if !loaded {
		return
	}
	keys, err := prev.store.KeyReadAll(c.ctx)
	if err != nil || c.store.KeyReplaceAll(c.ctx, keys) != nil {
		return
	}
	c.mu.Lock()
	c.url, c.digest = url, digest
	c.state = State{State: StateReady}
	c.mu.Unlock()
	c.loaded.Store(true)
}

// fetchClient returns a copy of client (nil = a fresh one) that follows at
// most three redirects, and only to URLs checkFetchURL accepts.
func fetchClient(client *http.Client, timeout time.Duration) *http.Client {
	var hc http.Client
	if client != nil {
		hc = *client
	}
	if hc.Timeout == 0 {
		hc.Timeout = timeout
	}
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		return checkFetchURL(req.URL.String())
	}
	return &hc
}

// key returns the verification key for a token with algorithm alg.
func (c *jwksClient) key(ctx context.Context, t *jwtlib.Token, alg string) (any, error) {
	if !c.loaded.Load() {
		// No key to decide with: not the token's fault (no 401), and no
		// fetch either (run is retrying with backoff; requests must not
		// hammer an IdP that is down).
		return nil, ErrKeysUnavailable
	}
	kid, hasKID := t.Header["kid"].(string)
	if !hasKID {
		// No kid (some plain-JWKS issuers): every key that fits the algorithm
		// is tried; the library stops at the first that verifies.
		all, err := c.store.KeyReadAll(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnknownKey, err)
		}
		keys := make([]any, 0, len(all))
		for _, j := range all {
			if m := j.Marshal(); m.ALG == "" || string(m.ALG) == alg {
				keys = append(keys, j.Key())
			}
		}
		k, err := oneOrSet(fitting(keys, alg))
		if err != nil {
			return nil, ErrUnknownKey
		}
		return k, nil
	}
	if len(kid) > maxKIDBytes {
		return nil, ErrUnknownKey // no lookup, no refresh
	}
	k, err := c.kf.KeyfuncCtx(ctx)(t)
	switch {
	case errors.Is(err, errUnknownKID):
		return nil, ErrUnknownKey
	case err != nil:
		// JWK alg differs from the token's alg, or the JWK's use is "enc".
		return nil, ErrKey
	case !fits(alg, k):
		return nil, ErrKey
	}
	return k, nil
}

// refreshForUnknownKID runs (or joins) a refresh because a token named a kid
// the set lacks, and reports whether a refresh completed. A new fetch starts
// only if the cooldown has passed since the last one an unknown kid caused;
// otherwise it returns false at once, so a flood of random kids costs the IdP
// at most one fetch per cooldown and costs each request no waiting.
func (c *jwksClient) refreshForUnknownKID(ctx context.Context) bool {
	c.mu.Lock()
	call := c.inflight
	if call == nil {
		now := c.now()
		if !c.lastUnknown.IsZero() && now.Sub(c.lastUnknown) < c.cooldown {
			c.mu.Unlock()
			return false
		}
		c.lastUnknown = now
		call = c.startLocked()
	}
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.err == nil
	case <-ctx.Done():
		return false
	}
}

func (c *jwksClient) start() *fetchCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight != nil {
		return c.inflight
	}
	return c.startLocked()
}

// startLocked starts a fetch shared by everyone who asks while it runs. It is
// bound to the client's lifetime, not to the request that caused it.
func (c *jwksClient) startLocked() *fetchCall {
	call := &fetchCall{done: make(chan struct{})}
	c.inflight = call
	go func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
		call.next, call.err = c.fetch(ctx)
		cancel()
		c.mu.Lock()
		c.inflight = nil
		c.mu.Unlock()
		close(call.done)
	}()
	return call
}

// run fetches at once, then refreshes until close: at the interval the
// IdP allows once keys are loaded (a failure keeps them and retries after the
// floor), with backoff while there are none yet.
func (c *jwksClient) run() {
	defer close(c.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for attempt := 0; ; {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		call := c.start()
		select {
		case <-c.ctx.Done():
			return
		case <-call.done:
		}
		next := call.next
		switch {
		case call.err == nil:
			attempt = 0
		case c.loaded.Load():
			next = c.floor
			c.logger.Log(c.ctx, failureLevel(call.err), "JWKS refresh failed; keeping the last good keys",
				"url", c.currentURL(), "error", call.err, "retry_in", next)
		default:
			next = c.retry.Delay(attempt, c.floor)
			attempt++
			c.logger.Log(c.ctx, failureLevel(call.err), "no JWKS yet; tokens of this authenticator get 503 until one is fetched",
				"issuer_or_url", cmp.Or(c.currentURL(), c.issuer), "error", call.err, "retry_in", next)
		}
		c.recordAttempt(call.err, next)
		t.Reset(next)
	}
}

// failureLevel: an IdP that does not answer is an outage (warning); one
// that answers with unusable documents is a misconfiguration or an attack
// (error).
func failureLevel(err error) slog.Level {
	if errors.Is(err, ErrKeysInvalid) {
		return slog.LevelError
	}
	return slog.LevelWarn
}

// recordAttempt updates the state /readyz reports after a fetch attempt.
func (c *jwksClient) recordAttempt(err error, next time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil || c.loaded.Load():
		// Keys are in use; a failed refresh is logged, not a state change.
		c.state = State{State: StateReady, Err: err}
	case errors.Is(err, ErrKeysInvalid):
		c.state = State{State: StateInvalid, Err: err}
	default:
		c.state = State{State: StateWaiting, Err: err}
	}
	c.retryAt = c.now().Add(next)
	select {
	case <-c.tried:
	default:
		close(c.tried)
	}
}

func (c *jwksClient) currentURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.url
}

// status is the client's state, and how long a request refused for lack of
// keys should wait before retrying.
func (c *jwksClient) status() (State, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.retryAt.Sub(c.now())
}

// wait blocks until the first fetch attempt has ended, or ctx is done.
func (c *jwksClient) wait(ctx context.Context) error {
	select {
	case <-c.tried:
	case <-c.ctx.Done():
		return errors.New("closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	st, _ := c.status()
	if st.State == StateReady {
		return nil
	}
	return st.Err
}

func (c *jwksClient) close() {
	c.cancel()
	<-c.done
}

// fetch gets the JWKS, replaces the key set if it changed, and returns how
// long the response may be cached, clamped to [floor, ceiling].
// With discovery, the JWKS URL is looked up first, until found once.
// Documents that arrived but cannot be used wrap ErrKeysInvalid.
func (c *jwksClient) fetch(ctx context.Context) (time.Duration, error) {
	u := c.currentURL()
	if u == "" {
		found, err := discover(ctx, c.client, c.issuer)
		if err != nil {
			return 0, err
		}
		c.mu.Lock()
		c.url, u = found, found
		c.mu.Unlock()
	}
	body, h, err := getDocument(ctx, c.client, u, "application/jwk-set+json, application/json")
	if err != nil {
		return 0, err
	}
	keys, skipped, err := parseJWKS(body, c.allowed)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrKeysInvalid, u, err)
	}
	for _, s := range skipped {
		c.logger.Debug("JWKS key skipped", "url", u, "reason", s)
	}
	sum := sha256.Sum256(body)
	c.mu.Lock()
	changed := sum != c.digest
	c.digest = sum
	c.mu.Unlock()
	if changed {
		if err := c.store.KeyReplaceAll(ctx, keys); err != nil {
			return 0, err
		}
		c.onChange()
	}
	c.loaded.Store(true)
	return c.lifetime(h), nil
}

// lifetime reads the response's cache lifetime (RFC 9111 §4.2.1: max-age,
// else Expires minus Date) and clamps it to [floor, ceiling]; no-store and
// no-cache mean the floor, no cache headers at all mean the ceiling.
func (c *jwksClient) lifetime(h http.Header) time.Duration {
	d, ok := cacheLifetime(h, c.now())
	if !ok {
		return c.ceiling
	}
	return min(max(d, c.floor), c.ceiling)
}

func cacheLifetime(h http.Header, now time.Time) (time.Duration, bool) {
	if cc := h.Values("Cache-Control"); len(cc) > 0 {
		for _, v := range cc {
			for _, d := range strings.Split(v, ",") {
				name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
				switch strings.ToLower(name) {
				case "no-store", "no-cache":
					return 0, true
				case "max-age":
					n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
					if errors.Is(err, strconv.ErrRange) && n > 0 {
						err = nil // RFC 9111 §1.2.2: too large means "very large"
					}
					if err != nil || n < 0 {
						return 0, true
					}
					return time.Duration(min(n, int64(365*24*3600))) * time.Second, true
				}
			}
		}
	}
	if e := h.Get("Expires"); e != "" {
		exp, err := http.ParseTime(e)
		if err != nil {
			return 0, true // RFC 9111 §5.3: an invalid Expires means already expired
		}
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d
		}
		return max(exp.Sub(base), 0), true
	}
	return 0, false
}

// parseJWKS returns the usable signature keys of a JWK Set: RSA (>= 2048
// bits), EC and OKP keys whose use is "sig" or unset and whose alg, if set, is
// allowed. Symmetric keys never come from a JWKS. Keys that are skipped are
// described in skipped; a set with no usable key is an error.
func parseJWKS(body []byte, allowed []string) (keys []jwkset.JWK, skipped []string, err error) {
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, nil, fmt.Errorf("JWKS is not a JSON JWK Set: %w", err)
	}
	for i, m := range set.Keys {
		why := ""
		switch {
		case m.KTY == jwkset.KtyOct:
			why = "symmetric key"
		case m.USE != "" && m.USE != jwkset.UseSig:
			why = "use is not sig"
		case m.ALG != "" && !slices.Contains(allowed, string(m.ALG)):
			why = "alg " + strconv.Quote(string(m.ALG)) + " not allowed"
		}
		if why == "" {
			m.D, m.P, m.Q, m.DP, m.DQ, m.QI, m.OTH, m.K = "", "", "", "", "", "", nil, ""
			j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
			switch {
			case err != nil:
				why = err.Error()
			default:
				usable := false
				for _, alg := range allowed {
					usable = usable || fits(alg, j.Key())
				}
				if !usable {
					why = "no allowed algorithm fits the key (type, curve, or RSA below 2048 bits)"
				} else {
					keys = append(keys, j)
				}
			}
		}
		if why != "" {
			skipped = append(skipped, fmt.Sprintf("key %d (kid %q): %s", i, m.KID, why))
		}
	}
	if len(keys) == 0 {
		return nil, skipped, fmt.Errorf("JWKS has no usable signing key for %v (%d skipped: %s)",
			allowed, len(skipped), strings.Join(skipped, "; "))
	}
	return keys, skipped, nil
}

// discover reads {issuer}/.well-known/openid-configuration (OpenID Connect
// Discovery §4) and returns its jwks_uri, after checking that the document
// names exactly the configured issuer (§4.3; otherwise an attacker-influenced
// document could substitute keys).
func discover(ctx context.Context, client *http.Client, issuer string) (string, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	body, _, err := getDocument(ctx, client, u, "application/json")
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	var doc struct {
		Issuer  *string `json:"issuer"`
		JWKSURI *string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("%w: discovery %s: not a JSON object: %w", ErrKeysInvalid, u, err)
	}
	switch {
	case doc.Issuer == nil:
		return "", fmt.Errorf("%w: discovery %s: no issuer", ErrKeysInvalid, u)
	case *doc.Issuer != issuer:
		return "", fmt.Errorf("%w: discovery %s: document names issuer %q, configured issuer is %q (they must match exactly, trailing slash included)", ErrKeysInvalid, u, *doc.Issuer, issuer)
	case doc.JWKSURI == nil || *doc.JWKSURI == "":
		return "", fmt.Errorf("%w: discovery %s: no jwks_uri", ErrKeysInvalid, u)
	}
	if err := checkFetchURL(*doc.JWKSURI); err != nil {
		return "", fmt.Errorf("%w: discovery %s: jwks_uri: %w", ErrKeysInvalid, u, err)
	}
	return *doc.JWKSURI, nil
}

// getDocument GETs u and returns a 200 body of at most MaxDocumentBytes.
func getDocument(ctx context.Context, client *http.Client, u, accept string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, nil, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > MaxDocumentBytes {
		return nil, nil, fmt.Errorf("%w: GET %s: document larger than %d bytes", ErrKeysInvalid, u, MaxDocumentBytes)
	}
	return body, resp.Header, nil
}
