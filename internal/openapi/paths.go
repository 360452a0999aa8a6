package openapi

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/rampart-gw/rampart/internal/route"
)

// pathKey is an OpenAPI path key ("/files/{id}/thumbnail.{ext}",
// "/responses?beta=true") split into what Rampart routes on: a route
// template whose parameters are whole segments, the text around each
// parameter inside its segment, and the constant query a key may carry.
type pathKey struct {
	template string      // base path + path, each parameter segment as {name}
	shape    string      // template with parameter segments erased: paths that route alike
	text     string      // template with parameter names erased, and the query: keys that match alike
	segs     []pathSeg   // the parameter segments, in order
	query    [][2]string // "?beta=true": name and value every request must carry
}

// pathSeg is one parameter segment: prefix{name}suffix, with prefix and
// suffix in the canonical form of request paths.
type pathSeg struct {
	name           string
	prefix, suffix string
}

// parsePathKey reads a path key. Frameworks put text around a parameter
// inside one segment (FastAPI and Django "/{name}.json", Google-style
// "/items/{id}:archive"); two parameters in one segment cannot be split
// reliably ("{a}.{b}" with a dot in a) and are refused.
func parsePathKey(base, key string) (pathKey, string) {
	var pk pathKey
	path, rawQuery, hasQuery := strings.Cut(key, "?")
	if hasQuery {
		for _, pair := range strings.Split(rawQuery, "&") {
			k, v, _ := strings.Cut(pair, "=")
			name, err1 := url.QueryUnescape(k)
			val, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil || name == "" {
				return pk, fmt.Sprintf("the query %q of the path key is malformed", rawQuery)
			}
			pk.query = append(pk.query, [2]string{name, val})
		}
	}
	var t, shape, text strings.Builder
	t.WriteString(base)
	shape.WriteString(base)
	text.WriteString(base)
	for _, seg := range strings.Split(path[1:], "/") {
		t.WriteByte('/')
		shape.WriteByte('/')
		text.WriteByte('/')
		if !strings.ContainsAny(seg, "{}") {
			lit, err := url.PathUnescape(seg)
			if err != nil {
				return pk, fmt.Sprintf("segment %q has a malformed percent-escape", seg)
			}
			t.WriteString(canonicalSegment(lit))
			shape.WriteString(canonicalSegment(lit))
			text.WriteString(canonicalSegment(lit))
			continue
		}
		open, end := strings.IndexByte(seg, '{'), strings.IndexByte(seg, '}')
		if strings.Count(seg, "{") != 1 || strings.Count(seg, "}") != 1 || end < open+2 {
			return pk, fmt.Sprintf("segment %q must hold exactly one {parameter}; Rampart cannot tell where two parameters in one segment divide", seg)
		}
		prefix, err1 := url.PathUnescape(seg[:open])
		suffix, err2 := url.PathUnescape(seg[end+1:])
		if err1 != nil || err2 != nil {
			return pk, fmt.Sprintf("segment %q has a malformed percent-escape", seg)
		}
		ps := pathSeg{name: seg[open+1 : end], prefix: canonicalSegment(prefix), suffix: canonicalSegment(suffix)}
		pk.segs = append(pk.segs, ps)
		t.WriteString("{" + ps.name + "}")
		shape.WriteString("{}")
		text.WriteString(ps.prefix + "{}" + ps.suffix)
	}
	if hasQuery {
		text.WriteString("?" + rawQuery)
	}
	pk.template, pk.shape, pk.text = t.String(), shape.String(), text.String()
	return pk, ""
}

// specificity orders the operations that share a route: constant queries
// first, then the most literal text around parameters.
func (pk *pathKey) specificity() int {
	n := 1000 * len(pk.query)
	for _, s := range pk.segs {
		n += len(s.prefix) + len(s.suffix)
	}
	return n
}

// overlaps reports whether one request could match both keys.
func (pk *pathKey) overlaps(o *pathKey) bool {
	for i, s := range pk.segs {
		t := o.segs[i]
		if !strings.HasPrefix(s.prefix, t.prefix) && !strings.HasPrefix(t.prefix, s.prefix) ||
			!strings.HasSuffix(s.suffix, t.suffix) && !strings.HasSuffix(t.suffix, s.suffix) {
			return false
		}
	}
	for _, q := range pk.query {
		for _, r := range o.query {
			if q[0] == r[0] && q[1] != r[1] {
				return false
			}
		}
	}
	return true
}

// sameText reports whether the keys differ at most in parameter names.
func (pk *pathKey) sameText(o *pathKey) bool { return pk.text == o.text }

// match fills vals (parallel to pk.segs) from the router's whole-segment
// values and reports whether the segments and the constant query fit.
func (pk *pathKey) match(params *route.Params, rawQuery string, vals []string) bool {
	for i, s := range pk.segs {
		_, v := params.At(i)
		if len(v) <= len(s.prefix)+len(s.suffix) || !strings.HasPrefix(v, s.prefix) || !strings.HasSuffix(v, s.suffix) {
			return false
		}
		vals[i] = v[len(s.prefix) : len(v)-len(s.suffix)]
	}
	for _, q := range pk.query {
		if !hasQueryPair(rawQuery, q[0], q[1]) {
			return false
		}
	}
	return true
}

// hasQueryPair reports whether the raw query holds name=value.
func hasQueryPair(raw, name, value string) bool {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == name {
			if uv, err := url.QueryUnescape(v); err == nil && uv == value {
				return true
			}
		}
	}
	return false
}

// queryConst returns the value the operation's path key fixes for a query
// parameter.
func (op *operation) queryConst(name string) (string, bool) {
	for _, q := range op.key.query {
		if q[0] == name {
			return q[1], true
		}
	}
	return "", false
}

// route groups operations by method and shape: the router routes a group,
// then the request picks one of its operations (see Document.match).
func (l *loader) routeGroups(d *Document) []route.Spec {
	index := map[string]int{}
	var specs []route.Spec
	for _, op := range d.ops {
		k := op.method + " " + op.key.shape
		i, ok := index[k]
		if !ok {
			i = len(d.groups)
			index[k] = i
			d.groups = append(d.groups, nil)
			specs = append(specs, route.Spec{Methods: []string{op.method}, Path: op.key.template})
		}
		d.groups[i] = append(d.groups[i], op)
	}
	for _, g := range d.groups {
		// Most specific first; keys that differ only in names side by side.
		slices.SortStableFunc(g, func(a, b *operation) int {
			return cmp.Or(b.key.specificity()-a.key.specificity(), strings.Compare(a.key.text, b.key.text))
		})
		for i, a := range g {
			for _, b := range g[i+1:] {
				switch {
				case !a.key.overlaps(&b.key):
				case a.key.sameText(&b.key):
					if !pathsDisjoint(a, b) {
						l.errorf(loc{l.root, b.where, nil}, "%s %s is ambiguous with %s %s: the paths differ only in parameter names and their schemas do not tell the values apart (integer vs uuid, disjoint enums)", b.method, b.path, a.method, a.path)
					}
				case a.key.specificity() == b.key.specificity():
					l.errorf(loc{l.root, b.where, nil}, "%s %s is ambiguous with %s %s: one request path can match both", b.method, b.path, a.method, a.path)
				}
			}
		}
	}
	return specs
}

// pathsDisjoint reports whether some path parameter position has schemas
// no single value satisfies both of: a number against a string of a
// format numbers never have, or disjoint enums.
func pathsDisjoint(a, b *operation) bool {
	for i := range a.key.segs {
		pa, pb := a.pathParam(i), b.pathParam(i)
		if pa != nil && pb != nil && (numericVsFormatted(pa.s, pb.s) || numericVsFormatted(pb.s, pa.s) || disjointEnums(pa.s, pb.s)) {
			return true
		}
	}
	return false
}

func numericVsFormatted(num, str *schema) bool {
	if num == nil || str == nil || num.ptypes&^(tInt|tNum) != 0 || str.ptypes != tStr {
		return false
	}
	for _, x := range str.all {
		switch x.format {
		case fUUID, fDate, fDateTime, fEmail:
			return true
		}
	}
	return false
}

func disjointEnums(a, b *schema) bool {
	if a == nil || b == nil || len(a.enum) == 0 || len(b.enum) == 0 {
		return false
	}
	for _, x := range a.enum {
		for _, y := range b.enum {
			if x.s == y.s {
				return false
			}
		}
	}
	return true
}

// pathParam returns the declared parameter of the i-th path segment
// parameter, or nil.
func (op *operation) pathParam(i int) *param {
	for _, p := range op.pathP {
		if p.name == op.key.segs[i].name {
			return p
		}
	}
	return nil
}

// match finds the operation for a request: the router picks the group of
// operations with the request's method and path shape, then the first
// operation (most specific first) whose segment text and constant query
// fit; operations that differ only in parameter names are told apart by
// their path parameters' schemas. vals receives the path parameter values
// (parallel to op.key.segs).
func (e *enforcer) match(method, path, rawQuery string, vals []string) (*operation, route.Result) {
	var params route.Params
	res := e.d.router.Match("", method, path, &params)
	if res.Status != 0 {
		return nil, res
	}
	g := e.d.groups[res.Route]
	for i, op := range g {
		if !op.key.match(&params, rawQuery, vals) {
			continue
		}
		if i+1 < len(g) && op.key.sameText(&g[i+1].key) && !e.pathValid(op, vals) {
			continue
		}
		return op, res
	}
	// No operation of this method fits; one of another method may.
	var allow []string
	for _, other := range e.d.groups {
		if o := other[0]; o.key.shape == g[0].key.shape && o.method != method &&
			slices.ContainsFunc(other, func(op *operation) bool { return op.key.match(&params, rawQuery, vals) }) {
			allow = append(allow, o.method)
		}
	}
	if len(allow) > 0 {
		return nil, route.Result{Route: -1, Status: 405, Allow: strings.Join(allow, ", ")}
	}
	return nil, route.Result{Route: -1, Status: 404}
}

// pathValid reports whether the path values satisfy op's path parameters.
func (e *enforcer) pathValid(op *operation, vals []string) bool {
	st := getState()
	defer putState(st)
	st.c.reset(modeRequest, e.allowUnknown)
	e.checkPath(st, op, vals)
	return st.c.total == 0
}
