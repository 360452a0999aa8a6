package authz

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// TypeObjectNotOwned is the 403 of an ownership rule (require.match) that
// does not hold: the caller asked for an object bound to someone else
// (OWASP API1, broken object-level authorization).
const TypeObjectNotOwned = "object-not-owned"

// Match is one ownership rule: a request value (exactly one of path, query,
// header) must equal a value of the principal (claim).
type Match struct {
	// Path names a parameter of the route's path template ({username}); its
	// value is percent-decoded once, and a value whose escapes are invalid
	// or that decodes to a "/" never matches.
	Path string `yaml:"path"`
	// Query names a query parameter; it must appear once, and its value is
	// decoded as a form value ("+" is a space).
	Query string `yaml:"query"`
	// Header names a request header; it must appear once, and its value is
	// compared as sent.
	Header string `yaml:"header"`
	// Claim is the principal value the request value must equal: a claim
	// (a dotted path, as in claims) that is a string or an integer; sub is
	// the principal's subject.
	Claim string `yaml:"claim" conf:"required"`
}

// problem says why m cannot be meant ("" if it can): it needs exactly one
// request value and a claim.
func (m Match) problem() string {
	n := 0
	for _, s := range []string{m.Path, m.Query, m.Header} {
		if s != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return "a match rule needs exactly one request value to compare: path, query or header"
	case m.Claim == "":
		return "a match rule needs the claim its request value must equal"
	}
	return ""
}

// source names the request value of m, for refusals and the audit log.
func (m Match) source() (kind, name string) {
	switch {
	case m.Path != "":
		return "path", m.Path
	case m.Query != "":
		return "query", m.Query
	}
	return "header", m.Header
}

// CheckMatch decides the ownership rules of req for the request r made by
// p: nil when every rule holds or p holds a bypass role. Values are
// compared byte for byte, with no case folding or Unicode normalization; a
// missing or repeated request value, or a missing claim, is a refusal.
func CheckMatch(r *http.Request, info *pipeline.Info, p *pipeline.Principal, req Require) *pipeline.Rejection {
	if len(req.Match) == 0 || p == nil {
		return nil
	}
	if slices.ContainsFunc(req.MatchBypassRoles, func(role string) bool { return slices.Contains(p.Roles, role) }) {
		return nil
	}
	for i := range req.Match {
		m := &req.Match[i]
		if !matches(r, info, p, m) {
			kind, name := m.source()
			return &pipeline.Rejection{Status: http.StatusForbidden, Type: TypeObjectNotOwned,
				Detail: "The requested object does not belong to the caller.",
				Err:    fmt.Errorf("authz: %s value %q does not equal claim %q", kind, name, m.Claim)}
		}
	}
	return nil
}

func matches(r *http.Request, info *pipeline.Info, p *pipeline.Principal, m *Match) bool {
	want, ok := principalValue(p, m.Claim)
	if !ok {
		return false
	}
	switch {
	case m.Path != "":
		if info == nil {
			return false
		}
		v, ok := info.Params.Get(m.Path)
		return ok && equalDecoded(v, want, false)
	case m.Query != "":
		return queryEquals(r.URL.RawQuery, m.Query, want)
	}
	vs := r.Header[textproto.CanonicalMIMEHeaderKey(m.Header)]
	return len(vs) == 1 && vs[0] == want
}

// principalValue is the claim named path as a string: sub is the subject,
// a number claim counts when it is an integer (its decimal spelling). Other
// types (lists, objects, booleans) never match.
func principalValue(p *pipeline.Principal, path string) (string, bool) {
	if path == "sub" && p.Subject != "" {
		return p.Subject, true
	}
	v, ok := auth.ClaimPath(p.Claims, path)
	if !ok {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, v != ""
	case float64:
		if v != float64(int64(v)) {
			return "", false
		}
		return strconv.FormatInt(int64(v), 10), true
	}
	return "", false
}

// queryEquals reports whether the query parameter name appears exactly once
// in raw and its decoded value equals want. Keys are compared decoded too.
func queryEquals(raw, name, want string) bool {
	found := false
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		key, val, _ := strings.Cut(pair, "=")
		if !equalDecoded(key, name, true) {
			continue
		}
		if found {
			return false // repeated: the upstream may read the other one
		}
		found = true
		if !equalDecoded(val, want, true) {
			return false
		}
	}
	return found
}

// equalDecoded reports whether s, percent-decoded once ("+" as a space when
// plus), equals want, without allocating. Invalid escapes and decoded "/"
// never match.
func equalDecoded(s, want string, plus bool) bool {
	j := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return false
			}
			c = hi<<4 | lo
			i += 2
		case c == '+' && plus:
			c = ' '
		}
		if c == '/' || j >= len(want) || want[j] != c {
			return false
		}
		j++
	}
	return j == len(want)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
