package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/config/conf"
)

// The keys each section accepts, read from the `yaml:` tags of the types
// that define it: one list, so the parser, the reference and the schema
// cannot disagree.
var (
	topKeys      = keysOf[Config]()
	serverKeys   = keysOf[Server]()
	tlsKeys      = keysOf[TLS]()
	adminKeys    = keysOf[Admin]()
	routeKeys    = keysOf[Route]()
	authKeys     = keysOf[Authenticator]()
	authTypes    = unionTypes(reflect.TypeFor[Authenticator]())
	authTypeKeys = unionKeys(reflect.TypeFor[Authenticator]())
)

// yamlKey returns a field's config key, or "" for fields the loader does not
// fill (`yaml:"-"`, untagged) and inlined ones.
func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func keysOf[T any]() []string { return keys(reflect.TypeFor[T]()) }

// keys lists t's config keys in field order, those of inlined union
// variants after them (each once).
func keys(t reflect.Type) []string {
	var out []string
	seen := map[string]bool{}
	add := func(t reflect.Type) {
		for i := range t.NumField() {
			if k := yamlKey(t.Field(i)); k != "" && !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	add(t)
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("union") != "" {
			add(f.Type.Elem())
		}
	}
	return out
}

// unionTypes lists the `union:` names of t's variants, in field order.
func unionTypes(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if u := t.Field(i).Tag.Get("union"); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// unionKeys maps each variant's name to its keys.
func unionKeys(t reflect.Type) map[string][]string {
	out := map[string][]string{}
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("union") != "" {
			u := f.Tag.Get("union")
			out[u] = keys(f.Type.Elem())
		}
	}
	return out
}

// setDefaults sets every field of the struct *v that has a `default:` tag.
// A tag that does not parse is a programming error (TestEveryKeyParses
// decodes every type).
// setNestedDefaults is setDefaults, also applied to the fields that are
// sections of their own (structs with a config key), so that an absent
// section has its defaults too.
func setNestedDefaults(v any) {
	setDefaults(v)
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		if f.Type.Kind() == reflect.Struct && yamlKey(f) != "" {
			setNestedDefaults(rv.Field(i).Addr().Interface())
		}
	}
}

func setDefaults(v any) {
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		if d, ok := f.Tag.Lookup("default"); ok {
			if err := setScalar(rv.Field(i), d, isSize(f)); err != nil {
				panic(fmt.Sprintf("config: field %s: default %q: %v", f.Name, d, err))
			}
		}
	}
}

// setScalar parses s into v as the config file would write it.
func setScalar(v reflect.Value, s string, size bool) error {
	switch {
	case v.Type() == reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(s)
		v.SetInt(int64(d))
		return err
	case size:
		n, prob := parseSize(s)
		if prob != "" {
			return fmt.Errorf("size %s", prob)
		}
		v.SetInt(n)
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		v.SetBool(b)
		return err
	case reflect.Int:
		n, err := strconv.Atoi(s)
		v.SetInt(int64(n))
		return err
	case reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		v.SetFloat(x)
		return err
	default:
		return fmt.Errorf("no default for %s", v.Type())
	}
	return nil
}

// isSize reports whether a field holds a byte size: a conf.Size, or an int
// tagged `conf:"size"` (kept an int where the standard library wants one).
func isSize(f reflect.StructField) bool {
	return f.Type == reflect.TypeFor[conf.Size]() || f.Tag.Get("conf") == "size"
}
