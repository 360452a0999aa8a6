package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Policy is one compiled entry of rate_limits: a key and the limits that all
// apply to it, plus an optional cap on requests in flight per key.
type Policy struct {
	Name        string
	Key         KeySpec
	Limits      []Limit // 1..MaxLimits, all enforced together
	Concurrency int     // 0 = no limit on requests in flight

	items  []string // sf-string item name per limit, quoted
	policy string   // this policy's members of the RateLimit-Policy field
}

// NewPolicy checks and compiles a policy.
func NewPolicy(name string, key KeySpec, limits []Limit, concurrency int) (*Policy, error) {
	switch {
	case name == "":
		return nil, fmt.Errorf("rate limit policy needs a name")
	case len(key.parts) == 0:
		return nil, fmt.Errorf("rate limit %q: key is missing", name)
	case len(limits) == 0 && concurrency == 0:
		return nil, fmt.Errorf("rate limit %q: needs at least one limit or a concurrency", name)
	case len(limits) > MaxLimits:
		return nil, fmt.Errorf("rate limit %q: at most %d limits per policy, got %d", name, MaxLimits, len(limits))
	case concurrency < 0:
		return nil, fmt.Errorf("rate limit %q: concurrency must not be negative", name)
	}
	p := &Policy{Name: name, Key: key, Limits: append([]Limit(nil), limits...), Concurrency: concurrency}
	seen := map[Limit]bool{}
	var pol []byte
	for i, l := range limits {
		if !l.Valid() {
			return nil, fmt.Errorf("rate limit %q: limit %d is not valid", name, i+1)
		}
		if seen[l] {
			return nil, fmt.Errorf("rate limit %q: limit %q is listed twice", name, l)
		}
		seen[l] = true
		id := name
		if len(limits) > 1 {
			id = name + ":" + l.String()
		}
		item := sfString(id)
		p.items = append(p.items, item)
		if len(pol) > 0 {
			pol = append(pol, ", "...)
		}
		pol = append(pol, item...)
		pol = append(pol, ";q="...)
		pol = strconv.AppendInt(pol, l.Count, 10)
		pol = append(pol, ";w="...)
		pol = strconv.AppendInt(pol, int64(l.Period.Seconds()), 10)
		if l.Algorithm == GCRA {
			// Vendor parameter, as the draft asks for implementation-specific ones.
			pol = append(pol, ";rampart-burst="...)
			pol = strconv.AppendInt(pol, l.Burst, 10)
		}
	}
	p.policy = string(pol)
	return p, nil
}

// sfString quotes s as an RFC 8941 sf-string: printable ASCII only, with " and
// \ escaped. Policy names come from config; anything else is replaced by "_".
func sfString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			b.WriteByte('_')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Config is one entry of rate_limits: in the config file: a named policy
// that routes list under rate_limit.
type Config struct {
	Name string `yaml:"-"` // the entry's name, in RateLimit-Policy and metrics
	// Key is what requests are counted by: client_ip, principal, api_key,
	// route, header:NAME or claim:NAME, or several joined with "+" (such as
	// principal+route); required.
	Key string `yaml:"key" conf:"required"`
	// Limits are rate strings, all enforced together: "10/s burst 20" (GCRA,
	// as nginx's limit_req), "200/day" or "50 per hour" (a fixed window, as
	// Flask-Limiter); required, at most 8.
	Limits []string `yaml:"limits" conf:"required"`
	// Concurrency caps the requests in flight per key; 0 means no cap.
	Concurrency int `yaml:"concurrency" conf:"min=0"`
}

// Validate checks the key and the rate strings, so that the config loader
// reports them at load. Problems are *conf.FieldError.
func (c *Config) Validate() []error {
	var errs []error
	if _, err := ParseKey(c.Key, nil); err != nil {
		errs = append(errs, conf.Badf("key", "%v", err))
	}
	if len(c.Limits) > MaxLimits {
		errs = append(errs, conf.Errorf("limits", "must list at most %d limits, got %d", MaxLimits, len(c.Limits)))
	}
	seen := map[Limit]bool{}
	for i, s := range c.Limits {
		l, err := Parse(s)
		switch {
		case err != nil:
			errs = append(errs, &conf.FieldError{Field: "limits", Index: i, Msg: err.Error()})
		case seen[l]:
			errs = append(errs, &conf.FieldError{Field: "limits", Index: i, Msg: fmt.Sprintf("limit %q is listed twice", l)})
		}
		seen[l] = true
	}
	return errs
}

// policy compiles c; apiKeyAuthenticators are as for ParseKey.
func (c *Config) policy(apiKeyAuthenticators []string) (*Policy, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("rate limit %q: %w", c.Name, errors.Join(errs...))
	}
	key, err := ParseKey(c.Key, apiKeyAuthenticators)
	if err != nil {
		return nil, err
	}
	limits := make([]Limit, len(c.Limits))
	for i, s := range c.Limits {
		limits[i], _ = Parse(s) // checked by Validate
	}
	return NewPolicy(c.Name, key, limits, c.Concurrency)
}

// Deps are a route's rate limiting collaborators.
type Deps struct {
	Limiter  Limiter
	Observer pipeline.Observer
	// APIKeyAuthenticators name the authenticators whose principals are API
	// keys (see ParseKey).
	APIKeyAuthenticators []string
	Options
}

// New enforces one route's policies, in order (see Middleware).
func New(cfgs []*Config, deps Deps) (pipeline.Middleware, error) {
	ps := make([]*Policy, len(cfgs))
	for i, c := range cfgs {
		p, err := c.policy(deps.APIKeyAuthenticators)
		if err != nil {
			return nil, err
		}
		ps[i] = p
	}
	return Middleware(ps, deps.Limiter, deps.Observer, deps.Options), nil
}
