// Package gateway compiles a validated config into one http.Handler. It is the
// only place that knows the order of the steps (DESIGN.md, "The request
// pipeline"): everything a route needs is built here once, at load, so the
// request path only decides.
//
// Order, for every request:
//
//	request id, client address → framing verdict → request target → path
//	normalization and strict query → header scrub → top-level ip_filter (403)
//	→ route match (404/405/421) → the route's own steps → body limit and
//	buffering (413) → upstream
//
// A websocket: route runs the same steps, then upgrades and relays
// (internal/websocket) instead of forwarding.
//
// Controls that later issues own (authenticators other than "none", rate
// limits, CORS, OpenAPI, lockout, authorization requirements) fail closed: a
// config that uses one this build cannot enforce is refused at load, never
// served without it.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/trace"

	"github.com/rampart-gw/rampart/internal/auth/apikey"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
	"github.com/rampart-gw/rampart/internal/clientip"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/cors"
	"github.com/rampart-gw/rampart/internal/detect"
	"github.com/rampart-gw/rampart/internal/framing"
	"github.com/rampart-gw/rampart/internal/headers"
	"github.com/rampart-gw/rampart/internal/hygiene"
	"github.com/rampart-gw/rampart/internal/ipfilter"
	"github.com/rampart-gw/rampart/internal/lockout"
	"github.com/rampart-gw/rampart/internal/metrics"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/pathnorm"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/proxy"
	"github.com/rampart-gw/rampart/internal/ratelimit/backend"
	"github.com/rampart-gw/rampart/internal/route"
	"github.com/rampart-gw/rampart/internal/spool"
	"github.com/rampart-gw/rampart/internal/stats"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/tracing"
	"github.com/rampart-gw/rampart/internal/websocket"
)

// Deps are the gateway's collaborators.
type Deps struct {
	// Observer is told about every rejection. nil means log them to Logger.
	Observer pipeline.Observer
	// Logger receives operational messages. nil means slog.Default().
	Logger *slog.Logger
	// Access, when set, writes one access line per request.
	Access AccessLogger
	// Metrics, when set, counts requests and upstream latency.
	Metrics *metrics.Metrics
	// Stats, when set, receives one Request call per request (the
	// dashboard's aggregates; refusals reach it through Observer). It
	// outlives reloads.
	Stats *stats.Stats
	// Keys is the API-key store (nil when no api_key authenticator is
	// configured; a gateway that needs one without it refuses to build).
	Keys store.Store
	// KeyStandby is shared by the api_key authenticators and outlives
	// reloads (store health, lookup timeout, keys served through store
	// outages). nil: each authenticator makes its own, with no grace.
	KeyStandby *apikey.Standby
	// Lockout holds brute-force counters; it outlives reloads. nil: an
	// in-memory one owned by this gateway.
	Lockout lockout.Backend
	// Previous is the gateway being replaced by a reload, if any: OpenAPI
	// documents that cannot be re-fetched keep its version, and JWT
	// authenticators with the same key source start from its keys.
	Previous *Gateway
	// RateLimit is the shared-state backend for rate limits; it outlives
	// reloads (counters must not reset). nil: an in-memory one owned by this
	// gateway (used by `rampart check`).
	RateLimit *backend.Backend
	// Detect is the attack-detection engine and block table; it outlives
	// reloads (windows and blocks must not reset). nil: one owned by this
	// gateway when the config has detect: (blocks in memory).
	Detect *detect.Engine
	// Offline compiles without the network (`rampart check` without
	// --online): no OIDC discovery or JWKS fetch (such authenticators then
	// refuse every token) and no remote OpenAPI document (Unfetched names
	// them). A gateway built offline is for checking, not serving.
	Offline bool
	// Tracer, when set, gives each request a server span and each upstream
	// call a child span; it outlives reloads. nil: tracing off (one nil
	// check per request).
	Tracer *tracing.Tracer
}

// AccessLogger writes the access log.
type AccessLogger interface {
	// AccessAt writes the line of a request that ended at at.
	AccessAt(r *http.Request, at time.Time, status int, bytes int64, elapsed time.Duration)
}

// Gateway is a compiled config. It is immutable; a reload builds a new one.
type Gateway struct {
	router         *route.Router
	routes         []compiledRoute
	upstreams      map[string]*proxy.Upstream
	ips            *clientip.Resolver
	obs            pipeline.Observer
	logger         *slog.Logger
	access         AccessLogger
	metrics        *metrics.Metrics
	stats          *stats.Stats
	noRoute        *metrics.Route // metrics of requests refused before routing
	maxQueryParams int
	secure         *headers.Profile              // security headers, applied by each request's recorder
	closers        []func()                      // background work to stop on Close (JWKS refresh)
	jwts           map[string]*jwt.Authenticator // those fetching keys, by name; keys outlive a reload (Deps.Previous)
	docs           map[string]*openapi.Document
	wafs           map[string]*wafPolicy // compiled waf: policies; reused by a reload that keeps them
	unfetched      []string              // remote OpenAPI documents not loaded (Deps.Offline)
	hosts          map[string]bool       // route hosts; used for absolute-form and 421
	hostsOnly      bool                  // every route names a host
	websockets     []*websocket.Handler
	bodies         *spool.Budget    // buffered request and response bodies
	ipFilter       *ipfilter.Filter // the top-level ip_filter; nil: none
	ipFiles        *ipfilter.Files  // list files of every ip_filter, polled while the gateway serves
	shadows        []error          // see Shadows
	tracer         *tracing.Tracer
	authKinds      map[string]string // authenticator name → type (jwt, api_key...), for spans
	detect         *detect.Engine    // blocks enforced; events fed when feed
	feed           bool              // the config has detect:
}

type compiledRoute struct {
	name    string
	path    string         // the path template, for span names
	metrics *metrics.Route // nil without metrics
	stats   *stats.Route   // nil without stats
	handler http.Handler
	cors    bool // the route has a CORS policy (and so answers preflights)
	deny    int  // a deny route's status (404 or 403); handler is then nil
	login   bool // the application's login route (login:)
}

// New compiles cfg. Every problem is returned at once.
func New(cfg *config.Config, deps Deps) (*Gateway, error) {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Observer == nil {
		deps.Observer = LogObserver{Logger: deps.Logger}
	}
	g := &Gateway{
		upstreams:      map[string]*proxy.Upstream{},
		ips:            clientip.New(cfg.Server.TrustedProxies),
		obs:            deps.Observer,
		logger:         deps.Logger,
		access:         deps.Access,
		metrics:        deps.Metrics,
		stats:          deps.Stats,
		maxQueryParams: cfg.Server.MaxQueryParams,
		docs:           map[string]*openapi.Document{},
		jwts:           map[string]*jwt.Authenticator{},
		hosts:          map[string]bool{},
		hostsOnly:      len(cfg.Routes) > 0,
		tracer:         deps.Tracer,
		authKinds:      map[string]string{},
	}
	for name, a := range cfg.Authenticators {
		g.authKinds[name] = a.Type
	}
	b := &builder{g: g, cfg: cfg, deps: deps}
	bodies, err := bodyBudget(cfg.Server, deps)
	if err != nil {
		return nil, cfg.ErrorAt(err, "server", "body_spill_dir")
	}
	g.bodies = bodies
	b.upstreams()
	b.documents()
	// Routes generated from documents join the written ones.
	routes := append(append([]*config.Route(nil), cfg.Routes...), b.specRoutes()...)
	b.authenticators(routes)
	b.lockout()
	b.corsPolicies()
	b.wafPolicies()
	b.rateLimiter()
	b.ipFilters()
	b.detector()

	overrides := headers.Config{Routes: map[string]headers.Overrides{}}
	specs := make([]route.Spec, len(routes))
	for i, rt := range routes {
		if len(rt.Headers.Set) > 0 || len(rt.Headers.Remove) > 0 {
			overrides.Routes[rt.Name] = rt.Headers
		}
		specs[i] = route.Spec{Host: rt.Host, Methods: rt.Methods, Path: rt.Path, Deny: rt.Deny}
		if rt.Deny {
			// A deny route only takes requests away: it adds no host to
			// those the gateway serves.
			g.routes = append(g.routes, compiledRoute{name: rt.Name, path: rt.Path, deny: rt.DenyStatus})
			continue
		}
		if rt.Host == "" {
			g.hostsOnly = false
		} else {
			g.hosts[strings.ToLower(rt.Host)] = true
		}
		if h, ok := b.route(rt); ok {
			g.routes = append(g.routes, compiledRoute{name: rt.Name, path: rt.Path, handler: h, cors: rt.CORS != "", login: rt.Login != nil})
		}
	}
	secure, err := headers.Compile(overrides)
	if err != nil {
		b.errs = append(b.errs, err)
	}
	router, rerrs := route.New(specs)
	for _, e := range rerrs {
		b.errs = append(b.errs, e)
	}
	if len(b.errs) > 0 {
		g.Close()
		return nil, errors.Join(b.errs...)
	}
	g.router = router
	if !deps.Offline {
		g.ipFiles.Start() // stopped by Close
	}
	g.shadows = shadows(cfg, routes, router, g.docs)
	g.secure = secure
	if g.metrics != nil {
		g.noRoute = g.metrics.Route("")
		for i := range g.routes {
			g.routes[i].metrics = g.metrics.Route(g.routes[i].name)
		}
	}
	if g.stats != nil {
		for i := range g.routes {
			g.routes[i].stats = g.stats.Route(g.routes[i].name)
		}
	}
	return g, nil
}

// bodyBudget is the body budget of cfg: the previous gateway's when its
// settings did not change, so that bodies in flight across a reload stay
// counted. A gateway built offline (`rampart check`) does not touch the
// spill directory.
func bodyBudget(s config.Server, deps Deps) (*spool.Budget, error) {
	sc := spool.Config{Dir: s.BodySpillDir, Threshold: int64(s.BodyBufferBytes),
		MemoryBudget: int64(s.BodyMemoryBudget), SpillBudget: int64(s.BodySpillBudget)}
	if deps.Offline {
		sc.SpillBudget = 0
	}
	if prev := deps.Previous; prev != nil && prev.bodies.Matches(sc) {
		return prev.bodies, nil
	}
	return spool.New(sc)
}

// positioned is a config error found while compiling.
func positioned(cfg *config.Config, pos conf.Pos, msg string) *config.Error {
	return &config.Error{File: cfg.File, Line: max(pos.Line, 1), Col: max(pos.Col, 1), Msg: msg}
}

// Shadows warns, at the route's path, about each path an OpenAPI document
// lists with a literal segment where the route that takes its requests,
// documented by that same document, has a {parameter}: /users/v1/_debug
// served by /users/v1/{username}. The operation is probably not meant to
// be reached that way (for `rampart check`).
func (g *Gateway) Shadows() []error { return g.shadows }

func shadows(cfg *config.Config, routes []*config.Route, router *route.Router, docs map[string]*openapi.Document) []error {
	var out []error
	for i, rt := range routes {
		doc := docs[rt.OpenAPI]
		if doc == nil || !strings.Contains(rt.Path, "{") { // deny routes have no openapi
			continue
		}
		for _, op := range doc.OperationPaths() {
			// The template as a path: its own {parameters} match only
			// parameters of routes.
			var params route.Params
			if res := router.Match(rt.Host, op.Method, op.Template, &params); res.Route != i {
				continue
			}
			for j := range params.Len() {
				name, v := params.At(j)
				if strings.HasPrefix(v, "{") || strings.Contains(rt.Path, "{"+name+"...}") {
					continue
				}
				out = append(out, positioned(cfg, rt.PathPos, fmt.Sprintf(
					"warning: route %q: {%s} in path %q takes %s %s, which openapi %q documents as a path of its own (#%s); add a route for it, or a deny route (deny: true) if it must never be reachable",
					rt.Name, name, rt.Path, op.Method, op.Template, rt.OpenAPI, op.Pointer)))
				break
			}
		}
	}
	return out
}

// Routes is the number of routes compiled, generated ones included.
func (g *Gateway) Routes() int { return len(g.routes) }

// Unfetched names, sorted, the remote OpenAPI documents a gateway built with
// Deps.Offline did not load: routes generated from them are not in Routes.
func (g *Gateway) Unfetched() []string { return g.unfetched }

// KeyStates is the key state of each authenticator that fetches keys (jwt
// with jwks_url or discovery) routes use, by name, for /readyz and metrics:
// the others are ready whenever the gateway is.
func (g *Gateway) KeyStates() map[string]jwt.State {
	out := make(map[string]jwt.State, len(g.jwts))
	for name, a := range g.jwts {
		out[name] = a.State()
	}
	return out
}

// WaitKeys waits for the first key fetch of every JWT authenticator (check
// --online) and returns the failures by name.
func (g *Gateway) WaitKeys(ctx context.Context) map[string]error {
	errs := map[string]error{}
	for name, a := range g.jwts {
		if err := a.Wait(ctx); err != nil {
			errs[name] = err
		}
	}
	return errs
}

// GoingAway closes the gateway's WebSockets with 1001 (Going Away) to
// both sides, and refuses new ones. Shutdown calls it before draining, so
// relays end within the drain timeout; a reload, through Close, so clients
// reconnect under the new config.
func (g *Gateway) GoingAway() {
	for _, ws := range g.websockets {
		ws.GoingAway()
	}
}

// Close closes the WebSockets and releases upstream connection pools.
func (g *Gateway) Close() {
	g.GoingAway()
	for _, u := range g.upstreams {
		u.Close()
	}
	for _, c := range g.closers {
		c()
	}
}

// ServeHTTP runs the pre-routing checks, routes, and hands over to the route.
func (g *Gateway) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	// One allocation for the request's Info and its response recorder.
	st := &requestState{info: pipeline.Info{Start: received(rw), Scheme: "http"}, secure: g.secure}
	info, w := &st.info, &st.rec
	w.ResponseWriter, w.Hook = rw, st
	if r.TLS != nil {
		info.Scheme = "https"
	}
	peer, _ := clientip.Peer(r.RemoteAddr)
	trusted := g.ips.Trusted(peer)
	info.Peer = peerString(r.RemoteAddr, peer)
	if xff := r.Header["X-Forwarded-For"]; len(xff) > 0 && trusted {
		client, chain := g.ips.Client(peer, xff)
		info.ClientIP, info.Client = client.String(), client.Unmap()
		info.ForwardedFor = proxy.ForwardedFor(chain)
	} else {
		// The common case: the peer is the client and the whole chain.
		info.ClientIP, info.ForwardedFor, info.Client = info.Peer, info.Peer, peer.Unmap()
	}
	propagated := hygiene.Scrub(r.Header, trusted)
	if propagated != "" && trusted && hygiene.ValidRequestID(propagated) {
		info.ID = propagated
	} else {
		info.ID = newRequestID(&st.idText)
	}
	st.idValue[0] = info.ID
	w.Header()["X-Request-Id"] = st.idValue[:] // len == cap: an append copies
	if g.tracer != nil {
		var ctx context.Context
		ctx, st.span = g.tracer.StartServer(r.Context(), r.Header, trusted, info.Start)
		r = r.WithContext(ctx)
	}
	r = pipeline.WithInfo(r, info)
	if g.metrics != nil {
		g.metrics.Begin()
	}
	defer g.finish(st, r)
	defer g.recoverPanic(r)
	g.serve(w, r)
	// A handler that wrote nothing gets an implicit 200 from the server
	// after it returns; that response must carry the profile too.
	w.Finish()
}

// serve runs the pre-routing checks, routes, and hands over to the route.
// Its writer applies the security headers, so every answer — refusals
// included — carries the header profile.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	info := pipeline.InfoFrom(r.Context())
	if rej := g.precheck(r, info); rej != nil {
		pipeline.Refuse(w, r, "request", g.obs, rej)
		return
	}
	// Before routing: a refused client learns nothing about routes.
	if g.ipFilter != nil && !g.ipFilter.Allows(info.Client) {
		pipeline.Refuse(w, r, ipfilter.Step, g.obs, ipfilter.Denied())
		return
	}
	if g.refuseBlocked(w, r, info) {
		return
	}
	// A CORS preflight is routed by the method it asks about: no route
	// lists OPTIONS for it, and the route's policy answers it.
	method, preflight := r.Method, cors.IsPreflight(r)
	if preflight {
		method = cors.RequestedMethod(r)
	}
	var params route.Params
	res := g.router.Match(r.Host, method, info.Path, &params)
	switch res.Status {
	case 0:
	case http.StatusMethodNotAllowed:
		rej := pipeline.Reject(http.StatusMethodNotAllowed, "method-not-allowed", "This path does not accept the "+safeMethod(r.Method)+" method.")
		rej.Header = http.Header{"Allow": {res.Allow}}
		pipeline.Refuse(w, r, "route", g.obs, rej)
		return
	default:
		pipeline.Refuse(w, r, "route", g.obs, notFound())
		return
	}
	rt := &g.routes[res.Route]
	info.Route, info.RouteIndex = rt.name, int32(res.Route+1)
	if rt.deny != 0 {
		// Before anything else, preflights included: the answer must not
		// tell a denied path from an unknown one (with 404).
		pipeline.Refuse(w, r, "deny", g.obs, denial(rt.deny))
		return
	}
	info.Params = params
	if preflight && !rt.cors {
		// Preflights are the gateway's business: never forwarded.
		pipeline.Refuse(w, r, "cors", g.obs, pipeline.Reject(http.StatusForbidden, cors.TypePreflightRefused,
			"This route does not allow cross-origin requests."))
		return
	}
	rt.handler.ServeHTTP(w, r)
}

// notFound is the answer to a request no route matches.
func notFound() *pipeline.Rejection {
	return pipeline.Reject(http.StatusNotFound, "route-not-found", "No route matches this request.")
}

// denial is a deny route's answer: with 404, the very answer to a request no
// route matches; with 403, route-denied.
func denial(status int) *pipeline.Rejection {
	if status == http.StatusForbidden {
		return pipeline.Reject(http.StatusForbidden, "route-denied", "This request is not allowed.")
	}
	return notFound()
}

// requestState is what ServeHTTP allocates per request, in one piece.
type requestState struct {
	info    pipeline.Info
	rec     recorder
	secure  *headers.Profile
	idValue [1]string  // the X-Request-Id response header's value slice
	idText  [32]byte   // a generated request id's bytes: the state must never be pooled (see newRequestID)
	span    trace.Span // the server span; nil with tracing off
}

// BeforeHeader applies the security headers (the recorder's hook) when the
// response header is about to leave: then the route, the principal and the
// upstream's headers are known.
func (st *requestState) BeforeHeader(h http.Header) {
	st.secure.Apply(h, &st.info, st.info.Scheme == "https")
}

// peerString is peer as text. For an IPv4 peer it is the host part of
// remoteAddr as net/http wrote it (dotted quad, no leading zeros: what
// netip.Addr.String gives), so no string is built per request.
func peerString(remoteAddr string, peer netip.Addr) string {
	if peer.Is4() {
		if i := strings.LastIndexByte(remoteAddr, ':'); i > 0 && strings.IndexByte(remoteAddr[:i], ':') < 0 {
			return remoteAddr[:i]
		}
	}
	if !peer.IsValid() {
		return "invalid IP" // what netip.Addr{}.String() says; RemoteAddr was not an address
	}
	return peer.String()
}

// received returns when the server read the request's first bytes, when it
// says (internal/h1 does for keep-alive requests: one clock read less per
// request), or now.
func received(rw http.ResponseWriter) time.Time {
	if r, ok := rw.(interface{ Received() time.Time }); ok {
		if t := r.Received(); !t.IsZero() {
			return t
		}
	}
	return time.Now()
}

// finish records the access line, metrics and span of a request.
func (g *Gateway) finish(st *requestState, r *http.Request) {
	w, info := &st.rec, &st.info
	end := time.Now()
	elapsed := end.Sub(info.Start)
	status := w.status
	if status == 0 && info.WebSocket != nil {
		status = http.StatusSwitchingProtocols // sent on the hijacked connection
	}
	if status == 0 {
		status = 499 // aborted before any response (client gone, handler aborted)
	}
	if g.metrics != nil {
		rm := g.noRoute
		if i := info.RouteIndex; i > 0 {
			rm = g.routes[i-1].metrics
		}
		if info.Target != "" {
			rm.Upstream(info.UpstreamTime)
		}
		rm.Done(r.Method, status, elapsed) // last: it ends "in flight"
	}
	if g.stats != nil {
		var rs *stats.Route
		if i := info.RouteIndex; i > 0 {
			rs = g.routes[i-1].stats
		}
		// An upstream error: forwarded, and no answer, a 5xx or a broken body.
		upstreamErr := info.Target != "" && (info.UpstreamStatus == 0 || info.UpstreamStatus >= 500 || info.UpstreamAborted)
		g.stats.Request(rs, status, elapsed, upstreamErr, info.Start.Add(elapsed))
	}
	if g.access != nil {
		g.access.AccessAt(r, end, status, w.bytes, elapsed)
	}
	if g.feed {
		g.feedDetectors(info, status)
	}
	if st.span != nil {
		g.endSpan(st.span, r, info, status)
	}
}

// endSpan ends a request's server span with what was decided.
func (g *Gateway) endSpan(span trace.Span, r *http.Request, info *pipeline.Info, status int) {
	s := tracing.Server{Method: r.Method, Scheme: info.Scheme, Route: info.Route, Status: status,
		Refusal: info.Refusal, Forwarded: info.Target != "", RequestID: info.ID, Client: info.ClientIP}
	if i := info.RouteIndex; i > 0 {
		s.Template = g.routes[i-1].path
	}
	if p := info.Principal; p != nil {
		s.Principal = g.authKinds[p.Authenticator]
	}
	g.tracer.EndServer(span, s)
}

// recorder notes the status and size of a response for the access log, and
// applies the security headers (its Hook) before the header leaves. Its
// HeaderWriter gives it Flush, FlushError and Unwrap (so that
// http.ResponseController reaches deadlines and Hijack).
type recorder struct {
	pipeline.HeaderWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.HeaderWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.HeaderWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy into the response on the server's fast path, and
// counts what it copied.
func (w *recorder) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.HeaderWriter.ReadFrom(src)
	w.bytes += n
	return n, err
}

// recoverPanic keeps a bug from becoming a stack trace on the wire or a dead
// process: the stack goes to the log, the connection is aborted.
func (g *Gateway) recoverPanic(r *http.Request) {
	v := recover()
	if v == nil || v == http.ErrAbortHandler {
		if v != nil {
			panic(v)
		}
		return
	}
	info := pipeline.InfoFrom(r.Context())
	g.logger.Error("panic while serving a request", "request_id", info.ID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	panic(http.ErrAbortHandler)
}

// precheck refuses what must never be routed. It fills info.Path.
func (g *Gateway) precheck(r *http.Request, info *pipeline.Info) *pipeline.Rejection {
	if reason, ok := refusedHead(r); ok {
		rej := pipeline.Reject(http.StatusBadRequest, "bad-framing", framingDetail(reason))
		switch reason {
		case framing.ReasonHeaderTooLarge:
			rej.Status, rej.Type = http.StatusRequestHeaderFieldsTooLarge, "header-too-large"
		case framing.ReasonBadVersion:
			rej.Status, rej.Type = http.StatusHTTPVersionNotSupported, "http-version-not-supported"
		case framing.ReasonBadExpect:
			rej.Status, rej.Type = http.StatusExpectationFailed, "expectation-failed"
		}
		rej.Close = true
		return rej
	}
	if r.Method == http.MethodConnect {
		return pipeline.Reject(http.StatusMethodNotAllowed, "method-not-allowed", "CONNECT is refused: Rampart is not a forward proxy.")
	}
	if g.hostsOnly && !g.hosts[hostOnly(r.Host)] {
		return pipeline.Reject(http.StatusMisdirectedRequest, "unknown-host", "This gateway does not serve the requested host.")
	}
	rawPath, rawQuery, reason := hygiene.Target(r.RequestURI, func(h string) bool { return g.hosts[hostOnly(h)] })
	if reason != "" {
		return pipeline.Reject(http.StatusBadRequest, "bad-request-target", targetDetail(reason))
	}
	p, err := pathnorm.Path(rawPath)
	if err != nil {
		var pe *pathnorm.Error
		errors.As(err, &pe)
		return pipeline.Reject(http.StatusBadRequest, "bad-path", pe.Detail)
	}
	if err := pathnorm.Query(rawQuery, g.maxQueryParams); err != nil {
		var pe *pathnorm.Error
		errors.As(err, &pe)
		if pe.Reason == "too-many-params" {
			return pipeline.Reject(http.StatusRequestURITooLong, "too-many-query-params", pe.Detail)
		}
		return pipeline.Reject(http.StatusBadRequest, "bad-query", pe.Detail)
	}
	if r.URL.RawQuery != rawQuery {
		r.URL.RawQuery = rawQuery
	}
	info.Path = p
	return nil
}

func hostOnly(h string) string {
	h = strings.ToLower(h)
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		return h[:i]
	}
	return h
}

// safeMethod keeps client text out of details unless it is a plain token.
func safeMethod(m string) string {
	if len(m) > 20 {
		return "requested"
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-') {
			return "requested"
		}
	}
	return m
}

func framingDetail(reason framing.Reason) string {
	switch reason {
	case framing.ReasonCLAndTE:
		return "The request has both Content-Length and Transfer-Encoding."
	case framing.ReasonBadTransferEncoding:
		return "Only Transfer-Encoding: chunked is accepted."
	case framing.ReasonTEOnHTTP10:
		return "Transfer-Encoding is not allowed on HTTP/1.0 requests."
	case framing.ReasonObsFold:
		return "Folded (multi-line) header values are not accepted."
	case framing.ReasonBadContentLength:
		return "The Content-Length header is malformed or repeated."
	case framing.ReasonHeaderTooLarge:
		return "The request headers are too large."
	case framing.ReasonBadTarget:
		return "The request target has a malformed percent-escape or a control character."
	case framing.ReasonSpaceBeforeColon, framing.ReasonBadHeaderLine, framing.ReasonBadHeaderValue:
		return "A header line is malformed."
	case framing.ReasonBadHost:
		return "The request has more than one Host header."
	case framing.ReasonMissingHost:
		return "HTTP/1.1 requests must carry a Host header."
	case framing.ReasonBadRequestLine:
		return "The request line is malformed."
	case framing.ReasonBadVersion:
		return "Only HTTP/1.0 and HTTP/1.1 are served on this connection (HTTP/2 needs TLS with ALPN)."
	case framing.ReasonBadExpect:
		return "Only Expect: 100-continue is supported."
	default:
		return "The request is malformed."
	}
}

// ServeRejected answers a request whose head the HTTP/1 server refused
// (h1.Server.Reject): r carries what could be parsed of it, the real method
// and target when the request line could be read. Like any refusal it gets
// the security headers, a problem+json body, one audit event and one access
// line (with that method, not a placeholder), and the connection is closed.
func (g *Gateway) ServeRejected(w http.ResponseWriter, r *http.Request, reason framing.Reason) {
	g.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), refusedKey{}, reason)))
}

type refusedKey struct{}

// refusedHead reports the reason ServeRejected was called with. A refused
// request always has Close set, so keep-alive requests skip the lookup.
func refusedHead(r *http.Request) (framing.Reason, bool) {
	if !r.Close {
		return "", false
	}
	reason, ok := r.Context().Value(refusedKey{}).(framing.Reason)
	return reason, ok
}

func targetDetail(reason string) string {
	switch reason {
	case "fragment":
		return "The request target must not contain a fragment (#)."
	case "absolute-form":
		return "Absolute-form request targets are refused: Rampart is not a forward proxy."
	default:
		return "The request target must be a path starting with /."
	}
}

// newRequestID returns 128 random bits in hex, written into text: the
// string shares text's memory (one allocation less per request), which is
// never written again, so the string stays immutable; it keeps text's
// owner (the request's state) alive as long as it is referenced.
func newRequestID(text *[32]byte) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	hex.Encode(text[:], b[:])
	return unsafe.String(&text[0], len(text))
}

// LogObserver logs rejections.
type LogObserver struct{ Logger *slog.Logger }

// Rejected implements pipeline.Observer.
func (o LogObserver) Rejected(r *http.Request, step string, rej *pipeline.Rejection) {
	attrs := []slog.Attr{slog.String("step", step), slog.Int("status", rej.Status), slog.String("type", rej.Type)}
	if info := pipeline.InfoFrom(r.Context()); info != nil {
		attrs = append(attrs, slog.String("request_id", info.ID), slog.String("client_ip", info.ClientIP), slog.String("route", info.Route))
	}
	if rej.Err != nil {
		attrs = append(attrs, slog.String("error", rej.Err.Error()))
	}
	level := slog.LevelInfo
	if rej.Status >= 500 {
		level = slog.LevelWarn
	}
	o.Logger.LogAttrs(r.Context(), level, "request rejected", attrs...)
}
