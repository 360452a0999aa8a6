// Package strictjson is the hardened JSON parser Rampart runs on request
// bodies before schema validation, so that the gateway and the upstream can
// never disagree about what a body says.
//
// Parsers differ on the edges of RFC 8259, and every difference is a way to
// smuggle a value past a gateway: Go's encoding/json keeps the last of two
// duplicate keys while other parsers keep the first (or merge), it replaces
// invalid UTF-8 and lone surrogates with U+FFFD while Python keeps surrogates;
// Python's json module accepts NaN and Infinity and maps 1e400 to infinity;
// some parsers skip a BOM, comments or trailing commas, and many stop after
// the first value so that `{"a":1}{"a":2}` means different things to
// different readers. This parser accepts only the intersection every
// conforming parser agrees on and rejects, with a reason and the RFC 6901
// pointer of the offending value:
//
//   - duplicate object keys, compared after unescaping ("a" and "\u0061");
//   - nesting deeper than Options.MaxDepth (default 64), detected before the
//     next container is entered: parsing is iterative with an explicit stack,
//     so a 100 000-deep array is refused after MaxDepth+1 bytes, without
//     recursion;
//   - NaN, Infinity and numbers outside the float64 range (1e400);
//   - invalid UTF-8 (including UTF-8-encoded surrogates and overlong forms),
//     lone surrogate escapes ("\ud800"), raw control characters in strings;
//   - a byte order mark, comments, trailing commas, single quotes, leading
//     zeros and anything after the first value other than whitespace.
//
// Keys that differ only in case from a declared property are a schema-level
// question; package openapi checks them.
//
// The result is a compact tree (a slice of nodes linked by index) that a Doc
// reuses across parses, so validating a body allocates nothing once the Doc
// is warm. String values without escapes are not copied.
//
//	var d strictjson.Doc
//	if err := d.Parse(body, strictjson.Options{}); err != nil {
//		var e *strictjson.Error // e.Reason, e.Pointer
//	}
//	for m := d.Root().First(); m.Valid(); m = m.Next() { _ = m.Key() }
package strictjson

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultMaxDepth is the nesting limit when Options.MaxDepth is 0.
const DefaultMaxDepth = 64

// Options tune Parse.
type Options struct {
	// MaxDepth is the deepest nesting of arrays and objects accepted; a
	// top-level object is depth 1. 0 means DefaultMaxDepth.
	MaxDepth int
}

// Kind is the type of a JSON value.
type Kind uint8

// Value kinds. The zero Kind is an invalid Value.
const (
	Null Kind = iota + 1
	False
	True
	Number
	String
	Array
	Object
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case False, True:
		return "boolean"
	case Number:
		return "number"
	case String:
		return "string"
	case Array:
		return "array"
	case Object:
		return "object"
	}
	return "invalid"
}

// Reason says why a body was refused.
type Reason uint8

// Reasons, in no particular order. Their String is safe to show to clients.
const (
	ReasonSyntax Reason = iota + 1
	ReasonEmpty
	ReasonTruncated
	ReasonBOM
	ReasonComment
	ReasonTrailingComma
	ReasonTrailingData
	ReasonDuplicateKey
	ReasonTooDeep
	ReasonNonFinite
	ReasonNumberRange
	ReasonInvalidUTF8
	ReasonLoneSurrogate
	ReasonControlChar
)

func (r Reason) String() string {
	switch r {
	case ReasonSyntax:
		return "malformed JSON"
	case ReasonEmpty:
		return "empty JSON document"
	case ReasonTruncated:
		return "truncated JSON document"
	case ReasonBOM:
		return "byte order mark before JSON"
	case ReasonComment:
		return "comments are not allowed in JSON"
	case ReasonTrailingComma:
		return "trailing comma"
	case ReasonTrailingData:
		return "data after the JSON value"
	case ReasonDuplicateKey:
		return "duplicate key"
	case ReasonTooDeep:
		return "nested too deeply"
	case ReasonNonFinite:
		return "NaN and Infinity are not JSON numbers"
	case ReasonNumberRange:
		return "number out of range"
	case ReasonInvalidUTF8:
		return "invalid UTF-8"
	case ReasonLoneSurrogate:
		return "lone UTF-16 surrogate escape"
	case ReasonControlChar:
		return "control character in string"
	}
	return "invalid JSON"
}

// Error is a refused document. Pointer is the RFC 6901 pointer of the value
// (or key) where parsing stopped; "" is the root.
type Error struct {
	Reason  Reason
	Offset  int
	Pointer string
}

func (e *Error) Error() string {
	return fmt.Sprintf("json: %s at %q (offset %d)", e.Reason, e.Pointer, e.Offset)
}

// node is one value. Object members carry their key.
type node struct {
	kind  Kind
	esc   bool // string value had escapes: decoded bytes are buf[vs:ve]
	kesc  bool // key had escapes: decoded key is buf[ks:ke]
	isInt bool // number literal without fraction or exponent
	start int32
	end   int32 // raw value is src[start:end]
	krs   int32 // raw key (with quotes) is src[krs:start-of-colon...]; see rawKey
	kre   int32
	ks    int32 // decoded key bytes (src or buf, see kesc)
	ke    int32
	vs    int32 // decoded string bytes when esc
	ve    int32
	first int32 // first child, -1 if none
	next  int32 // next sibling, -1 if none
	n     int32 // number of children
	num   float64
}

type frame struct {
	node int32
	last int32 // last child so far, -1 if none
	n    int32
	obj  bool
}

// Doc is a parsed document. The zero value is ready for Parse; a Doc may be
// reused, and Values from an earlier Parse are invalid after the next one.
// A Doc is not safe for concurrent use.
type Doc struct {
	src   []byte
	nodes []node
	buf   []byte
	stack []frame
	keys  []int32
}

// Parse parses data, which the Doc keeps referencing (do not modify it while
// Values are in use).
func Parse(data []byte, opt Options) (*Doc, error) {
	d := &Doc{}
	if err := d.Parse(data, opt); err != nil {
		return nil, err
	}
	return d, nil
}

// Reset drops references to the last parsed input and trims oversized
// buffers, so a pooled Doc does not pin a large body.
func (d *Doc) Reset() {
	d.src = nil
	if cap(d.nodes) > 1<<14 {
		d.nodes = nil
	}
	if cap(d.buf) > 1<<16 {
		d.buf = nil
	}
	d.nodes, d.buf, d.stack, d.keys = d.nodes[:0], d.buf[:0], d.stack[:0], d.keys[:0]
}

// Parse parses data into d.
func (d *Doc) Parse(data []byte, opt Options) error {
	maxDepth := opt.MaxDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	if len(data) > math.MaxInt32-1 {
		return &Error{Reason: ReasonSyntax}
	}
	d.src = data
	d.nodes, d.buf, d.stack, d.keys = d.nodes[:0], d.buf[:0], d.stack[:0], d.keys[:0]
	src := data
	if len(src) >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF {
		return &Error{Reason: ReasonBOM}
	}
	pos := skipWS(src, 0)
	if pos == len(src) {
		return &Error{Reason: ReasonEmpty, Offset: pos}
	}
	var (
		krs, kre, ks, ke int32 = -1, -1, 0, 0
		kesc             bool
	)
	needValue := true
	for {
		if needValue {
			if pos >= len(src) {
				return d.fail(ReasonTruncated, pos, false)
			}
			idx := int32(len(d.nodes))
			d.nodes = append(d.nodes, node{start: int32(pos), first: -1, next: -1,
				krs: krs, kre: kre, ks: ks, ke: ke, kesc: kesc})
			krs, kre = -1, -1
			d.link(idx)
			n := &d.nodes[idx]
			switch c := src[pos]; {
			case c == '{' || c == '[':
				obj := c == '{'
				if obj {
					n.kind = Object
				} else {
					n.kind = Array
				}
				if len(d.stack) >= maxDepth {
					return d.fail(ReasonTooDeep, pos, true)
				}
				d.stack = append(d.stack, frame{node: idx, last: -1, obj: obj})
				pos = skipWS(src, pos+1)
				if pos < len(src) && (obj && src[pos] == '}' || !obj && src[pos] == ']') {
					pos++
					d.nodes[idx].end = int32(pos)
					d.stack = d.stack[:len(d.stack)-1]
					needValue = false
					continue
				}
				if obj {
					var r Reason
					pos, krs, kre, ks, ke, kesc, r = d.key(pos)
					if r != 0 {
						return d.fail(r, pos, false)
					}
				}
				continue // needValue stays true
			case c == '"':
				end, esc, vs, ve, r := d.str(pos)
				if r != 0 {
					return d.fail(r, end, true)
				}
				n = &d.nodes[idx] // d.str may have grown nothing, but keep the pattern safe
				n.kind, n.esc, n.vs, n.ve = String, esc, vs, ve
				pos = end
			case c == 't':
				if !bytes.HasPrefix(src[pos:], []byte("true")) {
					return d.fail(ReasonSyntax, pos, true)
				}
				n.kind = True
				pos += 4
			case c == 'f':
				if !bytes.HasPrefix(src[pos:], []byte("false")) {
					return d.fail(ReasonSyntax, pos, true)
				}
				n.kind = False
				pos += 5
			case c == 'n':
				if !bytes.HasPrefix(src[pos:], []byte("null")) {
					return d.fail(ReasonSyntax, pos, true)
				}
				n.kind = Null
				pos += 4
			case c == '-' || '0' <= c && c <= '9':
				end, r := d.number(pos, n)
				if r != 0 {
					return d.fail(r, end, true)
				}
				pos = end
			case c == 'N' || c == 'I':
				if bytes.HasPrefix(src[pos:], []byte("NaN")) || bytes.HasPrefix(src[pos:], []byte("Infinity")) {
					return d.fail(ReasonNonFinite, pos, true)
				}
				return d.fail(ReasonSyntax, pos, true)
			case c == '/':
				return d.fail(ReasonComment, pos, true)
			default:
				if c >= 0x80 && !utf8.FullRune(src[pos:]) || c >= 0x80 && !validRuneAt(src, pos) {
					return d.fail(ReasonInvalidUTF8, pos, true)
				}
				return d.fail(ReasonSyntax, pos, true)
			}
			d.nodes[idx].end = int32(pos)
			needValue = false
			continue
		}
		// A value just ended: close containers, or move to the next member.
		if len(d.stack) == 0 {
			pos = skipWS(src, pos)
			if pos != len(src) {
				if src[pos] == '/' {
					return d.fail(ReasonComment, pos, false)
				}
				return d.fail(ReasonTrailingData, pos, false)
			}
			return nil
		}
		top := &d.stack[len(d.stack)-1]
		pos = skipWS(src, pos)
		if pos >= len(src) {
			return d.fail(ReasonTruncated, pos, false)
		}
		switch c := src[pos]; c {
		case ',':
			pos = skipWS(src, pos+1)
			if pos < len(src) && (src[pos] == '}' || src[pos] == ']') {
				return d.fail(ReasonTrailingComma, pos, false)
			}
			if top.obj {
				var r Reason
				pos, krs, kre, ks, ke, kesc, r = d.key(pos)
				if r != 0 {
					return d.fail(r, pos, false)
				}
			}
			needValue = true
		case '}', ']':
			if top.obj != (c == '}') {
				return d.fail(ReasonSyntax, pos, false)
			}
			if top.obj && top.n > 1 {
				if dup := d.duplicate(top.node, top.n); dup >= 0 {
					return d.failKey(dup)
				}
			}
			pos++
			d.nodes[top.node].end = int32(pos)
			d.nodes[top.node].n = top.n
			d.stack = d.stack[:len(d.stack)-1]
		case '/':
			return d.fail(ReasonComment, pos, false)
		default:
			return d.fail(ReasonSyntax, pos, false)
		}
	}
}

func validRuneAt(src []byte, pos int) bool {
	r, size := utf8.DecodeRune(src[pos:])
	return !(r == utf8.RuneError && size <= 1)
}

// link attaches node idx to the container on top of the stack.
func (d *Doc) link(idx int32) {
	if len(d.stack) == 0 {
		return
	}
	top := &d.stack[len(d.stack)-1]
	if top.last < 0 {
		d.nodes[top.node].first = idx
	} else {
		d.nodes[top.last].next = idx
	}
	top.last = idx
	top.n++
}

// key parses `"key" :` starting at pos and returns the position of the value.
func (d *Doc) key(pos int) (next int, krs, kre, ks, ke int32, kesc bool, r Reason) {
	src := d.src
	if pos >= len(src) {
		return pos, 0, 0, 0, 0, false, ReasonTruncated
	}
	if src[pos] != '"' {
		switch src[pos] {
		case '/':
			return pos, 0, 0, 0, 0, false, ReasonComment
		}
		return pos, 0, 0, 0, 0, false, ReasonSyntax
	}
	end, esc, vs, ve, r := d.str(pos)
	if r != 0 {
		return end, 0, 0, 0, 0, false, r
	}
	krs, kre = int32(pos), int32(end)
	if esc {
		ks, ke = vs, ve
	} else {
		ks, ke = int32(pos+1), int32(end-1)
	}
	pos = skipWS(src, end)
	if pos >= len(src) {
		return pos, 0, 0, 0, 0, false, ReasonTruncated
	}
	if src[pos] != ':' {
		return pos, 0, 0, 0, 0, false, ReasonSyntax
	}
	return skipWS(src, pos+1), krs, kre, ks, ke, esc, 0
}

// str scans the string starting with the quote at pos. Without escapes the
// bytes stay in src; with escapes they are decoded into d.buf[vs:ve].
func (d *Doc) str(pos int) (end int, esc bool, vs, ve int32, r Reason) {
	src := d.src
	i := pos + 1
	for i < len(src) {
		c := src[i]
		if plain[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return i + 1, false, 0, 0, 0
		case c == '\\':
			return d.strEscaped(pos, i)
		case c < 0x20:
			return i, false, 0, 0, ReasonControlChar
		case c < 0x80:
			i++
		default:
			rn, size := utf8.DecodeRune(src[i:])
			if rn == utf8.RuneError && size <= 1 {
				return i, false, 0, 0, ReasonInvalidUTF8
			}
			i += size
		}
	}
	return i, false, 0, 0, ReasonTruncated
}

// plain marks the bytes a string may contain as they are: printable ASCII
// but the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (d *Doc) strEscaped(pos, i int) (end int, esc bool, vs, ve int32, r Reason) {
	src := d.src
	start := len(d.buf)
	d.buf = append(d.buf, src[pos+1:i]...)
	for i < len(src) {
		c := src[i]
		switch {
		case c == '"':
			return i + 1, true, int32(start), int32(len(d.buf)), 0
		case c == '\\':
			if i+1 >= len(src) {
				return i, false, 0, 0, ReasonTruncated
			}
			switch e := src[i+1]; e {
			case '"', '\\', '/':
				d.buf = append(d.buf, e)
				i += 2
			case 'b':
				d.buf = append(d.buf, '\b')
				i += 2
			case 'f':
				d.buf = append(d.buf, '\f')
				i += 2
			case 'n':
				d.buf = append(d.buf, '\n')
				i += 2
			case 'r':
				d.buf = append(d.buf, '\r')
				i += 2
			case 't':
				d.buf = append(d.buf, '\t')
				i += 2
			case 'u':
				rn, ok := hex4(src, i+2)
				if !ok {
					if i+6 > len(src) {
						return i, false, 0, 0, ReasonTruncated
					}
					return i, false, 0, 0, ReasonSyntax
				}
				i += 6
				switch {
				case 0xDC00 <= rn && rn <= 0xDFFF:
					return i - 6, false, 0, 0, ReasonLoneSurrogate
				case 0xD800 <= rn && rn <= 0xDBFF:
					if i+1 >= len(src) || src[i] != '\\' || src[i+1] != 'u' {
						return i - 6, false, 0, 0, ReasonLoneSurrogate
					}
					lo, ok := hex4(src, i+2)
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return i - 6, false, 0, 0, ReasonLoneSurrogate
					}
					rn = 0x10000 + (rn-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
				d.buf = utf8.AppendRune(d.buf, rn)
			default:
				return i, false, 0, 0, ReasonSyntax
			}
		case c < 0x20:
			return i, false, 0, 0, ReasonControlChar
		case c < 0x80:
			d.buf = append(d.buf, c)
			i++
		default:
			rn, size := utf8.DecodeRune(src[i:])
			if rn == utf8.RuneError && size <= 1 {
				return i, false, 0, 0, ReasonInvalidUTF8
			}
			d.buf = append(d.buf, src[i:i+size]...)
			i += size
		}
	}
	return i, false, 0, 0, ReasonTruncated
}

func hex4(src []byte, i int) (rune, bool) {
	if i+4 > len(src) {
		return 0, false
	}
	var r rune
	for _, c := range src[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number scans an RFC 8259 number at pos into n.
func (d *Doc) number(pos int, n *node) (int, Reason) {
	src := d.src
	i := pos
	neg := src[i] == '-'
	if neg {
		i++
		if i >= len(src) {
			return i, ReasonTruncated
		}
		if src[i] == 'I' && bytes.HasPrefix(src[i:], []byte("Infinity")) {
			return pos, ReasonNonFinite
		}
	}
	digits := i
	switch {
	case i >= len(src):
		return i, ReasonTruncated
	case src[i] == '0':
		i++
	case '1' <= src[i] && src[i] <= '9':
		for i < len(src) && '0' <= src[i] && src[i] <= '9' {
			i++
		}
	default:
		return i, ReasonSyntax
	}
	intEnd := i
	isInt := true
	if i < len(src) && src[i] == '.' {
		i++
		if i >= len(src) || src[i] < '0' || src[i] > '9' {
			return i, ReasonSyntax
		}
		for i < len(src) && '0' <= src[i] && src[i] <= '9' {
			i++
		}
		isInt = false
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i >= len(src) || src[i] < '0' || src[i] > '9' {
			return i, ReasonSyntax
		}
		for i < len(src) && '0' <= src[i] && src[i] <= '9' {
			i++
		}
		isInt = false
	}
	n.kind, n.isInt = Number, isInt
	if isInt && intEnd-digits <= 15 {
		var v int64
		for _, c := range src[digits:intEnd] {
			v = v*10 + int64(c-'0')
		}
		if neg {
			n.num = -float64(v)
		} else {
			n.num = float64(v)
		}
		return i, 0
	}
	f, err := strconv.ParseFloat(string(src[pos:i]), 64)
	if err != nil || math.IsInf(f, 0) {
		return pos, ReasonNumberRange
	}
	n.num = f
	return i, 0
}

func skipWS(src []byte, i int) int {
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// duplicate returns a member of object obj whose key repeats an earlier
// one, or -1. Small objects are checked pairwise; larger ones by sorting the
// keys, so an object with many keys costs n log n, not n².
func (d *Doc) duplicate(obj, n int32) int32 {
	d.keys = d.keys[:0]
	for m := d.nodes[obj].first; m >= 0; m = d.nodes[m].next {
		d.keys = append(d.keys, m)
	}
	if n <= 16 {
		// Pairwise, on a cheap fingerprint first (length, first and last
		// byte), so most pairs cost one integer comparison.
		var fp [16]uint32
		for i, k := range d.keys {
			b := d.keyBytes(k)
			f := uint32(len(b)) << 16
			if len(b) > 0 {
				f |= uint32(b[0])<<8 | uint32(b[len(b)-1])
			}
			fp[i] = f
		}
		for i := 1; i < len(d.keys); i++ {
			for j := 0; j < i; j++ {
				if fp[i] == fp[j] && bytes.Equal(d.keyBytes(d.keys[i]), d.keyBytes(d.keys[j])) {
					return d.keys[i]
				}
			}
		}
		return -1
	}
	slices.SortStableFunc(d.keys, func(a, b int32) int { return bytes.Compare(d.keyBytes(a), d.keyBytes(b)) })
	for i := 1; i < len(d.keys); i++ {
		if bytes.Equal(d.keyBytes(d.keys[i-1]), d.keyBytes(d.keys[i])) {
			return d.keys[i]
		}
	}
	return -1
}

func (d *Doc) keyBytes(i int32) []byte {
	n := &d.nodes[i]
	if n.kesc {
		return d.buf[n.ks:n.ke]
	}
	return d.src[n.ks:n.ke]
}

// fail builds an Error whose pointer names the value being parsed (inner) or
// the container on top of the stack.
func (d *Doc) fail(r Reason, off int, inner bool) error {
	return &Error{Reason: r, Offset: off, Pointer: d.pointer(inner, -1)}
}

// failKey reports a duplicate key: the pointer is the object's plus the key.
func (d *Doc) failKey(member int32) error {
	return &Error{Reason: ReasonDuplicateKey, Offset: int(d.nodes[member].krs), Pointer: d.pointer(false, member)}
}

func (d *Doc) pointer(inner bool, member int32) string {
	var b strings.Builder
	for i, f := range d.stack {
		child := f.last
		if i == len(d.stack)-1 && !inner {
			child = member
		}
		if child < 0 {
			break
		}
		b.WriteByte('/')
		if f.obj {
			AppendPointerToken(&b, d.keyBytes(child))
		} else {
			b.WriteString(strconv.Itoa(int(f.n - 1)))
		}
	}
	return b.String()
}

// AppendPointerToken writes key as an RFC 6901 reference token ("~" → "~0",
// "/" → "~1").
func AppendPointerToken(b *strings.Builder, key []byte) {
	for _, c := range key {
		switch c {
		case '~':
			b.WriteString("~0")
		case '/':
			b.WriteString("~1")
		default:
			b.WriteByte(c)
		}
	}
}

// Value is a value inside a Doc. The zero Value is invalid.
type Value struct {
	d *Doc
	i int32
}

// Root returns the top-level value.
func (d *Doc) Root() Value {
	if len(d.nodes) == 0 {
		return Value{}
	}
	return Value{d, 0}
}

// Nodes returns the number of values in the document; Value.ID is below it.
func (d *Doc) Nodes() int { return len(d.nodes) }

// Source returns the parsed input.
func (d *Doc) Source() []byte { return d.src }

// Valid reports whether v is a value (Next past the last member is not).
func (v Value) Valid() bool { return v.d != nil && v.i >= 0 }

// ID is v's index in its Doc, for callers that keep per-value state.
func (v Value) ID() int { return int(v.i) }

// Kind returns v's kind.
func (v Value) Kind() Kind { return v.d.nodes[v.i].kind }

// Len returns the number of members or elements of an object or array.
func (v Value) Len() int { return int(v.d.nodes[v.i].n) }

// First returns the first member or element; check Valid.
func (v Value) First() Value { return Value{v.d, v.d.nodes[v.i].first} }

// Next returns the next sibling; check Valid.
func (v Value) Next() Value { return Value{v.d, v.d.nodes[v.i].next} }

// Key returns the unescaped key of an object member.
func (v Value) Key() []byte { return v.d.keyBytes(v.i) }

// RawKey returns the member's key as written, with its quotes.
func (v Value) RawKey() []byte {
	n := &v.d.nodes[v.i]
	if n.krs < 0 {
		return nil
	}
	return v.d.src[n.krs:n.kre]
}

// Raw returns the value as written.
func (v Value) Raw() []byte {
	n := &v.d.nodes[v.i]
	return v.d.src[n.start:n.end]
}

// Offset returns the byte offset of the value in the input.
func (v Value) Offset() int { return int(v.d.nodes[v.i].start) }

// Bytes returns the unescaped content of a string.
func (v Value) Bytes() []byte {
	n := &v.d.nodes[v.i]
	if n.esc {
		return v.d.buf[n.vs:n.ve]
	}
	return v.d.src[n.start+1 : n.end-1]
}

// Float returns a number's value.
func (v Value) Float() float64 { return v.d.nodes[v.i].num }

// IsIntLiteral reports whether a number was written without fraction or
// exponent.
func (v Value) IsIntLiteral() bool { return v.d.nodes[v.i].isInt }

// Member returns the member with the given key, or an invalid Value.
func (v Value) Member(key string) Value {
	for m := v.First(); m.Valid(); m = m.Next() {
		if string(m.Key()) == key {
			return m
		}
	}
	return Value{}
}

// Index returns the i-th element of an array, or an invalid Value.
func (v Value) Index(i int) Value {
	m := v.First()
	for ; m.Valid() && i > 0; i-- {
		m = m.Next()
	}
	return m
}

// AppendString appends s as a JSON string literal. Invalid UTF-8 is written
// as U+FFFD; "<", ">" and "&" are left alone (the output is not HTML).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				switch c {
				case '\n':
					dst = append(dst, '\\', 'n')
				case '\r':
					dst = append(dst, '\\', 'r')
				case '\t':
					dst = append(dst, '\\', 't')
				default:
					dst = append(dst, '\\', 'u', '0', '0', hexDigit(c>>4), hexDigit(c&0xF))
				}
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\\ufffd"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

func hexDigit(c byte) byte { return "0123456789abcdef"[c] }
