// Package headers applies Rampart's strict API security-header profile to
// every response the gateway sends: upstream responses, the gateway's own
// problem+json refusals (404, 401, 429, 502...) and CORS preflight answers.
//
// The profile follows the OWASP Secure Headers Project recommendations for
// APIs (https://owasp.org/www-project-secure-headers/) and the OWASP REST
// Security Cheat Sheet: a JSON API never needs to be framed, sniffed as HTML,
// run scripts or leak its URL in a Referer, so the headers that forbid all of
// that cost nothing and turn a content-type mistake or an HTML error page in
// an upstream into a non-event.
//
//	X-Content-Type-Options: nosniff                           always
//	X-Frame-Options: DENY                                     always (legacy browsers)
//	Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
//	Referrer-Policy: no-referrer                              always
//	Cross-Origin-Resource-Policy: same-origin                 always (CORS-mode fetches are not affected)
//	Strict-Transport-Security: max-age=63072000; includeSubDomains
//	                                                          only when the request arrived over TLS
//	Cache-Control: no-store                                   on responses to authenticated requests,
//	                                                          unless the response already has Cache-Control
//
// The profile owns these headers: an upstream's value for any of them is
// replaced (or, for HSTS on a plain-HTTP request, removed: RFC 6797 §8.1 has
// browsers ignore it there, and behind a TLS terminator it is the gateway's
// config, not whichever upstream answered, that decides). Cache-Control is the
// exception: an upstream that chose a caching policy keeps it, and so do the
// gateway's problem responses, which are always no-store.
//
// Routes that serve browsers (API docs, a login page) relax the profile with
// per-route overrides: Remove deletes a header whatever set it, then Set
// writes a value; both run after the profile, so the route always wins.
// Overrides may not touch framing or hop-by-hop headers, CORS headers (the
// route's cors: policy alone decides those) or Vary (which CORS depends on to
// keep caches from mixing origins); New refuses such configs.
//
// Headers are applied when the response header is written, by a
// ResponseWriter wrapper, because that is the only moment at which both the
// upstream's headers and the request's outcome (authenticated or not, which
// route) are known. The wrapper implements Flush, FlushError, ReadFrom and
// Unwrap, so streaming (SSE), http.ResponseController (deadlines, Hijack for
// upgrades) and sendfile keep working. One wrapper is allocated per request;
// every header value is a slice built once at New and assigned directly into
// the header map (slices are full, len == cap, so an append by a later writer
// copies instead of corrupting the shared value).
//
// The middleware must run after the gateway puts the request's pipeline.Info
// in the context and before anything can write a response:
//
//	secure, err := headers.New(headers.Config{Routes: overridesByRouteName}) // at load
//	g.serve = secure(http.HandlerFunc(g.precheckRouteAndServe))           // at load
//	...
//	r = pipeline.WithInfo(r, info) // per request, then
//	g.serve.ServeHTTP(w, r)
//
// The gateway itself uses Compile and calls Profile.Apply from the response
// wrapper it already has (its status recorder), which saves the middleware's
// wrapper. Either way the profile reads Info.Principal and Info.Route when
// the header is written, so later steps must fill in the same *Info (never a
// copy) for the Cache-Control rule and the route's overrides to apply.
package headers

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"sort"
	"strings"

	"github.com/rampart-gw/rampart/internal/framing"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// The profile's values. Exported so that tests elsewhere (gateway end to end)
// assert the same strings.
const (
	ContentTypeOptions        = "nosniff"
	FrameOptions              = "DENY"
	ContentSecurityPolicy     = "default-src 'none'; frame-ancestors 'none'"
	ReferrerPolicy            = "no-referrer"
	CrossOriginResourcePolicy = "same-origin"
	StrictTransportSecurity   = "max-age=63072000; includeSubDomains" // two years, as hstspreload.org asks
	NoStore                   = "no-store"
)

// Config is the gateway-wide header policy.
type Config struct {
	// Routes holds per-route overrides keyed by route name (pipeline.Info.Route).
	// nil or a missing name means the profile alone.
	Routes map[string]Overrides
}

// Overrides changes one route's response headers after the profile (a
// route's headers: in the config file).
type Overrides struct {
	// Set maps header names to values; each replaces the profile's and the
	// upstream's header of that name.
	Set map[string]string `yaml:"set"`
	// Remove lists header names deleted from the response whatever set them.
	Remove []string `yaml:"remove"`
}

type field struct {
	key string
	val []string
}

type override struct {
	remove []string
	set    []field
}

// Profile is a compiled Config.
type Profile struct {
	always  []field
	hsts    []string
	noStore []string
	routes  map[string]*override
}

const (
	hstsKey         = "Strict-Transport-Security"
	cacheControlKey = "Cache-Control"
)

// New compiles cfg into a middleware. It refuses overrides with invalid header
// names or values and overrides of headers the gateway must control.
func New(cfg Config) (pipeline.Middleware, error) {
	p, err := Compile(cfg)
	if err != nil {
		return nil, err
	}
	return p.middleware, nil
}

// Compile compiles cfg into a Profile, for a caller that applies it from its
// own response wrapper (the gateway's, which also records the status: one
// wrapper per request instead of two). It refuses what New refuses.
func Compile(cfg Config) (*Profile, error) {
	p := &Profile{
		always: []field{
			{"X-Content-Type-Options", value(ContentTypeOptions)},
			{"X-Frame-Options", value(FrameOptions)},
			{"Content-Security-Policy", value(ContentSecurityPolicy)},
			{"Referrer-Policy", value(ReferrerPolicy)},
			{"Cross-Origin-Resource-Policy", value(CrossOriginResourcePolicy)},
		},
		hsts:    value(StrictTransportSecurity),
		noStore: value(NoStore),
	}
	var errs []error
	names := make([]string, 0, len(cfg.Routes))
	for name := range cfg.Routes {
		names = append(names, name)
	}
	sort.Strings(names) // stable error order
	for _, name := range names {
		o, err := compileOverrides(cfg.Routes[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("route %q: headers: %w", name, err))
			continue
		}
		if o != nil {
			if p.routes == nil {
				p.routes = map[string]*override{}
			}
			p.routes[name] = o
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// value returns a one-element slice with len == cap.
func value(v string) []string { return []string{v}[:1:1] }

func compileOverrides(ov Overrides) (*override, error) {
	if len(ov.Set) == 0 && len(ov.Remove) == 0 {
		return nil, nil
	}
	var errs []error
	o := &override{}
	seen := map[string]bool{}
	keys := make([]string, 0, len(ov.Set))
	for k := range ov.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := ov.Set[k]
		canon, err := checkName(k)
		if err == nil && !framing.ValidValue(v) {
			err = fmt.Errorf("the value of %q must not contain control characters", k)
		}
		if err == nil && seen[canon] {
			err = fmt.Errorf("header %q is set twice (names are case-insensitive)", k)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("set: %w", err))
			continue
		}
		seen[canon] = true
		o.set = append(o.set, field{canon, value(v)})
	}
	for _, k := range ov.Remove {
		canon, err := checkName(k)
		if err == nil && seen[canon] {
			err = fmt.Errorf("header %q is also set; set already replaces it", k)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove: %w", err))
			continue
		}
		o.remove = append(o.remove, canon)
	}
	return o, errors.Join(errs...)
}

// reserved are headers a route may neither set nor remove: framing and
// hop-by-hop fields (RFC 9110 §7.6.1, RFC 9112 §6) would desynchronise the
// connection or the body, and Vary carries the "Origin" that keeps shared
// caches from serving one origin's CORS answer to another.
var reserved = map[string]string{
	"Connection":        "it is a hop-by-hop header",
	"Keep-Alive":        "it is a hop-by-hop header",
	"Proxy-Connection":  "it is a hop-by-hop header",
	"Te":                "it is a hop-by-hop header",
	"Trailer":           "it describes the message framing",
	"Transfer-Encoding": "it describes the message framing",
	"Upgrade":           "it is a hop-by-hop header",
	"Content-Length":    "it describes the message framing",
	"Content-Encoding":  "it describes how the body is encoded",
	"Vary":              "the CORS policy depends on it (Vary: Origin)",
}

func checkName(k string) (string, error) {
	if !framing.ValidToken(k) {
		return "", fmt.Errorf("%q is not a valid header name", k)
	}
	canon := textproto.CanonicalMIMEHeaderKey(k)
	if why, ok := reserved[canon]; ok {
		return "", fmt.Errorf("%s cannot be overridden: %s", canon, why)
	}
	if strings.HasPrefix(canon, "Access-Control-") {
		return "", fmt.Errorf("%s cannot be overridden: CORS headers come from the route's cors: policy only", canon)
	}
	return canon, nil
}

func (p *Profile) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w := &writer{p: p, info: pipeline.InfoFrom(r.Context()), tls: r.TLS != nil}
		w.ResponseWriter, w.Hook = rw, w
		next.ServeHTTP(w, r)
		// A handler that wrote nothing gets an implicit 200 from net/http
		// after it returns; that response must carry the profile too.
		w.Finish()
	})
}

// Apply writes the profile into h, a response header about to leave: profile,
// HSTS (over TLS; removed otherwise), the Cache-Control rule, then the
// route's overrides. info is the request's (nil: before it had one).
func (p *Profile) Apply(h http.Header, info *pipeline.Info, tls bool) {
	for i := range p.always {
		h[p.always[i].key] = p.always[i].val
	}
	if tls {
		h[hstsKey] = p.hsts
	} else {
		delete(h, hstsKey)
	}
	if info == nil {
		return
	}
	if info.Principal != nil {
		if _, set := h[cacheControlKey]; !set {
			h[cacheControlKey] = p.noStore
		}
	}
	if p.routes != nil && info.Route != "" {
		if o := p.routes[info.Route]; o != nil {
			for _, k := range o.remove {
				delete(h, k)
			}
			for i := range o.set {
				h[o.set[i].key] = o.set[i].val
			}
		}
	}
}

// writer applies the profile once, just before the response header leaves.
type writer struct {
	pipeline.HeaderWriter
	p    *Profile
	info *pipeline.Info
	tls  bool
}

// BeforeHeader implements pipeline.HeaderHook.
func (w *writer) BeforeHeader(h http.Header) { w.p.Apply(h, w.info, w.tls) }
