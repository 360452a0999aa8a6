package config

import (
	"errors"
	"fmt"
	"github.com/rampart-gw/rampart/internal/framing"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v4"

	"github.com/rampart-gw/rampart/internal/config/conf"
)

// constraints are the rules of a `conf:` tag, checked while decoding:
//
//	required        the key must be present (and a string or list not empty)
//	nonempty        a present string or list must not be empty
//	unique          a list must not repeat an entry (unique=fold: ignoring case)
//	oneof=a|b       a string must be one of these ("" among them allows empty)
//	min=X, max=Y    bounds of an integer, number, duration or size (sizes with units)
//	positive        a duration must be greater than 0
//	size            an int field holds a size (see isSize)
//	weburl          an https URL (http for loopback hosts; see webURLProblem)
//	or_any          with weburl: the word any is accepted too (jwt.Any)
//	secret          a secret (see secretProblem; never shown in messages)
//	token=NOUN      an RFC 9110 token, such as a header name (NOUN names it);
//	                for a list, each entry
//	entry=NOUN      what messages call the entries of a map ("claim")
//	claim           a claim name or dotted path
//	or_none         a list of strings that may also be written none
//	or_true         a mapping that may also be written true (its defaults)
//
// Besides, a []*url.URL is a list of upstream targets (see targetURL).
type constraints struct {
	required, nonempty, unique, positive bool
	orNone, orAny                        bool
	fold, weburl, secret, claim          bool
	token, entry                         string
	oneOf                                []string
	min, max                             string
}

func parseConstraints(tag string) constraints {
	var c constraints
	flags := map[string]*bool{"required": &c.required, "nonempty": &c.nonempty, "positive": &c.positive,
		"weburl": &c.weburl, "secret": &c.secret, "claim": &c.claim, "or_none": &c.orNone,
		"or_any": &c.orAny, "size": new(bool), "or_true": new(bool)} // the last two are read by isSize and the reference
	texts := map[string]*string{"token": &c.token, "entry": &c.entry, "min": &c.min, "max": &c.max}
	for _, part := range strings.Split(tag, ",") {
		name, val, _ := strings.Cut(part, "=")
		switch {
		case part == "":
		case name == "unique":
			c.unique, c.fold = true, val == "fold"
		case name == "oneof":
			c.oneOf = strings.Split(val, "|")
		case flags[name] != nil:
			*flags[name] = true
		case texts[name] != nil:
			*texts[name] = val
		default:
			panic("config: unknown conf tag " + part)
		}
	}
	return c
}

// validator is a config type with rules of its own (across keys, or beyond
// what tags say). Its problems are *conf.FieldError, reported at their key.
type validator interface {
	Validate() []error
}

// decode sets the defaults of the struct *v, reads the keys of f into it by
// each field's Go type and `conf:` constraints, then reports v's own Validate
// problems at the keys they name. It is how a control's config type is read
// without the loader knowing its keys.
func (p *parser) decode(f *fields, v any) {
	setNestedDefaults(v)
	if f.bad { // not a mapping (reported): nothing to read or relate
		return
	}
	rv := reflect.ValueOf(v).Elem()
	t := rv.Type()
	failed := map[string]bool{} // keys that are missing or did not decode (reported)
	for i := range t.NumField() {
		sf := t.Field(i)
		key := yamlKey(sf)
		if key == "" {
			continue
		}
		c := parseConstraints(sf.Tag.Get("conf"))
		if !f.has(key) {
			if c.required {
				f.missing(key)
				failed[key] = true
			}
			continue
		}
		if !p.decodeField(f, key, sf, c, rv.Field(i)) {
			failed[key] = true
		}
	}
	if val, ok := v.(validator); ok {
		for _, err := range val.Validate() {
			p.fieldError(f, err, failed)
		}
	}
}

// fieldError reports a Validate problem at the key or list entry it names.
// A problem about a key that failed to decode was reported already.
func (p *parser) fieldError(f *fields, err error, failed map[string]bool) {
	var fe *conf.FieldError
	if !errors.As(err, &fe) {
		p.errAt(f.at, "%s: %v", f.ctx, err)
		return
	}
	n := f.vals[fe.Field]
	switch {
	case failed[fe.Field]:
	case n == nil:
		p.errAt(f.at, "%s %s", f.subject(fe.Field), fe.Msg)
	case fe.Index >= 0 && n.Kind == yaml.SequenceNode && fe.Index < len(n.Content):
		it := n.Content[fe.Index]
		if p.refused[it] {
			return
		}
		if fe.Got {
			v, _ := p.scalar(it, f.subject(fe.Field)+" entries", "strings")
			p.errAt(it, "%s: %s %s %s", f.ctx, fe.Entry, v.show(), fe.Msg)
		} else {
			p.errAt(it, "%s: %s", f.ctx, fe.Msg)
		}
	case fe.AtKey:
		p.errAt(f.keys[fe.Field], "%s: %s", f.ctx, fe.Msg)
	case fe.Got:
		v, _ := p.scalar(n, f.subject(fe.Field), "a string")
		f.errf(fe.Field, "%s; got %s", fe.Msg, v.show())
	default:
		f.errf(fe.Field, "%s", fe.Msg)
	}
}

// decodeField reads key into fv; false when it reported a problem.
func (p *parser) decodeField(f *fields, key string, sf reflect.StructField, c constraints, fv reflect.Value) bool {
	switch {
	case sf.Type.Kind() == reflect.Struct:
		// A section of its own (detect: credential_stuffing:).
		reported := len(p.errs)
		p.decode(f.section(key, f.ctx+" "+key, keys(sf.Type)), fv.Addr().Interface())
		return len(p.errs) == reported
	case sf.Type == durationType:
		d, ok := f.duration(key)
		if !ok {
			return false
		}
		fv.SetInt(int64(d))
		if c.positive && d <= 0 {
			f.errf(key, "must be greater than 0")
			return false
		}
		return inBounds(f, key, c, d, time.ParseDuration)
	case sf.Type == reflect.TypeFor[[]*url.URL]():
		us, ok := p.targets(f, key)
		if ok {
			fv.Set(reflect.ValueOf(us))
		}
		return ok
	case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.Struct:
		items, ok := f.list(key, "a list of mappings")
		if !ok {
			return false
		}
		list := reflect.MakeSlice(sf.Type, len(items), len(items))
		for i, it := range items {
			ctx := fmt.Sprintf("%s entry %d", f.subject(key), i+1)
			reported := len(p.errs)
			p.decode(p.fields(it, nil, ctx, join(join(f.path, key), strconv.Itoa(i)), keys(sf.Type.Elem())), list.Index(i).Addr().Interface())
			if len(p.errs) > reported {
				p.refuse(it) // the container's Validate does not report it again
			}
		}
		fv.Set(list)
		return true
	case sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Struct:
		// A nested section (alerts.syslog): decoded by its own type's tags.
		v := reflect.New(sf.Type.Elem())
		reported := len(p.errs)
		p.decode(f.section(key, f.subject(key), keys(sf.Type.Elem())), v.Interface())
		fv.Set(v)
		return len(p.errs) == reported
	case isSize(sf):
		lo, hi := bound(c.min, sizeOf), bound(c.max, sizeOf)
		if lo == nil || hi == nil {
			panic("config: a size needs min and max: " + key)
		}
		minText := c.min
		if minText == "1" {
			minText = "1 byte"
		}
		n, ok := p.size(f, key, *lo, *hi, "between "+minText+" and "+c.max)
		fv.SetInt(n)
		return ok
	}
	switch sf.Type.Kind() {
	case reflect.String:
		var v value
		var ok bool
		if c.required || c.nonempty {
			v, ok = f.reqStr(key)
		} else {
			v, ok = f.str(key)
		}
		// Kept even when refused below, so that Validate sees the key as set
		// (its findings about a refused key are not reported).
		fv.SetString(v.s)
		return ok && p.checkString(f, key, v, c)
	case reflect.Bool:
		var b bool
		ok := f.boolean(key, &b)
		fv.SetBool(b)
		return ok
	case reflect.Int:
		n, ok := f.integer(key)
		fv.SetInt(int64(n))
		return ok && inBounds(f, key, c, n, strconv.Atoi)
	case reflect.Float64:
		x, ok := f.number(key)
		fv.SetFloat(x)
		return ok && inBounds(f, key, c, x, parseFloat)
	case reflect.Slice:
		if n := f.vals[key]; c.orNone && n != nil && n.Kind == yaml.ScalarNode && n.Value == AuthNone {
			fv.Set(reflect.ValueOf([]string{AuthNone}))
			return true
		}
		list := f.strList
		if c.required || c.nonempty {
			list = func(key string) ([]value, bool) { return f.nonEmptyStrList(key, false) }
		}
		vs, ok := list(key)
		fv.Set(reflect.ValueOf(strs(vs))) // kept even when refused, as strings are
		if !ok || len(vs) != len(f.vals[key].Content) {
			return false // not a list, or entries dropped: indexes would not match
		}
		// Entries refused below stay, marked, so that Validate's findings
		// about the others are still reported.
		checked := vs
		if c.unique {
			var norm func(string) string
			if c.fold {
				norm = strings.ToLower
			}
			checked = p.noDuplicates(vs, f.subject(key), norm)
			if len(checked) != len(vs) {
				kept := map[*yaml.Node]bool{}
				for _, v := range checked {
					kept[v.node] = true
				}
				for _, v := range vs {
					if !kept[v.node] {
						p.refuse(v.node)
					}
				}
			}
		}
		for _, v := range checked {
			if !p.checkEntry(f, key, v, c) {
				p.refuse(v.node)
			}
		}
		return true
	case reflect.Map:
		es, ok := p.entries(f.vals[key], f.subject(key))
		if !ok {
			return false
		}
		m := reflect.MakeMapWithSize(sf.Type, len(es))
		for _, e := range es {
			v := p.mapValue(e.val, fmt.Sprintf("%s: %s %s", f.ctx, c.entry, quoteTrunc(e.name)), sf.Type.Elem())
			if !v.IsValid() {
				ok = false
				continue
			}
			m.SetMapIndex(reflect.ValueOf(e.name), v)
		}
		fv.Set(m)
		return ok
	}
	panic("config: no decoder for " + sf.Type.String())
}

// checkString applies the string constraints to v; false when it reported
// a problem.
func (p *parser) checkString(f *fields, key string, v value, c constraints) bool {
	switch {
	case c.oneOf != nil && !(v.s == "" && contains(c.oneOf, "")):
		return p.oneOf(f, key, v, nonEmpty(c.oneOf)...)
	case c.weburl && !(c.orAny && v.s == "any"):
		if prob := webURLProblem(v.s); prob != "" {
			f.errf(key, "%s; got %s", prob, v.show())
			return false
		}
	case c.secret:
		if prob := secretProblem(v.s); prob != "" {
			f.errf(key, "%s", prob)
			return false
		}
	case c.token != "":
		if !framing.ValidToken(v.s) {
			f.errf(key, "must be a valid %s, got %s", c.token, v.show())
			return false
		}
	case c.claim:
		if v.s == "" || strings.ContainsAny(v.s, " \t") {
			f.errf(key, "must be a claim name or dotted path such as realm_access.roles, got %s", v.show())
			return false
		}
	}
	return true
}

// mapValue reads the value of a map entry: a string, or for a map of lists,
// a string or a non-empty list of strings. The zero Value means a problem
// was reported.
func (p *parser) mapValue(n *yaml.Node, subject string, t reflect.Type) reflect.Value {
	if t.Kind() == reflect.String {
		v, ok := p.scalar(n, subject, "a string")
		if !ok {
			return reflect.Value{}
		}
		return reflect.ValueOf(v.s)
	}
	if n.Kind != yaml.SequenceNode {
		v, ok := p.scalar(n, subject, "a string or a list of strings")
		if !ok {
			return reflect.Value{}
		}
		return reflect.ValueOf([]string{v.s})
	}
	if len(n.Content) == 0 {
		p.errAt(n, "%s must list at least one accepted value", subject)
		return reflect.Value{}
	}
	var out []string
	for _, it := range n.Content {
		v, ok := p.scalar(it, subject+" entries", "strings")
		if !ok {
			return reflect.Value{}
		}
		out = append(out, v.s)
	}
	return reflect.ValueOf(out)
}

// checkEntry applies the list-entry constraints to v; false when it reported
// a problem.
func (p *parser) checkEntry(f *fields, key string, v value, c constraints) bool {
	if c.token != "" && !framing.ValidToken(v.s) {
		p.errAt(v.node, "%s: %s entry %s is not a valid %s", f.ctx, key, v.show(), c.token)
		return false
	}
	return true
}

// bound parses a min or max of a tag; nil when the tag has none.
func bound[T any](s string, parse func(string) (T, error)) *T {
	if s == "" {
		return nil
	}
	v, err := parse(s)
	if err != nil {
		panic(fmt.Sprintf("config: bad bound %q: %v", s, err))
	}
	return &v
}

func sizeOf(s string) (int64, error) {
	n, prob := parseSize(s)
	if prob != "" {
		return 0, errors.New(prob)
	}
	return n, nil
}

// inBounds checks v against the min and max of c; false when it reported a
// problem.
func inBounds[T int | float64 | time.Duration](f *fields, key string, c constraints, v T, parse func(string) (T, error)) bool {
	lo, hi := bound(c.min, parse), bound(c.max, parse)
	var zero T
	switch {
	case lo != nil && *lo == zero && v < zero:
		f.errf(key, "must not be negative, got %v", v)
	case lo != nil && hi != nil && *lo != zero && (v < *lo || v > *hi):
		f.errf(key, "must be between %s and %s, got %v", c.min, c.max, v)
	case lo != nil && v < *lo:
		f.errf(key, "must be at least %s, got %v", c.min, v)
	case hi != nil && v > *hi:
		f.errf(key, "must be at most %s, got %v", c.max, v)
	default:
		return true
	}
	return false
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
