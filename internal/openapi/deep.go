package openapi

import (
	"slices"
	"strings"

	"github.com/rampart-gw/rampart/internal/openapi/strictjson"
)

// deepValue is a value read from bracketed keys, the deepObject convention
// of Stripe, qs and Rack ("card[number]=4242", "expand[0]=customer",
// "items[0][price]=p_1"): a leaf string, or children by key.
type deepValue struct {
	key  string
	val  string
	leaf bool
	kids []*deepValue
}

// Reasons a bracketed key is refused.
const (
	reasonDeepMalformed = "malformed bracketed name"
	reasonDeepRepeated  = "repeated property"
	reasonDeepConflict  = "given both as a value and with [keys]"
	reasonDeepTooDeep   = "bracketed name nested too deeply"
)

// deepPointer turns a bracketed name ("card[number]") into a JSON pointer
// under prefix ("/body/card/number").
func deepPointer(prefix, key string) string {
	b := []byte(prefix)
	for _, tok := range strings.FieldsFunc(key, func(r rune) bool { return r == '[' || r == ']' }) {
		b = append(b, '/')
		b = appendToken(b, []byte(tok))
	}
	return string(b)
}

// insert adds val at the bracketed path rest ("[b][0]"; "" for the value
// itself) below v. "[]" always appends a new child. It returns a reason
// when the key is malformed or contradicts an earlier one.
func (v *deepValue) insert(rest, val string, maxDepth int) string {
	cur := v
	for depth := 0; rest != ""; depth++ {
		if depth >= maxDepth {
			return reasonDeepTooDeep
		}
		if rest[0] != '[' {
			return reasonDeepMalformed
		}
		end := 1
		for end < len(rest) && rest[end] != ']' && rest[end] != '[' {
			end++
		}
		if end == len(rest) || rest[end] != ']' {
			return reasonDeepMalformed
		}
		key := rest[1:end]
		rest = rest[end+1:]
		if cur.leaf {
			return reasonDeepConflict
		}
		var next *deepValue
		if key != "" {
			for _, k := range cur.kids {
				if k.key == key {
					next = k
					break
				}
			}
		}
		if next == nil {
			next = &deepValue{key: key}
			cur.kids = append(cur.kids, next)
		}
		cur = next
	}
	switch {
	case cur.leaf:
		return reasonDeepRepeated
	case len(cur.kids) > 0:
		return reasonDeepConflict
	}
	cur.leaf, cur.val = true, val
	return ""
}

// appendDeep writes v as JSON for the schemas in views (the schemas that
// apply at this place; none for an undeclared property, which the
// unknown-field rule then refuses). Children become an array when a schema
// admits one and their keys are "[]" appends or exactly the indexes 0..n-1
// (a sparse or mixed list is an object, which an array schema refuses:
// frameworks disagree on how to compact it); otherwise an object. Leaves
// are read as numbers and booleans only where a schema admits them.
func appendDeep(b []byte, v *deepValue, views []*schema) []byte {
	types := viewTypes(views)
	if v.leaf {
		return appendScalar(b, types, v.val)
	}
	if order := arrayOrder(v.kids); types&tArr != 0 && order != nil {
		b = append(b, '[')
		for i, k := range order {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendDeep(b, k, itemViews(views, i))
		}
		return append(b, ']')
	}
	b = append(b, '{')
	for i, k := range v.kids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strictjson.AppendString(b, k.key)
		b = append(b, ':')
		b = appendDeep(b, k, propViews(views, k.key))
	}
	return append(b, '}')
}

func viewTypes(views []*schema) typeMask {
	if len(views) == 0 {
		return tStr
	}
	var t typeMask
	for _, s := range views {
		t |= s.ptypes
	}
	return t
}

// arrayOrder returns kids in index order when their keys are all "" or
// exactly 0..n-1, else nil (also for no kids: a value left empty by a
// refused name, rendered as {}). It allocates only for indexes out of order.
func arrayOrder(kids []*deepValue) []*deepValue {
	if len(kids) == 0 {
		return nil
	}
	if kids[0].key == "" {
		for _, k := range kids {
			if k.key != "" {
				return nil
			}
		}
		return kids
	}
	inOrder := true
	for i, k := range kids {
		j, ok := arrayIndex(k.key)
		if !ok || j >= len(kids) {
			return nil
		}
		inOrder = inOrder && i == j
	}
	if inOrder {
		return kids
	}
	out := make([]*deepValue, len(kids))
	for _, k := range kids {
		j, _ := arrayIndex(k.key)
		if out[j] != nil {
			return nil
		}
		out[j] = k
	}
	return out
}

// arrayIndex reads a canonical decimal index ("0", "12"; not "01", "+1").
func arrayIndex(s string) (int, bool) {
	if s == "" || len(s) > 9 || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// propViews returns the schemas that apply to property key of an object
// described by views: declared properties, matching patternProperties, and
// additionalProperties of the schemas that declare neither.
func propViews(views []*schema, key string) []*schema {
	var out []*schema
	for _, v := range views {
		for _, x := range v.all {
			matched := false
			for _, p := range x.props {
				if p.name == key {
					out, matched = append(out, p.s), true
				}
			}
			for _, pp := range x.patProps {
				if pp.re != nil && pp.re.Match([]byte(key)) {
					out, matched = append(out, pp.s), true
				}
			}
			if !matched && x.addl != nil {
				out = append(out, x.addl)
			}
		}
	}
	return slices.Compact(out)
}

// itemViews returns the schemas that apply to item i of an array.
func itemViews(views []*schema, i int) []*schema {
	var out []*schema
	for _, v := range views {
		for _, x := range v.all {
			switch {
			case i < len(x.prefix):
				out = append(out, x.prefix[i])
			case x.items != nil:
				out = append(out, x.items)
			}
		}
	}
	return out
}
