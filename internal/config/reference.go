package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// The reference (docs/config.md) and the JSON Schema (docs/rampart.schema.json,
// `rampart config schema`) are generated from the same types the loader
// fills: keys from `yaml:` tags, defaults from `default:` tags, meanings from
// the field comments (fieldDocs, generated from the source). TestGenerated
// fails when a committed file is stale.

// module is stripped from package paths in fieldDocs keys.
const module = "github.com/rampart-gw/rampart/"

// docKey names a field in fieldDocs: "internal/cors.Config.AllowOrigins".
func docKey(t reflect.Type, f reflect.StructField) string {
	return strings.TrimPrefix(t.PkgPath(), module) + "." + t.Name() + "." + f.Name
}

// configKey is one key of a mapping in the config file.
type configKey struct {
	name  string
	field reflect.StructField
	doc   string // the field comment, as one paragraph
}

// configKeys lists t's keys in field order (inlined union variants apart).
func configKeys(t reflect.Type, docs map[string]string) []configKey {
	var out []configKey
	for i := range t.NumField() {
		f := t.Field(i)
		if k := yamlKey(f); k != "" {
			out = append(out, configKey{name: k, field: f, doc: docs[docKey(t, f)]})
		}
	}
	return out
}

// variants lists the union variants of t (Authenticator): name and type.
func variants(t reflect.Type) (names []string, types []reflect.Type) {
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("union") != "" {
			names = append(names, f.Tag.Get("union"))
			types = append(types, f.Type.Elem())
		}
	}
	return names, types
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
	urlType      = reflect.TypeFor[*url.URL]()
)

// structOf returns the struct a key's value is a mapping of (directly, by
// pointer, as a named definition or as a list entry), and how the reference
// names one entry ("", ".<name>" or "[]").
func structOf(t reflect.Type) (reflect.Type, string) {
	suffix := ""
	switch t.Kind() {
	case reflect.Map:
		t, suffix = t.Elem(), ".<name>"
	case reflect.Slice:
		t, suffix = t.Elem(), "[]"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == urlType.Elem() || t == prefixType {
		return nil, ""
	}
	return t, suffix
}

// typeName is how the reference names a key's type.
func typeName(f reflect.StructField) string {
	t := f.Type
	switch {
	case t == durationType:
		return "duration"
	case isSize(f):
		return "size"
	case f.Tag.Get("conf") == "or_none":
		return "none, or list of names"
	case f.Tag.Get("conf") == "or_true":
		return "true, or mapping"
	}
	if st, suffix := structOf(t); st != nil {
		switch suffix {
		case ".<name>":
			return "named mappings"
		case "[]":
			return "list of mappings"
		}
		return "mapping"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Slice:
		return "list of strings"
	case reflect.Map:
		if t.Elem().Kind() == reflect.Slice {
			return "map of string or list of strings"
		}
		return "map of strings"
	}
	panic("config: no reference type for " + t.String())
}

// Reference returns docs/config.md.
func Reference() []byte { return reference(fieldDocs) }

func reference(docs map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString(`# Configuration reference

<!-- Generated from the config types by "go test ./internal/config -run TestGenerated -update"; do not edit. -->

Rampart reads one YAML (or JSON) file, strictly: unknown keys, duplicate keys,
wrong types and dangling references are errors reported as ` + "`file:line:col: message`" + `
by ` + "`rampart check`" + `. Every scalar value may use ` + "`${ENV_VAR}`" + ` (` + "`$$`" + ` is a
literal ` + "`$`" + `); messages never show values taken from the environment.

Types: a *duration* has a unit (` + "`250ms`, `30s`, `1m30s`" + `); a *size* is a number of
bytes or a number with ` + "`KB`, `MB`, `GB`" + ` (powers of 1000) or ` + "`KiB`, `MiB`, `GiB`" + `
(powers of 1024). Names of definitions (upstreams, authenticators, ...) are 1-64
letters, digits, ` + "`_`, `-` or `.`" + `, not starting with ` + "`-` or `.`" + `.

A JSON Schema of the file is printed by ` + "`rampart config schema`" + ` (and committed as
[rampart.schema.json](rampart.schema.json)); editors using yaml-language-server pick it
up with a first line such as ` + "`# yaml-language-server: $schema=./docs/rampart.schema.json`" + `.
`)
	type section struct {
		path string
		t    reflect.Type
		note string
	}
	queue := []section{{path: "", t: reflect.TypeFor[Config]()}}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		title := "Top level"
		if s.path != "" {
			title = "`" + s.path + "`"
		}
		fmt.Fprintf(&b, "\n<a id=%q></a>\n\n## %s\n\n", anchor(s.path), title)
		if s.note != "" {
			b.WriteString(s.note + "\n\n")
		}
		b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
		for _, k := range configKeys(s.t, docs) {
			path := k.name
			if s.path != "" {
				path = s.path + "." + k.name
			}
			typ := typeName(k.field)
			if st, suffix := structOf(k.field.Type); st != nil {
				child := path + suffix
				typ = fmt.Sprintf("[%s](#%s)", typ, anchor(child))
				if names, types := variants(st); names != nil {
					typ = "[" + typeName(k.field) + "](#" + anchor(child+" ("+names[0]+")") + ")"
					for i, n := range names {
						queue = append(queue, section{path: child + " (" + n + ")", t: types[i],
							note: fmt.Sprintf("An entry of `%s` with `type: %s`.", k.name, n)})
					}
					// The union's own keys (type) are listed in each variant's note.
				} else {
					queue = append(queue, section{path: child, t: st})
				}
			}
			c := parseConstraints(k.field.Tag.Get("conf"))
			switch {
			case c.oneOf != nil:
				typ += ": " + strings.Join(nonEmpty(c.oneOf), ", ")
			case c.min != "" && c.max != "":
				typ += fmt.Sprintf(", %s to %s", c.min, c.max)
			case c.min != "":
				typ += ", at least " + c.min
			}
			if c.required {
				typ += ", **required**"
			}
			def := k.field.Tag.Get("default")
			if def != "" {
				def = "`" + def + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.name, typ, def, cell(k.doc))
		}
	}
	return b.Bytes()
}

// anchor is a heading's HTML id: the key path with other characters as "-".
func anchor(path string) string {
	if path == "" {
		return "top-level"
	}
	return strings.Trim(strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '_' {
			return r
		}
		return '-'
	}, path), "-")
}

// cell is a field comment as a Markdown table cell.
func cell(doc string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(doc), " "), "|", `\|`)
}

// Schema returns the JSON Schema (draft 2020-12) of the config file.
func Schema() []byte { return schema(fieldDocs) }

func schema(docs map[string]string) []byte {
	g := &schemaGen{docs: docs, defs: map[string]any{}}
	root := g.object(reflect.TypeFor[Config]())
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://github.com/rampart-gw/rampart/docs/rampart.schema.json"
	root["title"] = "Rampart configuration"
	root["required"] = []string{"version"}
	root["$defs"] = g.defs
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		panic(err) // maps of plain values always marshal
	}
	return append(out, '\n')
}

type schemaGen struct {
	docs map[string]string
	defs map[string]any
}

// env is a scalar written as ${VAR}, whatever type it becomes.
var env = map[string]any{"type": "string", "pattern": `\$\{`}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for _, k := range configKeys(t, g.docs) {
		c := parseConstraints(k.field.Tag.Get("conf"))
		if c.required {
			required = append(required, k.name)
		}
		p := g.value(k.field, c)
		if k.doc != "" {
			p["description"] = strings.Join(strings.Fields(k.doc), " ")
		}
		if d, ok := k.field.Tag.Lookup("default"); ok {
			p["default"] = defaultValue(k.field, d)
		}
		props[k.name] = p
	}
	o := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if required != nil {
		o["required"] = required
	}
	return o
}

// ref returns a reference to the definition of struct t, adding it once.
func (g *schemaGen) ref(t reflect.Type) map[string]any {
	// A "/" in a $defs name would need escaping in the $ref's JSON pointer.
	name := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(t.PkgPath(), module), "internal/"), "/", ".") + "." + t.Name()
	if _, ok := g.defs[name]; !ok {
		g.defs[name] = nil // placeholder against recursion
		if names, types := variants(t); names != nil {
			var oneOf []any
			for i, n := range names {
				v := g.object(types[i])
				v["properties"].(map[string]any)["type"] = map[string]any{"const": n}
				req, _ := v["required"].([]string)
				v["required"] = append([]string{"type"}, req...)
				oneOf = append(oneOf, v)
			}
			g.defs[name] = map[string]any{"type": "object", "required": []string{"type"}, "oneOf": oneOf}
		} else {
			g.defs[name] = g.object(t)
		}
	}
	return map[string]any{"$ref": "#/$defs/" + name}
}

func (g *schemaGen) value(f reflect.StructField, c constraints) map[string]any {
	str := map[string]any{"type": "string"}
	strs := map[string]any{"type": "array", "items": str}
	t := f.Type
	switch {
	case t == durationType:
		return map[string]any{"type": "string", "pattern": `^(\$\{.*|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`}
	case isSize(f):
		return map[string]any{"anyOf": []any{map[string]any{"type": "integer", "minimum": 0},
			map[string]any{"type": "string", "pattern": `^(\$\{.*|[0-9]+ ?(KB|MB|GB|KiB|MiB|GiB)?)$`}}}
	case f.Tag.Get("conf") == "or_none":
		return map[string]any{"anyOf": []any{map[string]any{"const": AuthNone}, strs}}
	case f.Tag.Get("conf") == "or_true":
		st, _ := structOf(t)
		return map[string]any{"anyOf": []any{map[string]any{"type": "boolean"}, g.ref(st)}}
	}
	if st, suffix := structOf(t); st != nil {
		switch suffix {
		case ".<name>":
			return map[string]any{"type": "object", "additionalProperties": g.ref(st),
				"propertyNames": map[string]any{"pattern": `^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`}}
		case "[]":
			return map[string]any{"type": "array", "items": g.ref(st)}
		}
		return g.ref(st)
	}
	switch t.Kind() {
	case reflect.String:
		if c.oneOf != nil {
			return map[string]any{"anyOf": []any{map[string]any{"enum": c.oneOf}, env}}
		}
		return str
	case reflect.Bool:
		return map[string]any{"anyOf": []any{map[string]any{"type": "boolean"}, env}}
	case reflect.Int:
		n := map[string]any{"type": "integer"}
		if lo := bound(c.min, strconv.Atoi); lo != nil {
			n["minimum"] = *lo
		}
		if hi := bound(c.max, strconv.Atoi); hi != nil {
			n["maximum"] = *hi
		}
		return map[string]any{"anyOf": []any{n, env}}
	case reflect.Float64:
		n := map[string]any{"type": "number"}
		if lo := bound(c.min, parseFloat); lo != nil {
			n["minimum"] = *lo
		}
		if hi := bound(c.max, parseFloat); hi != nil {
			n["maximum"] = *hi
		}
		return map[string]any{"anyOf": []any{n, env}}
	case reflect.Slice:
		return strs
	case reflect.Map:
		if t.Elem().Kind() == reflect.Slice {
			return map[string]any{"type": "object", "additionalProperties": map[string]any{"anyOf": []any{str, strs}}}
		}
		return map[string]any{"type": "object", "additionalProperties": str}
	}
	panic("config: no schema for " + t.String())
}

// defaultValue is a `default:` tag as the JSON value a schema shows.
func defaultValue(f reflect.StructField, d string) any {
	switch {
	case f.Type == durationType, isSize(f):
		return d
	case f.Type.Kind() == reflect.Bool:
		return d == "true"
	case f.Type.Kind() == reflect.Int:
		var n int
		fmt.Sscan(d, &n)
		return n
	case f.Type.Kind() == reflect.Float64:
		x, _ := parseFloat(d)
		return x
	}
	return d
}
