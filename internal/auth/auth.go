// Package auth is the joint between Rampart's authenticators and its routes:
// the Authenticator interface, the "any of" combinator a route's `auth:` list
// compiles to, where bearer tokens are read from, the RFC 6750 challenges sent
// with every 401, and the identity headers the upstream receives.
//
// The rules it enforces for every authenticator, whatever its kind:
//
//   - An authenticator that finds no credential of its kind returns
//     ErrNoCredential and Any moves on to the next one, in config order
//     (never map order: which authenticator speaks first must be predictable).
//   - An authenticator that finds a credential of its kind and refuses it ends
//     the walk: Any never falls through to a later, possibly weaker,
//     authenticator after a bad token (a stolen API key must not rescue an
//     expired JWT, and an attacker must not be able to pick the verifier).
//   - A request that carries one kind of credential more than once (two
//     Authorization fields, a comma-joined list, two token cookies) is
//     ambiguous and refused with 400 before any verifier runs: proxies and
//     backends disagree about which copy wins (RFC 9110 §5.3 allows joining
//     repeated fields with commas), and that disagreement is an auth bypass.
//   - Refusals say as little as possible (RFC 6750 §3: error="invalid_token",
//     never which check failed); the precise reason travels in
//     Rejection.Err, which reaches logs and audit events only.
//
// Example, as the gateway wires a route with `auth: [corp_sso, partners]`:
//
//	authenticate := auth.Any("rampart", corpSSO, partners)
//	p, err := authenticate(r) // *pipeline.Principal, or a *pipeline.Rejection
package auth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Authenticator checks one kind of credential.
type Authenticator interface {
	// Name is the authenticator's name in the config; it becomes
	// Principal.Authenticator.
	Name() string
	// Authenticate returns the principal; or an error wrapping ErrNoCredential
	// when the request carries no credential of this kind (so "any of" moves
	// on); or a *pipeline.Rejection (400 or 401, 503 when the verifier's own
	// dependency is down) when a credential is present but refused. Any other
	// error is an internal failure and becomes a masked 500.
	//
	// The returned principal belongs to the caller; its slices and Claims map
	// may be shared with a cache and must be treated as read-only.
	Authenticate(r *http.Request) (*pipeline.Principal, error)
}

// Challenger is implemented by authenticators whose credential travels under
// an HTTP authentication scheme (RFC 9110 §11). Any sends one
// WWW-Authenticate challenge per distinct scheme with its 401s.
type Challenger interface {
	Scheme() string // e.g. "Bearer"
}

// ErrNoCredential is returned (possibly wrapped) by an authenticator that found
// no credential of its kind in the request.
var ErrNoCredential = errors.New("auth: no credential")

// ErrForeignCredential is returned (possibly wrapped) by an authenticator that
// found a credential where it looks (a bearer token) that is visibly meant for
// someone else: an opaque token for the JWT authenticator, or a JWT naming an
// issuer it was not configured for. A later authenticator sharing the same
// place (another issuer's JWT authenticator, introspection) may take it. It
// wraps ErrNoCredential, so Any moves on; if no later authenticator accepts or
// refuses the credential, Any answers error="invalid_token" rather than
// "credentials missing". Routing on an unverified field is safe because the
// authenticator that takes the token verifies it completely: the choice only
// decides which issuer's keys and rules apply, never whether they do.
var ErrForeignCredential = fmt.Errorf("%w of a recognised format", ErrNoCredential)

// Rejection types (the stable part of the problem "type") used by this
// package and the authenticators.
const (
	TypeCredentialsMissing   = "credentials-missing"   // 401: no authenticator found a credential
	TypeInvalidToken         = "invalid-token"         // 401: a credential was present and refused
	TypeAmbiguousCredentials = "ambiguous-credentials" // 400: one kind of credential sent more than once
	TypeMalformedCredentials = "malformed-credentials" // 400: a credential that is not syntactically one
	TypeAuthUnavailable      = "auth-unavailable"      // 503: the verifier's own dependency failed (fail closed)
)

// Any combines authenticators as a route's `auth: [a, b, …]` list: they are
// tried in the order given; the first to accept wins; the first to refuse a
// credential it found ends the walk with that refusal (never falling through);
// when none found a credential, the result is a 401 carrying one challenge per
// scheme. realm names the protection space in the challenges (RFC 9110
// §11.5). With no authenticators every request is refused (deny by default).
//
// The 400 and 401 refusals of Challenger authenticators get the scheme's
// challenge with the RFC 6750 error code added, unless the authenticator set
// WWW-Authenticate itself. Refusals are copied, never modified in place.
func Any(realm string, as ...Authenticator) func(*http.Request) (*pipeline.Principal, error) {
	as = append([]Authenticator(nil), as...)
	schemes := make([]string, 0, len(as))
	for _, a := range as {
		if c, ok := a.(Challenger); ok {
			if s := c.Scheme(); s != "" && !containsFold(schemes, s) {
				schemes = append(schemes, s)
			}
		}
	}
	challenges := func(code string) http.Header {
		h := make(http.Header, 1)
		for _, s := range schemes {
			h.Add("WWW-Authenticate", Challenge(s, "realm", realm, "error", code))
		}
		return h
	}
	return func(r *http.Request) (*pipeline.Principal, error) {
		var foreign error
		for _, a := range as {
			p, err := a.Authenticate(r)
			if err == nil {
				if p == nil {
					return nil, fmt.Errorf("auth %q: accepted without a principal", a.Name())
				}
				return p, nil
			}
			if errors.Is(err, ErrNoCredential) {
				if foreign == nil && errors.Is(err, ErrForeignCredential) {
					foreign = fmt.Errorf("auth %q: %w", a.Name(), err)
				}
				continue
			}
			var rej *pipeline.Rejection
			if !errors.As(err, &rej) {
				return nil, fmt.Errorf("auth %q: %w", a.Name(), err)
			}
			return nil, decorate(rej, a, realm)
		}
		if foreign != nil {
			return nil, &pipeline.Rejection{Status: http.StatusUnauthorized, Type: TypeInvalidToken,
				Detail: "The credential is not valid.", Header: challenges(CodeInvalidToken),
				Err: fmt.Errorf("no authenticator took the credential: %w", foreign)}
		}
		return nil, &pipeline.Rejection{Status: http.StatusUnauthorized, Type: TypeCredentialsMissing,
			Detail: "Authentication is required.", Header: challenges(""),
			Err: ErrNoCredential}
	}
}

// decorate returns a copy of rej naming the authenticator in Err and carrying
// the authenticator's challenge when it is a 400 or 401 without one.
func decorate(rej *pipeline.Rejection, a Authenticator, realm string) *pipeline.Rejection {
	out := *rej
	out.Header = rej.Header.Clone()
	if rej.Err != nil {
		out.Err = fmt.Errorf("auth %q: %w", a.Name(), rej.Err)
	} else {
		out.Err = fmt.Errorf("auth %q: %s", a.Name(), rej.Type)
	}
	c, ok := a.(Challenger)
	if !ok || out.Header.Get("WWW-Authenticate") != "" {
		return &out
	}
	code := ""
	switch out.Status {
	case http.StatusUnauthorized:
		code = CodeInvalidToken
	case http.StatusBadRequest:
		code = CodeInvalidRequest
	default:
		return &out
	}
	if out.Header == nil {
		out.Header = make(http.Header, 1)
	}
	out.Header.Set("WWW-Authenticate", Challenge(c.Scheme(), "realm", realm, "error", code))
	return &out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if len(x) == len(s) && equalFoldASCII(x, s) {
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
