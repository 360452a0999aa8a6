package gateway

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/auth/apikey"
	"github.com/rampart-gw/rampart/internal/auth/introspect"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
	"github.com/rampart-gw/rampart/internal/auth/mtls"
	"github.com/rampart-gw/rampart/internal/authz"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/lockout"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// realm names the gateway in WWW-Authenticate challenges.
const realm = "rampart"

// authenticators builds the authenticators that routes use (only those: an
// unused one would fetch keys for nothing). Key material, discovery and JWKS
// are loaded here, so a broken identity provider fails the load, not the
// first request.
func (g *Gateway) authenticators(cfg *config.Config, deps Deps) (map[string]auth.Authenticator, []error) {
	logger := deps.Logger
	used := map[string]bool{}
	for _, rt := range cfg.Routes {
		for _, name := range rt.Auth {
			used[name] = name != config.AuthNone
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	out := map[string]auth.Authenticator{}
	var errs []error
	for name, a := range cfg.Authenticators {
		if !used[name] {
			continue
		}
		var (
			built auth.Authenticator
			err   error
		)
		switch a.Type {
		case "jwt":
			var j *jwt.Authenticator
			j, err = jwt.New(jwt.Config{Name: name, Issuer: a.Issuer, Audiences: a.Audiences, Algorithms: a.Algorithms,
				Leeway: a.Leeway, JWKSURL: a.JWKSURL, Discovery: a.Discovery, Secret: a.Secret, PublicKeyFile: a.PublicKeyFile,
				TokenHeader: a.TokenHeader, TokenCookie: a.TokenCookie, RolesClaim: a.RolesClaim,
				JWKSRefreshFloor: a.JWKSRefreshFloor, JWKSRefreshCeiling: a.JWKSRefreshCeiling, UnknownKIDCooldown: a.UnknownKIDCooldown,
				Offline: deps.Offline}, client, logger)
			if err == nil {
				built = j
				g.closers = append(g.closers, func() { _ = j.Close() })
			}
		case "introspection":
			built, err = introspect.New(introspect.Config{Name: name, URL: a.URL, ClientID: a.ClientID, ClientSecret: a.ClientSecret,
				TokenHeader: a.TokenHeader, TokenCookie: a.TokenCookie, Issuer: a.Issuer, Audiences: a.Audiences,
				RolesClaim: a.RolesClaim, Timeout: a.Timeout}, client, logger)
		case "api_key":
			if deps.Keys == nil {
				err = fmt.Errorf("no key store is open (store: %s)", cfg.Store)
				break
			}
			var k *apikey.Authenticator
			k, err = apikey.New(apikey.Config{Name: name, Header: a.Header, Logger: logger}, deps.Keys)
			if err == nil {
				built = k
				g.closers = append(g.closers, func() { _ = k.Close() })
			}
		case "mtls":
			if cfg.Server.TLS == nil || cfg.Server.TLS.ClientCAFile == "" {
				err = fmt.Errorf("the listener does not ask for client certificates: set server.tls.client_ca_file and client_auth")
				break
			}
			built, err = mtls.New(mtls.Config{Name: name, ClientCAFile: a.ClientCAFile, Subjects: a.Subjects})
		default:
			err = fmt.Errorf("authenticators of type %s are not available in this build yet", a.Type)
		}
		if err != nil {
			errs = append(errs, positioned(cfg, a.Pos, fmt.Sprintf("authenticator %q: %v", name, err)))
			continue
		}
		out[name] = built
	}
	return out, errs
}

// authStep authenticates (any of the route's authenticators), authorizes
// (the route's require), and rewrites the identity the upstream sees: the
// X-Rampart-* principal headers, and the credential itself only when its
// authenticator says forward_token.
func authStep(rt *config.Route, as map[string]auth.Authenticator, cfg *config.Config, obs pipeline.Observer, lo *lockout.Lockout) (pipeline.Middleware, error) {
	list := make([]auth.Authenticator, 0, len(rt.Auth))
	drop := map[string]auth.TokenSource{}
	for _, name := range rt.Auth {
		a, ok := as[name]
		if !ok {
			return nil, fmt.Errorf("authenticator %q is not available", name)
		}
		list = append(list, a)
		if def := cfg.Authenticators[name]; dropsToken(def) { // shared with the forward_token hint (hint.go)
			drop[name] = auth.TokenSource{Header: def.TokenHeader, Cookie: def.TokenCookie}
		}
	}
	req := authz.Require{Scopes: rt.Require.Scopes, Roles: rt.Require.Roles, Claims: rt.Require.Claims, MFA: rt.Require.MFA,
		MFAMethods: rt.Require.MFAMethods, ACRValues: rt.Require.ACRValues, Realm: realm}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("require: %w", err)
	}
	authenticate := auth.Any(realm, list...)
	if lo != nil {
		// A locked-out client is refused before any credential is looked
		// at — even a correct one; failures are counted after.
		authenticate = lo.Wrap(authenticate)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := authenticate(r)
			if err != nil {
				pipeline.Refuse(w, r, "auth", obs, err)
				return
			}
			// The same *Info the header profile holds: it sees the principal.
			pipeline.InfoFrom(r.Context()).Principal = p
			if rej := authz.Check(p, req); rej != nil {
				pipeline.Refuse(w, r, "authz", obs, rej)
				return
			}
			auth.SetHeaders(r.Header, p)
			if src, ok := drop[p.Authenticator]; ok {
				removeCredential(r, src)
			}
			if k, ok := as[p.Authenticator].(*apikey.Authenticator); ok {
				k.Strip(r.Header) // an API key is never forwarded
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// lockout builds the brute-force lockout when the config asks for one.
// With key: principal, a request is counted by the API key it claims (its
// unverified id), so guessing secrets for one key locks that key.
func (g *Gateway) lockout(cfg *config.Config, deps Deps, as map[string]auth.Authenticator) (*lockout.Lockout, error) {
	if cfg.Lockout == nil {
		return nil, nil
	}
	backend := deps.Lockout
	if backend == nil {
		backend = lockout.NewMemory(lockout.MemoryOptions{})
	}
	var keyAuths []*apikey.Authenticator
	for _, a := range as {
		if k, ok := a.(*apikey.Authenticator); ok {
			keyAuths = append(keyAuths, k)
		}
	}
	claimant := func(r *http.Request) string {
		for _, k := range keyAuths {
			if id := k.KeyID(r); id != "" {
				return k.Name() + ":" + id
			}
		}
		return ""
	}
	var count func(string)
	if g.metrics != nil {
		count = func(ev string) { g.metrics.Rejected("lockout-" + ev) }
	}
	l, err := lockout.New(lockout.Config{MaxFailures: cfg.Lockout.MaxFailures, Window: cfg.Lockout.Window,
		Duration: cfg.Lockout.Duration, Key: cfg.Lockout.Key, Claimant: claimant, Audit: deps.Logger, Count: count,
		FailOpen: cfg.SharedStateFailure == "fail_open"}, backend)
	if err != nil {
		return nil, fmt.Errorf("lockout: %w", err)
	}
	return l, nil
}

// removeCredential deletes the token a TokenSource reads, so the upstream
// gets the gateway's verdict (X-Rampart-*) instead of a replayable bearer.
func removeCredential(r *http.Request, src auth.TokenSource) {
	if src.Cookie == "" {
		name := "Authorization"
		if src.Header != "" {
			name = textproto.CanonicalMIMEHeaderKey(src.Header)
		}
		delete(r.Header, name)
		return
	}
	cookies := r.Cookies()
	delete(r.Header, "Cookie")
	var kept []string
	for _, c := range cookies {
		if c.Name != src.Cookie {
			kept = append(kept, c.String())
		}
	}
	if len(kept) > 0 {
		r.Header.Set("Cookie", strings.Join(kept, "; "))
	}
}
