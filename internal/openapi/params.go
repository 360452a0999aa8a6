package openapi

import (
	"mime"
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
// with their encoding (OpenAPI 3.1 §4.8.15: style, explode, contentType,
// headers). Stripe's documents declare style deepObject for every object
// and array property; OpenAI's declare contentType for multipart parts.
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
		st, ex := el.n.get("style"), el.n.get("explode")
		if st != nil && st.kind == kStr {
			style = st.s
			explode = style == "form"
		}
		if ex != nil && ex.kind == kBool {
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
		f.jsonOK = !f.deep && f.sep == "" && f.scalar&^tStr != 0
		// An explicit style (3.1.1: or explode) means contentType "SHALL be
		// ignored" (OpenAPI 3.1, Encoding Object), in either media type.
		if ct := el.n.get("contentType"); ct != nil && ct.kind == kStr && st == nil && ex == nil {
			l.partTypes(f, name, loc{el.src, el.ptr + "/contentType", ct}, m.kind)
		}
		if m.kind == mMultipart {
			l.partHeaders(name, el.at("headers"))
		}
	}
}

// partTypes compiles an encoding's contentType: a comma-separated list of
// media types or ranges ("image/png, image/jpeg", "image/*").
//
// In multipart/form-data each part carries its own Content-Type (RFC 7578
// §4.4; text/plain when absent), which must match one of them; a part of a
// JSON type is parsed as JSON and validated against the property's schema.
//
// In application/x-www-form-urlencoded there is no per-value header (and
// headers are multipart-only); OpenAPI 3.1.1 ("Encoding the
// x-www-form-urlencoded Media Type") reads an explicit contentType as the
// serialization of the value before percent-encoding. A JSON type
// therefore makes the value JSON text; any other type leaves it the text
// the field carries, validated as a string, as without contentType. A list mixing JSON and other types cannot say how
// to read a value and is refused.
func (l *loader) partTypes(f *formField, name string, at loc, kind mediaKind) {
	var hasJSON, hasOther bool
	for _, r := range strings.Split(at.n.s, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(r))
		if err != nil || strings.Count(mt, "/") != 1 || strings.HasPrefix(mt, "*/") && mt != "*/*" {
			l.errorf(at, "form field %q: encoding contentType %q is not a list of media types", name, at.n.s)
			return
		}
		pt := partType{typ: mt, json: isJSONType(mt)}
		hasJSON, hasOther = hasJSON || pt.json, hasOther || !pt.json
		f.ctypes = append(f.ctypes, pt)
	}
	f.accept = at.n.s
	if kind != mMultipart {
		f.ctypes = nil
		switch {
		case !hasJSON:
		case hasOther:
			l.errorf(at, "form field %q: encoding contentType %q mixes JSON and other types; a form value cannot say which it is", name, at.n.s)
		default:
			f.json = f.jsonOK
		}
	}
}

// isJSONType reports whether a media type (not a range) is JSON.
func isJSONType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json") && !strings.HasPrefix(mt, "*/")
}

// partHeaders refuses an encoding's headers (multipart part headers other
// than Content-Type, which OpenAPI says is ignored there): Rampart does not
// enforce them, so a document that declares them is refused rather than
// enforced less than it says.
func (l *loader) partHeaders(name string, at loc) {
	if at.n == nil || at.n.kind != kMap {
		return
	}
	for i, h := range at.n.keys {
		if strings.EqualFold(h, "Content-Type") {
			continue
		}
		l.errorf(loc{at.src, at.ptr + "/" + ptrToken(h), at.n.vals[i]},
			"form field %q: encoding header %q (multipart part headers) is not enforced by Rampart", name, h)
	}
}

// match returns the media range of the field's contentType that a part's
// media type (lower case, without parameters) matches.
func (f *formField) match(mt string) (partType, bool) {
	for _, r := range f.ctypes {
		switch {
		case r.typ == "*/*", r.typ == mt:
			return r, true
		case strings.HasSuffix(r.typ, "/*") && strings.HasPrefix(mt, r.typ[:len(r.typ)-1]):
			return r, true
		}
	}
	return partType{}, false
}

// deepField splits a bracketed form or query name ("card[number]") into
// its base name and the bracketed rest.
func deepField(key string) (name, rest string) {
	if i := strings.IndexByte(key, '['); i > 0 {
		return key[:i], key[i:]
	}
	return key, ""
}
