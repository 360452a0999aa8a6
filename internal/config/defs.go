package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v4"

	"github.com/rampart-gw/rampart/internal/auth/apikey"
	"github.com/rampart-gw/rampart/internal/auth/introspect"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
	"github.com/rampart-gw/rampart/internal/auth/mtls"
	"github.com/rampart-gw/rampart/internal/cors"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/proxy"
	"github.com/rampart-gw/rampart/internal/ratelimit"
)

// jwtAlgorithms are the algorithms a jwt authenticator may list.
var jwtAlgorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// validName reports whether s can name an upstream, authenticator, rate limit, CORS
// policy, OpenAPI document or route: 1-64 letters, digits, "_", "-" or ".", not
// starting with "-" or ".". Names appear in logs and metrics, so they stay plain.
func validName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// definitions returns the valid-named entries of the named-definition mapping at key.
// kind is the singular noun used in messages ("upstream").
func (p *parser) definitions(top *fields, key, kind string) []kv {
	n := top.vals[key]
	if n == nil {
		return nil
	}
	es, ok := p.entries(n, key)
	if !ok {
		return nil
	}
	out := es[:0]
	for _, e := range es {
		if !validName(e.name) {
			p.errAt(e.key, `%s name %s must be 1-64 letters, digits, "_", "-" or "." (not starting with "-" or ".")`, kind, quoteTrunc(e.name))
			continue
		}
		p.record(join(key, e.name), e.key)
		out = append(out, e)
	}
	return out
}

func (p *parser) upstreams(top *fields) map[string]*proxy.Config {
	out := map[string]*proxy.Config{}
	for _, e := range p.definitions(top, "upstreams", "upstream") {
		u := &proxy.Config{Name: e.name}
		out[e.name] = u
		p.decode(p.fields(e.val, e.key, fmt.Sprintf("upstream %q", e.name), join("upstreams", e.name), keysOf[proxy.Config]()), u)
	}
	return out
}

// targets reads a list of upstream target URLs (see targetURL).
func (p *parser) targets(f *fields, key string) ([]*url.URL, bool) {
	vs, ok := f.nonEmptyStrList(key, false)
	ok = ok && len(vs) == len(f.vals[key].Content)
	var out []*url.URL
	seen := map[string]*yaml.Node{}
	for _, v := range vs {
		t, prob := targetURL(v.s)
		if prob != "" {
			// The value is not shown: a malformed URL may carry credentials.
			p.errAt(v.node, "%s: target %s", f.ctx, prob)
			ok = false
			continue
		}
		if first, dup := seen[t.String()]; dup {
			p.errAt(v.node, "%s: %s lists %s twice (first at line %d)", f.ctx, key, v.show(), first.Line)
			ok = false
			continue
		}
		seen[t.String()] = v.node
		out = append(out, t)
	}
	return out, ok
}

// targetURL parses an upstream target: an absolute http:// or https:// URL with a host,
// no credentials, query or fragment, and an empty or "/" path.
func targetURL(s string) (*url.URL, string) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Opaque != "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, "must be an absolute http:// or https:// URL, such as http://127.0.0.1:8000"
	}
	if u.User != nil {
		return nil, "must not contain credentials (user:password@)"
	}
	if u.Host == "" || !validIPOrHostname(u.Hostname()) {
		return nil, "must have a valid host"
	}
	if port := u.Port(); port != "" && !validPort(port, false) {
		return nil, "must have a port between 1 and 65535"
	}
	if u.RawQuery != "" || u.ForceQuery {
		return nil, "must not have a query (?...)"
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return nil, "must not have a fragment (#...)"
	}
	if u.Path != "" && u.Path != "/" {
		return nil, "has a path, but path prefixes are not supported yet: use the upstream's root URL, such as http://127.0.0.1:8000"
	}
	return u, ""
}

func (p *parser) authenticators(top *fields) map[string]*Authenticator {
	out := map[string]*Authenticator{}
	for _, e := range p.definitions(top, "authenticators", "authenticator") {
		if e.name == AuthNone {
			p.errAt(e.key, `authenticator name "none" is reserved: routes write auth: none for public routes`)
			continue
		}
		a := &Authenticator{}
		out[e.name] = a
		p.authenticator(e.name, a, p.fields(e.val, e.key, fmt.Sprintf("authenticator %q", e.name), join("authenticators", e.name), authKeys))
	}
	return out
}

// authenticator reads one entry of authenticators: into the variant its type
// selects. Keys are read whatever the type (into every variant that has them),
// so that every problem is reported.
func (p *parser) authenticator(name string, a *Authenticator, f *fields) {
	typ := ""
	if v, ok := f.reqStr("type"); ok && p.oneOf(f, "type", v, authTypes...) {
		typ = v.s
		a.Type = typ
		// Refuse fields of other types before reading anything.
		own := authTypeKeys[typ]
		for k, kn := range f.keys {
			if k != "type" && !contains(own, k) {
				p.errAt(kn, "%s: %q is not a%s %s field (%s fields: type, %s)", f.ctx, k, article(typ), typ, typ, strings.Join(own, ", "))
				delete(f.vals, k)
				delete(f.keys, k)
			}
		}
	}
	j := &jwt.Config{Name: name}
	k := &apikey.Config{Name: name}
	m := &mtls.Config{Name: name}
	in := &introspect.Config{Name: name}
	setDefaults(j)
	setDefaults(k)
	switch typ {
	case "jwt":
		a.JWT = j
	case "api_key":
		a.APIKey = k
	case "mtls":
		a.MTLS = m
	case "introspection":
		a.Introspection = in
	}

	if v, ok := f.str("issuer"); ok {
		if prob := webURLProblem(v.s); prob != "" {
			f.errf("issuer", "%s; got %s", prob, v.show())
		} else {
			j.Issuer, in.Issuer = v.s, v.s
		}
	}
	f.boolean("discovery", &j.Discovery)
	if v, ok := f.str("jwks_url"); ok {
		if prob := webURLProblem(v.s); prob != "" {
			f.errf("jwks_url", "%s; got %s", prob, v.show())
		} else {
			j.JWKSURL = v.s
		}
	}
	if vs, ok := f.nonEmptyStrList("audiences", typ == "jwt"); ok {
		j.Audiences = strs(p.noDuplicates(vs, f.subject("audiences"), nil))
		in.Audiences = j.Audiences
	}
	if vs, ok := f.nonEmptyStrList("algorithms", typ == "jwt"); ok {
		for _, v := range p.noDuplicates(vs, f.subject("algorithms"), nil) {
			switch {
			case strings.EqualFold(v.s, "none"):
				p.errAt(v.node, `%s: algorithm "none" is never accepted: it means an unsigned token anyone can forge`, f.ctx)
			case !contains(jwtAlgorithms, v.s):
				msg := fmt.Sprintf("%s: unknown algorithm %s (valid: %s)", f.ctx, v.show(), strings.Join(jwtAlgorithms, ", "))
				if s := p.suggest(v.s, jwtAlgorithms); s != "" && !v.env {
					msg += fmt.Sprintf("; did you mean %q?", s)
				}
				p.errAt(v.node, "%s", msg)
			default:
				j.Algorithms = append(j.Algorithms, v.s)
			}
		}
	}
	if d, ok := f.duration("leeway"); ok {
		switch {
		case d < 0:
			f.errf("leeway", "must not be negative")
		case d > 5*time.Minute:
			f.errf("leeway", "must be at most 5m, got %s", d)
		default:
			j.Leeway = d
		}
	}
	if f.has("secret") {
		j.Secret = p.secret(f, "secret")
	}
	if v, ok := f.str("public_key_file"); ok {
		if v.s == "" {
			f.errf("public_key_file", "must not be empty")
		} else {
			j.PublicKeyFile = v.s
		}
	}
	if v, ok := f.str("token_header"); ok {
		if !isToken(v.s) {
			f.errf("token_header", "must be a valid header name, got %s", v.show())
		} else {
			j.TokenHeader, in.TokenHeader = v.s, v.s
		}
	}
	if v, ok := f.str("token_cookie"); ok {
		if !isToken(v.s) {
			f.errf("token_cookie", "must be a valid cookie name, got %s", v.show())
		} else {
			j.TokenCookie, in.TokenCookie = v.s, v.s
		}
	}
	if v, ok := f.str("roles_claim"); ok {
		if v.s == "" || strings.ContainsAny(v.s, " \t") {
			f.errf("roles_claim", "must be a claim name or dotted path such as realm_access.roles, got %s", v.show())
		} else {
			j.RolesClaim, in.RolesClaim = v.s, v.s
		}
	}
	if f.boolean("forward_token", &j.ForwardToken) {
		in.ForwardToken = j.ForwardToken
	}
	for _, d := range []struct {
		key      string
		dst      *time.Duration
		min, max time.Duration
	}{
		{"jwks_refresh_floor", &j.JWKSRefreshFloor, time.Second, 24 * time.Hour},
		{"jwks_refresh_ceiling", &j.JWKSRefreshCeiling, time.Second, 7 * 24 * time.Hour},
		{"unknown_kid_cooldown", &j.UnknownKIDCooldown, time.Second, time.Hour},
	} {
		if v, ok := f.duration(d.key); ok {
			if v < d.min || v > d.max {
				f.errf(d.key, "must be between %s and %s, got %s", d.min, d.max, v)
			} else {
				*d.dst = v
			}
		}
	}
	if j.JWKSRefreshFloor > 0 && j.JWKSRefreshCeiling > 0 && j.JWKSRefreshFloor > j.JWKSRefreshCeiling {
		f.errf("jwks_refresh_floor", "must not exceed jwks_refresh_ceiling")
	}
	if vs, ok := f.nonEmptyStrList("subjects", false); ok {
		m.Subjects = strs(p.noDuplicates(vs, f.subject("subjects"), nil))
	}
	if d, ok := f.duration("timeout"); ok {
		if d <= 0 || d > time.Minute {
			f.errf("timeout", "must be between 1ms and 1m, got %s", d)
		} else {
			in.Timeout = d
		}
	}
	if v, ok := f.str("header"); ok {
		if !isToken(v.s) {
			f.errf("header", "must be a valid header name, got %s", v.show())
		} else {
			k.Header = v.s
		}
	}
	if v, ok := f.reqStrIf("client_ca_file", typ == "mtls"); ok {
		m.ClientCAFile = v.s
	}
	if v, ok := f.reqStrIf("url", typ == "introspection"); ok {
		if prob := webURLProblem(v.s); prob != "" {
			f.errf("url", "%s; got %s", prob, v.show())
		} else {
			in.URL = v.s
		}
	}
	if v, ok := f.reqStrIf("client_id", typ == "introspection"); ok {
		in.ClientID = v.s
	}
	if f.has("client_secret") {
		in.ClientSecret = p.secret(f, "client_secret")
	} else if typ == "introspection" {
		f.missing("client_secret")
	}

	if typ == "jwt" {
		p.jwtRules(j, f)
	}
}

// reqStrIf is reqStr when required, str (but refusing empty strings) otherwise.
func (f *fields) reqStrIf(key string, required bool) (value, bool) {
	if required {
		return f.reqStr(key)
	}
	if !f.has(key) {
		return value{}, false
	}
	return f.reqStr(key)
}

// secret reads a secret-valued key. Messages never contain the value.
func (p *parser) secret(f *fields, key string) string {
	v, ok := f.str(key)
	if !ok {
		return ""
	}
	if prob := secretProblem(v.s); prob != "" {
		f.errf(key, "%s", prob)
		return ""
	}
	return v.s
}

// jwtRules checks the rules that relate jwt fields to each other.
func (p *parser) jwtRules(a *jwt.Config, f *fields) {
	if !f.has("issuer") {
		f.missing("issuer")
	}

	// Exactly one key source.
	var sources []string
	for _, k := range []string{"jwks_url", "discovery", "secret", "public_key_file"} {
		if k == "discovery" {
			if a.Discovery {
				sources = append(sources, k)
			}
			continue
		}
		if f.has(k) {
			sources = append(sources, k)
		}
	}
	const keySources = "jwks_url, discovery: true, secret or public_key_file"
	switch len(sources) {
	case 0:
		if f.bad {
			break
		}
		p.errAt(f.at, "%s: needs exactly one key source: %s", f.ctx, keySources)
	case 1:
	default:
		sort.Slice(sources, func(i, j int) bool { return before(f.keys[sources[i]], f.keys[sources[j]]) })
		for _, k := range sources[1:] {
			p.errAt(f.keys[k], "%s: %s and %s are both key sources; use exactly one of %s", f.ctx, sources[0], k, keySources)
		}
	}

	// HS* verify with the shared secret and nothing else; asymmetric algorithms never
	// with a secret (algorithm confusion).
	var hs, asym []string
	for _, alg := range a.Algorithms {
		if strings.HasPrefix(alg, "HS") {
			hs = append(hs, alg)
		} else {
			asym = append(asym, alg)
		}
	}
	switch {
	case len(hs) > 0 && len(asym) > 0:
		f.errf("algorithms", "mixes shared-secret (%s) and public-key (%s) algorithms, which invites algorithm confusion; use one family per authenticator", strings.Join(hs, ", "), strings.Join(asym, ", "))
	case len(hs) > 0 && !f.has("secret"):
		f.errf("algorithms", "lists %s, which verify with a shared secret: set secret", strings.Join(hs, ", "))
	case len(asym) > 0 && f.has("secret"):
		f.errf("secret", "is only for HS256, HS384 and HS512, but algorithms lists %s", strings.Join(asym, ", "))
	}
}

// before orders nodes by position.
func before(a, b *yaml.Node) bool {
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Column < b.Column
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "n"
	}
	return ""
}

func (p *parser) rateLimits(top *fields) map[string]*ratelimit.Config {
	out := map[string]*ratelimit.Config{}
	for _, e := range p.definitions(top, "rate_limits", "rate limit") {
		r := &ratelimit.Config{Name: e.name}
		out[e.name] = r
		p.decode(p.fields(e.val, e.key, fmt.Sprintf("rate limit %q", e.name), join("rate_limits", e.name), keysOf[ratelimit.Config]()), r)
	}
	return out
}

func (p *parser) corsPolicies(top *fields) map[string]*cors.Config {
	out := map[string]*cors.Config{}
	for _, e := range p.definitions(top, "cors", "cors") {
		c := &cors.Config{Name: e.name}
		out[e.name] = c
		f := p.fields(e.val, e.key, fmt.Sprintf("cors %q", e.name), join("cors", e.name), keysOf[cors.Config]())
		f.boolean("allow_credentials", &c.AllowCredentials)
		if vs, ok := f.nonEmptyStrList("allow_origins", true); ok {
			vs = p.noDuplicates(vs, f.subject("allow_origins"), nil)
			for _, v := range vs {
				if prob := originProblem(v.s); prob != "" {
					p.errAt(v.node, "%s: origin %s %s", f.ctx, v.show(), prob)
					continue
				}
				if v.s == "*" {
					if c.AllowCredentials {
						p.errAt(v.node, `%s: allow_origins "*" cannot be combined with allow_credentials: true; list the exact origins`, f.ctx)
						continue
					}
					if len(vs) > 1 {
						p.errAt(v.node, `%s: allow_origins "*" already allows every origin; list either "*" alone or exact origins`, f.ctx)
						continue
					}
				}
				c.AllowOrigins = append(c.AllowOrigins, v.s)
			}
		}
		c.AllowMethods = p.tokens(f, "allow_methods", "method", nil)
		c.AllowHeaders = p.tokens(f, "allow_headers", "header name", strings.ToLower)
		c.ExposeHeaders = p.tokens(f, "expose_headers", "header name", strings.ToLower)
		if d, ok := f.duration("max_age"); ok {
			switch {
			case d < 0:
				f.errf("max_age", "must not be negative")
			case d%time.Second != 0:
				f.errf("max_age", "must be a whole number of seconds (Access-Control-Max-Age is in seconds), got %s", d)
			default:
				c.MaxAge = d
			}
		}
	}
	return out
}

// tokens reads an optional list of RFC 9110 tokens without duplicates.
func (p *parser) tokens(f *fields, key, what string, norm func(string) string) []string {
	vs, ok := f.strList(key)
	if !ok {
		return nil
	}
	var out []string
	for _, v := range p.noDuplicates(vs, f.subject(key), norm) {
		if !isToken(v.s) {
			p.errAt(v.node, "%s: %s entry %s is not a valid %s", f.ctx, key, v.show(), what)
			continue
		}
		out = append(out, v.s)
	}
	return out
}

// originProblem explains why s is not "*", "null" or an origin scheme://host[:port]
// (lower case, no path, no default port; "*." allowed as the whole first label).
func originProblem(s string) string {
	if s == "*" || s == "null" {
		return ""
	}
	const form = `must be "*", "null" or an origin scheme://host[:port] such as https://app.example.com`
	i := strings.Index(s, "://")
	if i <= 0 {
		return form
	}
	scheme, rest := s[:i], s[i+3:]
	for j := 0; j < len(scheme); j++ {
		c := scheme[j]
		if !('a' <= c && c <= 'z' || j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			if 'A' <= c && c <= 'Z' {
				return "must be lower case (browsers send origins in lower case and they are compared exactly)"
			}
			return form
		}
	}
	if k := strings.IndexAny(rest, "/?#"); k >= 0 {
		if rest[k:] == "/" {
			return "must not end with \"/\": an origin has no path"
		}
		return "must not have a path, query or fragment: an origin is scheme://host[:port]"
	}
	if strings.Contains(rest, "@") {
		return "must not contain user info"
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return form
		}
		host, port = rest[1:j], rest[j+1:]
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() || a.Zone() != "" {
			return "has an invalid IPv6 address"
		}
		if port != "" {
			if port[0] != ':' {
				return form
			}
			port = port[1:]
			if port == "" {
				return "has an empty port"
			}
		}
		host = "" // checked
	} else if j := strings.LastIndexByte(rest, ':'); j >= 0 {
		host, port = rest[:j], rest[j+1:]
		if port == "" {
			return "has an empty port"
		}
	}
	if port != "" {
		if !validPort(port, false) {
			return "must have a port between 1 and 65535"
		}
		if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
			return fmt.Sprintf("must not include the default port :%s (browsers omit it, so it would never match)", port)
		}
	}
	if strings.ToLower(host) != host {
		return "must be lower case (browsers send origins in lower case and they are compared exactly)"
	}
	switch {
	case host == "" && strings.HasPrefix(rest, "["):
	case host == "":
		return "has no host"
	case strings.HasPrefix(host, "*."):
		if base := host[2:]; !validHostname(base) || !strings.Contains(base, ".") {
			return "may use a wildcard only as the whole first label of a name with at least two more labels, such as https://*.example.com"
		}
	case strings.Contains(host, "*"):
		return "may use a wildcard only as the whole first label of a name with at least two more labels, such as https://*.example.com"
	case !validIPOrHostname(host):
		return "has an invalid host"
	}
	return ""
}

func (p *parser) openAPIs(top *fields) map[string]*openapi.Config {
	out := map[string]*openapi.Config{}
	for _, e := range p.definitions(top, "openapi", "openapi") {
		o := &openapi.Config{Name: e.name}
		out[e.name] = o
		p.decode(p.fields(e.val, e.key, fmt.Sprintf("openapi %q", e.name), join("openapi", e.name), keysOf[openapi.Config]()), o)
	}
	return out
}

// nameSet is the defined names of one kind of definition, for checking references.
type nameSet struct {
	kind    string // "upstream", as the reference is named in messages
	section string // "upstreams", the section defining them
	sorted  []string
	has     map[string]bool
}

func newNameSet[T any](kind, section string, m map[string]T) *nameSet {
	ns := &nameSet{kind: kind, section: section, has: make(map[string]bool, len(m))}
	for k := range m {
		ns.sorted = append(ns.sorted, k)
		ns.has[k] = true
	}
	sort.Strings(ns.sorted)
	return ns
}

// list renders the names for a message, at most 10 of them.
func (ns *nameSet) list() string {
	const most = 10
	if len(ns.sorted) <= most {
		return strings.Join(ns.sorted, ", ")
	}
	return fmt.Sprintf("%s, ... (%d in all)", strings.Join(ns.sorted[:most], ", "), len(ns.sorted))
}
