package config

import (
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v4"
)

// validName reports whether s can name an upstream, authenticator, rate limit, CORS
// policy, OpenAPI document or route: 1-64 letters, digits, "_", "-" or ".", not
// starting with "-" or ".". Names appear in logs and metrics, so they stay plain.
func validName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// definitions returns the valid-named entries of the named-definition mapping at key.
// kind is the singular noun used in messages ("upstream").
func (p *parser) definitions(top *fields, key, kind string) []kv {
	n := top.vals[key]
	if n == nil {
		return nil
	}
	es, ok := p.entries(n, key)
	if !ok {
		return nil
	}
	out := es[:0]
	for _, e := range es {
		if !validName(e.name) {
			p.errAt(e.key, `%s name %s must be 1-64 letters, digits, "_", "-" or "." (not starting with "-" or ".")`, kind, quoteTrunc(e.name))
			continue
		}
		p.record(join(key, e.name), e.key)
		out = append(out, e)
	}
	return out
}

// decodeDefinitions decodes the named definitions under key into a control's
// config type T (which has a Name, set to the entry's name).
func decodeDefinitions[T any](p *parser, top *fields, key, kind string) map[string]*T {
	out := map[string]*T{}
	for _, e := range p.definitions(top, key, kind) {
		v := new(T)
		reflect.ValueOf(v).Elem().FieldByName("Name").SetString(e.name)
		out[e.name] = v
		p.decode(p.fields(e.val, e.key, fmt.Sprintf("%s %q", kind, e.name), join(key, e.name), keysOf[T]()), v)
	}
	return out
}

// targets reads a list of upstream target URLs (see targetURL).
func (p *parser) targets(f *fields, key string) ([]*url.URL, bool) {
	vs, ok := f.nonEmptyStrList(key, false)
	ok = ok && len(vs) == len(f.vals[key].Content)
	var out []*url.URL
	seen := map[string]*yaml.Node{}
	for _, v := range vs {
		t, prob := targetURL(v.s)
		if prob != "" {
			// The value is not shown: a malformed URL may carry credentials.
			p.errAt(v.node, "%s: target %s", f.ctx, prob)
			ok = false
			continue
		}
		if first, dup := seen[t.String()]; dup {
			p.errAt(v.node, "%s: %s lists %s twice (first at line %d)", f.ctx, key, v.show(), first.Line)
			ok = false
			continue
		}
		seen[t.String()] = v.node
		out = append(out, t)
	}
	return out, ok
}

// targetURL parses an upstream target: an absolute http:// or https:// URL with a host,
// no credentials, query or fragment, and an empty or "/" path.
func targetURL(s string) (*url.URL, string) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Opaque != "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, "must be an absolute http:// or https:// URL, such as http://127.0.0.1:8000"
	}
	if u.User != nil {
		return nil, "must not contain credentials (user:password@)"
	}
	if u.Host == "" || !validIPOrHostname(u.Hostname()) {
		return nil, "must have a valid host"
	}
	if port := u.Port(); port != "" && !validPort(port, false) {
		return nil, "must have a port between 1 and 65535"
	}
	if u.RawQuery != "" || u.ForceQuery {
		return nil, "must not have a query (?...)"
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return nil, "must not have a fragment (#...)"
	}
	if u.Path != "" && u.Path != "/" {
		return nil, "has a path, but path prefixes are not supported yet: use the upstream's root URL, such as http://127.0.0.1:8000"
	}
	return u, ""
}

func (p *parser) authenticators(top *fields) map[string]*Authenticator {
	out := map[string]*Authenticator{}
	for _, e := range p.definitions(top, "authenticators", "authenticator") {
		if e.name == AuthNone {
			p.errAt(e.key, `authenticator name "none" is reserved: routes write auth: none for public routes`)
			continue
		}
		a := &Authenticator{}
		out[e.name] = a
		p.authenticator(e.name, a, p.fields(e.val, e.key, fmt.Sprintf("authenticator %q", e.name), join("authenticators", e.name), authKeys))
	}
	return out
}

// authenticator reads one entry of authenticators: into the variant its type
// selects (the field of Authenticator tagged union:"TYPE"; each variant has a
// Name). Keys of the other types are refused first.
func (p *parser) authenticator(name string, a *Authenticator, f *fields) {
	v, ok := f.reqStr("type")
	if !ok || !p.oneOf(f, "type", v, authTypes...) {
		return
	}
	a.Type = v.s
	own := authTypeKeys[a.Type]
	for k, kn := range f.keys {
		if k != "type" && !contains(own, k) {
			p.errAt(kn, "%s: %q is not a%s %s field (%s fields: type, %s)", f.ctx, k, article(a.Type), a.Type, a.Type, strings.Join(own, ", "))
			delete(f.vals, k)
			delete(f.keys, k)
		}
	}
	rv := reflect.ValueOf(a).Elem()
	for i := range rv.NumField() {
		if rv.Type().Field(i).Tag.Get("union") == a.Type {
			variant := reflect.New(rv.Type().Field(i).Type.Elem())
			variant.Elem().FieldByName("Name").SetString(name)
			rv.Field(i).Set(variant)
			p.decode(f, variant.Interface())
		}
	}
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "n"
	}
	return ""
}

// nameSet is the defined names of one kind of definition, for checking references.
type nameSet struct {
	kind    string // "upstream", as the reference is named in messages
	section string // "upstreams", the section defining them
	sorted  []string
	has     map[string]bool
}

func newNameSet[T any](kind, section string, m map[string]T) *nameSet {
	ns := &nameSet{kind: kind, section: section, has: make(map[string]bool, len(m))}
	for k := range m {
		ns.sorted = append(ns.sorted, k)
		ns.has[k] = true
	}
	sort.Strings(ns.sorted)
	return ns
}

// list renders the names for a message, at most 10 of them.
func (ns *nameSet) list() string {
	const most = 10
	if len(ns.sorted) <= most {
		return strings.Join(ns.sorted, ", ")
	}
	return fmt.Sprintf("%s, ... (%d in all)", strings.Join(ns.sorted[:most], ", "), len(ns.sorted))
}
