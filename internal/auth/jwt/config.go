package jwt

import (
	"cmp"
	"errors"
	"fmt"
	"github.com/rampart-gw/rampart/internal/framing"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/rampart-gw/rampart/internal/config/conf"
)

// algorithms this package accepts in Config.Algorithms, with the family each
// belongs to ("none" is deliberately absent). Validate tells the families
// apart by the HS prefix.
var algFamily = map[string]string{
	"HS256": "hmac", "HS384": "hmac", "HS512": "hmac",
	"RS256": "rsa", "RS384": "rsa", "RS512": "rsa",
	"PS256": "rsa", "PS384": "rsa", "PS512": "rsa",
	"ES256": "ecdsa", "ES384": "ecdsa", "ES512": "ecdsa",
	"EdDSA": "eddsa",
}

// hmacMinKey is the least secret length per HMAC algorithm: RFC 7518 §3.2
// requires a key at least as long as the hash output.
var hmacMinKey = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// algorithmNames lists the algorithms in the order messages name them.
var algorithmNames = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Any, as the issuer or the only audience, turns that check off. It is
// accepted only with a shared secret, which is then the whole trust anchor:
// with a JWKS or public key it would accept every token the IdP signs for
// anyone (a public IdP signs for every application).
const Any = "any"

// AnyAudience reports whether audiences is [any].
func (c *Config) AnyAudience() bool { return slices.Contains(c.Audiences, Any) }

// Warnings explain the risk of what c accepts that tokens are usually
// refused for (issuer or audiences any), for `rampart check`.
func (c *Config) Warnings() []string {
	var off []string
	if c.Issuer == Any {
		off = append(off, "issuer")
	}
	if c.AnyAudience() {
		off = append(off, "audience")
	}
	if off == nil {
		return nil
	}
	return []string{fmt.Sprintf("accepts tokens of any %s (no iss/aud check): every token signed with this secret is accepted, whichever application or service minted it and for whichever service; prefer setting iss and aud in the application and naming them here (RFC 8725 §3.8, §3.9)", strings.Join(off, " and "))}
}

// keySources are the keys of which exactly one is set, in key order.
const keySources = "jwks_url, discovery: true, secret or public_key_file"

// Validate checks the rules that relate keys to each other and the
// algorithm names, for the config loader and New alike (problems are
// *conf.FieldError, or plain errors about the whole entry). The loader's
// tags cover the rest (required keys, URL shapes, bounds, secret strength).
func (c *Config) Validate() []error {
	var errs []error
	var hs, public []string
	for i, alg := range c.Algorithms {
		_, known := algFamily[alg]
		switch {
		case strings.EqualFold(alg, "none"):
			errs = append(errs, &conf.FieldError{Field: "algorithms", Index: i,
				Msg: `algorithm "none" is never accepted: it means an unsigned token anyone can forge`})
		case !known:
			msg := "(valid: " + strings.Join(algorithmNames, ", ") + ")"
			if s := conf.Suggest(alg, algorithmNames); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			errs = append(errs, &conf.FieldError{Field: "algorithms", Index: i, Msg: msg, Got: true, Entry: "unknown algorithm"})
		case strings.HasPrefix(alg, "HS"):
			hs = append(hs, alg)
		default:
			public = append(public, alg)
		}
	}
	// HS* verify with the shared secret and nothing else; public-key
	// algorithms never with a secret (RFC 8725 §2.1, algorithm confusion).
	switch {
	case len(hs) > 0 && len(public) > 0:
		errs = append(errs, conf.Errorf("algorithms", "mixes shared-secret (%s) and public-key (%s) algorithms, which invites algorithm confusion; use one family per authenticator",
			strings.Join(hs, ", "), strings.Join(public, ", ")))
	case len(hs) > 0 && c.Secret == "":
		errs = append(errs, conf.Errorf("algorithms", "lists %s, which verify with a shared secret: set secret", strings.Join(hs, ", ")))
	case len(public) > 0 && c.Secret != "":
		errs = append(errs, conf.Errorf("secret", "is only for HS256, HS384 and HS512, but algorithms lists %s", strings.Join(public, ", ")))
	}

	var sources []string
	for _, s := range []struct {
		key string
		set bool
	}{{"discovery", c.Discovery}, {"jwks_url", c.JWKSURL != ""}, {"secret", c.Secret != ""}, {"public_key_file", c.PublicKeyFile != ""}} {
		if s.set {
			sources = append(sources, s.key)
		}
	}
	if len(sources) == 0 {
		errs = append(errs, errors.New("needs exactly one key source: "+keySources))
	}
	for _, k := range sources[min(1, len(sources)):] {
		errs = append(errs, &conf.FieldError{Field: k, Index: -1, AtKey: true,
			Msg: fmt.Sprintf("%s and %s are both key sources; use exactly one of %s", sources[0], k, keySources)})
	}

	if (c.Issuer == Any || c.AnyAudience()) && c.Secret == "" {
		field := "issuer"
		if c.Issuer != Any {
			field = "audiences"
		}
		errs = append(errs, conf.Errorf(field, "any is only for a shared secret (secret), where the secret is the trust anchor; with an IdP's keys it would accept tokens the IdP signs for any application"))
	}
	if c.AnyAudience() && len(c.Audiences) > 1 {
		errs = append(errs, conf.Errorf("audiences", "any must be the only entry"))
	}
	for _, name := range slices.Sorted(maps.Keys(c.RequireClaims)) {
		if c.RequireClaims[name] == "" {
			errs = append(errs, conf.Errorf("require_claims", "claim %q: the required value is empty", name))
		}
	}

	floor, ceiling := cmp.Or(c.JWKSRefreshFloor, DefaultJWKSRefreshFloor), cmp.Or(c.JWKSRefreshCeiling, DefaultJWKSRefreshCeiling)
	if ceiling < floor {
		errs = append(errs, conf.Errorf("jwks_refresh_ceiling", "must not be below jwks_refresh_floor (%s; unset they are 1m and 1h), got %s", floor, ceiling))
	}
	return errs
}

func applyDefaults(cfg *Config) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if cfg.Name == "" {
		bad("name is required")
	}
	if cfg.Issuer == "" {
		bad("issuer is required (RFC 8725 §3.8: tokens from any other issuer must be refused)")
	}
	if len(cfg.Audiences) == 0 {
		bad("audiences is required (RFC 8725 §3.9: a token minted for another service must be refused)")
	}
	for _, a := range cfg.Audiences {
		if a == "" {
			bad("audiences: empty audience")
		}
	}
	if len(cfg.Algorithms) == 0 {
		bad("algorithms is required: an explicit allowlist such as [RS256] (RFC 8725 §3.1)")
	}
	errs = append(errs, cfg.Validate()...)
	for _, alg := range cfg.Algorithms {
		if n := hmacMinKey[alg]; n > 0 && cfg.Secret != "" && len(cfg.Secret) < n {
			bad("secret: %s needs at least %d bytes (RFC 7518 §3.2), got %d", alg, n, len(cfg.Secret))
		}
	}

	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		bad("leeway: %s is outside [0, %s]", cfg.Leeway, MaxLeeway)
	}
	if cfg.JWKSURL != "" {
		if err := checkFetchURL(cfg.JWKSURL); err != nil {
			bad("jwks_url: %v", err)
		}
	}
	if cfg.Discovery {
		if err := checkFetchURL(cfg.Issuer); err != nil {
			bad("issuer: discovery needs an https issuer URL: %v", err)
		}
	}
	if cfg.TokenHeader != "" && !framing.ValidToken(cfg.TokenHeader) {
		bad("token_header: %q is not a header name", cfg.TokenHeader)
	}
	if cfg.TokenCookie != "" && !framing.ValidToken(cfg.TokenCookie) {
		bad("token_cookie: %q is not a cookie name", cfg.TokenCookie)
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = DefaultRolesClaim
	}

	def := func(d *int64, v int64) {
		if *d == 0 {
			*d = v
		}
	}
	def((*int64)(&cfg.JWKSRefreshFloor), int64(DefaultJWKSRefreshFloor))
	def((*int64)(&cfg.JWKSRefreshCeiling), int64(DefaultJWKSRefreshCeiling))
	def((*int64)(&cfg.UnknownKIDCooldown), int64(DefaultUnknownKIDCooldown))
	def((*int64)(&cfg.FetchTimeout), int64(DefaultFetchTimeout))
	def((*int64)(&cfg.CacheTTL), int64(DefaultCacheTTL))
	if cfg.JWKSRefreshFloor < MinRefreshInterval {
		bad("jwks_refresh_floor: %s is below %s", cfg.JWKSRefreshFloor, MinRefreshInterval)
	}
	if cfg.UnknownKIDCooldown < MinRefreshInterval {
		bad("unknown_kid_cooldown: %s is below %s", cfg.UnknownKIDCooldown, MinRefreshInterval)
	}
	if cfg.FetchTimeout < 0 {
		bad("fetch_timeout: negative")
	}
	if cfg.CacheTTL < 0 {
		bad("cache_ttl: negative")
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	return errors.Join(errs...)
}

// checkFetchURL accepts the URLs keys may be fetched from: absolute https, or
// http to a loopback address (an IdP on the same host, tests). Userinfo is
// refused: credentials do not belong in a JWKS URL.
func checkFetchURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", s)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%q must be an absolute URL with a host and no userinfo or fragment", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if conf.LoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: http is allowed only to a loopback address; use https", s)
	}
	return fmt.Errorf("%q: scheme must be https", s)
}
