// Package authz decides whether an authenticated principal may use a route:
// the `require:` block of a route (OWASP API5, broken function-level
// authorization, is what it exists to prevent).
//
// It denies by default: no principal is a 401, and every listed requirement
// must hold. Refusals follow the Bearer scheme's vocabulary so OAuth clients
// know what to do next:
//
//   - missing scope → 403 with WWW-Authenticate error="insufficient_scope" and
//     the scopes the route needs (RFC 6750 §3.1), so a client can ask for them;
//   - missing role or claim → 403 without a challenge (no new token helps);
//   - missing step-up authentication → 401 with
//     error="insufficient_user_authentication" (RFC 9470 §3) and, when
//     configured, acr_values, so the client can send the user back to the
//     IdP for a stronger login.
//
// 403s are checked before step-up: there is no point making a user pass MFA
// for a request that would be refused anyway.
//
// MFA is read from the principal's `amr` (RFC 8176 authentication method
// references; the defaults are the methods that are a second factor or
// phishing-resistant) or `acr` claims, which only token authenticators set: a
// route with `mfa: true` refuses API-key and mTLS principals unless they carry
// such claims. That is deliberate: MFA cannot be asserted by a credential that
// has no user behind it.
//
// Example:
//
//	req := authz.Require{Scopes: []string{"items:write"}, Roles: []string{"editor", "admin"}, MFA: true}
//	if rej := authz.Check(principal, req); rej != nil { // compare the pointer, not an error interface
//		return nil, rej
//	}
package authz

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// DefaultMFAMethods are the RFC 8176 `amr` values that count as multi-factor
// or step-up authentication: "mfa" itself, one-time passwords, hardware and
// software proof-of-possession keys, SMS confirmation and biometrics.
var DefaultMFAMethods = []string{"mfa", "otp", "hwk", "swk", "sms", "face", "fpt"}

// Rejection types.
const (
	TypeInsufficientScope          = "insufficient-scope"          // 403
	TypeInsufficientRole           = "insufficient-role"           // 403
	TypeClaimMismatch              = "claim-mismatch"              // 403
	TypeInsufficientAuthentication = "insufficient-authentication" // 401, RFC 9470 step-up
)

// Require is a route's authorization requirement (a route's require: in
// the config file). The zero value requires an authenticated principal and
// nothing else.
type Require struct {
	// Roles: at least one must be held (Principal.Roles); unset = no role
	// needed.
	Roles []string `yaml:"roles" conf:"nonempty,unique"`
	// Scopes must all be granted (Principal.Scopes).
	Scopes []string `yaml:"scopes" conf:"nonempty,unique"`
	// Claims: each named claim (a dotted path, as auth.ClaimPath reads it)
	// must equal one of its values (a string or a list); for an array claim,
	// one element must. A number or boolean claim is compared in its JSON
	// spelling ("42", "true").
	Claims map[string][]string `yaml:"claims" conf:"entry=claim"`
	// MFA requires step-up authentication: the principal's amr holds one of
	// mfa_methods, or its acr claim is one of acr_values.
	MFA bool `yaml:"mfa"`
	// MFAMethods are the amr values that satisfy mfa. Unset means mfa, otp,
	// hwk, swk, sms, face, fpt (RFC 8176).
	MFAMethods []string `yaml:"mfa_methods" conf:"nonempty,unique"`
	// ACRValues: with mfa, an acr among them also satisfies it; without mfa,
	// the acr claim must be among them. Sent as acr_values in the challenge.
	ACRValues []string `yaml:"acr_values" conf:"nonempty,unique"`
	// Match lists ownership rules, which must all hold: each binds a request
	// value (a path parameter, query parameter, header or JSON body field) to
	// a claim of the caller, so that Alice cannot ask for Bob's object (403
	// object-not-owned).
	Match []Match `yaml:"match"`
	// MatchBypassRoles: a caller holding one of them skips the match rules
	// (administrators acting on anyone's objects).
	MatchBypassRoles []string `yaml:"match_bypass_roles" conf:"nonempty,unique"`
	// Realm is the realm of WWW-Authenticate challenges; "" = none.
	Realm string `yaml:"-"`
}

// Validate reports requirements that cannot be meant: empty names and
// values, scopes with spaces (RFC 6749 §3.3), claims without values. The
// config loader reports them at their keys (they are *conf.FieldError); New
// refuses them.
func (req Require) Validate() []error {
	var errs []error
	entries := func(key, what string, list []string, bad func(string) bool) {
		for i, v := range list {
			if bad(v) {
				errs = append(errs, &conf.FieldError{Field: key, Index: i, Entry: what, Msg: "is not valid (empty, or with spaces or quotes)", Got: true})
			}
		}
	}
	notToken := func(s string) bool { return s == "" || strings.ContainsAny(s, " \t\r\n\"\\") }
	entries("scopes", "scope", req.Scopes, notToken) // RFC 6749 §3.3
	entries("roles", "role", req.Roles, func(s string) bool { return s == "" })
	entries("mfa_methods", "amr value", req.MFAMethods, notToken)
	entries("acr_values", "acr value", req.ACRValues, notToken)
	for _, name := range sortedKeys(req.Claims) {
		switch {
		case name == "":
			errs = append(errs, conf.Errorf("claims", "has an empty claim name"))
		case len(req.Claims[name]) == 0:
			errs = append(errs, conf.Errorf("claims", "%q lists no accepted value", name))
		}
	}
	entries("match_bypass_roles", "role", req.MatchBypassRoles, func(s string) bool { return s == "" })
	if len(req.MatchBypassRoles) > 0 && len(req.Match) == 0 {
		errs = append(errs, conf.Errorf("match_bypass_roles", "bypasses match rules, and there are none"))
	}
	for i, m := range req.Match {
		if msg := m.problem(); msg != "" {
			errs = append(errs, &conf.FieldError{Field: "match", Index: i, Msg: msg})
		}
	}
	if req.MFAMethods != nil && len(req.MFAMethods) == 0 {
		errs = append(errs, conf.Errorf("mfa_methods", "is an empty list: no login could satisfy mfa"))
	}
	return errs
}

// New checks req and returns the step that enforces it on the principal an
// earlier authentication step put in the request's pipeline.Info. Refusals
// are reported to obs under step "authz".
func New(req Require, obs pipeline.Observer) (pipeline.Middleware, error) {
	if errs := req.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	req.Match = slices.Clone(req.Match)
	for i := range req.Match {
		// Canonical once here, so that the per-request lookup allocates nothing.
		req.Match[i].Header = textproto.CanonicalMIMEHeaderKey(req.Match[i].Header)
	}
	return pipeline.Guard("authz", obs, func(r *http.Request) (*http.Request, error) {
		var p *pipeline.Principal
		info := pipeline.InfoFrom(r.Context())
		if info != nil {
			p = info.Principal
		}
		if rej := Check(p, req); rej != nil {
			return r, rej
		}
		if rej := CheckMatch(r, info, p, req); rej != nil {
			return r, rej
		}
		return r, nil
	}), nil
}

// Check decides req for p: nil when allowed, else the refusal. It never
// returns a typed nil inside an error interface: callers compare the
// returned pointer with nil.
func Check(p *pipeline.Principal, req Require) *pipeline.Rejection {
	if p == nil {
		return &pipeline.Rejection{Status: http.StatusUnauthorized, Type: auth.TypeCredentialsMissing,
			Detail: "Authentication is required.", Err: errors.New("authz: no principal"),
			Header: challenge(req.Realm, "", "", "")}
	}
	for _, s := range req.Scopes {
		if !slices.Contains(p.Scopes, s) {
			return &pipeline.Rejection{Status: http.StatusForbidden, Type: TypeInsufficientScope,
				Detail: "The access token lacks a scope this route requires.",
				Header: challenge(req.Realm, auth.CodeInsufficientScope, strings.Join(req.Scopes, " "), ""),
				Err:    fmt.Errorf("authz: scope %q not granted", s)}
		}
	}
	if len(req.Roles) > 0 && !slices.ContainsFunc(req.Roles, func(r string) bool { return slices.Contains(p.Roles, r) }) {
		return &pipeline.Rejection{Status: http.StatusForbidden, Type: TypeInsufficientRole,
			Detail: "The caller lacks a role this route requires.",
			Err:    fmt.Errorf("authz: none of roles %q held", req.Roles)}
	}
	for _, name := range sortedKeys(req.Claims) {
		if !claimMatches(p.Claims, name, req.Claims[name]) {
			return &pipeline.Rejection{Status: http.StatusForbidden, Type: TypeClaimMismatch,
				Detail: "The caller's claims do not allow this route.",
				Err:    fmt.Errorf("authz: claim %q has none of the accepted values", name)}
		}
	}
	if !stepUpSatisfied(p, req) {
		return &pipeline.Rejection{Status: http.StatusUnauthorized, Type: TypeInsufficientAuthentication,
			Detail: "This route requires a stronger authentication; sign in again with multi-factor authentication.",
			Header: challenge(req.Realm, auth.CodeInsufficientUserAuthentication, "", strings.Join(req.ACRValues, " ")),
			Err:    errors.New("authz: step-up authentication missing (amr/acr)")}
	}
	return nil
}

func stepUpSatisfied(p *pipeline.Principal, req Require) bool {
	acr, _ := p.Claims["acr"].(string)
	acrOK := acr != "" && slices.Contains(req.ACRValues, acr)
	if !req.MFA {
		return len(req.ACRValues) == 0 || acrOK
	}
	if acrOK {
		return true
	}
	methods := req.MFAMethods
	if methods == nil {
		methods = DefaultMFAMethods
	}
	return slices.ContainsFunc(p.AMR, func(m string) bool { return slices.Contains(methods, m) })
}

func claimMatches(claims map[string]any, name string, accepted []string) bool {
	v, ok := auth.ClaimPath(claims, name)
	if !ok {
		return false
	}
	if list, ok := v.([]any); ok {
		return slices.ContainsFunc(list, func(e any) bool { return scalarMatches(e, accepted) })
	}
	if list, ok := v.([]string); ok {
		return slices.ContainsFunc(list, func(e string) bool { return slices.Contains(accepted, e) })
	}
	return scalarMatches(v, accepted)
}

func scalarMatches(v any, accepted []string) bool {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case bool:
		s = strconv.FormatBool(v)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return false // objects, null: never equal to a configured value
	}
	return slices.Contains(accepted, s)
}

func challenge(realm, code, scope, acrValues string) http.Header {
	return http.Header{"Www-Authenticate": {auth.BearerChallenge(realm, code, scope, acrValues)}}
}

func sortedKeys(m map[string][]string) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
