// Package cors answers CORS for a route from its named cors: policy, and
// nothing else does: the gateway answers preflights itself and owns every
// Access-Control-* response header.
//
// CORS (the Fetch standard's "CORS protocol",
// https://fetch.spec.whatwg.org/#http-cors-protocol) lets a server relax the
// browser's same-origin policy for chosen origins. Misconfigured, it hands
// an attacker's page the victim's authenticated responses. PortSwigger's
// research ("Exploiting CORS misconfigurations for Bitcoins and bounties",
// https://portswigger.net/research/exploiting-cors-misconfigurations-for-bitcoins-and-bounties,
// and https://portswigger.net/web-security/cors) found the same mistakes again
// and again: reflecting whatever Origin arrives, prefix/suffix/regex matching
// that accepts https://app.example.com.evil.com or https://evilapp.example.com,
// trusting "null", and wildcards with credentials. The OWASP HTML5 Security
// Cheat Sheet gives the same advice. So this package:
//
//   - Matches origins exactly: scheme, host and port, after ASCII lower-casing
//     and dropping a default port (:443 for https, :80 for http), the two
//     normalizations browsers themselves apply when they serialize an origin.
//     Anything else that differs (a trailing dot, a path, user info, an
//     explicit non-default port, non-ASCII) does not match.
//   - Allows wildcards only as https://*.example.com, matching exactly one
//     LDH label: a.example.com yes; a.b.example.com, example.com and
//     evil-example.com no.
//   - Never reflects an unlisted origin. Access-Control-Allow-Origin carries
//     the configured entry, or for a wildcard the canonical origin whose only
//     request-derived bytes are one validated label.
//   - Matches "null" only when listed, and only the exact string. Listing it
//     is rarely wise: sandboxed iframes let any page send Origin: null.
//   - Answers "*" (no credentials; the config refuses "*" with credentials)
//     with Access-Control-Allow-Origin: * on every response, with or without
//     an Origin, so the response does not depend on Origin and needs no Vary
//     (Fetch, https://fetch.spec.whatwg.org/#cors-protocol-and-http-caches).
//   - Otherwise adds Vary: Origin to every response of the route, matching or
//     not, so that no cache serves one origin's answer to another.
//   - Answers preflights (OPTIONS with Origin and Access-Control-Request-Method)
//     itself with 204 and never calls the next handler: the upstream never
//     sees one. The requested method must be allowed (case-sensitively, as
//     methods are; no allow_methods means the CORS-safelisted GET, HEAD,
//     POST) and every requested header must be listed (case-insensitively).
//     A refused preflight gets 403 problem+json of type
//     "cors-preflight-refused", reported to the Observer for the audit log,
//     with Vary but no Access-Control-* header at all. Browsers fail closed
//     on any preflight without a matching Allow-Origin; the 403 and its
//     detail are for the developer reading the network panel.
//   - Never grants Access-Control-Allow-Private-Network (WICG Private Network
//     Access): a public page must not reach the private network through us.
//   - Removes Access-Control-* headers the upstream sets, so only the policy
//     decides; upstream Vary values are kept and Origin is added to them.
//
// CORS is not access control. A request from an unlisted origin still goes
// to the upstream (without CORS headers, so a browser will not let the
// calling page read the answer); curl and servers send any Origin they like.
// Authentication and authorization protect the route; CORS only decides
// which web pages may read its responses in a browser.
//
// Wiring: the policy sits right after route matching, before authentication
// (preflights carry no credentials, and 401/403/429 answers to actual requests
// must carry Access-Control-Allow-Origin for the calling page to read them).
// The router must route a preflight by its Access-Control-Request-Method, not
// by OPTIONS (see IsPreflight).
//
//	mw, err := cors.New(cors.Config{AllowOrigins: []string{"https://app.example.com"},
//		AllowMethods: []string{"GET", "POST"}, AllowHeaders: []string{"authorization"},
//		AllowCredentials: true}, observer)
package cors

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/framing"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Config is one entry of cors: in the config file.
type Config struct {
	Name string `yaml:"-"` // the entry's name under cors:, for errors and audit events
	// AllowOrigins is "*" alone, or exact origins ("null", scheme://host[:port],
	// scheme://*.domain[:port]), compared exactly (lower case, no default
	// port). Required: unlike rs/cors, an empty list never means "every
	// origin".
	AllowOrigins []string `yaml:"allow_origins" conf:"required,unique"`
	// AllowMethods are the methods a preflight may ask for, case-sensitive.
	// Unset means GET, HEAD, POST. "*" (without credentials) means any.
	AllowMethods []string `yaml:"allow_methods" conf:"unique,token=method"`
	// AllowHeaders are the request headers a preflight may ask for,
	// case-insensitive. Unset means none beyond the CORS-safelisted ones. "*"
	// (without credentials) means any except Authorization, as in Fetch.
	AllowHeaders []string `yaml:"allow_headers" conf:"unique=fold,token=header name"`
	// ExposeHeaders are the response headers the calling page may read beyond
	// the safelisted ones. "*" (without credentials) means all.
	ExposeHeaders []string `yaml:"expose_headers" conf:"unique=fold,token=header name"`
	// AllowCredentials lets the page send cookies and Authorization and read
	// the answer; never together with allow_origins "*".
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge is how long a browser may cache a preflight answer, in whole
	// seconds. Unset sends no Access-Control-Max-Age (browsers then use 5s).
	MaxAge time.Duration `yaml:"max_age" conf:"min=0s"`
}

// Validate checks the rules that relate the keys: "*" alone and never with
// credentials (Fetch reads "*" as a literal name when credentials are
// allowed), and whole seconds for max_age. The config loader reports them at
// their keys; New runs the same method.
func (c *Config) Validate() []error {
	var errs []error
	for i, o := range c.AllowOrigins {
		switch {
		case o != "*":
			if prob := originProblem(o); prob != "" {
				errs = append(errs, &conf.FieldError{Field: "allow_origins", Index: i, Entry: "origin", Got: true, Msg: prob})
			}
		case c.AllowCredentials:
			errs = append(errs, &conf.FieldError{Field: "allow_origins", Index: i,
				Msg: `allow_origins "*" cannot be combined with allow_credentials: true; list the exact origins`})
		case len(c.AllowOrigins) > 1:
			errs = append(errs, &conf.FieldError{Field: "allow_origins", Index: i,
				Msg: `allow_origins "*" already allows every origin; list either "*" alone or exact origins`})
		}
	}
	if c.AllowCredentials {
		for _, l := range []struct {
			key, what string
			list      []string
		}{{"allow_methods", "method", c.AllowMethods}, {"allow_headers", "header", c.AllowHeaders}, {"expose_headers", "header", c.ExposeHeaders}} {
			for i, v := range l.list {
				if v == "*" {
					errs = append(errs, &conf.FieldError{Field: l.key, Index: i,
						Msg: fmt.Sprintf(`%s "*" means the %s named "*" when credentials are allowed; list the %ss`, l.key, l.what, l.what)})
				}
			}
		}
	}
	if c.MaxAge%time.Second != 0 {
		errs = append(errs, conf.Badf("max_age", "must be a whole number of seconds (Access-Control-Max-Age is in seconds)"))
	}
	return errs
}

// TypePreflightRefused is the problem type (and audit reason) of a refused preflight.
const TypePreflightRefused = "cors-preflight-refused"

// Header names, canonical for direct map access.
const (
	hOrigin           = "Origin"
	hRequestMethod    = "Access-Control-Request-Method"
	hRequestHeaders   = "Access-Control-Request-Headers"
	hAllowOrigin      = "Access-Control-Allow-Origin"
	hAllowCredentials = "Access-Control-Allow-Credentials"
	hAllowMethods     = "Access-Control-Allow-Methods"
	hAllowHeaders     = "Access-Control-Allow-Headers"
	hExposeHeaders    = "Access-Control-Expose-Headers"
	hMaxAge           = "Access-Control-Max-Age"
	hAllowPrivateNet  = "Access-Control-Allow-Private-Network"
	hVary             = "Vary"
)

// responseHeaders are the CORS response headers; only the policy sets them.
var responseHeaders = [...]string{hAllowOrigin, hAllowCredentials, hAllowMethods, hAllowHeaders, hExposeHeaders, hMaxAge, hAllowPrivateNet}

var (
	star              = value("*")
	trueValue         = value("true")
	varyOrigin        = value(hOrigin)
	varyPreflight     = value(hOrigin + ", " + hRequestMethod + ", " + hRequestHeaders)
	varyOriginTokens  = []string{hOrigin}
	varyPreflightToks = []string{hOrigin, hRequestMethod, hRequestHeaders}
	preflightVary     = http.Header{hVary: varyPreflight}
)

// value returns a one-element slice with len == cap, safe to share between
// header maps (an append copies it).
func value(v string) []string { return []string{v}[:1:1] }

// IsPreflight reports whether r is a CORS preflight: OPTIONS with Origin and
// Access-Control-Request-Method (https://fetch.spec.whatwg.org/#http-requests). The gateway routes such a
// request with the method it asks about, so that it reaches the policy of the
// route the actual request will use; a preflight that matches no route, or a
// route without a cors: policy, must be answered by the gateway (404/405 or
// 403) and never forwarded.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && len(r.Header[hOrigin]) > 0 && len(r.Header[hRequestMethod]) > 0
}

// RequestedMethod is the method a preflight asks about ("" if not exactly one).
func RequestedMethod(r *http.Request) string {
	if v := r.Header[hRequestMethod]; len(v) == 1 {
		return v[0]
	}
	return ""
}

type policy struct {
	name        string
	any         bool // "*": every origin, no credentials
	origins     matcher
	credentials bool

	methods   map[string]bool
	anyMethod bool
	headers   map[string]bool // lower case
	anyHeader bool

	allowMethods  []string // precomputed response values; nil = header not sent
	allowHeaders  []string
	exposeHeaders []string
	maxAge        []string

	obs pipeline.Observer
}

// New compiles cfg. obs (may be nil) is told about refused preflights. It
// refuses what the config package refuses, so a Config built by code is held
// to the same rules, plus "*" entries in methods and headers together with
// credentials, which Fetch reads as literal names and would silently fail.
func New(cfg Config, obs pipeline.Observer) (pipeline.Middleware, error) {
	p, err := compile(cfg, obs)
	if err != nil {
		return nil, err
	}
	return p.middleware, nil
}

func compile(cfg Config, obs pipeline.Observer) (*policy, error) {
	p := &policy{name: cfg.Name, credentials: cfg.AllowCredentials, obs: obs}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(cfg.AllowOrigins) == 0 {
		fail("allow_origins is empty; list the origins that may read responses")
	}
	errs = append(errs, cfg.Validate()...)
	for _, o := range cfg.AllowOrigins {
		if o == "*" {
			p.any = true
			continue
		}
		e := parseOrigin(o) // checked by Validate
		switch {
		case e.canon == "null":
			p.origins.null = value("null")
		case e.wildcard:
			i := strings.Index(e.canon, "*")
			p.origins.wild = append(p.origins.wild, wildcard{prefix: e.canon[:i], suffix: e.canon[i+1:]})
		default:
			if p.origins.exact == nil {
				p.origins.exact = map[string][]string{}
			}
			p.origins.exact[e.canon] = value(e.canon)
		}
	}

	methods := cfg.AllowMethods
	if len(methods) == 0 {
		methods = []string{http.MethodGet, http.MethodHead, http.MethodPost}
	}
	p.methods = map[string]bool{}
	for _, m := range methods {
		switch {
		case m == "*":
			p.anyMethod = true
		case !framing.ValidToken(m):
			fail("allow_methods: %q is not a method token", m)
		}
		p.methods[m] = true
	}
	p.allowMethods = value(strings.Join(methods, ", "))

	p.headers = map[string]bool{}
	for _, h := range cfg.AllowHeaders {
		switch {
		case h == "*":
			p.anyHeader = true
		case !framing.ValidToken(h):
			fail("allow_headers: %q is not a header name", h)
		}
		p.headers[strings.ToLower(h)] = true
	}
	if len(cfg.AllowHeaders) > 0 {
		p.allowHeaders = value(strings.Join(cfg.AllowHeaders, ", "))
	}
	for _, h := range cfg.ExposeHeaders {
		switch {
		case h != "*" && !framing.ValidToken(h):
			fail("expose_headers: %q is not a header name", h)
		}
	}
	if len(cfg.ExposeHeaders) > 0 {
		p.exposeHeaders = value(strings.Join(cfg.ExposeHeaders, ", "))
	}
	switch {
	case cfg.MaxAge < 0:
		fail("max_age must not be negative")
	case cfg.MaxAge >= time.Second: // whole seconds: see Validate
		p.maxAge = value(strconv.FormatInt(int64(cfg.MaxAge/time.Second), 10))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("cors %q: %w", cfg.Name, errors.Join(errs...))
	}
	return p, nil
}

func (p *policy) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if IsPreflight(r) {
			p.preflight(rw, r)
			return
		}
		w := &writer{p: p, allowOrigin: p.allowOrigin(r.Header[hOrigin])}
		w.ResponseWriter, w.Hook = rw, w
		next.ServeHTTP(w, r)
		w.Finish() // nothing written: net/http's implicit 200 needs the headers too
	})
}

// allowOrigin returns the Access-Control-Allow-Origin value for the request's
// Origin field values, or nil when the origin is not allowed. More than one
// Origin field is ambiguous and never allowed.
func (p *policy) allowOrigin(origin []string) []string {
	if p.any {
		return star
	}
	if len(origin) != 1 {
		return nil
	}
	return p.origins.match(origin[0])
}

// preflight answers a preflight without calling the next handler.
func (p *policy) preflight(w http.ResponseWriter, r *http.Request) {
	origin := r.Header[hOrigin]
	allow := p.allowOrigin(origin)
	if allow == nil {
		p.refuse(w, r, "This origin is not allowed by the route's CORS policy.", fmt.Errorf("origin %s not allowed", quote(origin)))
		return
	}
	if m := RequestedMethod(r); !p.methodAllowed(m) {
		p.refuse(w, r, "The requested method is not allowed by the route's CORS policy.", fmt.Errorf("method %s not allowed", quote(r.Header[hRequestMethod])))
		return
	}
	if bad, ok := p.headersAllowed(r.Header[hRequestHeaders]); !ok {
		p.refuse(w, r, "A requested header is not allowed by the route's CORS policy.", fmt.Errorf("header %s not allowed", quote([]string{bad})))
		return
	}
	h := w.Header()
	for _, k := range responseHeaders {
		delete(h, k)
	}
	h[hAllowOrigin] = allow
	if p.credentials {
		h[hAllowCredentials] = trueValue
	}
	h[hAllowMethods] = p.allowMethods
	if p.allowHeaders != nil {
		h[hAllowHeaders] = p.allowHeaders
	}
	if p.maxAge != nil {
		h[hMaxAge] = p.maxAge
	}
	addVary(h, varyPreflight, varyPreflightToks)
	w.WriteHeader(http.StatusNoContent)
}

func (p *policy) refuse(w http.ResponseWriter, r *http.Request, detail string, err error) {
	h := w.Header()
	for _, k := range responseHeaders {
		delete(h, k)
	}
	rej := &pipeline.Rejection{Status: http.StatusForbidden, Type: TypePreflightRefused, Detail: detail,
		Header: preflightVary, Err: fmt.Errorf("cors %q: %w", p.name, err)}
	pipeline.Refuse(w, r, "cors", p.obs, rej)
}

func (p *policy) methodAllowed(m string) bool {
	return m != "" && (p.anyMethod || p.methods[m])
}

// headersAllowed checks every name in the Access-Control-Request-Headers
// field values (a comma-separated list, Fetch sends it lower-cased) against
// the allowlist, case-insensitively. It returns the first refused name.
func (p *policy) headersAllowed(values []string) (string, bool) {
	for _, v := range values {
		for v != "" {
			var name string
			name, v, _ = strings.Cut(v, ",")
			name = strings.Trim(name, " \t")
			if name == "" {
				continue
			}
			if !p.headerAllowed(name) {
				return name, false
			}
		}
	}
	return "", true
}

func (p *policy) headerAllowed(name string) bool {
	var buf [128]byte
	if len(name) > len(buf) {
		return false
	}
	b := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	if p.headers[string(b)] {
		return true
	}
	// "*" covers every name but Authorization, which must be listed (Fetch,
	// CORS-preflight fetch: a wildcard never covers Authorization).
	return p.anyHeader && string(b) != "authorization" && framing.ValidToken(name)
}

// quote renders client-sent values for logs, bounded.
func quote(vs []string) string {
	s := strings.Join(vs, ", ")
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return strconv.Quote(s)
}

// addVary adds tokens to Vary unless present (or Vary is "*"); whole is the
// precomputed value used when the response has no Vary yet.
func addVary(h http.Header, whole, tokens []string) {
	vs := h[hVary]
	if len(vs) == 0 {
		h[hVary] = whole
		return
	}
	changed := false
	for _, t := range tokens {
		if !hasToken(vs, t) {
			vs = append(vs[:len(vs):len(vs)], t) // copy: vs may be shared
			changed = true
		}
	}
	if changed {
		h[hVary] = vs
	}
}

func hasToken(values []string, t string) bool {
	for _, v := range values {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			tok = strings.Trim(tok, " \t")
			if tok == "*" || strings.EqualFold(tok, t) {
				return true
			}
		}
	}
	return false
}

// writer sets the policy's headers on an actual (non-preflight) response,
// after removing whatever Access-Control-* headers the upstream sent.
type writer struct {
	pipeline.HeaderWriter
	p           *policy
	allowOrigin []string // nil: origin not allowed (or absent)
}

// BeforeHeader implements pipeline.HeaderHook.
func (w *writer) BeforeHeader(h http.Header) {
	for _, k := range responseHeaders {
		delete(h, k)
	}
	if w.allowOrigin != nil {
		h[hAllowOrigin] = w.allowOrigin
		if w.p.credentials {
			h[hAllowCredentials] = trueValue
		}
		if w.p.exposeHeaders != nil {
			h[hExposeHeaders] = w.p.exposeHeaders
		}
	}
	if !w.p.any {
		addVary(h, varyOrigin, varyOriginTokens)
	}
}
