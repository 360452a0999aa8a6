package openapi

import (
	"strings"
)

// paramStyles lists the styles Rampart reads, per location and kind of
// value (OpenAPI 3.1 §4.8.12.4, "Style Values"). Anything else is refused
// at load: a style read differently from the client would be enforced on
// the wrong value.
var paramStyles = map[string]bool{
	"path/simple": true, "path/label": true,
	"query/form": true, "query/spaceDelimited": true, "query/pipeDelimited": true, "query/deepObject": true,
	"header/simple": true, "cookie/form": true,
}

// paramKinds decides how a parameter's value is read: a scalar, an array
// of items, an object of name/value pairs, or (deepObject) bracketed names
// rendered as the schema describes.
func (l *loader) paramKinds(p *param, at loc) {
	if ae := at.n.get("allowEmptyValue"); ae != nil && ae.kind == kBool && p.in == "query" {
		p.allowEmpty = ae.s == "true"
	}
	if p.json || p.s == nil {
		return
	}
	switch {
	case p.in == "path" && p.style == "matrix":
		l.errorf(at, "parameter %q: style matrix puts ';' in the path, which the gateway refuses before routing (path-parameter); use simple or label", p.name)
		return
	case !paramStyles[p.in+"/"+p.style]:
		l.errorf(at, "parameter %q: style %q is not supported in %s", p.name, p.style, p.in)
		return
	}
	if p.style == "deepObject" {
		p.kind, p.views = pDeep, []*schema{p.s}
		return
	}
	pt := possibleTypes(p.s)
	switch {
	case pt != tAll && pt&tArr != 0:
		p.kind = pArray
		p.scalar = possibleTypes(itemsOf(p.s))
		if pt&tObj != 0 {
			l.errorf(at, "parameter %q may be an array or an object; Rampart cannot tell how to read it", p.name)
		}
	case pt != tAll && pt&tObj != 0:
		if p.style != "form" && p.style != "simple" || p.in == "cookie" && p.explode {
			l.errorf(at, "object parameter %q: style %q with explode %v is not supported in %s", p.name, p.style, p.explode, p.in)
			return
		}
		p.kind = pObject
		p.scalar = pt
		p.propTypes = map[string]typeMask{}
		p.open = true
		for _, x := range collect(p.s) {
			for _, pr := range x.props {
				p.propTypes[pr.name] |= possibleTypes(pr.s)
			}
			if x.closed && x.addl == nil {
				p.open = false
			}
			if x.addl != nil {
				p.addlTypes |= possibleTypes(x.addl)
			}
		}
		if p.addlTypes == 0 {
			p.addlTypes = tStr // undeclared: the unknown-property rule decides
		}
	default:
		p.kind = pScalar
		p.scalar = pt
	}
	if p.kind != pArray && (p.style == "spaceDelimited" || p.style == "pipeDelimited") {
		l.errorf(at, "parameter %q: style %q applies to arrays only", p.name, p.style)
	}
}

// separator is the item separator of a non-exploded array or object value.
func separator(style string) string {
	switch style {
	case "spaceDelimited":
		return " "
	case "pipeDelimited":
		return "|"
	}
	return ","
}

// formFields compiles the top-level properties of a form or multipart body
// with their encoding (OpenAPI 3.1 §4.8.15: style, explode). Stripe's
// documents declare style deepObject for every object and array property.
func (l *loader) formFields(m *media, at loc) {
	m.fields = map[string]*formField{}
	for _, x := range collect(m.s) {
		for _, p := range x.props {
			f := m.fields[p.name]
			if f == nil {
				f = &formField{}
				m.fields[p.name] = f
			}
			f.views = append(f.views, p.s)
			pt := possibleTypes(p.s)
			f.scalar |= pt
			if pt != tAll && pt&tArr != 0 {
				f.array, f.scalar = true, possibleTypes(itemsOf(p.s))
			}
		}
	}
	enc := at.at("encoding")
	if enc.n == nil || enc.n.kind != kMap {
		return
	}
	for i, name := range enc.n.keys {
		el := loc{enc.src, enc.ptr + "/" + ptrToken(name), enc.n.vals[i]}
		f := m.fields[name]
		if f == nil || el.n.kind != kMap {
			continue // encoding of an undeclared property: nothing to read
		}
		style, explode := "form", true
		if st := el.n.get("style"); st != nil && st.kind == kStr {
			style = st.s
			explode = style == "form"
		}
		if ex := el.n.get("explode"); ex != nil && ex.kind == kBool {
			explode = ex.s == "true"
		}
		switch {
		case style == "deepObject":
			f.deep = true
		case style == "form" && explode:
		case f.array && !explode && (style == "form" || style == "spaceDelimited" || style == "pipeDelimited"):
			f.sep = separator(style)
		default:
			l.errorf(el, "form field %q: encoding style %q with explode %v is not supported", name, style, explode)
		}
	}
}

// deepField splits a bracketed form or query name ("card[number]") into
// its base name and the bracketed rest.
func deepField(key string) (name, rest string) {
	if i := strings.IndexByte(key, '['); i > 0 {
		return key[:i], key[i:]
	}
	return key, ""
}
