package openapi

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/openapi/strictjson"
)

// bodySchema loads a document and returns a function deciding bodies of
// its first operation, as the request path does (unknown fields refused
// unless allowUnknown).
func bodySchema(t *testing.T, dir, file string, allowUnknown bool) (*Document, func(body string) []Problem) {
	t.Helper()
	cfg := Config{Name: "t", Spec: file, BaseDir: dir}
	if allowUnknown {
		cfg.UnknownFields = "allow"
	}
	d, err := Load(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := d.ops[0].body.media[0].s
	return d, func(body string) []Problem {
		var doc strictjson.Doc
		if err := doc.Parse([]byte(body), strictjson.Options{}); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var c checker
		c.reset(modeRequest, allowUnknown)
		c.checkOwned(s, doc.Root())
		return append([]Problem(nil), c.problems...)
	}
}

// docWith writes a 3.1 document whose POST /x body is components.schemas.Root.
func docWith(t *testing.T, components string) string {
	t.Helper()
	dir := t.TempDir()
	text := "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: '#/components/schemas/Root'}\n      responses: {'200': {description: ok}}\ncomponents:\n  schemas:\n" + components
	if err := os.WriteFile(filepath.Join(dir, "api.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRealDocumentKeywordsDecide(t *testing.T) {
	_, decide := bodySchema(t, "testdata", "filters-3.1.yaml", false)
	tests := []struct {
		name, body string
		want       string // pointer of the first problem; "" accepted
	}{
		{"plain query", `{"query":"boots"}`, ""},
		{"comparison filter", `{"query":"q","filter":{"type":"eq","key":"color","value":"red"}}`, ""},
		{"compound filter nested through $recursiveRef", `{"query":"q","filter":{"type":"and","filters":[{"type":"eq","key":"a","value":1},{"type":"or","filters":[{"type":"ne","key":"b","value":true}],"version":1}]}}`, ""},
		{"bad comparison deep in the recursion → refused", `{"query":"q","filter":{"type":"and","filters":[{"type":"or","filters":[{"type":"eq","key":"b"}]}]}}`, "/filter"},
		{"unknown property inside a recursive filter → refused", `{"query":"q","filter":{"type":"and","filters":[{"type":"or","filters":[],"extra":1}]}}`, "/filter"},
		{"const violated in the recursive schema → refused", `{"query":"q","filter":{"type":"and","filters":[],"version":2}}`, "/filter"},
		{"enum: [] accepts no value", `{"query":"q","retired_option":"anything"}`, "/retired_option"},
		{"enum: [] refuses null too", `{"query":"q","retired_option":null}`, "/retired_option"},
		{"duplicate required entry still requires it once", `{}`, "/query"},
		{"lookahead pattern accepts", `{"query":"q","cursor":"abc-123"}`, ""},
		{"lookahead pattern refuses", `{"query":"q","cursor":"internal-123"}`, "/cursor"},
		{"dependentRequired satisfied", `{"query":"q","page":2,"page_size":10}`, ""},
		{"dependentRequired missing → refused", `{"query":"q","page":2}`, "/page_size"},
		{"contentMediaType and contentEncoding are annotations", `{"query":"q","attachment":"not base64 at all!"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decide(tt.body)
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("refused: %v", got)
			case tt.want != "" && len(got) == 0:
				t.Errorf("accepted, want refused at %s", tt.want)
			case tt.want != "" && got[0].Pointer != tt.want:
				t.Errorf("refused at %v, want %s", got, tt.want)
			}
		})
	}
}

func TestDuplicateRequiredIsAWarning(t *testing.T) {
	d, _ := bodySchema(t, "testdata", "filters-3.1.yaml", false)
	var got []string
	for _, w := range d.Warnings() {
		got = append(got, w.Error())
	}
	want := `filters-3.1.yaml#/components/schemas/SearchRequest/required/1 (line 23): duplicate required property "query"`
	if len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("warnings %q, want one containing %q", got, want)
	}
}

func TestDynamicReferences(t *testing.T) {
	tree := `
    Root:
      $id: https://example.com/tree
      $dynamicAnchor: node
      type: object
      properties:
        value: {type: integer}
        children: {type: array, items: {$dynamicRef: '#node'}}
`
	t.Run("$dynamicRef with one anchor recurses", func(t *testing.T) {
		_, decide := bodySchema(t, docWith(t, tree), "api.yaml", false)
		if p := decide(`{"value":1,"children":[{"value":2,"children":[]}]}`); len(p) > 0 {
			t.Errorf("refused: %v", p)
		}
		if p := decide(`{"value":1,"children":[{"value":"two"}]}`); len(p) == 0 || p[0].Pointer != "/children/0/value" {
			t.Errorf("problems %v, want /children/0/value", p)
		}
	})
	refused := []struct {
		name, components, want string
	}{
		{"a second $dynamicAnchor of the same name", tree + `
    Other:
      $id: https://example.com/other
      $dynamicAnchor: node
      type: object
`, `2 schemas declare $dynamicAnchor "node"`},
		{"$recursiveRef reachable from another $recursiveAnchor resource", `
    Root:
      $recursiveAnchor: true
      type: object
      properties:
        inner: {$ref: '#/components/schemas/Inner'}
    Inner:
      $recursiveAnchor: true
      type: object
      properties:
        next: {$recursiveRef: '#'}
`, "components/schemas/Inner/properties/next/$recursiveRef"},
		{"$recursiveRef other than #", `
    Root:
      properties:
        next: {$recursiveRef: '#/components/schemas/Root'}
`, `$recursiveRef must be "#"`},
		{"$dynamicRef to a pointer", `
    Root:
      properties:
        next: {$dynamicRef: '#/components/schemas/Root'}
`, "use an anchor"},
		{"$ref to an unknown anchor", `
    Root:
      $anchor: root
      properties:
        next: {$ref: '#nope'}
`, `no $anchor or $dynamicAnchor "nope"`},
	}
	for _, tt := range refused {
		t.Run(tt.name+" → refused at load", func(t *testing.T) {
			_, err := Load(context.Background(), Config{Name: "t", Spec: "api.yaml", BaseDir: docWith(t, tt.components)}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("$ref to an $anchor and to an $id", func(t *testing.T) {
		_, decide := bodySchema(t, docWith(t, `
    Root:
      type: object
      properties:
        a: {$ref: '#positive'}
        b: {$ref: 'https://example.com/name'}
        c: {$ref: 'https://example.com/name#/$defs/short'}
    Positive:
      $anchor: positive
      type: integer
      minimum: 1
    Name:
      $id: https://example.com/name
      type: string
      maxLength: 3
      $defs:
        short: {maxLength: 1}
`), "api.yaml", false)
		if p := decide(`{"a":1,"b":"abc","c":"x"}`); len(p) > 0 {
			t.Errorf("refused: %v", p)
		}
		if p := decide(`{"a":0,"b":"abcd","c":"xy"}`); len(p) != 3 || p[0].Pointer != "/a" || p[1].Pointer != "/b" || p[2].Pointer != "/c" {
			t.Errorf("problems %v, want /a, /b and /c", p)
		}
	})
}

func TestRegistryFormats(t *testing.T) {
	tests := []struct {
		format, value string
		want          bool
	}{
		{"duration", "P3Y6M4DT12H30M5S", true},
		{"duration", "P1W", true},
		{"duration", "PT0S", true},
		{"duration", "P1Y2D", true}, // ISO 8601 allows skipping units
		{"duration", "P", false},
		{"duration", "PT", false},
		{"duration", "P1DT", false},
		{"duration", "P1S", false},
		{"duration", "P1D1Y", false},
		{"json-pointer", "", true},
		{"json-pointer", "/a~1b/0", true},
		{"json-pointer", "a/b", false},
		{"json-pointer", "/a~2", false},
		{"relative-json-pointer", "0#", true},
		{"relative-json-pointer", "1/a", true},
		{"relative-json-pointer", "01/a", false},
		{"relative-json-pointer", "/a", false},
		{"regex", `^(?!x)\d+$`, true},
		{"regex", `^(`, false},
		{"iri", "not an iri at all", true}, // annotation only
		{"x-custom", "anything", true},
	}
	for _, tt := range tests {
		t.Run(tt.format+" "+tt.value, func(t *testing.T) {
			if got := checkStringFormat(formatNamed(tt.format), []byte(tt.value)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	numbers := []struct {
		format string
		v      float64
		want   bool
	}{
		{"int8", 127, true}, {"int8", 128, false}, {"uint8", -1, false}, {"uint16", 65535, true},
		{"uint32", 1 << 32, false}, {"int16", -32768, true}, {"double-int", 1 << 53, true}, {"double-int", 1<<53 + 2, false},
	}
	for _, tt := range numbers {
		if got := checkNumberFormat(formatNamed(tt.format), tt.v); got != tt.want {
			t.Errorf("%s %v: got %v, want %v", tt.format, tt.v, got, tt.want)
		}
	}
}

// OpenAPI 3.0 keywords per direction: nullable admits null whatever else
// the schema says, a discriminator picks the branch whose properties are
// known, and a required readOnly property is neither required nor allowed
// in a request.
func TestOpenAPI30KeywordsInRequests(t *testing.T) {
	dir := t.TempDir()
	doc := `openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /pets:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Pet'}
      responses: {'200': {description: ok}}
components:
  schemas:
    Pet:
      type: object
      required: [id, kind]
      properties:
        id: {type: integer, readOnly: true}
        nickname: {type: string, nullable: true, enum: [rex, tom]}
        kind: {type: string}
      oneOf: [{$ref: '#/components/schemas/Dog'}, {$ref: '#/components/schemas/Cat'}]
      discriminator: {propertyName: kind, mapping: {dog: Dog, cat: Cat}}
    Dog:
      type: object
      properties: {kind: {type: string, enum: [dog]}, barks: {type: boolean}}
    Cat:
      type: object
      properties: {kind: {type: string, enum: [cat]}, lives: {type: integer}}
`
	if err := os.WriteFile(filepath.Join(dir, "api.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, decide := bodySchema(t, dir, "api.yaml", false)
	tests := []struct {
		name, body, want string
	}{
		{"dog without the read-only id", `{"kind":"dog","barks":true}`, ""},
		{"nullable enum admits null", `{"kind":"cat","lives":9,"nickname":null}`, ""},
		{"nullable enum still checks strings", `{"kind":"cat","nickname":"felix"}`, "/nickname"},
		{"read-only id sent by the client", `{"kind":"dog","id":7}`, "/id"},
		{"a cat's property on a dog (discriminator)", `{"kind":"dog","lives":9}`, "/lives"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decide(tt.body)
			if tt.want == "" && len(got) > 0 || tt.want != "" && (len(got) == 0 || got[0].Pointer != tt.want) {
				t.Errorf("problems %v, want first at %q", got, tt.want)
			}
		})
	}
}
