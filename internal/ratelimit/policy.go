package ratelimit

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/config"
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

// Compile compiles every rate_limits entry of cfg. Problems are returned as
// config.Errors placed at the offending value (a bad rate string at its own
// LimitsPos), all at once.
func Compile(cfg *config.Config) (map[string]*Policy, error) {
	var apiKey []string
	for name, a := range cfg.Authenticators {
		if a.Type == "api_key" {
			apiKey = append(apiKey, name)
		}
	}
	sort.Strings(apiKey)
	names := make([]string, 0, len(cfg.RateLimits))
	for name := range cfg.RateLimits {
		names = append(names, name)
	}
	sort.Strings(names)
	out := map[string]*Policy{}
	var errs config.Errors
	at := func(pos config.Pos, format string, args ...any) {
		errs = append(errs, &config.Error{File: cfg.File, Line: max(pos.Line, 1), Col: max(pos.Col, 1), Msg: fmt.Sprintf(format, args...)})
	}
	for _, name := range names {
		rl := cfg.RateLimits[name]
		key, err := ParseKey(rl.Key, apiKey)
		if err != nil {
			at(rl.Pos, "rate limit %q: %v", name, err)
			continue
		}
		limits := make([]Limit, 0, len(rl.Limits))
		bad := false
		for i, s := range rl.Limits {
			pos := rl.Pos
			if i < len(rl.LimitsPos) {
				pos = rl.LimitsPos[i]
			}
			l, err := Parse(s)
			if err != nil {
				at(pos, "rate limit %q: %v", name, err)
				bad = true
				continue
			}
			limits = append(limits, l)
		}
		if bad {
			continue
		}
		p, err := NewPolicy(name, key, limits, rl.Concurrency)
		if err != nil {
			at(rl.Pos, "%v", err)
			continue
		}
		out[name] = p
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool {
			if errs[i].Line != errs[j].Line {
				return errs[i].Line < errs[j].Line
			}
			return errs[i].Col < errs[j].Col
		})
		return nil, errs
	}
	return out, nil
}
