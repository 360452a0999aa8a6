package openapi

import (
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestKeywordsAgreeWithJSONSchemaValidator compares Rampart's compiled
// decisions with santhosh-tekuri/jsonschema (an independent JSON Schema
// implementation) on the keywords real documents use (issue 15), with
// Rampart's unknown-field rule relaxed so that both apply JSON Schema alone.
// $recursiveRef runs under draft 2019-09, where it is defined.
func TestKeywordsAgreeWithJSONSchemaValidator(t *testing.T) {
	tests := []struct {
		name, draft, root string // root: Root and its siblings, as JSON members
		instances         []string
		libRoot           string // what jsonschema gets when its metaschema refuses root
	}{
		{"enum: []", "2020-12", `"Root": {"enum": []}`, []string{`"a"`, `null`, `1`, `{}`}, ""},
		{"const", "2020-12", `"Root": {"const": {"a": [1, "x", null]}}`,
			[]string{`{"a":[1,"x",null]}`, `{"a":[1.0,"x",null]}`, `{"a":["x",1,null]}`, `{"a":[1,"x"]}`, `{"a":[1,"x",null],"b":1}`}, ""},
		{"duplicate required", "2020-12", `"Root": {"type": "object", "required": ["a", "a", "b"]}`,
			[]string{`{"a":1,"b":2}`, `{"a":1}`, `{}`}, `"Root": {"type": "object", "required": ["a", "b"]}`},
		{"dependentRequired and dependentSchemas", "2020-12",
			`"Root": {"type": "object", "dependentRequired": {"card": ["cvc"]}, "dependentSchemas": {"coupon": {"required": ["code"], "properties": {"code": {"type": "string", "minLength": 4}}}}}`,
			[]string{`{}`, `{"card":1}`, `{"card":1,"cvc":2}`, `{"coupon":true}`, `{"coupon":true,"code":"abcd"}`, `{"coupon":true,"code":"ab"}`, `{"code":"ab"}`}, ""},
		{"$recursiveRef", "2019-09",
			`"Root": {"$recursiveAnchor": true, "type": "object", "required": ["op"], "properties": {"op": {"enum": ["and", "eq"]}, "args": {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"$recursiveRef": "#"}]}}}}`,
			[]string{`{"op":"eq","args":[1,2]}`, `{"op":"and","args":[{"op":"eq","args":[1]},{"op":"and","args":[{"op":"eq"}]}]}`, `{"op":"and","args":[{"op":"eq","args":["x"]}]}`, `{"op":"and","args":[{"args":[]}]}`, `{"op":"or"}`}, ""},
		{"$dynamicRef", "2020-12",
			`"Root": {"$id": "https://example.com/tree", "$dynamicAnchor": "node", "type": "object", "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$dynamicRef": "#node"}}}}`,
			[]string{`{"v":1,"kids":[{"v":2,"kids":[{"v":3}]}]}`, `{"v":1,"kids":[{"v":2,"kids":[{"v":"3"}]}]}`, `{"kids":[1]}`}, ""},
		{"$anchor and $id targets", "2020-12",
			`"Root": {"type": "object", "properties": {"a": {"$ref": "#pos"}, "b": {"$ref": "https://example.com/short"}}}, "Pos": {"$anchor": "pos", "minimum": 1}, "Short": {"$id": "https://example.com/short", "maxLength": 2}`,
			[]string{`{"a":1,"b":"xy"}`, `{"a":0}`, `{"b":"xyz"}`, `{"a":"not a number","b":3}`}, ""},
		{"unevaluatedProperties: false over allOf", "2020-12",
			`"Root": {"allOf": [{"properties": {"a": {}}}], "properties": {"b": {}}, "unevaluatedProperties": false}`,
			[]string{`{"a":1,"b":2}`, `{"a":1,"b":2,"c":3}`, `{}`}, ""},
		{"unevaluatedProperties schema", "2020-12",
			`"Root": {"properties": {"a": {}}, "patternProperties": {"^x-": {}}, "unevaluatedProperties": {"type": "integer"}}`,
			[]string{`{"a":"s","z":1}`, `{"z":"s"}`, `{"x-y":"s"}`}, ""},
		{"unevaluatedProperties sees only the anyOf branches that match", "2020-12",
			`"Root": {"anyOf": [{"properties": {"x": {"const": 1}}, "required": ["x"]}, {"properties": {"y": {}}}], "unevaluatedProperties": false}`,
			[]string{`{"x":1}`, `{"x":1,"y":2}`, `{"x":2,"y":1}`, `{"z":1}`}, ""},
		{"unevaluatedProperties and if/then/else", "2020-12",
			`"Root": {"if": {"properties": {"t": {"const": "a"}}, "required": ["t"]}, "then": {"properties": {"a": {}}}, "else": {"properties": {"b": {}}}, "unevaluatedProperties": false}`,
			[]string{`{"t":"a","a":1}`, `{"t":"b","a":1}`, `{"b":1}`, `{"t":"b","b":1}`}, ""},
		{"nested unevaluatedProperties sees only its own schema", "2020-12",
			`"Root": {"allOf": [{"properties": {"a": {}}, "unevaluatedProperties": false}], "properties": {"b": {}}}`,
			[]string{`{"a":1}`, `{"a":1,"b":2}`}, ""},
		{"unevaluatedItems", "2020-12",
			`"Root": {"allOf": [{"prefixItems": [{}, {}]}], "contains": {"type": "string"}, "unevaluatedItems": {"type": "integer"}}`,
			[]string{`[true,null,1]`, `[true,null,"s"]`, `[true,null,false]`, `["s",1,2,"t"]`, `[1]`}, ""},
		{"unevaluatedItems: false", "2020-12",
			`"Root": {"prefixItems": [{"type": "string"}], "unevaluatedItems": false}`,
			[]string{`["a"]`, `["a",1]`, `[]`}, ""},
		{"content keywords are annotations", "2020-12",
			`"Root": {"type": "string", "contentMediaType": "application/json", "contentEncoding": "base64", "contentSchema": {"type": "object"}}`,
			[]string{`"%%% not base64"`, `"eyJhIjoxfQ=="`}, ""},
		{"unknown keywords and x- extensions are ignored", "2020-12",
			`"Root": {"type": "object", "x-go-type": "Foo", "frobnicate": {"type": "string"}, "properties": {"a": {"type": "integer", "x-order": 1}}}`,
			[]string{`{"a":1}`, `{"a":"x"}`, `{"frobnicate":1}`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			components := "{" + tt.root + "}"
			_, decide := bodySchema(t, docWith(t, indentJSON(components)), "api.yaml", true)
			if tt.libRoot != "" {
				components = "{" + tt.libRoot + "}"
			}
			text := `{"$schema": "https://json-schema.org/draft/` + tt.draft + `/schema", "$ref": "#/$defs/Root", "$defs": ` + components + `}`
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
			if err != nil {
				t.Fatal(err)
			}
			c := jsonschema.NewCompiler()
			if err := c.AddResource("file:///api.json", doc); err != nil {
				t.Fatal(err)
			}
			sch, err := c.Compile("file:///api.json")
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range tt.instances {
				v, err := jsonschema.UnmarshalJSON(strings.NewReader(in))
				if err != nil {
					t.Fatal(err)
				}
				libErr := sch.Validate(v)
				problems := decide(in)
				if (libErr == nil) != (len(problems) == 0) {
					t.Errorf("%s: Rampart problems %v; jsonschema error %v", in, problems, libErr)
				}
			}
		})
	}
}

// indentJSON places a JSON object under docWith's "  schemas:" key (YAML
// accepts JSON flow syntax).
func indentJSON(obj string) string { return "    " + obj + "\n" }
