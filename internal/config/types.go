package config

import (
	"net/netip"
	"net/url"
	"time"
)

// Pos is a position in the config file, for error messages. Line and Col are 1-based.
type Pos struct {
	Line, Col int
}

// Config is the whole, validated configuration. Load returns it with defaults applied;
// every field documented with a default holds that default when the file omitted it.
type Config struct {
	File    string // path the config was loaded from (for messages)
	Version int    // must be 1

	Server             Server
	Admin              Admin
	Store              string   // default "sqlite://rampart.db"
	SharedState        string   // default "memory://"
	SharedStateFailure string   // fail_closed (default) | fail_open | local
	Lockout            *Lockout // nil when the section is absent

	// Definitions by name. Load never leaves these maps nil.
	Upstreams      map[string]*Upstream
	Authenticators map[string]*Authenticator
	RateLimits     map[string]*RateLimit
	CORS           map[string]*CORS
	OpenAPI        map[string]*OpenAPI
	Routes         []*Route // in file order
}

// Server is the public listener.
type Server struct {
	Listen            string         // default ":8080" without TLS, ":8443" with TLS
	TLS               *TLS           // nil = plain HTTP
	HTTPRedirect      string         // "" = none
	TrustedProxies    []netip.Prefix // single addresses become /32 or /128
	MaxHeaderBytes    int            // default 16384 (16 KiB); accepts 16384 or "16KiB"
	MaxBodyBytes      int64          // default 1048576 (1 MiB); accepts "1MiB", "10MB"
	MaxQueryParams    int            // default 100
	ReadHeaderTimeout time.Duration  // default 5s
	ReadTimeout       time.Duration  // default 30s (whole request incl. body)
	WriteTimeout      time.Duration  // default 60s
	IdleTimeout       time.Duration  // default 120s
	ShutdownTimeout   time.Duration  // default 30s (drain on SIGTERM)
}

// TLS is server.tls.
type TLS struct {
	CertFile, KeyFile string
	MinVersion        string // "1.3" (default) or "1.2"
	ClientCAFile      string // optional, for mTLS
	ClientAuth        string // "" | request | require
}

// Admin is the admin listener.
type Admin struct {
	Listen string // default "127.0.0.1:9901"
	Token  string // required when the admin listener is enabled; >= 32 bytes, no placeholders
}

// Lockout is brute-force lockout after repeated auth failures.
type Lockout struct {
	MaxFailures int           // default 10
	Window      time.Duration // default 1m
	Duration    time.Duration // default 5m
	Key         string        // client_ip (default) | principal
}

// Upstream is a named pool of targets.
type Upstream struct {
	Name               string
	Targets            []*url.URL    // http or https, host required, path "" or "/", no query/fragment/userinfo
	Timeout            time.Duration // default 30s: whole upstream exchange until response headers
	MaskUpstreamErrors bool          // default true
	Pos                Pos
}

// Authenticator is one entry of authenticators:. Type is one of jwt, api_key, mtls,
// introspection; fields are type-specific and a field of another type is an error.
// Load checks the config-level rules (required fields, URL shapes, one key source,
// algorithm families, secret strength); the authenticator packages own the rest
// (reading key files, fetching discovery documents and JWKS).
type Authenticator struct {
	Name string
	Type string
	Pos  Pos

	// jwt
	Issuer        string
	Discovery     bool
	JWKSURL       string
	Audiences     []string
	Algorithms    []string
	Leeway        time.Duration // default 30s, at most 5m
	Secret        string        // HS*; >= 32 bytes, no placeholders
	PublicKeyFile string
	TokenHeader   string // default "Authorization" (Bearer)
	TokenCookie   string
	RolesClaim    string        // jwt, introspection: claim (dotted path) holding roles; "" = "roles"
	ForwardToken  bool          // jwt, introspection: pass the token upstream (default false: dropped, like Envoy)
	Timeout       time.Duration // introspection: per call; 0 = 5s

	// jwt JWKS refresh: the IdP's cache lifetime clamped to [floor, ceiling]
	// (0 = 1m, 1h), and the least time between refreshes caused by unknown
	// kids (0 = 30s).
	JWKSRefreshFloor, JWKSRefreshCeiling, UnknownKIDCooldown time.Duration

	// api_key
	Header string // default "X-API-Key"

	// mtls
	ClientCAFile string
	Subjects     []string // optional allowlist of certificate subjects (URI SAN, DNS SAN or CN)

	// introspection
	URL          string
	ClientID     string
	ClientSecret string
}

// RateLimit is one entry of rate_limits:. Limits are kept as written; the rate limiting
// issue owns parsing them (the strings are validated there).
type RateLimit struct {
	Name        string
	Key         string
	Limits      []string
	LimitsPos   []Pos
	Concurrency int
	Pos         Pos
}

// CORS is one entry of cors:.
type CORS struct {
	Name             string
	AllowOrigins     []string
	AllowMethods     []string
	AllowHeaders     []string
	ExposeHeaders    []string
	AllowCredentials bool
	MaxAge           time.Duration
	Pos              Pos
}

// OpenAPI is one entry of openapi:.
type OpenAPI struct {
	Name               string
	Spec               string
	SpecPos            Pos // position of the spec value, for errors found when loading it
	ValidateRequests   bool
	FilterResponses    string // "" | off | strip | reject
	RejectUndocumented bool
	UnknownFields      string // "" (= reject) | reject | allow
	MaxDepth           int    // 0 = 64
	MaxResponseBytes   int64  // 0 = 1 MiB
	BasePath           string // "" = the path of servers[0].url
	// PassUndocumentedErrors lets 4xx bodies with an undocumented status through unfiltered.
	PassUndocumentedErrors bool

	// routes_from_spec: one route per operation, to Upstream, with
	// SecuritySchemes mapping the document's schemes to authenticators
	// (Auth for the rest); operations without security need AllowPublic.
	RoutesFromSpec  bool
	Upstream        string
	UpstreamPos     Pos
	Auth            []string
	SecuritySchemes map[string]string
	AllowPublic     bool
	Pos             Pos
}

// AuthNone is the spelling of a public route: `auth: none`.
const AuthNone = "none"

// Route is one entry of routes:.
type Route struct {
	Name      string
	Host      string   // optional; lower-cased, no port
	Path      string   // template: /a/{id}/b, optional trailing /{rest...}
	PathPos   Pos      // position of the path value
	Methods   []string // required, non-empty; upper-case method tokens as written (case-sensitive)
	Upstream  string
	Auth      []string // authenticator names, or exactly ["none"]
	Require   Require
	RateLimit []string
	CORS      string
	OpenAPI   string
	WebSocket bool            // allow Upgrade: websocket on this route (default false)
	Headers   HeaderOverrides // response header set/remove
	Pos       Pos
}

// Require is a route's authorization requirement.
type Require struct {
	Roles  []string
	Scopes []string
	Claims map[string][]string // claim (dotted path) → accepted values (a string or a list in YAML)
	MFA    bool
	// MFAMethods are the amr values that count as step-up; nil = the
	// authorization package's default (mfa otp hwk swk sms face fpt).
	MFAMethods []string
	// ACRValues: acr values that satisfy mfa (or, without mfa, are required).
	ACRValues []string
}

// HeaderOverrides changes response headers per route.
type HeaderOverrides struct {
	Set    map[string]string
	Remove []string
}
