package openapi

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rampart-gw/rampart/internal/config/conf"
)

// Config is one entry of openapi: in the config file.
type Config struct {
	// Name is the document's name under openapi: (messages, audit).
	Name string `yaml:"-"`
	// Spec is the document: a file path (relative to the config file) or an
	// http(s) URL such as a FastAPI service's /openapi.json. JSON or YAML,
	// OpenAPI 3.0.x or 3.1.x; required.
	Spec string `yaml:"spec" conf:"required"`
	// BaseDir resolves a relative Spec path. "" means the working directory;
	// the gateway passes the directory of the config file.
	BaseDir string `yaml:"-"`
	// ValidateRequests checks parameters and bodies against the operation.
	// Unset means true: a route that names a document is validated unless
	// the config says validate_requests: false.
	ValidateRequests bool `yaml:"validate_requests" default:"true"`
	// FilterResponses checks responses against the documented schema: off
	// (or unset) passes them, strip removes undeclared fields, reject turns a
	// response that does not conform into a 502.
	FilterResponses string `yaml:"filter_responses" conf:"oneof=|strip|reject|off"`
	// RejectUndocumented answers 404/405 for a method and path the document
	// does not declare, even when a broader route matched.
	RejectUndocumented bool `yaml:"reject_undocumented"`
	// UnknownFields is reject (the default) or allow. Reject refuses body
	// properties, form fields and query parameters the operation does not
	// declare, even where the schema has no additionalProperties: false (mass
	// assignment). Allow relaxes only that: explicit additionalProperties:
	// false, read-only checks aside, and keys differing only in case from a
	// declared property stay refused.
	UnknownFields string `yaml:"unknown_fields" conf:"oneof=reject|allow"`
	// MaxDepth is the deepest JSON nesting accepted in request bodies,
	// between 1 and 1024. Unset means 64.
	MaxDepth int `yaml:"max_depth" conf:"min=1,max=1024"`
	// MaxResponseBytes is the largest JSON response filtered in memory;
	// larger ones are filtered as they stream, in memory bounded by this
	// size (the largest single string or object key set), whatever the
	// response's size. Unset means 1MiB.
	MaxResponseBytes conf.Size `yaml:"max_response_bytes" conf:"min=1,max=1GiB"`
	// OversizedResponses is what happens to a JSON response larger than
	// max_response_bytes whose schema cannot be filtered as it streams
	// (oneOf/anyOf, a discriminator or if/then/else choosing between object
	// shapes by members that may come later). refuse (unset) answers 502;
	// pass lets such responses through unfiltered, reported as
	// passed-oversized: undeclared fields in them reach clients.
	OversizedResponses string `yaml:"oversized_responses" conf:"oneof=|refuse|pass"`
	// MaxSpecBytes bounds the document and each file it references. Unset
	// means 16MiB.
	MaxSpecBytes conf.Size `yaml:"max_spec_bytes" conf:"min=1KiB,max=1GiB"`
	// RemoteRefs follows $refs to http(s) URLs on another origin than the
	// document's (a document loaded from a file has none), each fetched once
	// at load within max_spec_bytes. Off (the default), such a $ref is a load
	// error: a document would otherwise make the gateway fetch what it names.
	RemoteRefs bool `yaml:"remote_refs"`
	// BasePath is prepended to every path of the document when matching
	// requests. Unset means the path of the first servers[] URL (OpenAPI
	// paths are relative to it), or nothing without servers; "/" means none
	// whatever servers says.
	BasePath string `yaml:"base_path"`
	// PassUndocumentedErrors lets 4xx responses whose status code the
	// operation does not document pass unfiltered. By default such a body is
	// filtered as if its schema declared nothing (strip empties its objects;
	// reject turns it into a 502). FastAPI leaves HTTPException responses
	// (404...) out of its document unless the route lists them in
	// responses=. 5xx responses without a documented status always pass: they
	// are the upstream error masking's business
	// (upstreams.*.mask_upstream_errors), and the gateway's own 502/504
	// problems must survive.
	PassUndocumentedErrors bool `yaml:"pass_undocumented_errors"`

	// RoutesFromSpec generates one route per operation of the document
	// (named after its operationId), to upstream.
	RoutesFromSpec bool `yaml:"routes_from_spec"`
	// Upstream is the upstream of generated routes (routes_from_spec only).
	Upstream string `yaml:"upstream"`
	// Auth is the authenticator list of generated routes whose security
	// scheme has no entry in security_schemes (routes_from_spec only). none
	// means no default authenticator: operations without security become
	// auth: none routes (as with allow_public), and a scheme missing from
	// security_schemes is an error, never public.
	Auth []string `yaml:"auth" conf:"or_none"`
	// SecuritySchemes maps the document's securitySchemes names to
	// authenticator names, such as {bearerAuth: corp_sso} (routes_from_spec
	// only).
	SecuritySchemes map[string]string `yaml:"security_schemes" conf:"entry=security scheme"`
	// AllowPublic lets operations without any security requirement become
	// auth: none routes (routes_from_spec only). Without it they are an error.
	AllowPublic bool `yaml:"allow_public"`

	// Offline forbids network fetches (`rampart check` without --online):
	// a Spec that is a URL is not loaded and Load returns ErrOffline. (Not
	// a config-file field.)
	Offline bool `yaml:"-"`
}

// ErrOffline is Load's answer for a remote Spec under Config.Offline.
var ErrOffline = errors.New("openapi: the spec is a URL and fetching is off")

// OversizedResponses values.
const (
	OversizedRefuse = "refuse"
	OversizedPass   = "pass"
)

// Filter modes.
const (
	FilterOff    = "off"
	FilterStrip  = "strip"
	FilterReject = "reject"
)

const (
	defaultMaxResponseBytes = 1 << 20
	defaultMaxDepth         = 64
)

func (c *Config) check() error {
	var bad []string
	switch c.FilterResponses {
	case "", FilterOff, FilterStrip, FilterReject:
	default:
		bad = append(bad, fmt.Sprintf("filter_responses %q is not one of off, strip, reject", c.FilterResponses))
	}
	switch c.OversizedResponses {
	case "", OversizedRefuse, OversizedPass:
	default:
		bad = append(bad, fmt.Sprintf("oversized_responses %q is not refuse or pass", c.OversizedResponses))
	}
	switch c.UnknownFields {
	case "", "reject", "allow":
	default:
		bad = append(bad, fmt.Sprintf("unknown_fields %q is not reject or allow", c.UnknownFields))
	}
	if c.MaxDepth < 0 || c.MaxDepth > 10000 {
		bad = append(bad, "max_depth must be between 1 and 10000")
	}
	if c.MaxResponseBytes < 0 || c.MaxSpecBytes < 0 {
		bad = append(bad, "size limits must not be negative")
	}
	if c.BasePath != "" && !validBasePath(c.BasePath) {
		bad = append(bad, fmt.Sprintf("base_path %q must be a path starting with /", c.BasePath))
	}
	if c.Spec == "" {
		bad = append(bad, "spec is required")
	}
	if len(bad) == 0 {
		return nil
	}
	return &LoadError{Document: c.Name, Msg: strings.Join(bad, "; ")}
}

// Validate checks the rules across keys and beyond the loader's tags, for
// the config loader (problems are *conf.FieldError).
func (c *Config) Validate() []error {
	var errs []error
	if c.BasePath != "" && !validBasePath(c.BasePath) {
		errs = append(errs, conf.Badf("base_path", "must be a path starting with / (without {, }, ? or #)"))
	}
	if c.RoutesFromSpec && c.Upstream == "" {
		errs = append(errs, conf.Errorf("upstream", "is required"))
	}
	if c.Auth != nil && len(c.Auth) == 0 {
		errs = append(errs, conf.Errorf("auth", "must not be an empty list; write auth: none for no default authenticator"))
	}
	if len(c.Auth) > 1 && slices.Contains(c.Auth, "none") {
		errs = append(errs, conf.Errorf("auth", "none cannot be listed with authenticators"))
	}
	if !c.RoutesFromSpec && (c.Upstream != "" || c.Auth != nil || c.SecuritySchemes != nil || c.AllowPublic) {
		errs = append(errs, conf.Errorf("routes_from_spec", "upstream, auth, security_schemes and allow_public only apply with routes_from_spec: true"))
	}
	return errs
}

func validBasePath(p string) bool {
	return p[0] == '/' && !strings.ContainsAny(p, "{}?#")
}

// Summary says what the contract does to traffic, for `rampart check`:
// "validating requests, filtering responses (strip)".
func (c *Config) Summary() string {
	var parts []string
	if c.ValidateRequests {
		parts = append(parts, "validating requests")
	} else {
		parts = append(parts, "not validating requests (validate_requests: false)")
	}
	if f := c.filter(); f != "" {
		parts = append(parts, "filtering responses ("+f+")")
	} else {
		parts = append(parts, "not filtering responses")
	}
	if c.RejectUndocumented {
		parts = append(parts, "refusing undocumented operations")
	}
	return strings.Join(parts, ", ")
}

func (c *Config) filter() string {
	if c.FilterResponses == FilterOff {
		return ""
	}
	return c.FilterResponses
}

func (c *Config) maxDepth() int {
	if c.MaxDepth == 0 {
		return defaultMaxDepth
	}
	return c.MaxDepth
}

func (c *Config) maxResponseBytes() int64 {
	if c.MaxResponseBytes == 0 {
		return defaultMaxResponseBytes
	}
	return int64(c.MaxResponseBytes)
}

func (c *Config) maxSpecBytes() int64 {
	if c.MaxSpecBytes == 0 {
		return defaultMaxSpecBytes
	}
	return int64(c.MaxSpecBytes)
}
