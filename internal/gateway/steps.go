package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/auth/apikey"
	"github.com/rampart-gw/rampart/internal/auth/introspect"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
	"github.com/rampart-gw/rampart/internal/auth/mtls"
	"github.com/rampart-gw/rampart/internal/authz"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/cors"
	"github.com/rampart-gw/rampart/internal/ipfilter"
	"github.com/rampart-gw/rampart/internal/lockout"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/proxy"
	"github.com/rampart-gw/rampart/internal/ratelimit"
	"github.com/rampart-gw/rampart/internal/ratelimit/backend"
	"github.com/rampart-gw/rampart/internal/websocket"
)

// realm names the gateway in WWW-Authenticate challenges.
const realm = "rampart"

// builder compiles one config: each method builds one kind of step from the
// control's own config type, and problems are collected at their positions.
type builder struct {
	g    *Gateway
	cfg  *config.Config
	deps Deps
	errs []error

	// Built once, shared by the routes that name them.
	authns     map[string]*authenticator
	authFailed map[string]bool // authenticators whose build failed (reported)
	lo         *lockout.Lockout
	corsPolicy map[string]pipeline.Middleware
	limiter    *backend.Backend
}

// errReported is a step's error that was reported already (a route naming
// an authenticator that failed to build).
var errReported = errors.New("reported")

// route compiles one route: its steps, in DESIGN.md order, before its
// upstream. Each step is nil for a route that does not use it.
func (b *builder) route(rt *config.Route) (http.Handler, bool) {
	up := b.g.upstreams[rt.Upstream]
	if up == nil {
		b.errs = append(b.errs, fmt.Errorf("route %q: upstream %q is not defined", rt.Name, rt.Upstream))
		return nil, false
	}
	last := http.Handler(up)
	if rt.WebSocket != nil {
		ws, err := b.websocket(rt, up)
		if err != nil {
			b.errs = append(b.errs, positioned(b.cfg, rt.Pos, fmt.Sprintf("route %q: websocket: %v", rt.Name, err)))
			return nil, false
		}
		last = ws // it relays instead of forwarding, after the same steps
	}
	var steps []pipeline.Middleware
	for _, step := range []func(*config.Route) (pipeline.Middleware, error){
		b.ipFilter,     // first: a refused client gets no preflight answer either
		b.cors,         // then preflights are answered before anything else looks at them
		b.authenticate, // any of the route's authenticators, behind the lockout
		b.principalBlock,
		b.authorize, // the route's require
		b.rateLimit,
		b.responseOwner, // outside contract: it checks the response contract filtered (owner.go)
		b.bodyLimit,     // bodies are read only for requests every earlier step accepted
		b.ownBody,       // require.match rules on the JSON body, which only now is buffered
		b.loginUser,     // the username of a login route's body, for the detectors
		b.contract,      // it validates the buffered body and filters the response
		b.waf,           // the OWASP CRS on what the contract let through, before the upstream
		b.tokenHint,     // last: it watches the upstream's own answer (hint.go)
	} {
		mw, err := step(rt)
		if err != nil {
			if err != errReported {
				b.errs = append(b.errs, positioned(b.cfg, rt.Pos, fmt.Sprintf("route %q: %v", rt.Name, err)))
			}
			return nil, false
		}
		if mw != nil {
			steps = append(steps, mw)
		}
	}
	return pipeline.Chain(last, steps...), true
}

// websocket builds the handler that upgrades and relays the route's
// WebSockets; the gateway closes them on shutdown and reload (GoingAway).
func (b *builder) websocket(rt *config.Route, up *proxy.Upstream) (*websocket.Handler, error) {
	deps := websocket.Deps{Observer: b.g.obs, CloseWait: min(b.cfg.Server.ShutdownTimeout, 5*time.Second)}
	if m := b.g.metrics; m != nil {
		deps.Open = m.WebSocket
	}
	ws, err := websocket.New(*rt.WebSocket, up, deps)
	if err == nil {
		b.g.websockets = append(b.g.websockets, ws)
	}
	return ws, err
}

// public reports whether rt is auth: none.
func public(rt *config.Route) bool { return len(rt.Auth) == 1 && rt.Auth[0] == config.AuthNone }

// fail records err about the definition or key at path (see config.At).
func (b *builder) fail(err error, path ...string) {
	b.errs = append(b.errs, b.cfg.ErrorAt(err, path...))
}

func (b *builder) upstreams() {
	for name, u := range b.cfg.Upstreams {
		uc := *u
		uc.Spool = b.g.bodies
		uc.Tracer = b.deps.Tracer
		up, err := proxy.New(uc, b.deps.Observer)
		if err != nil {
			b.fail(fmt.Errorf("upstream %q: %w", name, err), "upstreams", name)
			continue
		}
		b.g.upstreams[name] = up
	}
}

// documents loads and compiles the OpenAPI documents the config names. On a
// reload, a document whose URL cannot be fetched keeps its previous version
// (logged), so an upstream being down does not take the contract away.
func (b *builder) documents() {
	var prev map[string]*openapi.Document
	if b.deps.Previous != nil {
		prev = b.deps.Previous.docs
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for name, o := range b.cfg.OpenAPI {
		oc := *o
		oc.BaseDir = filepath.Dir(b.cfg.File)
		oc.Offline = b.deps.Offline
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		doc, err := openapi.Reload(ctx, oc, client, prev[name])
		cancel()
		if errors.Is(err, openapi.ErrOffline) {
			b.g.unfetched = append(b.g.unfetched, name) // listed by Unfetched
			continue
		}
		if doc != nil && err != nil {
			b.deps.Logger.Warn("openapi document could not be refreshed; keeping the previous version", "openapi", name, "error", err.Error())
			err = nil
		}
		if err != nil {
			b.fail(err, "openapi", name, "spec")
			continue
		}
		for _, w := range doc.Warnings() {
			b.deps.Logger.Warn("openapi document accepted with a warning", "openapi", name, "warning", w.Error())
		}
		b.g.docs[name] = doc
	}
	sort.Strings(b.g.unfetched)
}

// specRoutes turns routes_from_spec documents into routes, checked like the
// ones written by hand (their upstream and authenticators must exist).
func (b *builder) specRoutes() []*config.Route {
	var routes []*config.Route
	for name, o := range b.cfg.OpenAPI {
		doc := b.g.docs[name]
		if !o.RoutesFromSpec || doc == nil {
			continue
		}
		if b.cfg.Upstreams[o.Upstream] == nil {
			b.fail(fmt.Errorf("openapi %q: upstream %q is not defined", name, o.Upstream), "openapi", name, "upstream")
			continue
		}
		specs, err := doc.Routes()
		if err != nil {
			b.fail(err, "openapi", name)
			continue
		}
		pos := b.cfg.At("openapi", name)
		for _, rs := range specs {
			rt := &config.Route{Name: rs.Name, Path: rs.Path, Methods: rs.Methods, Upstream: rs.Upstream, Auth: rs.Auth,
				AuthOptional: rs.Optional, OpenAPI: name, Pos: pos, PathPos: pos}
			rt.Require.Scopes = rs.Scopes
			if o := rs.Owner; o != nil {
				if public(rt) || rt.AuthOptional {
					b.fail(fmt.Errorf("openapi %q: operation %s has x-rampart-owner but no required authentication: ownership needs a principal", name, rs.Operation), "openapi", name)
					continue
				}
				for _, m := range o.Match {
					rt.Require.Match = append(rt.Require.Match, authz.Match{Path: m.Path, Query: m.Query, Header: m.Header, JSON: m.JSON, Claim: m.Claim})
				}
				rt.Require.MatchBypassRoles = o.BypassRoles
			}
			for _, a := range rs.Auth {
				if a != config.AuthNone && b.cfg.Authenticators[a] == nil {
					b.fail(fmt.Errorf("openapi %q: operation %s maps to authenticator %q, which is not defined", name, rs.Operation, a), "openapi", name)
				}
			}
			routes = append(routes, rt)
		}
	}
	return routes
}

// authenticator is a built authenticator and what the gateway does with the
// credential it read.
type authenticator struct {
	auth.Authenticator
	drop *auth.TokenSource // the token to remove before the upstream; nil: keep (forward_token, or none to drop)
}

// authenticators builds the authenticators that routes use (only those: an
// unused one would fetch keys for nothing). Static key material is loaded
// here, so a bad key file fails the load; discovery and JWKS are fetched in
// the background, so an IdP that is down takes only its own routes down (503
// auth-unavailable) and a reload keeps the keys it had.
func (b *builder) authenticators(routes []*config.Route) {
	b.authns, b.authFailed = map[string]*authenticator{}, map[string]bool{}
	used := map[string]bool{}
	for _, rt := range routes {
		for _, name := range rt.Auth {
			used[name] = name != config.AuthNone
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for name, def := range b.cfg.Authenticators {
		if !used[name] {
			continue
		}
		a, err := b.authenticator(def, client)
		if err != nil {
			b.fail(fmt.Errorf("authenticator %q: %w", name, err), "authenticators", name)
			b.authFailed[name] = true
			continue
		}
		b.authns[name] = a
	}
}

func (b *builder) authenticator(def *config.Authenticator, client *http.Client) (*authenticator, error) {
	switch {
	case def.JWT != nil:
		c := *def.JWT
		c.Offline = b.deps.Offline
		if b.deps.Previous != nil {
			c.Previous = b.deps.Previous.jwts[c.Name]
		}
		j, err := jwt.New(c, client, b.deps.Logger)
		if err != nil {
			return nil, err
		}
		b.g.closers = append(b.g.closers, func() { _ = j.Close() })
		if c.JWKSURL != "" || c.Discovery {
			b.g.jwts[c.Name] = j // fetches keys: reported, and kept across reloads
		}
		return &authenticator{j, dropped(def.JWT.ForwardToken, def.JWT.TokenHeader, def.JWT.TokenCookie)}, nil
	case def.Introspection != nil:
		in, err := introspect.New(*def.Introspection, client, b.deps.Logger)
		if err != nil {
			return nil, err
		}
		return &authenticator{in, dropped(def.Introspection.ForwardToken, def.Introspection.TokenHeader, def.Introspection.TokenCookie)}, nil
	case def.APIKey != nil:
		if b.deps.Keys == nil {
			return nil, fmt.Errorf("no key store is open (store: %s)", b.cfg.Store)
		}
		c := *def.APIKey
		c.Logger = b.deps.Logger
		c.Standby = b.deps.KeyStandby
		k, err := apikey.New(c, b.deps.Keys)
		if err != nil {
			return nil, err
		}
		b.g.closers = append(b.g.closers, func() { _ = k.Close() })
		return &authenticator{Authenticator: k}, nil
	case def.MTLS != nil:
		if tls := b.cfg.Server.TLS; tls == nil || tls.ClientCAFile == "" {
			return nil, errors.New("the listener does not ask for client certificates: set server.tls.client_ca_file and client_auth")
		}
		m, err := mtls.New(*def.MTLS)
		if err != nil {
			return nil, err
		}
		return &authenticator{Authenticator: m}, nil
	}
	return nil, fmt.Errorf("authenticators of type %s are not available in this build", def.Type)
}

// dropped is the token source to remove before the upstream, unless the
// authenticator forwards its token.
func dropped(forward bool, header, cookie string) *auth.TokenSource {
	if forward {
		return nil
	}
	return &auth.TokenSource{Header: header, Cookie: cookie}
}

// lockout builds the brute-force lockout when the config asks for one.
// With key: principal, a request is counted by the API key it claims (its
// unverified id), so guessing secrets for one key locks that key.
func (b *builder) lockout() {
	if b.cfg.Lockout == nil {
		return
	}
	store := b.deps.Lockout
	if store == nil {
		store = lockout.NewMemory(lockout.MemoryOptions{})
	}
	var keyAuths []*apikey.Authenticator
	for _, name := range sortedNames(b.authns) {
		if k, ok := b.authns[name].Authenticator.(*apikey.Authenticator); ok {
			keyAuths = append(keyAuths, k)
		}
	}
	c := *b.cfg.Lockout
	c.Claimant = func(r *http.Request) string {
		for _, k := range keyAuths {
			if id := k.KeyID(r); id != "" {
				return k.Name() + ":" + id
			}
		}
		return ""
	}
	c.Audit = b.deps.Logger
	c.FailOpen = b.cfg.SharedStateFailure == "fail_open"
	if m := b.g.metrics; m != nil {
		c.Count = func(ev string) { m.Rejected("lockout-" + ev) }
	}
	l, err := lockout.New(c, store)
	if err != nil {
		b.fail(err, "lockout")
		return
	}
	b.lo = l
}

func (b *builder) corsPolicies() {
	b.corsPolicy = map[string]pipeline.Middleware{}
	for name, c := range b.cfg.CORS {
		mw, err := cors.New(*c, b.deps.Observer)
		if err != nil {
			b.fail(fmt.Errorf("cors %q: %w", name, err), "cors", name)
			continue
		}
		b.corsPolicy[name] = mw
	}
}

// cors is the route's CORS step.
func (b *builder) cors(rt *config.Route) (pipeline.Middleware, error) {
	return b.corsPolicy[rt.CORS], nil
}

// rateLimiter sets the shared-state backend of rate limits: the one in
// deps, which outlives reloads, or one of this gateway's own.
func (b *builder) rateLimiter() {
	b.limiter = b.deps.RateLimit
	if b.limiter != nil || len(b.cfg.RateLimits) == 0 {
		return
	}
	be, err := backend.Open("memory://", "", 0, b.deps.Logger)
	if err != nil {
		b.errs = append(b.errs, err)
		return
	}
	b.g.closers = append(b.g.closers, func() { _ = be.Close() })
	b.limiter = be
}

// ipFilters builds the top-level ip_filter and the list files every
// ip_filter shares (each file read once, polled once).
func (b *builder) ipFilters() {
	opts := ipfilter.FilesOptions{Logger: b.deps.Logger}
	if m := b.g.metrics; m != nil {
		opts.Failed = m.IPListReloadFailed
	}
	b.g.ipFiles = ipfilter.NewFiles(opts)
	b.g.closers = append(b.g.closers, b.g.ipFiles.Close)
	if b.cfg.IPFilter != nil {
		b.g.ipFilter = b.compileIPFilter(*b.cfg.IPFilter, "ip_filter", "ip_filter")
	}
}

// ipFilter is the route's own ip_filter step.
func (b *builder) ipFilter(rt *config.Route) (pipeline.Middleware, error) {
	if rt.IPFilter == nil {
		return nil, nil
	}
	i := slices.Index(b.cfg.Routes, rt)
	f := b.compileIPFilter(*rt.IPFilter, fmt.Sprintf("route %q: ip_filter", rt.Name), "routes", strconv.Itoa(i), "ip_filter")
	if f == nil {
		return nil, errReported
	}
	return f.Middleware(b.g.obs), nil
}

// compileIPFilter builds one ip_filter; nil when it failed (reported: a
// bad line of a list file at file:line:col of that file, anything else at
// the key under path).
func (b *builder) compileIPFilter(c ipfilter.Config, ctx string, path ...string) *ipfilter.Filter {
	c.BaseDir = filepath.Dir(b.cfg.File)
	f, err := ipfilter.New(c, b.g.ipFiles)
	if err == nil {
		return f
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	for _, err := range errs {
		var le *ipfilter.LineError
		if errors.As(err, &le) {
			b.errs = append(b.errs, &config.Error{File: le.File, Line: le.Line, Col: le.Col, Msg: le.Msg})
			continue
		}
		b.errs = append(b.errs, b.cfg.ErrorAt(fmt.Errorf("%s: %w", ctx, err), path...))
	}
	return nil
}

// authenticate is the route's authentication step (any of its authenticators,
// guarded by the lockout), which also rewrites the identity the upstream
// sees: the X-Rampart-* principal headers, and the credential itself only
// when its authenticator says forward_token.
func (b *builder) authenticate(rt *config.Route) (pipeline.Middleware, error) {
	if public(rt) {
		return nil, nil
	}
	as, lo, obs := b.authns, b.lo, b.g.obs
	list := make([]auth.Authenticator, 0, len(rt.Auth))
	for _, name := range rt.Auth {
		a, ok := as[name]
		switch {
		case b.authFailed[name]:
			return nil, errReported
		case !ok:
			return nil, fmt.Errorf("authenticator %q is not available", name)
		}
		list = append(list, a.Authenticator) // not the wrapper: Any looks for optional interfaces
	}
	check := auth.Any(realm, list...)
	if lo != nil {
		// A locked-out client is refused before any credential is looked
		// at — even a correct one; failures are counted after.
		check = lo.Wrap(check)
	}
	optional := rt.AuthOptional
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := check(r)
			if err != nil {
				if optional && carriesNoCredential(err) && len(r.Header["Authorization"]) == 0 {
					next.ServeHTTP(w, r) // anonymous: no principal, no identity headers
					return
				}
				pipeline.Refuse(w, r, "auth", obs, err)
				return
			}
			// The same *Info the header profile holds: it sees the principal.
			pipeline.InfoFrom(r.Context()).Principal = p
			auth.SetHeaders(r.Header, p)
			a := as[p.Authenticator]
			if a.drop != nil {
				removeCredential(r, *a.drop)
			}
			if k, ok := a.Authenticator.(*apikey.Authenticator); ok {
				k.Strip(r.Header) // an API key is never forwarded
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// carriesNoCredential reports whether err is auth.Any's refusal of a
// request without any credential its authenticators read (not a bad,
// foreign or locked-out one). Optional routes also require the absence of
// an Authorization header: a scheme none of them takes (Basic, say) is a
// credential the gateway cannot verify, so it is refused, not passed on.
func carriesNoCredential(err error) bool {
	var rej *pipeline.Rejection
	return errors.As(err, &rej) && rej.Type == auth.TypeCredentialsMissing
}

// rateLimit is the route's rate limiting step.
func (b *builder) rateLimit(rt *config.Route) (pipeline.Middleware, error) {
	if len(rt.RateLimit) == 0 || b.limiter == nil {
		return nil, nil
	}
	cs := make([]*ratelimit.Config, len(rt.RateLimit))
	for i, name := range rt.RateLimit {
		cs[i] = b.cfg.RateLimits[name]
	}
	var apiKey []string
	for name, a := range b.cfg.Authenticators {
		if a.APIKey != nil {
			apiKey = append(apiKey, name)
		}
	}
	sort.Strings(apiKey)
	limiter, err := b.limiter.For(rt.SharedStateFailure)
	if err != nil {
		return nil, err
	}
	return ratelimit.New(cs, ratelimit.Deps{Limiter: limiter, Observer: b.g.obs, APIKeyAuthenticators: apiKey,
		Options: ratelimit.Options{InFlight: b.limiter.InFlight}})
}

// authorize is the route's authorization step (its require).
func (b *builder) authorize(rt *config.Route) (pipeline.Middleware, error) {
	if public(rt) || rt.AuthOptional { // auth_optional routes have no require
		return nil, nil
	}
	req := rt.Require
	req.Realm = realm
	mw, err := authz.New(req, b.g.obs)
	if err != nil {
		return nil, fmt.Errorf("require: %w", err)
	}
	return mw, nil
}

// ownBody checks the route's require.match rules on the JSON body. They
// are a step of their own, not part of authorize: the body is buffered by
// the body step, which runs after authorization and rate limiting so that
// refused requests are never read. It runs before the contract step, so
// another caller's object is refused before its body is validated.
func (b *builder) ownBody(rt *config.Route) (pipeline.Middleware, error) {
	if public(rt) || rt.AuthOptional || !authz.BodyRules(rt.Require) {
		return nil, nil
	}
	req := rt.Require
	return pipeline.Guard("authz", b.g.obs, func(r *http.Request) (*http.Request, error) {
		var p *pipeline.Principal
		if info := pipeline.InfoFrom(r.Context()); info != nil {
			p = info.Principal
		}
		if rej := authz.CheckBodyMatch(r, p, req); rej != nil {
			return r, rej
		}
		return r, nil
	}), nil
}

// bodyLimit is the route's body step (see the function bodyLimit).
func (b *builder) bodyLimit(rt *config.Route) (pipeline.Middleware, error) {
	p := bodyPolicy{max: int64(b.cfg.Server.MaxBodyBytes), budget: b.g.bodies, obs: b.g.obs, stream: !rt.BufferRequest && rt.Login == nil}
	if o := b.cfg.OpenAPI[rt.OpenAPI]; o != nil && o.ValidateRequests || authz.BodyRules(rt.Require) || rt.Login != nil {
		p.inMemory = true // parsed whole, from the buffer itself: within the memory budget, never spilled
	}
	return bodyLimit(p), nil
}

// contract is the route's OpenAPI step.
func (b *builder) contract(rt *config.Route) (pipeline.Middleware, error) {
	doc := b.g.docs[rt.OpenAPI]
	if doc == nil {
		return nil, nil
	}
	return doc.Middleware(openapi.Deps{Observer: b.g.obs, OnResponse: b.g.onResponse}), nil
}

// Document is the loaded OpenAPI document of that name, or nil (not in the
// config, or a remote one not fetched).
func (g *Gateway) Document(name string) *openapi.Document { return g.docs[name] }

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

// onResponse records what response filtering did: the route, the operation
// and the names of undeclared fields — never their values — so teams can fix
// the service.
func (g *Gateway) onResponse(r *http.Request, ev openapi.ResponseEvent) {
	attrs := []slog.Attr{slog.String("event", "response-"+string(ev.Action)), slog.String("openapi", ev.Document),
		slog.String("operation", ev.Operation), slog.Int("status", ev.Status), slog.Any("fields", ev.Fields)}
	if info := pipeline.InfoFrom(r.Context()); info != nil {
		attrs = append(attrs, slog.String("request_id", info.ID), slog.String("route", info.Route))
	}
	if ev.Reason != "" {
		attrs = append(attrs, slog.String("reason", ev.Reason))
	}
	g.logger.LogAttrs(r.Context(), slog.LevelWarn, "audit", attrs...)
	if g.metrics != nil {
		g.metrics.Rejected("response-" + string(ev.Action))
	}
}

func sortedNames[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
