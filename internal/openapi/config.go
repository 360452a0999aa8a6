package openapi

import (
	"errors"
	"fmt"
	"strings"
)

// Config is one entry of openapi:. The first six fields mirror
// config.OpenAPI; the rest are the fields this package adds (see README.md,
// "Configuration"), each with its YAML key and default.
type Config struct {
	// Name is the document's name under openapi: (messages, audit).
	Name string
	// Spec is a file path or an http(s) URL (e.g. a FastAPI service's
	// /openapi.json). JSON or YAML, OpenAPI 3.0.x or 3.1.x.
	Spec string
	// BaseDir resolves a relative Spec path. "" means the working directory;
	// the config loader should pass the directory of the config file.
	BaseDir string
	// ValidateRequests checks parameters and bodies (validate_requests).
	ValidateRequests bool
	// FilterResponses is "" or "off" (no filtering), "strip" or "reject"
	// (filter_responses).
	FilterResponses string
	// RejectUndocumented answers 404/405 for a method and path the document
	// does not declare, even when a broader route matched (reject_undocumented).
	RejectUndocumented bool

	// UnknownFields is "reject" (default, also "") or "allow"
	// (unknown_fields). Reject refuses body properties, form fields and query
	// parameters the operation does not declare, even where the schema has
	// no additionalProperties: false (mass assignment). Allow relaxes only
	// that: explicit additionalProperties: false, read-only checks aside, and
	// keys differing only in case from a declared property stay refused.
	UnknownFields string
	// MaxDepth is the deepest JSON nesting accepted in request bodies
	// (max_depth). 0 means 64.
	MaxDepth int
	// MaxResponseBytes is the largest JSON response buffered for filtering
	// (max_response_bytes). Larger responses pass through unfiltered and are
	// reported as ResponsePassedOversized. 0 means 1 MiB.
	MaxResponseBytes int64
	// MaxSpecBytes bounds the document and each file it references
	// (max_spec_bytes). 0 means 16 MiB.
	MaxSpecBytes int64
	// BasePath is prepended to every path of the document when matching
	// requests (base_path). "" means the path of the first servers[] URL
	// (OpenAPI paths are relative to it), or nothing without servers; "/"
	// means none whatever servers says.
	BasePath string
	// PassUndocumentedErrors lets 4xx responses whose status code the
	// operation does not document pass unfiltered
	// (pass_undocumented_errors). By default such a body is filtered as if
	// its schema declared nothing (strip empties its objects; reject turns it
	// into a 502). FastAPI leaves HTTPException responses (404...) out of its
	// document unless the route lists them in responses=. 5xx responses
	// without a documented status always pass: they are the upstream error
	// masking's business (upstreams.*.mask_upstream_errors), and the
	// gateway's own 502/504 problems must survive.
	PassUndocumentedErrors bool

	// RoutesFromSpec asks the config loader to generate one route per
	// operation with Document.Routes (routes_from_spec).
	RoutesFromSpec bool
	// Upstream is the upstream of generated routes (upstream).
	Upstream string
	// Auth is the default authenticator list of generated routes whose
	// security scheme has no entry in SecuritySchemes (auth).
	Auth []string
	// SecuritySchemes maps the document's securitySchemes names to
	// authenticator names (security_schemes: {bearerAuth: corp_sso}).
	SecuritySchemes map[string]string
	// AllowPublic lets operations without any security requirement become
	// auth: none routes (allow_public). Without it they are an error.
	AllowPublic bool

	// Offline forbids network fetches (`rampart check` without --online):
	// a Spec that is a URL is not loaded and Load returns ErrOffline. (Not
	// a config-file field.)
	Offline bool
}

// ErrOffline is Load's answer for a remote Spec under Config.Offline.
var ErrOffline = errors.New("openapi: the spec is a URL and fetching is off")

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
	if c.BasePath != "" && (c.BasePath[0] != '/' || strings.ContainsAny(c.BasePath, "{}?#")) {
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
	return c.MaxResponseBytes
}

func (c *Config) maxSpecBytes() int64 {
	if c.MaxSpecBytes == 0 {
		return defaultMaxSpecBytes
	}
	return c.MaxSpecBytes
}
