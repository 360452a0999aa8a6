package config

import (
	"fmt"
	"github.com/rampart-gw/rampart/internal/framing"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v4"

	"github.com/rampart-gw/rampart/internal/authz"
	"github.com/rampart-gw/rampart/internal/detect"
	"github.com/rampart-gw/rampart/internal/headers"
	"github.com/rampart-gw/rampart/internal/owner"
	"github.com/rampart-gw/rampart/internal/websocket"
)

// routeInfo keeps what the overlap check needs about a decoded route.
type routeInfo struct {
	route    *Route
	pathNode *yaml.Node // the path value
	methNode *yaml.Node // the methods value
	hostNode *yaml.Node // the host value, if any
	label    string     // how messages name the route
	ok       bool       // host, path and methods are all usable
}

func (p *parser) routes(top *fields, cfg *Config) []*Route {
	items, ok := top.list("routes", "a list of routes")
	if !ok {
		return nil
	}
	var out []*Route
	var infos []routeInfo
	seen := map[string]*yaml.Node{}
	refs := &routeRefs{
		upstreams:      newNameSet("upstream", "upstreams", cfg.Upstreams),
		authenticators: newNameSet("authenticator", "authenticators", cfg.Authenticators),
		rateLimits:     newNameSet("rate limit", "rate_limits", cfg.RateLimits),
		cors:           newNameSet("cors policy", "cors", cfg.CORS),
		openAPI:        newNameSet("openapi document", "openapi", cfg.OpenAPI),
		waf:            newNameSet("waf policy", "waf", cfg.WAF),
	}
	for i, n := range items {
		p.record(join("routes", strconv.Itoa(i)), n)
		info := p.route(n, i, refs, seen)
		if info.route == nil {
			continue
		}
		out = append(out, info.route)
		infos = append(infos, info)
	}
	p.routeOverlaps(infos)
	return out
}

// routeRefs are the names routes may refer to.
type routeRefs struct {
	upstreams, authenticators, rateLimits, cors, openAPI, waf *nameSet
}

func (p *parser) route(n *yaml.Node, index int, refs *routeRefs, seen map[string]*yaml.Node) routeInfo {
	if !p.expect(n, yaml.MappingNode, fmt.Sprintf("routes entry %d", index+1), "a mapping") {
		return routeInfo{}
	}
	r := &Route{Pos: posOf(n)}
	setDefaults(r)
	info := routeInfo{route: r, ok: true}

	// The name comes first so that every other message can say which route it is about.
	ctx := fmt.Sprintf("route #%d", index+1)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Kind == yaml.ScalarNode && k.Value == "name" && v.Kind == yaml.ScalarNode && validName(v.Value) {
			ctx = fmt.Sprintf("route %q", v.Value)
			break
		}
	}
	info.label = ctx
	f := p.fields(n, n, ctx, join("routes", strconv.Itoa(index)), routeKeys)

	if v, ok := f.reqStr("name"); ok {
		switch first, dup := seen[v.s]; {
		case !validName(v.s):
			f.errf("name", `must be 1-64 letters, digits, "_", "-" or "." (not starting with "-" or "."), got %s`, v.show())
		case dup:
			f.errf("name", "%s is already used by the route at line %d", v.show(), first.Line)
			r.Name = v.s
		default:
			seen[v.s] = v.node
			r.Name = v.s
		}
	}

	if v, ok := f.str("host"); ok {
		if h, prob := routeHost(v.s); prob != "" {
			f.errf("host", "%s; got %s", prob, v.show())
			info.ok = false
		} else {
			r.Host = h
		}
	}

	if v, ok := f.reqStr("path"); ok {
		r.Path = v.s
		r.PathPos = posOf(v.node)
		info.pathNode = v.node
	} else {
		info.ok = false
	}

	if vs, ok := f.nonEmptyStrList("methods", true); ok {
		for _, v := range p.noDuplicates(vs, f.subject("methods"), nil) {
			if prob := methodProblem(v.s); prob != "" {
				p.errAt(v.node, "%s: method %s %s", ctx, v.show(), prob)
				continue
			}
			r.Methods = append(r.Methods, v.s)
		}
		if len(r.Methods) == 0 {
			info.ok = false
		}
	} else {
		info.ok = false
	}
	info.methNode = f.vals["methods"]
	info.hostNode = f.vals["host"]

	if p.routeDeny(f, r) {
		return info
	}

	if v, ok := f.reqStr("upstream"); ok {
		if p.defined(f, "upstream", v, refs.upstreams) {
			r.Upstream = v.s
		}
	}

	public := p.routeAuth(f, r, refs.authenticators)
	if f.boolean("auth_optional", &r.AuthOptional) && r.AuthOptional {
		switch {
		case public:
			f.errf("auth_optional", "is not allowed with auth: none (every request is anonymous already)")
		case f.has("require"):
			f.errf("auth_optional", "cannot be combined with require: anonymous requests would pass it")
		}
	}

	r.IPFilter = p.ipFilter(f, ctx+" ip_filter")

	if f.has("require") {
		rf := f.section("require", ctx+" require", keysOf[authz.Require]())
		if public {
			p.errAt(f.keys["require"], "%s: require is not allowed with auth: none (there is no principal to require anything of)", ctx)
		}
		p.decode(rf, &r.Require)
		p.matchParams(rf, r)
	}

	if items, ok := f.list("rate_limit", "a list of rate limit names"); ok {
		var vs []value
		for _, it := range items {
			if v, ok := p.scalar(it, f.subject("rate_limit")+" entries", "rate limit names"); ok {
				vs = append(vs, v)
			}
		}
		for _, v := range p.noDuplicates(vs, f.subject("rate_limit"), nil) {
			if p.definedAt(v, ctx, refs.rateLimits) {
				r.RateLimit = append(r.RateLimit, v.s)
			}
		}
	}
	if v, ok := f.str("shared_state_failure"); ok && p.oneOf(f, "shared_state_failure", v, "fail_closed", "fail_open", "local") {
		if f.has("rate_limit") {
			r.SharedStateFailure = v.s
		} else {
			f.errf("shared_state_failure", "applies to the route's rate limits, and the route has no rate_limit")
		}
	}
	if v, ok := f.str("cors"); ok && p.defined(f, "cors", v, refs.cors) {
		r.CORS = v.s
	}
	if v, ok := f.str("openapi"); ok && p.defined(f, "openapi", v, refs.openAPI) {
		r.OpenAPI = v.s
	}
	if v, ok := f.str("waf"); ok && p.defined(f, "waf", v, refs.waf) {
		r.WAF = v.s
	}
	p.routeWebSocket(f, r)
	if f.boolean("buffer_request", &r.BufferRequest) && !r.BufferRequest && r.OpenAPI != "" {
		f.errf("buffer_request", "false cannot be used with openapi: validation reads the whole buffered body")
	}
	if !r.BufferRequest && r.WAF != "" {
		f.errf("buffer_request", "false cannot be used with waf: its rules read the whole buffered body")
	}
	if !r.BufferRequest && authz.BodyRules(r.Require) {
		f.errf("buffer_request", "false cannot be used with a require.match rule on json: it reads the whole buffered body")
	}
	if f.has("headers") {
		r.Headers = p.headerOverrides(f.section("headers", ctx+" headers", keysOf[headers.Overrides]()))
	}
	if f.has("response_owner") {
		r.ResponseOwner = &owner.Config{}
		p.decode(f.section("response_owner", ctx+" response_owner", keysOf[owner.Config]()), r.ResponseOwner)
		switch {
		case public:
			p.errAt(f.keys["response_owner"], "%s: response_owner is not allowed with auth: none (there is no principal to own anything)", ctx)
		case r.WebSocket != nil:
			p.errAt(f.keys["response_owner"], "%s: response_owner cannot check WebSocket messages; remove it from this websocket route", ctx)
		}
	}
	if f.has("login") {
		r.Login = &detect.Login{}
		p.decode(f.section("login", ctx+" login", keysOf[detect.Login]()), r.Login)
		if r.WebSocket != nil {
			p.errAt(f.keys["login"], "%s: login cannot be used on a websocket route", ctx)
		}
	}
	return info
}

// denyKeys are the keys a deny route may have.
var denyKeys = []string{"name", "host", "path", "methods", "deny", "deny_status"}

// routeDeny reads deny and deny_status, and reports whether r is a deny
// route, which has nothing besides them to read: its other keys (upstream,
// auth and every policy) are errors, since its requests never go anywhere.
func (p *parser) routeDeny(f *fields, r *Route) bool {
	if !f.boolean("deny", &r.Deny) || !r.Deny {
		if f.has("deny_status") {
			f.errf("deny_status", "applies to a deny route only; add deny: true or remove it")
		}
		return false
	}
	r.DenyStatus = http.StatusNotFound
	if v, ok := f.integer("deny_status"); ok {
		if v == http.StatusNotFound || v == http.StatusForbidden {
			r.DenyStatus = v
		} else {
			f.errf("deny_status", "must be 404 or 403, got %d", v)
		}
	}
	for _, k := range routeKeys {
		if f.has(k) && !slices.Contains(denyKeys, k) {
			p.errAt(f.keys[k], "%s: %s is not allowed on a deny route: its requests are answered by the gateway and go nowhere (keep name, host, path, methods and deny_status)", f.ctx, k)
		}
	}
	return true
}

// routeWebSocket reads websocket: true, or its block. A WebSocket route
// upgrades GET requests only, and has no body or response to validate.
func (p *parser) routeWebSocket(f *fields, r *Route) {
	n := f.vals["websocket"]
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode {
		var on bool
		if !f.boolean("websocket", &on) || !on {
			return
		}
		r.WebSocket = &websocket.Config{}
		setDefaults(r.WebSocket)
	} else {
		r.WebSocket = &websocket.Config{}
		p.decode(f.section("websocket", f.ctx+" websocket", keysOf[websocket.Config]()), r.WebSocket)
	}
	if len(r.Methods) > 0 && (len(r.Methods) != 1 || r.Methods[0] != http.MethodGet) {
		p.errAt(f.keys["websocket"], "%s: a websocket route accepts only methods: [GET] (the handshake)", f.ctx)
	}
	if r.OpenAPI != "" {
		p.errAt(f.keys["websocket"], "%s: openapi cannot validate WebSocket messages; remove it from this websocket route", f.ctx)
	}
}

// routeAuth reads auth: the string none, or a non-empty list of defined authenticator
// names. It reports whether the route is public.
func (p *parser) routeAuth(f *fields, r *Route, auths *nameSet) bool {
	n := f.vals["auth"]
	if n == nil {
		p.errAt(f.at, "%s: auth is required; write auth: none for a public route", f.ctx)
		return false
	}
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		v, ok := p.scalar(n, f.subject("auth"), "none or a list of authenticator names")
		if !ok {
			return false
		}
		if v.s == AuthNone {
			r.Auth = []string{AuthNone}
			return true
		}
		if v.env || !validName(v.s) {
			f.errf("auth", "must be none or a list of authenticator names, such as auth: [corp_sso]")
		} else {
			f.errf("auth", "must be none or a list of authenticator names; write auth: [%s] for one authenticator", v.s)
		}
		return false
	}
	if !p.expect(n, yaml.SequenceNode, f.subject("auth"), "none or a list of authenticator names") {
		return false
	}
	if len(n.Content) == 0 {
		f.errf("auth", "must not be an empty list; write auth: none for a public route")
		return false
	}
	var vs []value
	for _, it := range n.Content {
		if v, ok := p.scalar(it, f.subject("auth")+" entries", "authenticator names"); ok {
			vs = append(vs, v)
		}
	}
	for _, v := range p.noDuplicates(vs, f.subject("auth"), nil) {
		if v.s == AuthNone {
			if len(n.Content) == 1 {
				p.errAt(v.node, "%s: write auth: none, not a list, for a public route", f.ctx)
			} else {
				p.errAt(v.node, "%s: auth mixes none with authenticators; a route is either public (auth: none) or authenticated", f.ctx)
			}
			continue
		}
		if p.definedAt(v, f.ctx, auths) {
			r.Auth = append(r.Auth, v.s)
		}
	}
	return false
}

// defined checks a reference in key; see definedAt.
func (p *parser) defined(f *fields, key string, v value, ns *nameSet) bool {
	if v.s == "" {
		f.errf(key, "must not be empty")
		return false
	}
	return p.definedAt(v, f.ctx, ns)
}

// definedAt reports a dangling reference at the reference, listing what is defined.
func (p *parser) definedAt(v value, ctx string, ns *nameSet) bool {
	if ns.has[v.s] {
		return true
	}
	msg := fmt.Sprintf("%s: %s %s is not defined", ctx, ns.kind, v.show())
	if len(ns.sorted) == 0 {
		msg += fmt.Sprintf(" (nothing is defined in %s)", ns.section)
	} else {
		msg += fmt.Sprintf(" (defined in %s: %s)", ns.section, ns.list())
		if s := p.suggest(v.s, ns.sorted); s != "" && !v.env {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
	}
	p.errAt(v.node, "%s", msg)
	return false
}

// methodProblem explains why m is not an upper-case method token Rampart routes.
func methodProblem(m string) string {
	if !framing.ValidToken(m) {
		return "is not a valid method token"
	}
	if up := strings.ToUpper(m); up != m {
		return fmt.Sprintf("must be upper case (methods are case-sensitive); did you mean %q?", up)
	}
	if m == "CONNECT" {
		return "cannot be routed: Rampart is not a forward proxy"
	}
	return ""
}

// routeHost validates and lower-cases a route host: a DNS name, an IPv4 address, or an
// IPv6 address in brackets, without a port.
func routeHost(s string) (string, string) {
	h := strings.ToLower(s)
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		if a, err := netip.ParseAddr(h[1 : len(h)-1]); err == nil && a.Is6() && a.Zone() == "" {
			return h, ""
		}
		return "", "must be a host name or IP address"
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Is6() {
			return "", fmt.Sprintf("must write an IPv6 address in brackets, as in %q", "["+h+"]")
		}
		return h, ""
	}
	if strings.HasSuffix(h, ".") {
		return "", "must be a host name without the trailing dot"
	}
	if strings.Contains(h, ":") {
		return "", "must be a host name or IP address without a port"
	}
	if !validHostname(h) {
		return "", "must be a host name or IP address"
	}
	return h, ""
}

// headerOverrides reads headers: { set: {NAME: VALUE}, remove: [NAME] }.
func (p *parser) headerOverrides(f *fields) headers.Overrides {
	var h headers.Overrides
	setNames := map[string]*yaml.Node{}
	if n := f.vals["set"]; n != nil {
		if es, ok := p.entries(n, f.subject("set")); ok {
			h.Set = map[string]string{}
			for _, e := range es {
				if !framing.ValidToken(e.name) {
					p.errAt(e.key, "%s: set: %s is not a valid header name", f.ctx, quoteTrunc(e.name))
					continue
				}
				canon := strings.ToLower(e.name)
				if first, dup := setNames[canon]; dup {
					p.errAt(e.key, "%s: set: header %s is set twice (first at line %d; header names are case-insensitive)", f.ctx, quoteTrunc(e.name), first.Line)
					continue
				}
				setNames[canon] = e.key
				v, ok := p.scalar(e.val, fmt.Sprintf("%s: set: %s", f.ctx, e.name), "a string")
				if !ok {
					continue
				}
				if strings.ContainsAny(v.s, "\r\n\x00") {
					p.errAt(e.val, "%s: set: the value of %s must not contain CR, LF or NUL", f.ctx, e.name)
					continue
				}
				h.Set[e.name] = v.s
			}
		}
	}
	if vs, ok := f.strList("remove"); ok {
		for _, v := range p.noDuplicates(vs, f.subject("remove"), strings.ToLower) {
			if !framing.ValidToken(v.s) {
				p.errAt(v.node, "%s: remove: %s is not a valid header name", f.ctx, v.show())
				continue
			}
			if first := setNames[strings.ToLower(v.s)]; first != nil {
				p.errAt(v.node, "%s: remove: header %s is also set (line %d); set replaces it already", f.ctx, v.show(), first.Line)
				continue
			}
			h.Remove = append(h.Remove, v.s)
		}
	}
	return h
}

// matchParams reports require.match rules naming a path parameter that the
// route's path template does not have.
func (p *parser) matchParams(rf *fields, r *Route) {
	seq := rf.vals["match"]
	if seq == nil || seq.Kind != yaml.SequenceNode || len(seq.Content) != len(r.Require.Match) {
		return
	}
	for i, m := range r.Require.Match {
		if m.Path == "" || slices.Contains(templateParams(r.Path), m.Path) {
			continue
		}
		at := seq.Content[i]
		for j := 0; j+1 < len(at.Content); j += 2 {
			if at.Content[j].Value == "path" {
				at = at.Content[j+1]
				break
			}
		}
		p.errAt(at, "%s: match path %q is not a parameter of the route's path %q", rf.ctx, m.Path, r.Path)
	}
}

// templateParams lists the parameter names of a path template ({name} and
// {name...} segments).
func templateParams(tmpl string) []string {
	var names []string
	for seg := range strings.SplitSeq(tmpl, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			if name, ok = strings.CutSuffix(name, "}"); ok {
				names = append(names, strings.TrimSuffix(name, "..."))
			}
		}
	}
	return names
}
