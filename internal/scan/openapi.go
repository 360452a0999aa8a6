package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v4"
	"go.yaml.in/yaml/v4/plugin/loaderlimits"
)

// The scanner reads OpenAPI 3.0 and 3.1 documents (JSON or YAML) only as far
// as it needs to: the operations (path, method, parameters, security), the
// security schemes, the JSON request body schema and the JSON response
// schemas. Only local references ("#/components/...") are followed; anything
// it cannot resolve becomes an unknown schema, which the checks skip rather
// than guess about. Documents come from users and from targets (discovered at
// /openapi.json), so parsing is bounded: size, nesting, aliases, references.

// MaxSpecSize bounds an OpenAPI document.
const MaxSpecSize = 10 << 20

const (
	maxSpecNodes  = 1 << 20 // values converted from YAML, aliases expanded
	maxSpecDepth  = 128     // nesting
	maxSchemaHops = 32      // $ref chains
)

// API is the part of an OpenAPI document the scanner uses.
type API struct {
	Version    string // the "openapi" field: "3.0.3", "3.1.0"...
	ServerPath string // path of the first server URL ("/v1"), "" for none
	Operations []*Operation
	Schemes    map[string]SecurityScheme
}

// SecurityScheme is a components.securitySchemes entry.
type SecurityScheme struct {
	Type   string // apiKey, http, oauth2, openIdConnect, mutualTLS
	Scheme string // http: bearer, basic
	In     string // apiKey: header, query, cookie
	Name   string // apiKey: parameter name
}

// Operation is one path + method.
type Operation struct {
	Method  string // upper case
	Path    string // template as in the document: /items/{id}
	ID      string
	Summary string
	Tags    []string
	Params  []Param
	// Security is the effective requirement list (the operation's, else the
	// document's). Each entry is one alternative: scheme name → scopes.
	// Empty means the operation is public.
	Security  []map[string][]string
	Body      *Schema            // application/json request body; nil if none
	Responses map[string]*Schema // status ("200", "2XX", "default") → JSON schema; nil value = declared without a JSON schema
}

// Param is a path, query, header or cookie parameter.
type Param struct {
	Name     string
	In       string
	Required bool
	Schema   *Schema
	Example  any // from example/examples, else nil
}

// Secured reports whether the operation requires a credential: it has at
// least one security requirement and none of them is empty ({} = optional).
func (op *Operation) Secured() bool {
	if len(op.Security) == 0 {
		return false
	}
	for _, req := range op.Security {
		if len(req) == 0 {
			return false
		}
	}
	return true
}

// Schema is the JSON Schema subset the checks need.
type Schema struct {
	Types      []string // "object", "array", "string"... (3.1 type lists; 3.0 type)
	Properties map[string]*Schema
	Required   []string
	Items      *Schema
	// AdditionalOK is true when additionalProperties is explicitly true or a
	// schema: undeclared names are then declared by the document.
	AdditionalOK bool
	AllOf        []*Schema
	AnyOf        []*Schema
	OneOf        []*Schema
	Format       string
	Enum         []any
	Example      any
	Default      any
	// Unknown is true when the schema could not be read (external $ref,
	// reference cycle too deep): checks must not draw conclusions from it.
	Unknown bool
}

// ParseOpenAPI reads an OpenAPI 3.0/3.1 document in JSON or YAML.
func ParseOpenAPI(data []byte) (*API, error) {
	if len(data) > MaxSpecSize {
		return nil, fmt.Errorf("openapi: document is larger than %d MiB", MaxSpecSize>>20)
	}
	root, err := decodeDocument(data)
	if err != nil {
		return nil, err
	}
	doc, ok := root.(map[string]any)
	if !ok {
		return nil, errors.New("openapi: the document is not an object")
	}
	if v, ok := doc["swagger"]; ok {
		return nil, fmt.Errorf("openapi: Swagger %v documents are not supported (convert to OpenAPI 3)", v)
	}
	version, _ := doc["openapi"].(string)
	if !strings.HasPrefix(version, "3.0") && !strings.HasPrefix(version, "3.1") {
		return nil, fmt.Errorf("openapi: version %q is not 3.0 or 3.1", version)
	}
	p := &specParser{doc: doc, schemas: map[string]*Schema{}, building: map[*Schema]bool{}}
	api := &API{Version: version, Schemes: map[string]SecurityScheme{}}
	if servers, ok := doc["servers"].([]any); ok && len(servers) > 0 {
		if s, ok := servers[0].(map[string]any); ok {
			if raw, ok := s["url"].(string); ok {
				if u, err := url.Parse(raw); err == nil && !strings.Contains(raw, "{") {
					api.ServerPath = strings.TrimRight(u.Path, "/")
				}
			}
		}
	}
	if comps, ok := doc["components"].(map[string]any); ok {
		if schemes, ok := comps["securitySchemes"].(map[string]any); ok {
			for name, v := range schemes {
				m, _ := p.deref(v).(map[string]any)
				api.Schemes[name] = SecurityScheme{Type: str(m["type"]), Scheme: strings.ToLower(str(m["scheme"])),
					In: str(m["in"]), Name: str(m["name"])}
			}
		}
	}
	global := securityList(doc["security"])
	paths, _ := doc["paths"].(map[string]any)
	for _, path := range sortedKeys(paths) {
		if !strings.HasPrefix(path, "/") {
			continue
		}
		item, ok := p.deref(paths[path]).(map[string]any)
		if !ok {
			continue
		}
		shared := p.params(item["parameters"])
		for _, m := range []string{"get", "head", "options", "post", "put", "patch", "delete", "trace"} {
			raw, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			op := &Operation{Method: strings.ToUpper(m), Path: path, ID: str(raw["operationId"]), Summary: str(raw["summary"]),
				Responses: map[string]*Schema{}}
			for _, t := range list(raw["tags"]) {
				if s, ok := t.(string); ok {
					op.Tags = append(op.Tags, s)
				}
			}
			op.Params = mergeParams(shared, p.params(raw["parameters"]))
			if sec, ok := raw["security"]; ok {
				op.Security = securityList(sec)
			} else {
				op.Security = global
			}
			if rb, ok := p.deref(raw["requestBody"]).(map[string]any); ok {
				op.Body = p.jsonContent(rb["content"])
			}
			if resps, ok := raw["responses"].(map[string]any); ok {
				for code, v := range resps {
					r, _ := p.deref(v).(map[string]any)
					op.Responses[strings.ToUpper(code)] = p.jsonContent(r["content"])
				}
			}
			api.Operations = append(api.Operations, op)
		}
	}
	return api, nil
}

// decodeDocument parses JSON (when the text starts with '{') or YAML into
// plain maps, slices and scalars, with string keys.
func decodeDocument(data []byte) (any, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	trimmed = bytes.TrimPrefix(trimmed, []byte("\xef\xbb\xbf"))
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("openapi: JSON: %w", err)
		}
		if d := depth(v, 0); d > maxSpecDepth {
			return nil, errors.New("openapi: document is nested too deeply")
		}
		return v, nil
	}
	l, err := yaml.NewLoader(bytes.NewReader(data), yaml.WithPlugin(loaderlimits.New(loaderlimits.DepthValue(maxSpecDepth))))
	if err != nil {
		return nil, fmt.Errorf("openapi: YAML: %w", err)
	}
	var doc yaml.Node
	if err := l.Load(&doc); err != nil {
		if err == io.EOF {
			return nil, errors.New("openapi: the document is empty")
		}
		return nil, fmt.Errorf("openapi: YAML: %w", err)
	}
	c := &yamlConverter{}
	v, err := c.convert(&doc, 0)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func depth(v any, d int) int {
	if d > maxSpecDepth {
		return d
	}
	best := d
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			best = max(best, depth(e, d+1))
		}
	case []any:
		for _, e := range x {
			best = max(best, depth(e, d+1))
		}
	}
	return best
}

type yamlConverter struct{ nodes int }

func (c *yamlConverter) convert(n *yaml.Node, d int) (any, error) {
	c.nodes++
	if c.nodes > maxSpecNodes {
		return nil, errors.New("openapi: YAML document is too large once aliases are expanded")
	}
	if d > maxSpecDepth {
		return nil, errors.New("openapi: document is nested too deeply")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, errors.New("openapi: the document is empty")
		}
		return c.convert(n.Content[0], d)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, errors.New("openapi: YAML alias without an anchor")
		}
		return c.convert(n.Alias, d+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			for k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("openapi: line %d: mapping keys must be scalars", k.Line)
			}
			v, err := c.convert(n.Content[i+1], d+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := c.convert(e, d+1)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			b, err := strconv.ParseBool(strings.ToLower(n.Value))
			if err != nil {
				return n.Value, nil
			}
			return b, nil
		case "!!int", "!!float":
			return json.Number(n.Value), nil
		}
		return n.Value, nil
	}
	return nil, nil
}

type specParser struct {
	doc      map[string]any
	schemas  map[string]*Schema // by $ref, so cycles share one *Schema
	building map[*Schema]bool   // $ref schemas being resolved
}

// deref follows "$ref" chains to local components.
func (p *specParser) deref(v any) any {
	for range maxSchemaHops {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v
		}
		target, ok := p.pointer(ref)
		if !ok {
			return nil
		}
		v = target
	}
	return nil
}

// pointer resolves a local JSON pointer ("#/components/schemas/Item").
func (p *specParser) pointer(ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	if unesc, err := url.PathUnescape(ref[2:]); err == nil {
		ref = "#/" + unesc
	}
	var cur any = p.doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func (p *specParser) params(v any) []Param {
	var out []Param
	for _, e := range list(v) {
		m, ok := p.deref(e).(map[string]any)
		if !ok {
			continue
		}
		pr := Param{Name: str(m["name"]), In: str(m["in"]), Required: m["required"] == true}
		if pr.Name == "" || pr.In == "" {
			continue
		}
		if pr.In == "path" {
			pr.Required = true
		}
		pr.Schema = p.schema(m["schema"], 0)
		if ex, ok := m["example"]; ok {
			pr.Example = ex
		} else if exs, ok := m["examples"].(map[string]any); ok {
			for _, k := range sortedKeys(exs) {
				if ex, ok := p.deref(exs[k]).(map[string]any); ok {
					if val, ok := ex["value"]; ok {
						pr.Example = val
						break
					}
				}
			}
		}
		out = append(out, pr)
	}
	return out
}

func mergeParams(shared, own []Param) []Param {
	out := slices.Clone(own)
	for _, s := range shared {
		if !slices.ContainsFunc(own, func(o Param) bool { return o.Name == s.Name && o.In == s.In }) {
			out = append(out, s)
		}
	}
	return out
}

// jsonContent picks the schema of application/json (or any +json type).
func (p *specParser) jsonContent(v any) *Schema {
	content, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	for _, ct := range sortedKeys(content) {
		base, _, _ := strings.Cut(strings.ToLower(ct), ";")
		base = strings.TrimSpace(base)
		if base == "application/json" || strings.HasSuffix(base, "+json") {
			mt, _ := p.deref(content[ct]).(map[string]any)
			if mt == nil {
				return &Schema{Unknown: true}
			}
			if _, ok := mt["schema"]; !ok {
				return &Schema{Unknown: true}
			}
			return p.schema(mt["schema"], 0)
		}
	}
	return nil
}

func (p *specParser) schema(v any, d int) *Schema {
	if d > maxSpecDepth {
		return &Schema{Unknown: true}
	}
	if m, ok := v.(map[string]any); ok {
		if ref, ok := m["$ref"].(string); ok {
			if s, ok := p.schemas[ref]; ok {
				return s
			}
			s := &Schema{}
			p.schemas[ref] = s
			target, ok := p.pointer(ref)
			if !ok {
				s.Unknown = true
				return s
			}
			p.building[s] = true
			resolved := p.schema(target, d+1)
			delete(p.building, s)
			if p.building[resolved] || resolved == s { // a cycle of bare $refs: nothing to read
				s.Unknown = true
				return s
			}
			*s = *resolved
			return s
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return &Schema{Unknown: true} // absent, or 3.1's boolean schemas: nothing to check against
	}
	s := &Schema{Format: str(m["format"]), Example: m["example"], Default: m["default"]}
	switch t := m["type"].(type) {
	case string:
		s.Types = []string{t}
	case []any:
		for _, e := range t {
			if x, ok := e.(string); ok {
				s.Types = append(s.Types, x)
			}
		}
	}
	if exs, ok := m["examples"].([]any); ok && s.Example == nil && len(exs) > 0 {
		s.Example = exs[0]
	}
	if props, ok := m["properties"].(map[string]any); ok {
		s.Properties = make(map[string]*Schema, len(props))
		for _, k := range sortedKeys(props) {
			s.Properties[k] = p.schema(props[k], d+1)
		}
	}
	for _, r := range list(m["required"]) {
		if x, ok := r.(string); ok {
			s.Required = append(s.Required, x)
		}
	}
	if items, ok := m["items"]; ok {
		s.Items = p.schema(items, d+1)
	}
	switch ap := m["additionalProperties"].(type) {
	case bool:
		s.AdditionalOK = ap
	case map[string]any:
		s.AdditionalOK = true
	}
	if _, ok := m["patternProperties"]; ok {
		s.AdditionalOK = true
	}
	for _, e := range list(m["allOf"]) {
		s.AllOf = append(s.AllOf, p.schema(e, d+1))
	}
	for _, e := range list(m["anyOf"]) {
		s.AnyOf = append(s.AnyOf, p.schema(e, d+1))
	}
	for _, e := range list(m["oneOf"]) {
		s.OneOf = append(s.OneOf, p.schema(e, d+1))
	}
	s.Enum = list(m["enum"])
	return s
}

// is reports whether the schema's type list includes t.
func (s *Schema) is(t string) bool { return s != nil && slices.Contains(s.Types, t) }

func securityList(v any) []map[string][]string {
	raw, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]map[string][]string, 0, len(raw))
	for _, e := range raw {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		req := map[string][]string{}
		for name, scopes := range m {
			var ss []string
			for _, sc := range list(scopes) {
				if x, ok := sc.(string); ok {
					ss = append(ss, x)
				}
			}
			req[name] = ss
		}
		out = append(out, req)
	}
	return out
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
