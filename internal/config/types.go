package config

import (
	"net/netip"
	"time"

	"github.com/rampart-gw/rampart/internal/alert/sinks"
	"github.com/rampart-gw/rampart/internal/auth/apikey"
	"github.com/rampart-gw/rampart/internal/auth/introspect"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
	"github.com/rampart-gw/rampart/internal/auth/mtls"
	"github.com/rampart-gw/rampart/internal/authz"
	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/cors"
	"github.com/rampart-gw/rampart/internal/detect"
	"github.com/rampart-gw/rampart/internal/headers"
	"github.com/rampart-gw/rampart/internal/ipfilter"
	"github.com/rampart-gw/rampart/internal/lockout"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/owner"
	"github.com/rampart-gw/rampart/internal/proxy"
	"github.com/rampart-gw/rampart/internal/ratelimit"
	"github.com/rampart-gw/rampart/internal/tracing"
	"github.com/rampart-gw/rampart/internal/waf"
	"github.com/rampart-gw/rampart/internal/websocket"
)

// Config is the whole, validated configuration file. Load returns it with the
// defaults of its `default:` tags applied. The controls own the types of their
// sections (cors.Config, jwt.Config, ...): this file only composes them, and
// docs/config.md and the JSON Schema are generated from the same types.
type Config struct {
	File string `yaml:"-"` // path the config was loaded from (for messages)
	// FromEnv are the values that took text from ${VAR}s, after
	// interpolation: displays of the running config (the dashboard) mask
	// them, since environment values are where secrets live.
	FromEnv []string `yaml:"-"`
	// Version is the config format; required, and 1 is the only version.
	Version int `yaml:"version"`

	// Server is the public listener.
	Server Server `yaml:"server"`
	// Admin is the admin listener (/metrics, /healthz, /readyz, admin API).
	Admin Admin `yaml:"admin"`
	// Store holds API keys and consumers: sqlite://PATH, or postgres://...
	// (postgresql://...) shared by replicas.
	Store string `yaml:"store" default:"sqlite://rampart.db"`
	// StoreTimeout bounds one key store lookup: waiting for a pooled
	// connection, connecting (unless the URL sets connect_timeout) and the
	// query. Past it the store counts as unreachable, so a hung PostgreSQL
	// costs a request at most this; between 1ms and 30s.
	StoreTimeout time.Duration `yaml:"store_timeout" default:"500ms"`
	// StoreOutageGrace is how long a key keeps working while the store is
	// unreachable, counted from when the store last confirmed it (only keys
	// whose secret was verified against the store, and that were valid
	// then). 0 = none: every API-key request gets 503 during an outage.
	// At most 24h.
	StoreOutageGrace time.Duration `yaml:"store_outage_grace" default:"2m"`
	// SharedState holds rate limit counters, lockouts and revocations:
	// memory:// on one node, or redis://... (rediss://...) shared by replicas.
	SharedState string `yaml:"shared_state" default:"memory://"`
	// SharedStateFailure is what happens while the shared state is
	// unreachable: fail_closed refuses with 503, fail_open lets requests
	// through, local falls back to per-node counters.
	SharedStateFailure string `yaml:"shared_state_failure" default:"fail_closed"`
	// SharedStateTimeout bounds one rate-limit or lockout decision in Redis,
	// waiting for a connection included; the client's dial, read, write and
	// pool timeouts are derived from it and it never retries. Past it
	// shared_state_failure decides; between 1ms and 10s.
	SharedStateTimeout time.Duration `yaml:"shared_state_timeout" default:"250ms"`
	// Lockout locks out clients after repeated authentication failures. Unset
	// means no lockout.
	Lockout *lockout.Config `yaml:"lockout"`
	// IPFilter refuses clients by address before routing, for every
	// request: allow and deny lists of addresses and CIDR prefixes, inline
	// or in files re-read on change (docs/ip-filter.md). Unset: no filter.
	IPFilter *ipfilter.Config `yaml:"ip_filter"`
	// Alerts are where detections go besides the audit log: webhooks
	// (signed JSON, Slack-compatible) and syslog for a SIEM (every audit
	// event as RFC 5424). Read at start: a change needs a restart.
	Alerts *sinks.Config `yaml:"alerts"`
	// Tracing exports OpenTelemetry traces of requests over OTLP/HTTP
	// (docs/tracing.md). Unset means no tracing.
	Tracing *tracing.Config `yaml:"tracing"`
	// Detect watches the traffic for attacks (credential stuffing,
	// scanning, token sharing, abnormal volume, contract violations) and
	// alerts or blocks. Unset means no detection (blocks added through the
	// admin API are still enforced); {} turns every detector on with its
	// defaults.
	Detect *detect.Config `yaml:"detect"`

	// Upstreams are the named pools of servers routes forward to.
	Upstreams map[string]*proxy.Config `yaml:"upstreams"`
	// Authenticators are the named ways routes authenticate callers.
	Authenticators map[string]*Authenticator `yaml:"authenticators"`
	// RateLimits are the named policies routes list under rate_limit.
	RateLimits map[string]*ratelimit.Config `yaml:"rate_limits"`
	// CORS are the named policies routes name under cors.
	CORS map[string]*cors.Config `yaml:"cors"`
	// OpenAPI are the named documents routes name under openapi.
	OpenAPI map[string]*openapi.Config `yaml:"openapi"`
	// WAF are the named OWASP Core Rule Set policies routes name under waf.
	WAF map[string]*waf.Config `yaml:"waf"`
	// Routes are matched by host, method and path; paths may not overlap.
	Routes []*Route `yaml:"routes"`

	// pos holds the position of every key, definition and list entry read,
	// by path (see At).
	pos map[string]conf.Pos
}

// Server is the public listener.
type Server struct {
	// Listen is the address (host:port) of the public listener. Unset means
	// ":8443" with tls, ":8080" without.
	Listen string `yaml:"listen"`
	// TLS terminates TLS on the listener. Unset means plain HTTP.
	TLS *TLS `yaml:"tls"`
	// HTTPRedirect is a plain-HTTP listener (host:port) answering 308 to
	// https; only with tls.
	HTTPRedirect string `yaml:"http_redirect"`
	// TrustedProxies are the addresses or CIDR prefixes allowed to set
	// X-Forwarded-For; single addresses become /32 or /128.
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies"`
	// MaxHeaderBytes bounds the request line and headers; between 1KiB and
	// 1MiB.
	MaxHeaderBytes int `yaml:"max_header_bytes" default:"16KiB" conf:"size"`
	// MaxBodyBytes bounds request bodies (413 beyond); between 1 byte and
	// 1GiB.
	MaxBodyBytes conf.Size `yaml:"max_body_bytes" default:"1MiB"`
	// BodyBufferBytes is the most of one request body held in memory;
	// past it the body is spilled to a file in body_spill_dir. Between 1KiB
	// and 64MiB. Bodies of routes whose OpenAPI contract validates them are
	// always held in memory (validation parses them whole), up to
	// max_body_bytes.
	BodyBufferBytes conf.Size `yaml:"body_buffer_bytes" default:"64KiB"`
	// BodyMemoryBudget bounds the bytes all buffered bodies (requests, and
	// responses of upstreams with buffer_response) hold in memory at once;
	// at least body_buffer_bytes. A body that finds it exhausted is spilled,
	// or, when it must stay in memory, refused with 503 and Retry-After.
	BodyMemoryBudget conf.Size `yaml:"body_memory_budget" default:"64MiB"`
	// BodySpillDir is where bodies past body_buffer_bytes are spilled. It is
	// created with mode 0700 (an existing one must belong to Rampart's user
	// and is made 0700), spill files from a crash are removed at start, and
	// each file is unlinked as soon as it is created. It must be writable:
	// otherwise the gateway does not start. Unset means rampart-bodies-UID
	// under $TMPDIR (or /tmp); where /tmp is a RAM file system, point it at
	// a disk.
	BodySpillDir string `yaml:"body_spill_dir"`
	// BodySpillBudget bounds the bytes all spilled bodies hold on disk; a
	// request body that finds it exhausted (or the disk full) is refused
	// with 503 and Retry-After. 0 turns spilling off: bodies past
	// body_buffer_bytes are then refused with 503, and body_spill_dir is
	// not used (for read-only file systems).
	BodySpillBudget conf.Size `yaml:"body_spill_budget" default:"1GiB"`
	// MaxQueryParams bounds the query parameters of a request (414 beyond).
	MaxQueryParams int `yaml:"max_query_params" default:"100"`
	// ReadHeaderTimeout bounds reading the request headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout" default:"5s"`
	// ReadTimeout bounds reading the whole request, body included.
	ReadTimeout time.Duration `yaml:"read_timeout" default:"30s"`
	// WriteTimeout bounds each wait for a response write to make progress
	// (nginx's send_timeout): every write that goes through starts it
	// afresh, so a slow but steady download is not cut, and a client that
	// stops reading is cut after it.
	WriteTimeout time.Duration `yaml:"write_timeout" default:"60s"`
	// ResponseTimeout caps a whole exchange, from the request's first byte
	// to the response's last. Unset (0) means no cap.
	ResponseTimeout time.Duration `yaml:"response_timeout"`
	// IdleTimeout is how long an idle keep-alive connection stays open.
	IdleTimeout time.Duration `yaml:"idle_timeout" default:"120s"`
	// MaxConnections bounds the public listener's connections. At the
	// bound, the connection idle the longest is closed to make room; when
	// none is idle, a new connection gets 503 and is closed. Unset (0)
	// derives it from the file-descriptor limit: half of what is left after
	// 128 kept for the admin listener, logs and stores, since each proxied
	// request also holds an upstream connection.
	MaxConnections int `yaml:"max_connections"`
	// ShutdownTimeout is how long in-flight requests may drain on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" default:"30s"`
}

// TLS is server.tls.
type TLS struct {
	// CertFile is the PEM certificate chain; required. Reloaded when it
	// changes.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key; required.
	KeyFile string `yaml:"key_file"`
	// MinVersion is "1.3" or "1.2"; older versions are refused.
	MinVersion string `yaml:"min_version" default:"1.3"`
	// ClientCAFile is the PEM bundle of CAs that sign client certificates
	// (for mtls authenticators); needs client_auth.
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientAuth asks clients for a certificate: request (optional) or
	// require; needs client_ca_file.
	ClientAuth string `yaml:"client_auth"`
}

// Admin is the admin listener.
type Admin struct {
	// Listen is the admin listener's address (host:port), or "off".
	Listen string `yaml:"listen" default:"127.0.0.1:9901"`
	// Token is the bearer token the admin listener requires; required while
	// the listener is on. At least 32 bytes, not a placeholder; write it as
	// ${ENV_VAR}.
	Token string `yaml:"token"`
}

// Authenticator is one entry of authenticators:. Type selects the
// authenticator, and exactly the field of that type is set; its keys sit
// beside type, and a key of another type is an error.
type Authenticator struct {
	// Type is jwt, api_key, mtls or introspection; required.
	Type string `yaml:"type"`

	JWT           *jwt.Config        `yaml:",inline" union:"jwt"`
	APIKey        *apikey.Config     `yaml:",inline" union:"api_key"`
	MTLS          *mtls.Config       `yaml:",inline" union:"mtls"`
	Introspection *introspect.Config `yaml:",inline" union:"introspection"`
}

// AuthNone is the spelling of a public route: `auth: none`.
const AuthNone = "none"

// Route is one entry of routes:.
type Route struct {
	// Name names the route in logs and metrics; required, unique.
	Name string `yaml:"name"`
	// Host, when set, is the only Host the route answers (a name or IP
	// address, no port); compared without case.
	Host string `yaml:"host"`
	// Path is a template: /a/{id}/b, with an optional trailing /{rest...};
	// required.
	Path string `yaml:"path"`
	// Methods are the upper-case methods the route accepts; required.
	Methods []string `yaml:"methods"`
	// Deny makes a deny route: the requests it matches are never routed.
	// The gateway answers them itself (see deny_status), whatever other
	// route would match them too, and never contacts an upstream. A deny
	// route has only name, host, path, methods and deny_status; it may
	// overlap other routes.
	Deny bool `yaml:"deny"`
	// DenyStatus is what a deny route answers: 404 (route-not-found, as for
	// a path no route matches; the default) or 403 (route-denied). Only
	// with deny: true.
	DenyStatus int `yaml:"deny_status"`
	// Upstream names the entry of upstreams: requests go to; required,
	// except on a deny route.
	Upstream string `yaml:"upstream"`
	// Auth is none (a public route) or the list of authenticators, any of
	// which may authenticate the caller, tried in order; required, except
	// on a deny route.
	Auth []string `yaml:"auth" conf:"or_none"`
	// AuthOptional lets requests that carry no credential through
	// anonymously (no principal, no X-Rampart-* identity headers); a
	// credential that is presented must still be valid (an Authorization
	// header no authenticator of the route takes is refused), and its
	// principal is passed on. For endpoints whose OpenAPI security lists {} beside a
	// scheme (optional authentication). Not with auth: none or require.
	AuthOptional bool `yaml:"auth_optional"`
	// IPFilter refuses clients by address for this route, as its first
	// step (before CORS and authentication); the top-level ip_filter
	// applies too. Unset: only the top-level one.
	IPFilter *ipfilter.Config `yaml:"ip_filter"`
	// Require is what an authenticated caller must have; not with auth: none.
	Require authz.Require `yaml:"require"`
	// RateLimit names the entries of rate_limits: that apply, in order.
	RateLimit []string `yaml:"rate_limit"`
	// SharedStateFailure overrides the top-level shared_state_failure for
	// this route's rate limits while the shared state is unreachable:
	// fail_closed answers 503, fail_open lets requests through uncounted,
	// local counts per node. Unset: the top-level value. Only with
	// rate_limit (lockout keeps the top-level mode).
	SharedStateFailure string `yaml:"shared_state_failure" conf:"oneof=fail_closed|fail_open|local"`
	// CORS names the entry of cors: that answers preflights and sets CORS
	// headers. Unset: preflights are refused.
	CORS string `yaml:"cors"`
	// OpenAPI names the entry of openapi: that validates requests and filters
	// responses.
	OpenAPI string `yaml:"openapi"`
	// WAF names the entry of waf: that inspects requests (after the
	// OpenAPI step) with the OWASP Core Rule Set.
	WAF string `yaml:"waf"`
	// BufferRequest reads the whole request body (within the body budget)
	// before it is forwarded. false streams it to the upstream as it
	// arrives: authentication and every other check still happen before
	// any of it is sent, and max_body_bytes is still enforced, but the
	// request is not retried on another target, a body cut short or over
	// the limit reaches the upstream in part (the upstream connection is
	// then closed), the upstream is no longer shielded from slow uploads,
	// and OpenAPI body validation is impossible (a config error with
	// openapi).
	BufferRequest bool `yaml:"buffer_request" default:"true"`
	// WebSocket makes the route a WebSocket route: its GET requests are
	// upgraded (after the route's policy) and relayed within these limits.
	// true means the block with its defaults. Unset: upgrades are never
	// forwarded.
	WebSocket *websocket.Config `yaml:"websocket" conf:"or_true"`
	// Headers changes the route's response headers after the security
	// header profile.
	Headers headers.Overrides `yaml:"headers"`
	// ResponseOwner makes the route's 2xx JSON responses the caller's only:
	// a field that must equal a principal value (docs/auth.md, "Response
	// ownership"). Not with auth: none or websocket.
	ResponseOwner *owner.Config `yaml:"response_owner"`
	// Login marks the application's login endpoint: its upstream's 401
	// and 403 answers count as failed logins of the username its request
	// body names (credential-stuffing detection; needs detect). The body is
	// then buffered, within max_body_bytes.
	Login *detect.Login `yaml:"login"`

	Pos     conf.Pos `yaml:"-"` // position of the route
	PathPos conf.Pos `yaml:"-"` // position of the path value
}
