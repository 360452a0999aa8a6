package openapi

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// typeMask is a set of JSON Schema types. 0 means "any".
type typeMask uint8

const (
	tNull typeMask = 1 << iota
	tBool
	tInt
	tNum // any number, integers included
	tStr
	tArr
	tObj
	tAll = tNull | tBool | tInt | tNum | tStr | tArr | tObj
)

var typeNames = []struct {
	name string
	t    typeMask
}{{"null", tNull}, {"boolean", tBool}, {"integer", tInt}, {"number", tNum}, {"string", tStr}, {"array", tArr}, {"object", tObj}}

func (m typeMask) String() string {
	var parts []string
	for _, tn := range typeNames {
		if tn.t == tInt && m&tNum != 0 {
			continue // "number" includes integers
		}
		if m&tn.t != 0 {
			parts = append(parts, tn.name)
		}
	}
	return strings.Join(parts, " or ")
}

// schema is a compiled Schema Object. Every keyword is decoded at load; a
// nil pointer or a negative bound means "absent". Cycles ($ref to an
// enclosing schema) are pointers back up the graph.
type schema struct {
	where string // source#pointer, for messages

	always, never bool // the true and false schemas (3.1)
	nullable      bool // 3.0: null is valid whatever else the schema says

	types  typeMask
	enum   []*node
	cnst   *node
	format format

	minLen, maxLen int
	pattern        *pattern

	min, max         float64
	hasMin, hasMax   bool
	exclMin, exclMax bool
	multipleOf       float64

	items              *schema
	prefix             []*schema
	minItems, maxItems int
	unique             bool
	contains           *schema
	minContains        int
	maxContains        int

	props      []prop
	propIndex  map[string]int // when there are many properties
	required   []reqProp
	addl       *schema // additionalProperties as a schema (true → always)
	addlFalse  bool
	patProps   []patProp
	propNames  *schema
	minProps   int
	maxProps   int
	depReq     []depReq
	depSchemas []depSchema
	unevalNo   bool // unevaluatedProperties: false
	// unevaluatedProperties/unevaluatedItems (nil when absent or true):
	// what members/items no applicable schema evaluated must match.
	unevalProps, unevalItems *schema

	ref          *schema
	allOf        []*schema
	anyOf, oneOf []*schema
	not          *schema
	ifS          *schema
	thenS, elseS *schema
	disc         *discriminator

	readOnly, writeOnly bool
	recAnchor           bool      // $recursiveAnchor: true at a resource root
	ptypes              typeMask  // possibleTypes, computed by finishSchemas
	all                 []*schema // collect(s), computed by finishSchemas

	// closed: this schema declares which properties an object has
	// (properties, patternProperties or additionalProperties: false), so
	// under Rampart's unknown-field rule anything else is unknown. open: it
	// explicitly allows more (additionalProperties: true or a schema).
	closed, open bool
}

type prop struct {
	name string
	s    *schema
}

type reqProp struct {
	name                string
	readOnly, writeOnly bool // of the property declared beside it
}

type patProp struct {
	re *pattern
	s  *schema
}

type depReq struct {
	name     string
	requires []string
}

type depSchema struct {
	name string
	s    *schema
}

type discriminator struct {
	property string
	mapping  map[string]int // value → index into oneOf/anyOf
}

func newSchema(where string) *schema {
	return &schema{where: where, minLen: -1, maxLen: -1, minItems: -1, maxItems: -1,
		minContains: -1, maxContains: -1, minProps: -1, maxProps: -1}
}

// prop returns the declared property name, or nil.
func (s *schema) prop(name []byte) *schema {
	if s.propIndex != nil {
		if i, ok := s.propIndex[string(name)]; ok {
			return s.props[i].s
		}
		return nil
	}
	for i := range s.props {
		if s.props[i].name == string(name) {
			return s.props[i].s
		}
	}
	return nil
}

// flags reports readOnly/writeOnly through $ref.
func (s *schema) flags() (readOnly, writeOnly bool) {
	for i := 0; s != nil && i < 16; i++ {
		readOnly, writeOnly = readOnly || s.readOnly, writeOnly || s.writeOnly
		s = s.ref
	}
	return
}

// compileSchema compiles the schema at `at` (cached by location, so $ref
// cycles become graph cycles and each schema is compiled once).
func (l *loader) compileSchema(at loc) *schema {
	key := at.src.uri + "#" + at.ptr
	if s, ok := l.schemas[key]; ok {
		return s
	}
	s := newSchema(at.src.name + "#" + at.ptr)
	l.schemas[key] = s
	l.fillSchema(s, at)
	return s
}

func (l *loader) fillSchema(s *schema, at loc) {
	n := at.n
	switch {
	case n == nil:
		s.always = true
		return
	case n.kind == kBool && l.v31:
		s.always, s.never = n.s == "true", n.s != "true"
		return
	case n.kind != kMap:
		l.errorf(at, "a schema must be an object, not %s", n.kind)
		return
	}
	if r := n.get("$ref"); r != nil {
		if r.kind != kStr {
			l.errorf(at.at("$ref"), "$ref must be a string")
			return
		}
		target, err := l.resolveSchemaRef(at, r.s)
		if err != nil {
			l.refError(at.at("$ref"), err)
			return
		}
		s.ref = l.compileSchema(target)
		if !l.v31 {
			return // OpenAPI 3.0: siblings of $ref are ignored
		}
	}
	for i, key := range n.keys {
		v := n.vals[i]
		kat := loc{at.src, at.ptr + "/" + ptrToken(key), v}
		switch key {
		case "type":
			l.schemaType(s, kat)
		case "nullable":
			if v.kind != kBool {
				l.errorf(kat, "nullable must be a boolean")
			} else if v.s == "true" {
				s.nullable = true
			}
		case "enum":
			if v.kind != kSeq {
				l.errorf(kat, "enum must be an array")
				continue
			}
			s.enum = append(make([]*node, 0, len(v.vals)), v.vals...) // enum: [] matches nothing
		case "const":
			s.cnst = v
		case "format":
			if v.kind == kStr {
				s.format = formatNamed(v.s)
			}
		case "pattern":
			s.pattern = l.regex(kat)
		case "minLength":
			s.minLen = l.count(kat)
		case "maxLength":
			s.maxLen = l.count(kat)
		case "minimum":
			s.min, s.hasMin = l.number(kat), true
		case "maximum":
			s.max, s.hasMax = l.number(kat), true
		case "exclusiveMinimum", "exclusiveMaximum":
			l.exclusive(s, kat, key == "exclusiveMinimum")
		case "multipleOf":
			s.multipleOf = l.number(kat)
			if s.multipleOf <= 0 {
				l.errorf(kat, "multipleOf must be greater than 0")
			}
		case "items":
			if v.kind == kSeq {
				l.errorf(kat, "items must be a schema (use prefixItems for tuples)")
				continue
			}
			s.items = l.compileSchema(kat)
		case "prefixItems":
			s.prefix = l.schemaList(kat)
		case "minItems":
			s.minItems = l.count(kat)
		case "maxItems":
			s.maxItems = l.count(kat)
		case "uniqueItems":
			s.unique = v.kind == kBool && v.s == "true"
		case "contains":
			s.contains = l.compileSchema(kat)
		case "minContains":
			s.minContains = l.count(kat)
		case "maxContains":
			s.maxContains = l.count(kat)
		case "properties":
			pl, ok := l.refValue(kat)
			if !ok {
				continue
			}
			if pl.n.kind != kMap {
				l.errorf(kat, "properties must be an object")
				continue
			}
			for j, pname := range pl.n.keys {
				s.props = append(s.props, prop{pname, l.compileSchema(loc{pl.src, pl.ptr + "/" + ptrToken(pname), pl.n.vals[j]})})
			}
			s.closed = true
		case "required":
			for j, r := range l.strings(kat) {
				if slices.ContainsFunc(s.required, func(x reqProp) bool { return x.name == r }) {
					l.warnf(kat.idx(j), "duplicate required property %q (ignored)", r)
					continue
				}
				s.required = append(s.required, reqProp{name: r})
			}
		case "additionalProperties":
			switch {
			case v.kind == kBool && v.s == "false":
				s.addlFalse, s.closed = true, true
			case v.kind == kBool:
				s.open = true
			default:
				s.addl, s.open = l.compileSchema(kat), true
			}
		case "patternProperties":
			if v.kind != kMap {
				l.errorf(kat, "patternProperties must be an object")
				continue
			}
			for j, pat := range v.keys {
				pat := loc{at.src, kat.ptr + "/" + ptrToken(pat), &node{kind: kStr, s: pat, line: v.vals[j].line}}
				re := l.regex(pat)
				pat.n = v.vals[j]
				s.patProps = append(s.patProps, patProp{re, l.compileSchema(pat)})
			}
			s.closed = true
		case "propertyNames":
			s.propNames = l.compileSchema(kat)
		case "minProperties":
			s.minProps = l.count(kat)
		case "maxProperties":
			s.maxProps = l.count(kat)
		case "dependentRequired":
			if v.kind != kMap {
				l.errorf(kat, "dependentRequired must be an object")
				continue
			}
			for j, name := range v.keys {
				s.depReq = append(s.depReq, depReq{name, l.strings(loc{at.src, kat.ptr + "/" + ptrToken(name), v.vals[j]})})
			}
		case "dependentSchemas":
			if v.kind != kMap {
				l.errorf(kat, "dependentSchemas must be an object")
				continue
			}
			for j, name := range v.keys {
				s.depSchemas = append(s.depSchemas, depSchema{name, l.compileSchema(loc{at.src, kat.ptr + "/" + ptrToken(name), v.vals[j]})})
			}
		case "unevaluatedProperties":
			s.unevalProps = l.unevaluated(kat)
			switch {
			case v.kind == kBool && v.s == "false":
				s.unevalNo, s.closed = true, true
			default:
				s.open = true
			}
		case "unevaluatedItems":
			s.unevalItems = l.unevaluated(kat)
		case "allOf":
			s.allOf = l.schemaList(kat)
		case "anyOf":
			s.anyOf = l.schemaList(kat)
		case "oneOf":
			s.oneOf = l.schemaList(kat)
		case "not":
			s.not = l.compileSchema(kat)
		case "if":
			s.ifS = l.compileSchema(kat)
		case "then":
			s.thenS = l.compileSchema(kat)
		case "else":
			s.elseS = l.compileSchema(kat)
		case "readOnly":
			s.readOnly = v.kind == kBool && v.s == "true"
		case "writeOnly":
			s.writeOnly = v.kind == kBool && v.s == "true"
		case "discriminator":
			// compiled below, once oneOf/anyOf are known
		case "$dynamicRef", "$recursiveRef":
			l.dynamicRef(s, at, kat)
		case "$recursiveAnchor":
			if v.kind == kBool && v.s == "true" {
				root, ok := l.resourceRoot(at)
				s.recAnchor = ok && root.ptr == at.ptr
			}
		case "dependencies", "additionalItems":
			l.errorf(kat, "keyword %q is not supported; Rampart refuses documents it cannot fully enforce", key)
		}
	}
	if s.ifS == nil {
		s.thenS, s.elseS = nil, nil
	}
	if d := n.get("discriminator"); d != nil {
		l.discriminator(s, at.at("discriminator"))
	}
	if s.hasMin && s.hasMax && (s.min > s.max) {
		l.errorf(at, "minimum is greater than maximum")
	}
	if len(s.props) > 24 {
		s.propIndex = make(map[string]int, len(s.props))
		for i, p := range s.props {
			s.propIndex[p.name] = i
		}
	}
}

// unevaluated compiles an unevaluated* keyword; true (no constraint) is nil.
func (l *loader) unevaluated(at loc) *schema {
	if at.n.kind == kBool {
		if at.n.s == "true" {
			return nil
		}
		s := newSchema(at.src.name + "#" + at.ptr)
		s.never = true
		return s
	}
	return l.compileSchema(at)
}

func (l *loader) schemaType(s *schema, at loc) {
	add := func(at loc, name string) {
		for _, tn := range typeNames {
			if tn.name == name {
				s.types |= tn.t
				return
			}
		}
		l.errorf(at, "unknown type %q", name)
	}
	switch at.n.kind {
	case kStr:
		add(at, at.n.s)
	case kSeq:
		if !l.v31 {
			l.errorf(at, "type must be a string in OpenAPI 3.0 (use nullable: true)")
		}
		for i, v := range at.n.vals {
			if v.kind != kStr {
				l.errorf(at.idx(i), "type entries must be strings")
				continue
			}
			add(at.idx(i), v.s)
		}
	default:
		l.errorf(at, "type must be a string or an array of strings")
	}
	if s.types&tNum != 0 {
		s.types |= tInt
	}
}

func (l *loader) exclusive(s *schema, at loc, isMin bool) {
	switch at.n.kind {
	case kBool: // OpenAPI 3.0: modifies minimum/maximum
		if at.n.s == "true" {
			if isMin {
				s.exclMin = true
			} else {
				s.exclMax = true
			}
		}
	case kNum: // OpenAPI 3.1 / JSON Schema 2020-12: a bound of its own
		v := at.n.num
		if isMin {
			if !s.hasMin || v >= s.min {
				s.min, s.hasMin, s.exclMin = v, true, true
			}
		} else if !s.hasMax || v <= s.max {
			s.max, s.hasMax, s.exclMax = v, true, true
		}
	default:
		l.errorf(at, "must be a boolean (3.0) or a number (3.1)")
	}
}

func (l *loader) count(at loc) int {
	if at.n.kind != kNum || at.n.num < 0 || at.n.num != math.Trunc(at.n.num) || at.n.num > math.MaxInt32 {
		l.errorf(at, "must be a non-negative integer")
		return -1
	}
	return int(at.n.num)
}

func (l *loader) number(at loc) float64 {
	if at.n.kind != kNum {
		l.errorf(at, "must be a number")
		return 0
	}
	return at.n.num
}

func (l *loader) strings(at loc) []string {
	if at.n.kind != kSeq {
		l.errorf(at, "must be an array of strings")
		return nil
	}
	out := make([]string, 0, len(at.n.vals))
	for i, v := range at.n.vals {
		if v.kind != kStr {
			l.errorf(at.idx(i), "must be a string")
			continue
		}
		out = append(out, v.s)
	}
	return out
}

func (l *loader) schemaList(at loc) []*schema {
	if at.n.kind != kSeq || len(at.n.vals) == 0 {
		l.errorf(at, "must be a non-empty array of schemas")
		return nil
	}
	out := make([]*schema, len(at.n.vals))
	for i := range at.n.vals {
		out[i] = l.compileSchema(at.idx(i))
	}
	return out
}

// regex compiles an ECMA-262 pattern (see compilePattern); one neither
// engine accepts is a load error.
func (l *loader) regex(at loc) *pattern {
	if at.n.kind != kStr {
		l.errorf(at, "pattern must be a string")
		return nil
	}
	re, err := compilePattern(at.n.s)
	if err != nil {
		l.errorf(at, "pattern is not a valid ECMA-262 regular expression: %v", err)
		return nil
	}
	return re
}

func isHex4(s string) bool {
	_, err := strconv.ParseUint(s, 16, 16)
	return err == nil && len(s) == 4
}

func (l *loader) discriminator(s *schema, at loc) {
	branches := s.oneOf
	if branches == nil {
		branches = s.anyOf
	}
	pn := at.n.get("propertyName")
	if at.n.kind != kMap || pn == nil || pn.kind != kStr {
		l.errorf(at, "discriminator needs a propertyName")
		return
	}
	if branches == nil {
		return // a discriminator on a base schema only documents; nothing to choose
	}
	d := &discriminator{property: pn.s, mapping: map[string]int{}}
	refOf := func(b *schema) string {
		if b.ref != nil {
			return b.ref.where
		}
		return ""
	}
	// Implicit mapping: the component name of each branch's $ref.
	for i, b := range branches {
		if w := refOf(b); w != "" {
			d.mapping[w[strings.LastIndexByte(w, '/')+1:]] = i
		}
	}
	if m := at.n.get("mapping"); m != nil && m.kind == kMap {
		for j, val := range m.keys {
			target := m.vals[j]
			if target.kind != kStr {
				l.errorf(at.at("mapping").at(val), "mapping values must be strings")
				continue
			}
			ref := target.s
			if !strings.Contains(ref, "#") && !strings.Contains(ref, "/") {
				ref = "#/components/schemas/" + ref
			}
			tl, err := l.resolve(at, ref)
			if err != nil {
				l.refError(at.at("mapping").at(val), err)
				continue
			}
			want := l.compileSchema(tl)
			found := false
			for i, b := range branches {
				if b == want || b.ref == want {
					d.mapping[val], found = i, true
					break
				}
			}
			if !found {
				l.errorf(at.at("mapping").at(val), "mapping target %q is not one of the oneOf/anyOf schemas", target.s)
			}
		}
	}
	s.disc = d
}

// finish computes what depends on the whole graph: flags of required
// properties (readOnly properties are not required in requests, writeOnly
// ones not in responses).
func (l *loader) finishSchemas() {
	l.checkDynamic()
	for _, s := range l.schemas {
		s.ptypes = possibleTypes(s)
		s.all = collect(s)
		for i := range s.required {
			if p := s.prop([]byte(s.required[i].name)); p != nil {
				s.required[i].readOnly, s.required[i].writeOnly = p.flags()
			}
		}
	}
}

// possibleTypes returns the types a value may have under s, looking through
// $ref and composition; used to decide how to read a parameter string.
func possibleTypes(s *schema) typeMask {
	seen := map[*schema]bool{}
	var walk func(s *schema) typeMask
	walk = func(s *schema) typeMask {
		if s == nil || seen[s] {
			return 0
		}
		seen[s] = true
		if s.never {
			return 0
		}
		m := s.types
		if m == 0 && s.ref == nil && s.allOf == nil && s.anyOf == nil && s.oneOf == nil {
			return tAll // {} or a schema constraining no type
		}
		if s.nullable {
			m |= tNull
		}
		if s.ref != nil {
			m |= walk(s.ref)
		}
		for _, list := range [][]*schema{s.allOf, s.anyOf, s.oneOf} {
			for _, b := range list {
				m |= walk(b)
			}
		}
		return m
	}
	m := walk(s)
	if m == 0 {
		return tAll
	}
	return m
}

func (s *schema) String() string { return fmt.Sprintf("schema(%s)", s.where) }
