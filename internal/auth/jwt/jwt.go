// Package jwt authenticates requests bearing a JWT access token (RFC 7519,
// RFC 9068) signed with a key the gateway was configured to trust: a JWKS URL,
// a JWKS found through OpenID Connect discovery, a static public key file, or
// a shared secret.
//
// It follows RFC 8725 (JWT Best Current Practices) strictly, because token
// validation is where gateways get broken (OWASP API2):
//
//   - The algorithm comes from config, never from the token (§3.1): every
//     parse passes WithValidMethods with an explicit allowlist that may not mix
//     HMAC with public-key algorithms (§2.1 key confusion) and never holds
//     "none"; keys are checked to fit the algorithm (an ES256 token needs a
//     P-256 key).
//   - Keys come only from configuration (§3.10 is about not trusting token
//     contents): tokens with jwk, jku, x5u or x5c header parameters are refused
//     outright, a kid is only ever a map key, and no URL named in a token is
//     fetched. An unknown kid triggers at most one JWKS refresh per cooldown,
//     so random kids cannot turn the gateway into a load generator against
//     the IdP.
//   - Every parse requires exp and checks iss (§3.8), aud (§3.9), nbf and iat
//     with a small leeway; claims of the wrong JSON type (a string exp, a
//     numeric aud) are refusals, not zero values. Only a shared-secret
//     authenticator may say issuer or audiences Any, for tokens its own
//     application mints without them. RequireClaims (type: access) refuses
//     refresh tokens.
//   - Only compact JWS with exactly three segments and canonical base64url is
//     accepted: JWE and nested tokens (no decompression, RFC 8725 §3.6), the
//     JSON serialization, unknown crit extensions (RFC 7515 §4.1.11) and
//     typ values other than JWT / at+jwt (§3.11 explicit typing) are refused.
//
// Refusals reach the client as 401 with RFC 6750 error="invalid_token" and no
// more; the reason (one of the Err* values below) reaches logs through
// Rejection.Err. Verification itself is golang-jwt/jwt/v5; JWKs are parsed and
// selected by MicahParks/jwkset and keyfunc/v3; nothing here verifies a
// signature by hand.
//
// New validates the config and loads static keys, so a bad issuer or a weak
// key is an error at start (or reload). A JWKS (or discovery) is fetched in
// the background instead, so an IdP that is down does not keep the gateway
// from starting: until the first fetch succeeds — retried with capped,
// jittered exponential backoff — tokens are refused with 503
// auth-unavailable and Retry-After (fail closed, never a pass); State says
// whether keys are waiting, invalid (documents arrived but were refused) or
// ready, and Wait lets `rampart check --online` see the first outcome. A
// reload with the same key source starts from the previous authenticator's
// keys (Config.Previous). JWKS are refreshed at the
// interval the IdP's Cache-Control/Expires allow, clamped to a floor and a
// ceiling; a failed refresh keeps the last good keys. Verified tokens are
// cached (by SHA-256, bounded, until exp) so a repeated token skips the
// signature check; the cache forgets everything when the key set changes.
//
// Example:
//
//	a, err := jwt.New(jwt.Config{Name: "corp_sso", Issuer: "https://idp.example.com/",
//		Discovery: true, Audiences: []string{"inventory-api"},
//		Algorithms: []string{"RS256", "ES256"}, Leeway: jwt.DefaultLeeway}, nil, logger)
//	if err != nil { return err }
//	defer a.Close()
package jwt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Defaults and bounds.
const (
	// DefaultLeeway is the clock skew the config applies when `leeway` is
	// omitted. (In Config, zero means no leeway.)
	DefaultLeeway = 30 * time.Second
	// MaxLeeway bounds Leeway: more would keep expired tokens alive.
	MaxLeeway = 5 * time.Minute

	DefaultRolesClaim         = "roles"
	DefaultUnknownKIDCooldown = 30 * time.Second
	DefaultJWKSRefreshFloor   = time.Minute
	DefaultJWKSRefreshCeiling = time.Hour
	DefaultFetchTimeout       = 10 * time.Second
	DefaultCacheSize          = 10000
	DefaultCacheTTL           = 5 * time.Minute

	// MinRefreshInterval bounds the floor and the cooldown from below, so no
	// configuration can hammer the IdP.
	MinRefreshInterval = time.Second
	// MaxDocumentBytes bounds a JWKS or discovery document.
	MaxDocumentBytes = 1 << 20
	// maxKIDBytes: a longer kid is no key we know, and is not looked up.
	maxKIDBytes = 256
)

// Config configures one JWT authenticator (an entry of authenticators: with
// type: jwt). Exactly one key source is set: JWKSURL, Discovery, Secret or
// PublicKeyFile.
type Config struct {
	Name string `yaml:"-"` // the entry's name; becomes Principal.Authenticator

	// Issuer is the exact required `iss` (RFC 8725 §3.8); required. With
	// discovery it is also where discovery starts, and must equal the
	// discovery document's `issuer` (OpenID Connect Discovery §4.3). An
	// https URL (http only for a loopback address), or `any` (only with
	// secret): `iss` is then not checked, absent or any value, for tokens
	// an application issues itself (Flask-JWT-Extended, PyJWT).
	Issuer string `yaml:"issuer" conf:"required,weburl,or_any"`
	// Discovery reads jwks_uri from {issuer}/.well-known/openid-configuration
	// (one key source).
	Discovery bool `yaml:"discovery"`
	// JWKSURL is where the key set is fetched (one key source): https, http
	// only for a loopback address.
	JWKSURL string `yaml:"jwks_url" conf:"weburl"`
	// Audiences: the token's `aud` must contain one of them; required.
	// [any] (only with secret) means `aud` is not checked, absent or any
	// value.
	Audiences []string `yaml:"audiences" conf:"required,unique"`
	// Algorithms is the allowlist of `alg` values; required. HS256/384/512
	// need secret and exclude every other algorithm; RS*, PS*, ES*, EdDSA need
	// a public key source. "none" is never allowed.
	Algorithms []string `yaml:"algorithms" conf:"required,unique"`
	// Leeway is the clock skew allowed on exp, nbf and iat; at most 5m.
	Leeway time.Duration `yaml:"leeway" default:"30s" conf:"min=0s,max=5m"`
	// Secret is the shared key of HS* algorithms (one key source): raw bytes,
	// at least as long as the hash (32/48/64), not a placeholder. Write it as
	// ${ENV_VAR}.
	Secret string `yaml:"secret" conf:"secret"`
	// PublicKeyFile is a PEM file of PUBLIC KEY, RSA PUBLIC KEY or
	// CERTIFICATE blocks (one key source).
	PublicKeyFile string `yaml:"public_key_file" conf:"nonempty"`

	// TokenHeader is the header carrying the token; Authorization means the
	// Bearer scheme of that header.
	TokenHeader string `yaml:"token_header" default:"Authorization" conf:"token=header name"`
	// TokenCookie, when set, is the cookie the token is read from instead.
	TokenCookie string `yaml:"token_cookie" conf:"token=cookie name"`
	// RolesClaim is the claim holding roles, a dotted path for nested claims
	// ("realm_access.roles" for Keycloak). Unset means "roles".
	RolesClaim string `yaml:"roles_claim" conf:"claim"`
	// RequireClaims are claims the token must carry with exactly these
	// string values, such as {type: access} to refuse Flask-JWT-Extended's
	// refresh tokens ({token_type: access} for Django SimpleJWT).
	RequireClaims map[string]string `yaml:"require_claims" conf:"entry=claim"`
	// ForwardToken passes the token on to the upstream. By default it is
	// removed (like Envoy's jwt_authn): the upstream gets the gateway's verdict
	// in X-Rampart-* headers instead of a replayable bearer token.
	ForwardToken bool `yaml:"forward_token"`

	// JWKSRefreshFloor is the least time between two JWKS refreshes: the
	// IdP's cache lifetime (Cache-Control max-age, or Expires) is clamped to
	// [floor, ceiling], a failed refresh is retried after the floor, and
	// while no JWKS has been fetched yet the retry backoff (from 500ms,
	// doubling, jittered) is capped at it. Unset means 1m; between 1s and 24h.
	JWKSRefreshFloor time.Duration `yaml:"jwks_refresh_floor" conf:"min=1s,max=24h"`
	// JWKSRefreshCeiling is the most time between two JWKS refreshes, and how
	// often a key set served without cache headers is refreshed. Unset means
	// 1h; between 1s and 7 days.
	JWKSRefreshCeiling time.Duration `yaml:"jwks_refresh_ceiling" conf:"min=1s,max=168h"`
	// UnknownKIDCooldown is the least time between two refreshes caused by
	// tokens naming a kid the key set lacks (how IdP key rotation is picked up
	// at once). Unset means 30s; between 1s and 1h.
	UnknownKIDCooldown time.Duration `yaml:"unknown_kid_cooldown" conf:"min=1s,max=1h"`

	// Types is the list of accepted `typ` header values, compared without
	// case and without an "application/" prefix (RFC 7515 §4.1.9). nil = no
	// typ, "JWT" or "at+jwt" (RFC 9068). When set, a token without typ is
	// accepted only if "" is listed.
	Types []string `yaml:"-"`
	// FetchTimeout bounds each discovery or JWKS request; 0 = DefaultFetchTimeout.
	FetchTimeout time.Duration `yaml:"-"`
	// CacheSize bounds the verified-token cache; 0 = DefaultCacheSize,
	// negative = no cache (every request verifies the signature).
	CacheSize int `yaml:"-"`
	// CacheTTL bounds how long a verified token is remembered (it is never
	// remembered past its exp); 0 = DefaultCacheTTL.
	CacheTTL time.Duration `yaml:"-"`

	// Retry is the fetch schedule while no JWKS has been fetched yet; the
	// zero value is 500ms doubling up to jwks_refresh_floor, with jitter.
	Retry Backoff `yaml:"-"`
	// Previous is the authenticator this one replaces on a reload: if it
	// had fetched keys from the same source (issuer, discovery, jwks_url,
	// algorithms), they are used at once, so a reload during an IdP outage
	// does not go back to waiting. nil on a first start.
	Previous *Authenticator `yaml:"-"`

	// Now is the clock for token validation, the cache and the unknown-kid
	// cooldown; nil = time.Now.
	Now func() time.Time `yaml:"-"`
	// Offline skips discovery and the JWKS fetch (`rampart check` without
	// --online): the config is still validated and a public_key_file still
	// loaded, but an authenticator with jwks_url or discovery then has no
	// keys and refuses every token. (Not a config-file field.)
	Offline bool `yaml:"-"`
}

// Authenticator verifies JWTs. It is safe for concurrent use; Close stops its
// background JWKS refresh.
type Authenticator struct {
	name       string
	issuer     string // Any: not checked
	required   map[string]string
	src        auth.TokenSource
	parser     *jwtlib.Parser
	allowed    []string
	types      map[string]bool // normalised accepted typ values; "" = absent
	rolesClaim string
	now        func() time.Time

	keys *keySource // where verification keys come from

	cache    *auth.Cache[cached]
	cacheTTL time.Duration
	// gen changes whenever the key set does; cache entries from an older
	// generation are dead, so no token verified with a withdrawn key is
	// served from the cache after the JWKS changed.
	gen atomic.Uint64

	closeOnce sync.Once
}

type cached struct {
	p   *pipeline.Principal
	gen uint64
}

var (
	_ auth.Authenticator = (*Authenticator)(nil)
	_ auth.Challenger    = (*Authenticator)(nil)
)

// New builds an authenticator from cfg: it validates cfg, loads the static
// key, or starts fetching the JWKS in the background (discovery first, with
// client; nil = a client with FetchTimeout). A config or static-key problem
// is an error naming it; an IdP that does not answer is not (see State).
// logger (nil = slog.Default()) receives refresh failures and skipped keys.
func New(cfg Config, client *http.Client, logger *slog.Logger) (*Authenticator, error) {
	if logger == nil {
		logger = slog.Default()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if err := applyDefaults(&cfg); err != nil {
		return nil, fmt.Errorf("jwt %q: %w", cfg.Name, err)
	}
	types, err := acceptedTypes(cfg.Types)
	if err != nil {
		return nil, fmt.Errorf("jwt %q: %w", cfg.Name, err)
	}
	a := &Authenticator{
		name:       cfg.Name,
		issuer:     cfg.Issuer,
		required:   maps.Clone(cfg.RequireClaims),
		src:        auth.TokenSource{Header: cfg.TokenHeader, Cookie: cfg.TokenCookie},
		allowed:    slices.Clone(cfg.Algorithms),
		types:      types,
		rolesClaim: cfg.RolesClaim,
		now:        now,
		cacheTTL:   cfg.CacheTTL,
	}
	opts := []jwtlib.ParserOption{
		jwtlib.WithValidMethods(slices.Clone(cfg.Algorithms)),
		jwtlib.WithExpirationRequired(),
		jwtlib.WithIssuedAt(),
		jwtlib.WithLeeway(cfg.Leeway),
		jwtlib.WithTimeFunc(now),
		jwtlib.WithStrictDecoding(), // one encoding per token: no malleable variants
	}
	if cfg.Issuer != Any {
		opts = append(opts, jwtlib.WithIssuer(cfg.Issuer))
	}
	if !cfg.AnyAudience() {
		opts = append(opts, jwtlib.WithAudience(slices.Clone(cfg.Audiences)...))
	}
	a.parser = jwtlib.NewParser(opts...)
	if cfg.CacheSize > 0 {
		a.cache = auth.NewCache[cached](cfg.CacheSize, now)
	}
	ks, err := newKeySource(cfg, client, logger, now, func() { a.gen.Add(1); a.cache.Purge() })
	if err != nil {
		return nil, fmt.Errorf("jwt %q: %w", cfg.Name, err)
	}
	a.keys = ks
	return a, nil
}

// Name implements auth.Authenticator.
func (a *Authenticator) Name() string { return a.name }

// Scheme implements auth.Challenger.
func (a *Authenticator) Scheme() string { return auth.SchemeBearer }

// Close stops the background JWKS refresh. The authenticator keeps verifying
// with the keys it has. Close is idempotent.
func (a *Authenticator) Close() error {
	a.closeOnce.Do(a.keys.close)
	return nil
}

// Authenticate implements auth.Authenticator. Two kinds of bearer token are
// reported as auth.ErrForeignCredential, so an authenticator listed after this
// one can take them: a token without any '.', which cannot be a JWS or JWE
// (an opaque token, for introspection); and a well-formed JWS whose iss names
// another issuer (for that issuer's authenticator; never with issuer Any).
// Every other token is this authenticator's to accept or refuse.
func (a *Authenticator) Authenticate(r *http.Request) (*pipeline.Principal, error) {
	tok, err := a.src.Token(r)
	if err != nil {
		return nil, err
	}
	if strings.IndexByte(tok, '.') < 0 {
		return nil, auth.ErrForeignCredential
	}
	p, err := a.verify(r.Context(), tok)
	if errors.Is(err, auth.ErrNoCredential) {
		return nil, err
	}
	if errors.Is(err, ErrKeysUnavailable) {
		return nil, a.unavailable(err)
	}
	if err != nil {
		return nil, &pipeline.Rejection{Status: http.StatusUnauthorized, Type: auth.TypeInvalidToken,
			Detail: "The access token is invalid.", Err: err}
	}
	// The cached principal itself: principals are read-only once
	// authenticated (pipeline.Principal), so a cache hit allocates nothing.
	return p, nil
}

// unavailable is the 503 for a token that cannot be checked because no
// keys have been fetched yet (fail closed). Retry-After is the time until the
// next fetch attempt, at least a second.
func (a *Authenticator) unavailable(err error) *pipeline.Rejection {
	st, next := a.keys.jwks.status()
	if st.Err != nil {
		err = fmt.Errorf("%w: %w", err, st.Err)
	}
	secs := max(int64((next+time.Second-1)/time.Second), 1)
	return &pipeline.Rejection{Status: http.StatusServiceUnavailable, Type: auth.TypeAuthUnavailable,
		Detail: "The identity provider's keys are not available yet; retry later.",
		Header: http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}}, Err: err}
}

// verify returns the principal of a valid token, from the cache when it was
// verified before under the current key set, or an error wrapping one of the
// Err* reasons.
func (a *Authenticator) verify(ctx context.Context, tok string) (*pipeline.Principal, error) {
	gen := a.gen.Load()
	var key auth.Key
	if a.cache != nil {
		key = auth.KeyOf(tok)
		if c, ok := a.cache.Get(key); ok && c.gen == gen {
			return c.p, nil
		}
	}
	if n := strings.Count(tok, "."); n != 2 {
		if n == 4 {
			return nil, fmt.Errorf("%w: JWE (5 segments); only signed tokens are accepted", ErrMalformed)
		}
		return nil, fmt.Errorf("%w: %d segments", ErrMalformed, n+1)
	}
	if iss, ok := peekIssuer(tok); ok && a.issuer != Any && iss != a.issuer {
		return nil, ErrOtherIssuer
	}
	claims := jwtlib.MapClaims{}
	t, err := a.parser.ParseWithClaims(tok, claims, func(t *jwtlib.Token) (any, error) {
		if err := a.checkHeader(t.Header); err != nil {
			return nil, err
		}
		return a.keys.key(ctx, t)
	})
	if err != nil {
		return nil, a.classify(t, err)
	}
	for name, want := range a.required {
		if got, _ := claims[name].(string); got != want {
			// The value stays out of the text: it is the token's.
			return nil, fmt.Errorf("%w: claim %q lacks its required value", ErrClaims, name)
		}
	}
	p, err := auth.PrincipalFromClaims(a.name, claims, a.rolesClaim, "sub")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClaims, err)
	}
	if a.cache != nil {
		exp, err := claims.GetExpirationTime()
		if err == nil && exp != nil {
			until := a.now().Add(a.cacheTTL)
			if exp.Before(until) {
				until = exp.Time
			}
			a.cache.Put(key, cached{p: p, gen: gen}, until)
		}
	}
	return p, nil
}

// checkHeader refuses header parameters that must never be honoured, before
// any key is looked up. Values from the header never reach the error text.
func (a *Authenticator) checkHeader(h map[string]any) error {
	for _, name := range [...]string{"jwk", "jku", "x5u", "x5c"} {
		if _, ok := h[name]; ok {
			// RFC 8725 §3.10 / RFC 7515 §4.1.2-6: a token naming its own key
			// (or where to fetch it) proves nothing.
			return fmt.Errorf("%w: %q (token-supplied key)", ErrHeader, name)
		}
	}
	if _, ok := h["crit"]; ok {
		// RFC 7515 §4.1.11: extensions we do not understand must be refused,
		// and we understand none.
		return fmt.Errorf("%w: %q", ErrHeader, "crit")
	}
	for _, name := range [...]string{"enc", "zip", "b64"} {
		if _, ok := h[name]; ok {
			// enc/zip belong to JWE (no decompression, RFC 8725 §3.6); b64
			// (RFC 7797) changes what the signature covers.
			return fmt.Errorf("%w: %q", ErrHeader, name)
		}
	}
	if v, ok := h["cty"]; ok {
		if s, _ := v.(string); strings.EqualFold(strings.TrimPrefix(strings.ToLower(s), "application/"), "jwt") {
			return fmt.Errorf("%w: nested JWT (cty)", ErrHeader)
		}
	}
	typ := ""
	if v, ok := h["typ"]; ok {
		s, isString := v.(string)
		if !isString || s == "" {
			return fmt.Errorf("%w: typ is not a string", ErrType)
		}
		typ = normaliseType(s)
	}
	if !a.types[typ] {
		return ErrType
	}
	if v, ok := h["kid"]; ok {
		if _, isString := v.(string); !isString {
			return fmt.Errorf("%w: kid is not a string", ErrMalformed)
		}
	}
	return nil
}

// classify maps a golang-jwt error to one of this package's reasons. Errors
// this package raised inside the key function come first.
func (a *Authenticator) classify(t *jwtlib.Token, err error) error {
	for _, mine := range [...]error{ErrHeader, ErrType, ErrUnknownKey, ErrKey, ErrMalformed, ErrKeysUnavailable} {
		if errors.Is(err, mine) {
			return err
		}
	}
	switch {
	case errors.Is(err, jwtlib.ErrTokenMalformed):
		return ErrMalformed
	case errors.Is(err, jwtlib.ErrTokenUnverifiable):
		// alg missing or not a known algorithm ("NONE", "None", "foo")
		return ErrAlgorithm
	case errors.Is(err, jwtlib.ErrTokenSignatureInvalid):
		if t != nil && t.Method != nil && !slices.Contains(a.allowed, t.Method.Alg()) {
			return ErrAlgorithm
		}
		return ErrSignature
	case errors.Is(err, jwtlib.ErrTokenExpired):
		return ErrExpired
	case errors.Is(err, jwtlib.ErrTokenNotValidYet):
		return ErrNotYetValid
	case errors.Is(err, jwtlib.ErrTokenUsedBeforeIssued):
		return ErrIssuedInFuture
	case errors.Is(err, jwtlib.ErrTokenInvalidIssuer):
		return ErrIssuer
	case errors.Is(err, jwtlib.ErrTokenInvalidAudience):
		return ErrAudience
	}
	// Missing exp/aud/iss and claims of the wrong type (ErrInvalidType). The
	// library's text names the claim, never its value.
	return fmt.Errorf("%w: %v", ErrClaims, err)
}

// peekIssuer returns the iss of a compact JWS without verifying anything, to
// route the token to the authenticator of its issuer. ok is false when the
// payload is not canonical base64url JSON with a string iss: such tokens are
// refused by the full parse instead.
func peekIssuer(tok string) (iss string, ok bool) {
	_, rest, _ := strings.Cut(tok, ".")
	payload, _, _ := strings.Cut(rest, ".")
	b, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	if err != nil {
		return "", false
	}
	var c struct {
		Iss *string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil || c.Iss == nil {
		return "", false
	}
	return *c.Iss, true
}

func normaliseType(s string) string {
	return strings.TrimPrefix(strings.ToLower(s), "application/")
}

func acceptedTypes(list []string) (map[string]bool, error) {
	if list == nil {
		return map[string]bool{"": true, "jwt": true, "at+jwt": true}, nil
	}
	m := make(map[string]bool, len(list))
	for _, t := range list {
		if strings.ContainsAny(t, " \t\r\n") {
			return nil, fmt.Errorf("types: %q is not a media type", t)
		}
		m[normaliseType(t)] = true
	}
	return m, nil
}
