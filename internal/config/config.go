package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v4"

	"github.com/rampart-gw/rampart/internal/alert/sinks"
	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/cors"
	"github.com/rampart-gw/rampart/internal/detect"
	"github.com/rampart-gw/rampart/internal/ipfilter"
	"github.com/rampart-gw/rampart/internal/lockout"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/proxy"
	"github.com/rampart-gw/rampart/internal/ratelimit"
	"github.com/rampart-gw/rampart/internal/tracing"
	"github.com/rampart-gw/rampart/internal/waf"
)

// section returns the fields of the mapping under key, or empty fields (reporting
// missing keys at the parent's position) when key is absent.
func (f *fields) section(key, ctx string, known []string) *fields {
	n := f.vals[key]
	if n == nil {
		return &fields{p: f.p, at: f.at, ctx: ctx, path: join(f.path, key), vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	}
	return f.p.fields(n, f.keys[key], ctx, join(f.path, key), known)
}

func (p *parser) config(root *yaml.Node) *Config {
	f := p.fields(root, root, topLevel, "", topKeys)
	cfg := &Config{File: p.file}
	setDefaults(cfg)

	if !f.has("version") {
		p.errAt(root, "version is required: write version: 1")
	} else if v, ok := f.integer("version"); ok {
		if v != 1 {
			f.errf("version", "must be 1, the only config version this Rampart reads; got %d", v)
		} else {
			cfg.Version = v
		}
	}

	var server, admin *fields
	cfg.Server, server = p.server(f)
	cfg.Admin, admin = p.admin(f)
	p.listenerConflicts(server, admin, cfg)

	if v, ok := f.str("store"); ok {
		if prob := storeProblem(v.s); prob != "" {
			f.errf("store", "%s", prob)
		} else {
			cfg.Store = v.s
		}
	}
	boundedDuration(f, "store_timeout", &cfg.StoreTimeout, time.Millisecond, 30*time.Second)
	boundedDuration(f, "store_outage_grace", &cfg.StoreOutageGrace, 0, 24*time.Hour)
	if v, ok := f.str("shared_state"); ok {
		if prob := sharedStateProblem(v.s); prob != "" {
			f.errf("shared_state", "%s", prob)
		} else {
			cfg.SharedState = v.s
		}
	}
	if v, ok := f.str("shared_state_failure"); ok {
		if p.oneOf(f, "shared_state_failure", v, "fail_closed", "fail_open", "local") {
			cfg.SharedStateFailure = v.s
		}
	}
	boundedDuration(f, "shared_state_timeout", &cfg.SharedStateTimeout, time.Millisecond, 10*time.Second)
	if f.has("lockout") {
		cfg.Lockout = p.lockout(f)
	}
	cfg.IPFilter = p.ipFilter(f, "ip_filter")
	if f.has("alerts") {
		cfg.Alerts = &sinks.Config{}
		p.decode(f.section("alerts", "alerts", keysOf[sinks.Config]()), cfg.Alerts)
	}
	if f.has("tracing") {
		cfg.Tracing = &tracing.Config{}
		p.decode(f.section("tracing", "tracing", keysOf[tracing.Config]()), cfg.Tracing)
	}
	if f.has("detect") {
		cfg.Detect = &detect.Config{}
		p.decode(f.section("detect", "detect", keysOf[detect.Config]()), cfg.Detect)
	}

	cfg.Upstreams = decodeDefinitions[proxy.Config](p, f, "upstreams", "upstream")
	cfg.Authenticators = p.authenticators(f)
	cfg.RateLimits = decodeDefinitions[ratelimit.Config](p, f, "rate_limits", "rate limit")
	cfg.CORS = decodeDefinitions[cors.Config](p, f, "cors", "cors")
	cfg.OpenAPI = decodeDefinitions[openapi.Config](p, f, "openapi", "openapi")
	cfg.WAF = decodeDefinitions[waf.Config](p, f, "waf", "waf policy")
	cfg.Routes = p.routes(f, cfg)
	cfg.pos = p.pos
	cfg.FromEnv = p.fromEnv
	return cfg
}

// boundedDuration sets *dst to key's duration when it lies within [lo, hi].
func boundedDuration(f *fields, key string, dst *time.Duration, lo, hi time.Duration) {
	d, ok := f.duration(key)
	if !ok {
		return
	}
	if d < lo || d > hi {
		f.errf(key, "must be between %v and %v, got %v", lo, hi, d)
		return
	}
	*dst = d
}

// oneOf checks that v is one of the allowed spellings, suggesting the closest.
func (p *parser) oneOf(f *fields, key string, v value, allowed ...string) bool {
	if contains(allowed, v.s) {
		return true
	}
	msg := fmt.Sprintf("must be one of %s; got %s", strings.Join(allowed, ", "), v.show())
	if s := p.suggest(v.s, allowed); s != "" && !v.env {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	f.errf(key, "%s", msg)
	return false
}

func (p *parser) server(top *fields) (Server, *fields) {
	var s Server
	setDefaults(&s)
	f := top.section("server", "server", serverKeys)

	if f.has("tls") {
		s.TLS = p.tls(f)
	}
	// The listen default depends on tls, so it is not a tag.
	s.Listen = ":8080"
	if s.TLS != nil {
		s.Listen = ":8443"
	}
	if v, ok := f.str("listen"); ok {
		if prob := listenProblem(v.s); prob != "" {
			f.errf("listen", "%s; got %s", prob, v.show())
		} else {
			s.Listen = v.s
		}
	}
	if v, ok := f.str("http_redirect"); ok {
		switch prob := listenProblem(v.s); {
		case prob != "":
			f.errf("http_redirect", "%s; got %s", prob, v.show())
		case !f.has("tls"):
			f.errf("http_redirect", "is only allowed with tls (it redirects plain HTTP to the TLS listener)")
		default:
			s.HTTPRedirect = v.s
		}
	}
	if vs, ok := f.strList("trusted_proxies"); ok {
		s.TrustedProxies = p.trustedProxies(f, vs)
	}
	if n, ok := p.size(f, "max_header_bytes", 1<<10, 1<<20, "between 1KiB and 1MiB"); ok {
		s.MaxHeaderBytes = int(n)
	}
	if n, ok := p.size(f, "max_body_bytes", 1, 1<<30, "between 1 byte and 1GiB"); ok {
		s.MaxBodyBytes = conf.Size(n)
	}
	if n, ok := p.size(f, "body_buffer_bytes", 1<<10, 64<<20, "between 1KiB and 64MiB"); ok {
		s.BodyBufferBytes = conf.Size(n)
	}
	if n, ok := p.size(f, "body_memory_budget", 1<<10, 1<<40, "between 1KiB and 1024GiB"); ok {
		if n < int64(s.BodyBufferBytes) {
			f.errf("body_memory_budget", "must be at least body_buffer_bytes (%d bytes), got %d bytes", s.BodyBufferBytes, n)
		} else {
			s.BodyMemoryBudget = conf.Size(n)
		}
	}
	if v, ok := f.str("body_spill_dir"); ok {
		if v.s == "" {
			f.errf("body_spill_dir", "must not be empty")
		} else {
			s.BodySpillDir = v.s
		}
	}
	if n, ok := p.size(f, "body_spill_budget", 0, 1<<50, "between 0 (no spilling) and 1048576GiB"); ok {
		s.BodySpillBudget = conf.Size(n)
	}
	if n, ok := f.integer("max_query_params"); ok {
		if n < 1 {
			f.errf("max_query_params", "must be at least 1, got %d", n)
		} else {
			s.MaxQueryParams = n
		}
	}
	f.positiveDuration("read_header_timeout", &s.ReadHeaderTimeout)
	f.positiveDuration("read_timeout", &s.ReadTimeout)
	f.positiveDuration("write_timeout", &s.WriteTimeout)
	f.positiveDuration("idle_timeout", &s.IdleTimeout)
	if d, ok := f.duration("response_timeout"); ok {
		if d < 0 {
			f.errf("response_timeout", "must not be negative (0 means no cap)")
		} else {
			s.ResponseTimeout = d
		}
	}
	if n, ok := f.integer("max_connections"); ok {
		if n < 0 {
			f.errf("max_connections", "must not be negative (0 derives it from the file-descriptor limit)")
		} else {
			s.MaxConnections = n
		}
	}
	f.positiveDuration("shutdown_timeout", &s.ShutdownTimeout)
	return s, f
}

func (p *parser) tls(server *fields) *TLS {
	t := &TLS{}
	setDefaults(t)
	f := server.section("tls", "server.tls", tlsKeys)
	if v, ok := f.reqStr("cert_file"); ok {
		t.CertFile = v.s
	}
	if v, ok := f.reqStr("key_file"); ok {
		t.KeyFile = v.s
	}
	if v, ok := f.str("min_version"); ok {
		switch v.s {
		case "1.2", "1.3":
			t.MinVersion = v.s
		case "1.0", "1.1":
			f.errf("min_version", `must be "1.2" or "1.3": TLS %s is obsolete and insecure`, v.s)
		default:
			f.errf("min_version", `must be "1.2" or "1.3", got %s`, v.show())
		}
	}
	if v, ok := f.str("client_ca_file"); ok {
		if v.s == "" {
			f.errf("client_ca_file", "must not be empty")
		} else {
			t.ClientCAFile = v.s
		}
	}
	if v, ok := f.str("client_auth"); ok && p.oneOf(f, "client_auth", v, "request", "require") {
		t.ClientAuth = v.s
		if !f.has("client_ca_file") {
			f.errf("client_auth", "needs client_ca_file (the CA that signs client certificates)")
		}
	}
	if f.has("client_ca_file") && !f.has("client_auth") {
		f.errf("client_ca_file", "has no effect without client_auth: set client_auth to request or require")
	}
	return t
}

func (p *parser) trustedProxies(f *fields, vs []value) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(vs))
	seen := map[netip.Prefix]*yaml.Node{}
	for _, v := range vs {
		var pfx netip.Prefix
		if strings.Contains(v.s, "/") {
			var err error
			pfx, err = netip.ParsePrefix(v.s)
			if err != nil {
				p.errAt(v.node, "server: trusted_proxies entry %s is not an IP address or CIDR prefix (such as 10.0.0.0/8)", v.show())
				continue
			}
			if pfx.Masked() != pfx {
				p.errAt(v.node, "server: trusted_proxies entry %s has bits set after the prefix length; did you mean %q?", v.show(), pfx.Masked().String())
				continue
			}
		} else {
			a, err := netip.ParseAddr(v.s)
			if err != nil || a.Zone() != "" {
				p.errAt(v.node, "server: trusted_proxies entry %s is not an IP address or CIDR prefix (such as 10.0.0.0/8)", v.show())
				continue
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		if pfx.Bits() == 0 {
			p.errAt(v.node, "server: trusted_proxies entry %s trusts every address, which lets any client forge X-Forwarded-For; list your proxies' addresses", v.show())
			continue
		}
		if first, dup := seen[pfx]; dup {
			p.errAt(v.node, "server: trusted_proxies lists %s twice (first at line %d)", pfx, first.Line)
			continue
		}
		seen[pfx] = v.node
		out = append(out, pfx)
	}
	return out
}

// size reads a byte size (an integer, or a string such as "16KiB") in [lo, hi].
func (p *parser) size(f *fields, key string, lo, hi int64, bounds string) (int64, bool) {
	n := f.vals[key]
	if n == nil {
		return 0, false
	}
	v, ok := p.scalar(n, f.subject(key), "a size such as 16384 or \"16KiB\"")
	if !ok {
		return 0, false
	}
	sz, prob := parseSize(v.s)
	if prob != "" {
		f.errf(key, "%s; got %s", prob, v.show())
		return 0, false
	}
	if sz < lo || sz > hi {
		f.errf(key, "must be %s, got %d bytes", bounds, sz)
		return 0, false
	}
	return sz, true
}

func (p *parser) admin(top *fields) (Admin, *fields) {
	var a Admin
	setDefaults(&a)
	f := top.section("admin", "admin", adminKeys)
	if v, ok := f.str("listen"); ok {
		if v.s == "off" {
			a.Listen = ""
		} else if prob := listenProblem(v.s); prob != "" {
			f.errf("listen", `%s, or "off" to turn the admin listener off; got %s`, prob, v.show())
		} else {
			a.Listen = v.s
		}
	}
	if f.has("token") {
		if v, ok := f.str("token"); ok {
			if prob := secretProblem(v.s); prob != "" {
				f.errf("token", "%s", prob)
			} else {
				a.Token = v.s
			}
		}
	} else if a.Listen != "" && !f.bad {
		p.errAt(f.at, `admin: token is required while the admin listener is on (it serves /metrics and the admin API); set admin.token, or turn the listener off with admin: { listen: "off" }`)
	}
	return a, f
}

// listenerConflicts reports listeners that would bind the same port on overlapping
// interfaces, at the later one.
func (p *parser) listenerConflicts(server, admin *fields, cfg *Config) {
	type listener struct {
		name, addr string
		f          *fields
		key        string
	}
	ls := []listener{{"server.listen", cfg.Server.Listen, server, "listen"}}
	if cfg.Server.HTTPRedirect != "" {
		ls = append(ls, listener{"server.http_redirect", cfg.Server.HTTPRedirect, server, "http_redirect"})
	}
	if cfg.Admin.Listen != "" {
		ls = append(ls, listener{"admin.listen", cfg.Admin.Listen, admin, "listen"})
	}
	for i := 1; i < len(ls); i++ {
		for j := 0; j < i; j++ {
			if listenersConflict(ls[i].addr, ls[j].addr) {
				ls[i].f.errf(ls[i].key, "uses the same port as %s", ls[j].name)
				break
			}
		}
	}
}

func (p *parser) lockout(top *fields) *lockout.Config {
	l := &lockout.Config{}
	p.decode(top.section("lockout", "lockout", keysOf[lockout.Config]()), l)
	return l
}

// ipFilter reads an ip_filter block (top-level or a route's); nil when
// absent.
func (p *parser) ipFilter(parent *fields, ctx string) *ipfilter.Config {
	if !parent.has("ip_filter") {
		return nil
	}
	c := &ipfilter.Config{}
	p.decode(parent.section("ip_filter", ctx, keysOf[ipfilter.Config]()), c)
	return c
}

// storeProblem explains why s is not a store URL, without echoing it (it may hold a
// database password).
func storeProblem(s string) string {
	const want = `must be sqlite://PATH, postgres://... or postgresql://...`
	switch {
	case strings.HasPrefix(s, "sqlite://"):
		if strings.TrimPrefix(s, "sqlite://") == "" {
			return want + " (the sqlite path is missing)"
		}
		return ""
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			return want + " (the postgres URL does not parse)"
		}
		return ""
	}
	return want
}

// sharedStateProblem explains why s is not a shared state URL, without echoing it.
func sharedStateProblem(s string) string {
	const want = `must be memory:// or redis://... or rediss://...`
	switch {
	case s == "memory://":
		return ""
	case strings.HasPrefix(s, "redis://"), strings.HasPrefix(s, "rediss://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return want + " (the redis URL does not parse or has no host)"
		}
		return ""
	}
	return want
}
