package auth

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// ErrClaim is wrapped by PrincipalFromClaims errors: a verified token whose
// identity claims are missing or of the wrong type. The error names the claim,
// never its value.
var ErrClaim = errors.New("auth: unusable claim")

// ClaimPath returns the claim at path. A claim whose whole name is path wins
// (Auth0-style namespaced claims such as "https://example.com/roles" contain
// dots); otherwise path is walked through nested objects by its dots, so
// "realm_access.roles" reaches Keycloak's realm roles.
func ClaimPath(claims map[string]any, path string) (any, bool) {
	if v, ok := claims[path]; ok {
		return v, true
	}
	cur := claims
	for {
		head, rest, more := strings.Cut(path, ".")
		v, ok := cur[head]
		if !ok {
			return nil, false
		}
		if !more {
			return v, true
		}
		if cur, ok = v.(map[string]any); !ok {
			return nil, false
		}
		path = rest
	}
}

// StringList reads a claim that is either a JSON array of strings or one
// string; a string is split into fields (by whitespace) when split is set
// (the RFC 6749 scope syntax), else taken as one item. Other types, and
// arrays with non-string elements, are not a list.
func StringList(v any, split bool) ([]string, bool) {
	switch v := v.(type) {
	case string:
		if split {
			return strings.Fields(v), true
		}
		if v == "" {
			return nil, true
		}
		return []string{v}, true
	case []string:
		return v, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// PrincipalFromClaims builds the principal of a verified token:
//   - Subject from the first of subjectClaims present (usually just "sub");
//     it must be a non-empty string fit to travel in a header unchanged.
//   - Scopes from "scope" (RFC 8693 §4.2 / RFC 9068: space-separated string)
//     or, when absent, "scp" (Okta: array; Entra ID: space-separated string).
//   - Roles from rolesClaim (see ClaimPath; "" = "roles"): array of strings or
//     one string; absent means no roles.
//   - AMR from "amr" (RFC 8176: array of strings).
//   - Claims: all of claims (acr included), shared, read-only.
//
// A claim of the wrong type is an error wrapping ErrClaim: a token the IdP
// shaped unexpectedly is refused rather than read as "no roles".
func PrincipalFromClaims(authenticator string, claims map[string]any, rolesClaim string, subjectClaims ...string) (*pipeline.Principal, error) {
	p := &pipeline.Principal{Authenticator: authenticator, Claims: claims}
	for _, name := range subjectClaims {
		v, ok := claims[name]
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok || !safeValue(s, "") {
			return nil, fmt.Errorf("%w: %q is not a usable subject", ErrClaim, name)
		}
		p.Subject = s
		break
	}
	if p.Subject == "" {
		return nil, fmt.Errorf("%w: no subject (%s)", ErrClaim, strings.Join(subjectClaims, ", "))
	}
	for _, name := range [...]string{"scope", "scp"} {
		v, ok := claims[name]
		if !ok {
			continue
		}
		s, ok := StringList(v, true)
		if !ok {
			return nil, fmt.Errorf("%w: %q has the wrong type", ErrClaim, name)
		}
		p.Scopes = s
		break
	}
	if rolesClaim == "" {
		rolesClaim = "roles"
	}
	if v, ok := ClaimPath(claims, rolesClaim); ok {
		r, ok := StringList(v, false)
		if !ok {
			return nil, fmt.Errorf("%w: roles claim %q has the wrong type", ErrClaim, rolesClaim)
		}
		p.Roles = r
	}
	if v, ok := claims["amr"]; ok {
		a, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: %q is not an array", ErrClaim, "amr")
		}
		if p.AMR, ok = StringList(a, false); !ok {
			return nil, fmt.Errorf("%w: %q is not an array of strings", ErrClaim, "amr")
		}
	}
	if v, ok := claims["acr"]; ok {
		if _, ok := v.(string); !ok {
			return nil, fmt.Errorf("%w: %q is not a string", ErrClaim, "acr")
		}
	}
	return p, nil
}
