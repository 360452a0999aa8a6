package authz

import (
	"fmt"
	"math"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/openapi/strictjson"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/spool"
)

// TypeObjectNotOwned is the 403 of an ownership rule (require.match) that
// does not hold: the caller asked for an object bound to someone else
// (OWASP API1, broken object-level authorization).
const TypeObjectNotOwned = "object-not-owned"

// Match is one ownership rule: a request value (exactly one of path, query,
// header, json) must equal a value of the principal (claim).
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
	// JSON is an RFC 6901 pointer (/owner_id) into the request's JSON body,
	// read once the body is buffered (the route must buffer its requests);
	// a string is compared unescaped, a number as written. A body that is
	// not strict JSON (duplicate keys, say) never matches.
	JSON string `yaml:"json"`
	// Claim is the principal value the request value must equal: a claim
	// (a dotted path, as in claims) that is a string or an integer; sub is
	// the principal's subject.
	Claim string `yaml:"claim" conf:"required"`
}

// problem says why m cannot be meant ("" if it can): it needs exactly one
// request value and a claim.
func (m Match) problem() string {
	n := 0
	for _, s := range []string{m.Path, m.Query, m.Header, m.JSON} {
		if s != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return "a match rule needs exactly one request value to compare: path, query, header or json"
	case m.JSON != "" && !validPointer(m.JSON):
		return fmt.Sprintf("json %q is not a JSON pointer (/name/0/sub, with ~0 for ~ and ~1 for /)", m.JSON)
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
	case m.JSON != "":
		return "json", m.JSON
	}
	return "header", m.Header
}

// CheckMatch decides the ownership rules of req for the request r made by
// p: nil when every rule holds or p holds a bypass role. Values are
// compared byte for byte, with no case folding or Unicode normalization; a
// missing or repeated request value, or a missing claim, is a refusal.
//
// Rules on the JSON body are not checked here: the body is not read yet
// when the route's require is (see CheckBodyMatch).
func CheckMatch(r *http.Request, info *pipeline.Info, p *pipeline.Principal, req Require) *pipeline.Rejection {
	if len(req.Match) == 0 || p == nil || bypassed(p, req) {
		return nil
	}
	for i := range req.Match {
		if m := &req.Match[i]; m.JSON == "" && !matches(r, info, p, m) {
			return notOwned(m)
		}
	}
	return nil
}

// BodyRules reports whether req has rules on the JSON body.
func BodyRules(req Require) bool {
	return slices.ContainsFunc(req.Match, func(m Match) bool { return m.JSON != "" })
}

// CheckBodyMatch decides the json rules of req on the buffered body of r
// (read through r.GetBody, so r.Body is left for the next step): nil when
// they hold or p holds a bypass role. A request without a body, or whose
// body is not strict JSON (package strictjson: duplicate keys, invalid
// UTF-8...), is refused like a missing value.
func CheckBodyMatch(r *http.Request, p *pipeline.Principal, req Require) *pipeline.Rejection {
	if !BodyRules(req) || p == nil || bypassed(p, req) {
		return nil
	}
	var doc *strictjson.Doc
	if data, ok := bufferedBody(r); ok {
		doc, _ = strictjson.Parse(data, strictjson.Options{})
	}
	for i := range req.Match {
		m := &req.Match[i]
		if m.JSON == "" {
			continue
		}
		want, ok := principalValue(p, m.Claim)
		if doc == nil || !ok || !jsonEquals(doc.Root(), m.JSON, want) {
			return notOwned(m)
		}
	}
	return nil
}

// bufferedBody is the gateway's in-memory buffer of r's body (the body step
// keeps bodies of routes with JSON rules in memory, within the body
// budget), read without a copy; ok is false when there is none.
func bufferedBody(r *http.Request) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	if sr, ok := r.Body.(*spool.Reader); ok {
		return sr.Buffer().Bytes()
	}
	return nil, false
}

func bypassed(p *pipeline.Principal, req Require) bool {
	return slices.ContainsFunc(req.MatchBypassRoles, func(role string) bool { return slices.Contains(p.Roles, role) })
}

func notOwned(m *Match) *pipeline.Rejection {
	kind, name := m.source()
	return &pipeline.Rejection{Status: http.StatusForbidden, Type: TypeObjectNotOwned,
		Detail: "The requested object does not belong to the caller.",
		Err:    fmt.Errorf("authz: %s value %q does not equal claim %q", kind, name, m.Claim)}
}

// jsonEquals reports whether the value at pointer in v is the string want
// (unescaped) or a number written as want.
func jsonEquals(v strictjson.Value, pointer, want string) bool {
	for rest := pointer; rest != ""; {
		var tok string
		tok, rest, _ = strings.Cut(rest[1:], "/")
		if rest != "" {
			rest = "/" + rest
		}
		if strings.Contains(tok, "~") {
			tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		}
		switch v.Kind() {
		case strictjson.Object:
			v = member(v, tok)
		case strictjson.Array:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || strconv.Itoa(i) != tok {
				return false
			}
			v = element(v, i)
		default:
			return false
		}
		if !v.Valid() {
			return false
		}
	}
	switch v.Kind() {
	case strictjson.String:
		return string(v.Bytes()) == want
	case strictjson.Number:
		return string(v.Raw()) == want
	}
	return false
}

func member(obj strictjson.Value, key string) strictjson.Value {
	m := obj.First()
	for m.Valid() && string(m.Key()) != key {
		m = m.Next()
	}
	return m
}

func element(arr strictjson.Value, i int) strictjson.Value {
	e := arr.First()
	for ; e.Valid() && i > 0; i-- {
		e = e.Next()
	}
	return e
}

// validPointer reports whether s is an RFC 6901 pointer to a member of the
// document (not the whole document: "" is refused).
func validPointer(s string) bool {
	if !strings.HasPrefix(s, "/") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '~' && (i+1 == len(s) || s[i+1] != '0' && s[i+1] != '1') {
			return false
		}
	}
	return true
}

func matches(r *http.Request, info *pipeline.Info, p *pipeline.Principal, m *Match) bool {
	var buf [24]byte
	if want, ok := principalString(p, m.Claim); ok {
		return requestEquals(r, info, m, want)
	} else if num, ok := principalInt(p, m.Claim, buf[:0]); ok {
		return requestEquals(r, info, m, num) // no string made: nothing allocated
	}
	return false
}

// requestEquals compares the request value of m (not a json one) with want.
func requestEquals[T string | []byte](r *http.Request, info *pipeline.Info, m *Match, want T) bool {
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
	return len(vs) == 1 && equal(vs[0], want)
}

// equal reports whether s and want hold the same bytes.
func equal[T string | []byte](s string, want T) bool {
	if len(s) != len(want) {
		return false
	}
	for i := range len(s) {
		if s[i] != want[i] {
			return false
		}
	}
	return true
}

// principalValue is the claim named path as a string: sub is the subject,
// a number claim counts when it is an integer (its decimal spelling). Other
// types (lists, objects, booleans) never match.
func principalValue(p *pipeline.Principal, path string) (string, bool) {
	if s, ok := principalString(p, path); ok {
		return s, true
	}
	var buf [24]byte
	num, ok := principalInt(p, path, buf[:0])
	return string(num), ok
}

// principalString is a string claim (sub: the subject), if not empty.
func principalString(p *pipeline.Principal, path string) (string, bool) {
	if path == "sub" && p.Subject != "" {
		return p.Subject, true
	}
	v, _ := auth.ClaimPath(p.Claims, path)
	s, ok := v.(string)
	return s, ok && s != ""
}

// principalInt appends the decimal spelling of an integer number claim to
// buf.
func principalInt(p *pipeline.Principal, path string, buf []byte) ([]byte, bool) {
	v, _ := auth.ClaimPath(p.Claims, path)
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return nil, false
	}
	return strconv.AppendInt(buf, int64(f), 10), true
}

// queryEquals reports whether the query parameter name appears exactly once
// in raw and its decoded value equals want. Keys are compared decoded too.
func queryEquals[T string | []byte](raw, name string, want T) bool {
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
func equalDecoded[T string | []byte](s string, want T, plus bool) bool {
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
