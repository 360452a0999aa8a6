package jwt

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// algorithms this package accepts in Config.Algorithms, with the family each
// belongs to. ("none" is deliberately absent.)
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

	sources := 0
	for _, set := range []bool{cfg.JWKSURL != "", cfg.Discovery, cfg.Secret != "", cfg.PublicKeyFile != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		bad("exactly one of jwks_url, discovery, secret, public_key_file is required (got %d)", sources)
	}

	if len(cfg.Algorithms) == 0 {
		bad("algorithms is required: an explicit allowlist such as [RS256] (RFC 8725 §3.1)")
	}
	hmac, public := false, false
	for _, alg := range cfg.Algorithms {
		fam, ok := algFamily[alg]
		switch {
		case strings.EqualFold(alg, "none"):
			bad("algorithms: %q is never allowed (unsigned tokens)", alg)
			continue
		case !ok:
			bad("algorithms: unknown algorithm %q (known: HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA; names are case-sensitive)", alg)
			continue
		}
		if fam == "hmac" {
			hmac = true
			if cfg.Secret == "" {
				bad("algorithms: %s needs secret", alg)
			} else if len(cfg.Secret) < hmacMinKey[alg] {
				bad("secret: %s needs at least %d bytes (RFC 7518 §3.2), got %d", alg, hmacMinKey[alg], len(cfg.Secret))
			}
		} else {
			public = true
		}
	}
	if hmac && public {
		bad("algorithms: HMAC (HS*) and public-key algorithms may not be mixed in one authenticator (RFC 8725 §2.1 key confusion); use two authenticators")
	}
	if cfg.Secret != "" && public {
		bad("secret: only HS* algorithms use a secret; public-key algorithms need jwks_url, discovery or public_key_file")
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
	if cfg.TokenHeader != "" && !isToken(cfg.TokenHeader) {
		bad("token_header: %q is not a header name", cfg.TokenHeader)
	}
	if cfg.TokenCookie != "" && !isToken(cfg.TokenCookie) {
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
	if cfg.JWKSRefreshCeiling < cfg.JWKSRefreshFloor {
		bad("jwks_refresh_ceiling: %s is below the floor %s", cfg.JWKSRefreshCeiling, cfg.JWKSRefreshFloor)
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
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: http is allowed only to a loopback address; use https", s)
	}
	return fmt.Errorf("%q: scheme must be https", s)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}
