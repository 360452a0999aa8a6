package openapi

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/rampart-gw/rampart/internal/openapi/strictjson"
)

// Problem is one reason a request does not match its operation: Pointer is
// an RFC 6901 pointer into the request seen as a document ("/body/items/0/
// price", "/query/limit", "/path/item_id", "/header/X-Trace", "/cookie/session")
// and Reason says what is wrong without repeating the value.
type Problem struct {
	Pointer string
	Reason  string
}

// maxProblems bounds how many problems one request records.
const maxProblems = 10

// maxSchemaDepth bounds schema recursion for one value ($ref cycles that
// consume no input, e.g. A: {allOf: [$ref: A]}).
const maxSchemaDepth = 128

type mode uint8

const (
	modeRequest mode = iota
	modeResponse
)

type seg struct {
	key []byte
	idx int
}

// checker validates strictjson values against compiled schemas. One is
// pooled per request; nothing in it allocates on the success path.
type checker struct {
	mode         mode
	allowUnknown bool
	prefix       string
	path         []seg
	quiet        int
	problems     []Problem
	total        int
	depth        int
	set          []*schema // stack of applicable-schema sets, see unknownFields
	hashes       []hashed
	keyDoc       strictjson.Doc
	keyBuf       []byte
	budget       time.Duration // left for backtracking patterns, see pattern.match
}

type hashed struct {
	h uint64
	v strictjson.Value
}

func (c *checker) reset(m mode, allowUnknown bool) {
	c.mode, c.allowUnknown = m, allowUnknown
	c.prefix, c.path, c.quiet, c.problems, c.total, c.depth = "", c.path[:0], 0, c.problems[:0], 0, 0
	c.set = c.set[:0]
	c.budget = regexBudget
}

func (c *checker) push(key []byte, idx int) { c.path = append(c.path, seg{key, idx}) }
func (c *checker) pop()                     { c.path = c.path[:len(c.path)-1] }

func (c *checker) fail(reason string) {
	if c.quiet > 0 {
		return
	}
	c.total++
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, Problem{Pointer: c.pointer(), Reason: reason})
	}
}

func (c *checker) failf(format string, args ...any) {
	if c.quiet > 0 {
		return
	}
	c.fail(fmt.Sprintf(format, args...))
}

// maxPointer bounds a reported pointer; keys come from the client.
const maxPointer = 200

func (c *checker) pointer() string {
	b := make([]byte, 0, 64)
	b = append(b, c.prefix...)
	for _, s := range c.path {
		b = append(b, '/')
		if s.key == nil {
			b = strconv.AppendInt(b, int64(s.idx), 10)
			continue
		}
		b = appendToken(b, s.key)
	}
	if len(b) > maxPointer {
		b = append(b[:maxPointer], "…"...)
		for !utf8.Valid(b) { // do not cut a rune in half
			b = append(b[:len(b)-len("…")-1], "…"...)
		}
	}
	return string(b)
}

// appendToken escapes an RFC 6901 token, truncating very long keys.
func appendToken(b []byte, key []byte) []byte {
	const maxKey = 64
	cut := len(key) > maxKey
	if cut {
		key = key[:maxKey]
		for len(key) > 0 && !utf8.Valid(key) {
			key = key[:len(key)-1]
		}
	}
	for _, ch := range key {
		switch ch {
		case '~':
			b = append(b, '~', '0')
		case '/':
			b = append(b, '~', '1')
		default:
			b = append(b, ch)
		}
	}
	if cut {
		b = append(b, "…"...)
	}
	return b
}

func (c *checker) quietCheck(s *schema, v strictjson.Value) bool {
	c.quiet++
	ok := c.check(s, v)
	c.quiet--
	return ok
}

// checkOwned validates v against s, s being the schema that owns v (the
// body, a property, an item), and then applies Rampart's object rules to v
// itself: unknown properties, read-only properties, case twins.
func (c *checker) checkOwned(s *schema, v strictjson.Value) bool {
	ok := c.check(s, v)
	if v.Kind() == strictjson.Object && s != nil && (ok || c.quiet == 0) &&
		(c.mode == modeRequest || !c.allowUnknown) {
		ok = c.unknownFields(s, v) && ok
	}
	return ok
}

// check validates v against s with JSON Schema semantics.
func (c *checker) check(s *schema, v strictjson.Value) bool {
	if s == nil || s.always {
		return true
	}
	if s.never {
		c.fail("no value is allowed here")
		return false
	}
	k := v.Kind()
	if s.nullable && k == strictjson.Null {
		return true
	}
	if c.depth >= maxSchemaDepth {
		c.fail("the schema recurses too deeply for this value")
		return false
	}
	c.depth++
	ok := c.checkLocked(s, v, k)
	c.depth--
	return ok
}

func (c *checker) checkLocked(s *schema, v strictjson.Value, k strictjson.Kind) bool {
	ok := true
	if s.ref != nil && !c.check(s.ref, v) {
		if c.quiet > 0 {
			return false
		}
		ok = false
	}
	if s.types != 0 && !typeMatches(s.types, v, k) {
		if c.quiet == 0 {
			c.fail("expected " + s.types.String())
		}
		return false
	}
	if s.enum != nil && !slices.ContainsFunc(s.enum, func(n *node) bool { return equalNode(v, n) }) {
		c.fail("not one of the allowed values")
		ok = false
	}
	if s.cnst != nil && !equalNode(v, s.cnst) {
		c.fail("not the allowed constant value")
		ok = false
	}
	if !ok && c.quiet > 0 {
		return false
	}
	switch k {
	case strictjson.String:
		ok = c.checkString(s, v) && ok
	case strictjson.Number:
		ok = c.checkNumber(s, v) && ok
	case strictjson.Array:
		ok = c.checkArray(s, v) && ok
	case strictjson.Object:
		ok = c.checkObject(s, v) && ok
	}
	if !ok && c.quiet > 0 {
		return false
	}
	for _, b := range s.allOf {
		if !c.check(b, v) {
			ok = false
			if c.quiet > 0 {
				return false
			}
		}
	}
	if s.anyOf != nil && !c.matchAny(s.anyOf, v, k) {
		ok = false
	}
	if s.oneOf != nil {
		n := 0
		for _, b := range s.oneOf {
			if c.quietCheck(b, v) {
				n++
			}
		}
		if n != 1 {
			if n == 0 {
				c.explain(s.oneOf, v, k, "matches none of the allowed schemas (oneOf)")
			} else {
				c.fail("matches more than one of the oneOf schemas")
			}
			ok = false
		}
	}
	if s.not != nil && c.quietCheck(s.not, v) {
		c.fail("matches a schema it must not match (not)")
		ok = false
	}
	if s.ifS != nil {
		if c.quietCheck(s.ifS, v) {
			ok = c.check(s.thenS, v) && ok
		} else {
			ok = c.check(s.elseS, v) && ok
		}
	}
	if s.unevalItems != nil && k == strictjson.Array || s.unevalProps != nil && k == strictjson.Object {
		ok = c.unevaluated(s, v, k) && ok
	}
	return ok
}

// unevaluated applies unevaluatedItems or unevaluatedProperties of s to
// the items or members of v that none of the schemas applying to v under s
// (s, $ref, allOf, the anyOf/oneOf branches v matches, if/then/else,
// dependentSchemas: see applicable) evaluated.
func (c *checker) unevaluated(s *schema, v strictjson.Value, k strictjson.Kind) bool {
	start := len(c.set)
	c.applicable(s, v, start, 0)
	set := c.set[start:]
	ok := true
	i := 0
	for e := v.First(); e.Valid(); e = e.Next() {
		good := true
		switch {
		case k == strictjson.Array && !c.itemEvaluated(s, set, i, e):
			c.push(nil, i)
			good = c.checkOwned(s.unevalItems, e)
			c.pop()
		case k == strictjson.Object && !c.memberEvaluated(s, set, e.Key()):
			c.push(e.Key(), 0)
			if s.unevalNo {
				c.fail("property not allowed (unevaluatedProperties: false)")
				good = false
			} else {
				good = c.checkOwned(s.unevalProps, e)
			}
			c.pop()
		}
		if !good {
			ok = false
			if c.quiet > 0 {
				break
			}
		}
		i++
	}
	c.set = c.set[:start]
	return ok
}

// memberEvaluated reports whether a schema of set evaluates the member key:
// properties, patternProperties, additionalProperties, or a nested
// unevaluatedProperties.
func (c *checker) memberEvaluated(s *schema, set []*schema, key []byte) bool {
	for _, x := range set {
		if x.prop(key) != nil || x.addl != nil || x.addlFalse || x != s && (x.unevalProps != nil || x.unevalNo) {
			return true
		}
	}
	return c.matchesPattern(set, key)
}

// itemEvaluated reports whether a schema of set evaluates item i: items,
// prefixItems, a matching contains, or a nested unevaluatedItems.
func (c *checker) itemEvaluated(s *schema, set []*schema, i int, e strictjson.Value) bool {
	for _, x := range set {
		if x.items != nil || i < len(x.prefix) || x != s && x.unevalItems != nil {
			return true
		}
	}
	for _, x := range set {
		if x.contains != nil && c.quietCheck(x.contains, e) {
			return true
		}
	}
	return false
}

func (c *checker) matchAny(list []*schema, v strictjson.Value, k strictjson.Kind) bool {
	for _, b := range list {
		if c.quietCheck(b, v) {
			return true
		}
	}
	c.explain(list, v, k, "matches none of the allowed schemas (anyOf)")
	return false
}

// explain reports why no branch matched. When exactly one branch admits the
// value's type (Optional[str] is anyOf [string, null]), its own problems are
// the useful ones ("too long"); otherwise the generic reason stands.
func (c *checker) explain(list []*schema, v strictjson.Value, k strictjson.Kind, generic string) {
	if c.quiet > 0 {
		return
	}
	var only *schema
	for _, b := range list {
		if pt := b.ptypes; typeMatches(pt, v, k) || pt&tInt != 0 && k == strictjson.Number {
			if only != nil {
				c.fail(generic)
				return
			}
			only = b
		}
	}
	if only == nil {
		c.fail(generic)
		return
	}
	before := c.total
	c.checkOwned(only, v)
	if c.total == before {
		c.fail(generic)
	}
}

func typeMatches(t typeMask, v strictjson.Value, k strictjson.Kind) bool {
	switch k {
	case strictjson.Null:
		return t&tNull != 0
	case strictjson.True, strictjson.False:
		return t&tBool != 0
	case strictjson.Number:
		if t&tNum != 0 {
			return true
		}
		f := v.Float()
		return t&tInt != 0 && f == math.Trunc(f)
	case strictjson.String:
		return t&tStr != 0
	case strictjson.Array:
		return t&tArr != 0
	case strictjson.Object:
		return t&tObj != 0
	}
	return false
}

func (c *checker) checkString(s *schema, v strictjson.Value) bool {
	if s.format == fBinary {
		return true // file contents: neither length nor pattern apply to the placeholder
	}
	b := v.Bytes()
	ok := true
	if s.minLen >= 0 || s.maxLen >= 0 {
		n := utf8.RuneCount(b)
		if s.minLen >= 0 && n < s.minLen {
			c.failf("shorter than %d characters", s.minLen)
			ok = false
		}
		if s.maxLen >= 0 && n > s.maxLen {
			c.failf("longer than %d characters", s.maxLen)
			ok = false
		}
	}
	if s.pattern != nil && !c.matches(s.pattern, b) {
		c.fail("does not match the required pattern")
		ok = false
	}
	if s.format != fNone && !checkStringFormat(s.format, b) {
		c.fail("not a valid " + s.format.String())
		ok = false
	}
	return ok
}

// matches runs p on b. A pattern that exceeds its time refuses the request
// whatever the surrounding schema decides (fail closed), even inside anyOf
// or not, where other problems are not recorded.
func (c *checker) matches(p *pattern, b []byte) bool {
	ok, slow := p.match(b, &c.budget)
	if slow {
		q := c.quiet
		c.quiet = 0
		c.fail("the pattern took too long to evaluate")
		c.quiet = q
	}
	return ok
}

func (c *checker) checkNumber(s *schema, v strictjson.Value) bool {
	f := v.Float()
	ok := true
	if s.hasMin && (f < s.min || s.exclMin && f == s.min) {
		if s.exclMin {
			c.failf("must be greater than %s", fmtNum(s.min))
		} else {
			c.failf("must be at least %s", fmtNum(s.min))
		}
		ok = false
	}
	if s.hasMax && (f > s.max || s.exclMax && f == s.max) {
		if s.exclMax {
			c.failf("must be less than %s", fmtNum(s.max))
		} else {
			c.failf("must be at most %s", fmtNum(s.max))
		}
		ok = false
	}
	if s.multipleOf > 0 {
		q := f / s.multipleOf
		if math.IsInf(q, 0) || math.Abs(q-math.Round(q)) > 1e-9*math.Max(1, math.Abs(q)) {
			c.failf("must be a multiple of %s", fmtNum(s.multipleOf))
			ok = false
		}
	}
	if s.format != fNone && !checkNumberFormat(s.format, f) {
		c.fail("out of range for " + s.format.String())
		ok = false
	}
	return ok
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func (c *checker) checkArray(s *schema, v strictjson.Value) bool {
	ok := true
	n := v.Len()
	if s.minItems >= 0 && n < s.minItems {
		c.failf("fewer than %d items", s.minItems)
		ok = false
	}
	if s.maxItems >= 0 && n > s.maxItems {
		c.failf("more than %d items", s.maxItems)
		ok = false
	}
	if !ok && c.quiet > 0 {
		return false
	}
	if s.items != nil || s.prefix != nil {
		i := 0
		for e := v.First(); e.Valid(); e = e.Next() {
			sch := s.items
			if i < len(s.prefix) {
				sch = s.prefix[i]
			}
			if sch != nil {
				c.push(nil, i)
				good := c.checkOwned(sch, e)
				c.pop()
				if !good {
					ok = false
					if c.quiet > 0 {
						return false
					}
				}
			}
			i++
		}
	}
	if s.unique && n > 1 && !c.uniqueItems(v) {
		c.fail("items must be unique")
		ok = false
	}
	if s.contains != nil {
		matches := 0
		for e := v.First(); e.Valid(); e = e.Next() {
			if c.quietCheck(s.contains, e) {
				matches++
			}
		}
		lo := 1
		if s.minContains >= 0 {
			lo = s.minContains
		}
		if matches < lo || s.maxContains >= 0 && matches > s.maxContains {
			c.fail("does not contain the required number of matching items")
			ok = false
		}
	}
	return ok
}

var hashSeed = maphash.MakeSeed()

// uniqueItems sorts item hashes and compares only items whose hashes
// collide, so a 100 000-item array costs n log n, not n².
func (c *checker) uniqueItems(v strictjson.Value) bool {
	start := len(c.hashes)
	for e := v.First(); e.Valid(); e = e.Next() {
		var h maphash.Hash
		h.SetSeed(hashSeed)
		hashValue(&h, e)
		c.hashes = append(c.hashes, hashed{h.Sum64(), e})
	}
	hs := c.hashes[start:]
	slices.SortFunc(hs, func(a, b hashed) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return 0
	})
	unique := true
	for i := 1; i < len(hs) && unique; i++ {
		for j := i - 1; j >= 0 && hs[j].h == hs[i].h; j-- {
			if equalValues(hs[i].v, hs[j].v) {
				unique = false
				break
			}
		}
	}
	c.hashes = c.hashes[:start]
	return unique
}

func hashValue(h *maphash.Hash, v strictjson.Value) {
	k := v.Kind()
	h.WriteByte(byte(k))
	switch k {
	case strictjson.Number:
		f := v.Float()
		if f == 0 {
			f = 0 // -0 == 0
		}
		var b [8]byte
		u := math.Float64bits(f)
		for i := range b {
			b[i] = byte(u >> (8 * i))
		}
		h.Write(b[:])
	case strictjson.String:
		h.Write(v.Bytes())
	case strictjson.Array:
		for e := v.First(); e.Valid(); e = e.Next() {
			hashValue(h, e)
		}
	case strictjson.Object:
		var sum uint64 // order-independent
		for m := v.First(); m.Valid(); m = m.Next() {
			var mh maphash.Hash
			mh.SetSeed(hashSeed)
			mh.Write(m.Key())
			hashValue(&mh, m)
			sum += mh.Sum64()
		}
		var b [8]byte
		for i := range b {
			b[i] = byte(sum >> (8 * i))
		}
		h.Write(b[:])
	}
}

// equalValues is JSON equality: numbers by value, objects regardless of
// member order.
func equalValues(a, b strictjson.Value) bool {
	ka, kb := a.Kind(), b.Kind()
	if ka != kb {
		return false
	}
	switch ka {
	case strictjson.Number:
		return a.Float() == b.Float()
	case strictjson.String:
		return bytes.Equal(a.Bytes(), b.Bytes())
	case strictjson.Array:
		if a.Len() != b.Len() {
			return false
		}
		for x, y := a.First(), b.First(); x.Valid(); x, y = x.Next(), y.Next() {
			if !equalValues(x, y) {
				return false
			}
		}
	case strictjson.Object:
		if a.Len() != b.Len() {
			return false
		}
		for x := a.First(); x.Valid(); x = x.Next() {
			y := b.Member(string(x.Key()))
			if !y.Valid() || !equalValues(x, y) {
				return false
			}
		}
	}
	return true
}

// equalNode compares a request value with an enum/const value from the
// document.
func equalNode(v strictjson.Value, n *node) bool {
	switch v.Kind() {
	case strictjson.Null:
		return n.kind == kNull
	case strictjson.True:
		return n.kind == kBool && n.s == "true"
	case strictjson.False:
		return n.kind == kBool && n.s == "false"
	case strictjson.Number:
		return n.kind == kNum && n.num == v.Float()
	case strictjson.String:
		return n.kind == kStr && n.s == string(v.Bytes())
	case strictjson.Array:
		if n.kind != kSeq || len(n.vals) != v.Len() {
			return false
		}
		i := 0
		for e := v.First(); e.Valid(); e = e.Next() {
			if !equalNode(e, n.vals[i]) {
				return false
			}
			i++
		}
		return true
	case strictjson.Object:
		if n.kind != kMap || len(n.keys) != v.Len() {
			return false
		}
		for m := v.First(); m.Valid(); m = m.Next() {
			x := n.get(string(m.Key()))
			if x == nil || !equalNode(m, x) {
				return false
			}
		}
		return true
	}
	return false
}

func (c *checker) checkObject(s *schema, v strictjson.Value) bool {
	ok := true
	n := v.Len()
	if s.minProps >= 0 && n < s.minProps {
		c.failf("fewer than %d properties", s.minProps)
		ok = false
	}
	if s.maxProps >= 0 && n > s.maxProps {
		c.failf("more than %d properties", s.maxProps)
		ok = false
	}
	for _, r := range s.required {
		if c.mode == modeRequest && r.readOnly || c.mode == modeResponse && r.writeOnly {
			continue
		}
		if !v.Member(r.name).Valid() {
			if c.quiet > 0 {
				return false
			}
			c.push([]byte(r.name), 0)
			c.fail("required property is missing")
			c.pop()
			ok = false
		}
	}
	for _, d := range s.depReq {
		if !v.Member(d.name).Valid() {
			continue
		}
		for _, r := range d.requires {
			if !v.Member(r).Valid() {
				if c.quiet > 0 {
					return false
				}
				c.push([]byte(r), 0)
				c.failf("required when %q is present", d.name)
				c.pop()
				ok = false
			}
		}
	}
	if !ok && c.quiet > 0 {
		return false
	}
	if s.props == nil && s.patProps == nil && s.addl == nil && !s.addlFalse && s.propNames == nil && s.depSchemas == nil {
		return ok
	}
	for m := v.First(); m.Valid(); m = m.Next() {
		key := m.Key()
		c.push(key, 0)
		good := c.checkMember(s, m, key)
		c.pop()
		if !good {
			ok = false
			if c.quiet > 0 {
				return false
			}
		}
	}
	for _, d := range s.depSchemas {
		if v.Member(d.name).Valid() && !c.check(d.s, v) {
			ok = false
		}
	}
	return ok
}

func (c *checker) checkMember(s *schema, m strictjson.Value, key []byte) bool {
	ok := true
	if s.propNames != nil && !c.checkName(s.propNames, key) {
		c.fail("property name not allowed")
		ok = false
	}
	if ps := s.prop(key); ps != nil {
		return c.checkOwned(ps, m) && ok
	}
	matched := false
	for _, pp := range s.patProps {
		if pp.re != nil && c.matches(pp.re, key) {
			matched = true
			ok = c.checkOwned(pp.s, m) && ok
		}
	}
	if matched {
		return ok
	}
	switch {
	case s.addlFalse:
		c.fail("property not allowed (additionalProperties: false)")
		return false
	case s.addl != nil:
		return c.checkOwned(s.addl, m) && ok
	}
	return ok
}

// checkName validates a property name against propertyNames.
func (c *checker) checkName(s *schema, key []byte) bool {
	c.keyBuf = strictjson.AppendString(c.keyBuf[:0], string(key))
	if err := c.keyDoc.Parse(c.keyBuf, strictjson.Options{}); err != nil {
		return false
	}
	return c.quietCheck(s, c.keyDoc.Root())
}

// unknownFields applies Rampart's object rules to v owned by s. The set of
// schemas that apply to v is s plus, through $ref, allOf, the anyOf/oneOf
// branches v matches (or the one its discriminator names), if/then/else and
// dependentSchemas. A property is known if one of them declares it or
// matches it with patternProperties, or if one of them allows more
// (additionalProperties: true or a schema). If none of them declares any
// property the object is free-form ({"type": "object"}) and anything goes.
func (c *checker) unknownFields(s *schema, v strictjson.Value) bool {
	start := len(c.set)
	c.applicable(s, v, start, 0)
	set := c.set[start:]
	closed, open, strict := false, false, false
	for _, x := range set {
		closed, open, strict = closed || x.closed, open || x.open, strict || x.unevalNo
	}
	ok := true
	for m := v.First(); m.Valid(); m = m.Next() {
		key := m.Key()
		declared, readOnly, writeOnly := false, false, false
		for _, x := range set {
			if p := x.prop(key); p != nil {
				ro, wo := p.flags()
				declared, readOnly, writeOnly = true, readOnly || ro, writeOnly || wo
			}
		}
		reason := ""
		switch {
		case declared && c.mode == modeRequest && readOnly && !c.allowUnknown:
			reason = "read-only property"
		case declared && c.mode == modeResponse && writeOnly:
			reason = "write-only property"
		case declared:
		case c.mode == modeRequest && caseTwin(set, key) != "":
			reason = fmt.Sprintf("differs only in case from the declared property %q", caseTwin(set, key))
		case c.matchesPattern(set, key), open, !closed:
		case c.allowUnknown && !strict:
		default:
			reason = "unknown property"
		}
		if reason != "" {
			ok = false
			if c.quiet > 0 {
				break
			}
			c.push(key, 0)
			c.fail(reason)
			c.pop()
		}
	}
	c.set = c.set[:start]
	return ok
}

func (c *checker) matchesPattern(set []*schema, key []byte) bool {
	for _, x := range set {
		for _, pp := range x.patProps {
			if pp.re != nil && c.matches(pp.re, key) {
				return true
			}
		}
	}
	return false
}

// caseTwin returns a declared property that equals key ignoring case (what
// Go's encoding/json would bind it to), or "".
func caseTwin(set []*schema, key []byte) string {
	for _, x := range set {
		for _, p := range x.props {
			if len(p.name) == len(key) && bytes.EqualFold([]byte(p.name), key) {
				return p.name
			}
		}
	}
	return ""
}

// applicable pushes onto c.set the schemas that apply to object v under s.
func (c *checker) applicable(s *schema, v strictjson.Value, start, depth int) {
	if s == nil || depth > 32 {
		return
	}
	for _, x := range c.set[start:] {
		if x == s {
			return // already there (diamond allOf, cycles)
		}
	}
	c.set = append(c.set, s)
	c.applicable(s.ref, v, start, depth+1)
	for _, b := range s.allOf {
		c.applicable(b, v, start, depth+1)
	}
	c.branches(s.anyOf, s.disc, v, start, depth)
	c.branches(s.oneOf, s.disc, v, start, depth)
	if s.ifS != nil {
		if c.quietCheck(s.ifS, v) {
			c.applicable(s.ifS, v, start, depth+1)
			c.applicable(s.thenS, v, start, depth+1)
		} else {
			c.applicable(s.elseS, v, start, depth+1)
		}
	}
	for _, d := range s.depSchemas {
		if v.Member(d.name).Valid() {
			c.applicable(d.s, v, start, depth+1)
		}
	}
}

// branches adds the anyOf/oneOf branches that apply: the one the
// discriminator names, else those v matches, else (undecidable) all of
// them, so that nothing any branch declares is called unknown.
func (c *checker) branches(list []*schema, d *discriminator, v strictjson.Value, start, depth int) {
	if list == nil {
		return
	}
	if d != nil {
		if tag := v.Member(d.property); tag.Valid() && tag.Kind() == strictjson.String {
			if i, ok := d.mapping[string(tag.Bytes())]; ok {
				c.applicable(list[i], v, start, depth+1)
				return
			}
		}
	}
	n := 0
	for _, b := range list {
		if c.quietCheck(b, v) {
			c.applicable(b, v, start, depth+1)
			n++
		}
	}
	if n == 0 {
		for _, b := range list {
			c.applicable(b, v, start, depth+1)
		}
	}
}
