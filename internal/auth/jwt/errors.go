package jwt

import (
	"errors"
	"fmt"

	"github.com/rampart-gw/rampart/internal/auth"
)

// ErrOtherIssuer is returned by Authenticate for a token whose (unverified)
// iss names another issuer; it wraps auth.ErrForeignCredential, so auth.Any
// moves on to the next authenticator, which verifies the token in full.
var ErrOtherIssuer = fmt.Errorf("jwt: token names another issuer: %w", auth.ErrForeignCredential)

// Reasons a token is refused. One of them is wrapped in the Rejection's Err,
// so logs and audit events say why; the client only ever sees
// error="invalid_token". None of them carries a value taken from the token.
var (
	ErrMalformed      = errors.New("jwt: malformed token")                // not a compact JWS with 3 canonical base64url segments of JSON
	ErrAlgorithm      = errors.New("jwt: algorithm not allowed")          // alg missing, unknown, "none" in any case, or not in the allowlist
	ErrHeader         = errors.New("jwt: forbidden header parameter")     // jwk/jku/x5u/x5c, crit, enc/zip/b64, nested cty
	ErrType           = errors.New("jwt: token type not accepted")        // typ not in the accepted list (RFC 8725 §3.11)
	ErrUnknownKey     = errors.New("jwt: no key with this kid")           // kid unknown even after a (rate-limited) refresh
	ErrKey            = errors.New("jwt: key does not fit the algorithm") // e.g. ES256 token, P-384 key; JWK alg/use mismatch
	ErrSignature      = errors.New("jwt: invalid signature")
	ErrExpired        = errors.New("jwt: token expired")
	ErrNotYetValid    = errors.New("jwt: token not valid yet (nbf)")
	ErrIssuedInFuture = errors.New("jwt: token issued in the future (iat)")
	ErrIssuer         = errors.New("jwt: wrong issuer")
	ErrAudience       = errors.New("jwt: wrong audience")
	ErrClaims         = errors.New("jwt: missing or mistyped claim") // no exp/aud/iss/sub, exp as a string, aud as a number, …
)
