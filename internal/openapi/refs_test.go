package openapi

import (
	"context"
	"strings"
	"testing"
)

// Every $ref problem is reported, each at its place (file, JSON pointer
// and line), and none is skipped: the document is refused.
func TestRefErrorsListEveryOccurrence(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"circular parameter refs", map[string]string{"api.yaml": `openapi: 3.0.3
paths:
  /a:
    get:
      parameters: [{$ref: '#/components/parameters/a'}]
      responses: {'200': {description: ok}}
components:
  parameters:
    a: {$ref: '#/components/parameters/b'}
    b: {$ref: '#/components/parameters/a'}
`}, []string{"api.yaml#/paths/~1a/get/parameters/0/$ref (line 5)", "circular $ref", "api.yaml#/components/parameters/a"}},
		{"operation ref to a missing file, twice", map[string]string{"api.yaml": `openapi: 3.0.3
paths:
  /a:
    get: {$ref: 'ops/a_get.yml'}
    post: {$ref: 'ops/a_post.yml'}
`}, []string{`api.yaml#/paths/~1a/get/$ref (line 4)`, "ops/a_get.yml: open", `api.yaml#/paths/~1a/post/$ref (line 5)`, "ops/a_post.yml: open"}},
		{"dangling refs in a referenced operation, a header and an example", map[string]string{
			"api.yaml": "openapi: 3.0.3\npaths:\n  /a:\n    post: {$ref: 'op.yml'}\n",
			"op.yml": `requestBody:
  content:
    application/json:
      schema: {$ref: '#/nope'}
      examples:
        one: {$ref: '#/examples/missing'}
responses:
  '200':
    description: ok
    headers:
      x-rate: {$ref: 'headers.yml#/x~1rate'}
`,
			"headers.yml": "x-rate: {schema: {type: integer}}\n"},
			[]string{"op.yml#/requestBody/content/application~1json/schema/$ref (line 4)", "op.yml#/requestBody/content/application~1json/examples/one/$ref (line 6)",
				"op.yml#/responses/200/headers/x-rate/$ref (line 11)", `"/x~1rate" does not resolve in headers.yml`}},
		{"properties ref to something that is not a map", map[string]string{
			"api.yaml": `openapi: 3.0.3
paths:
  /a:
    post:
      requestBody: {content: {application/json: {schema: {type: object, properties: {$ref: '#/components/x'}}}}}
      responses: {'200': {description: ok}}
components:
  x: [1]
`}, []string{"api.yaml#/paths/~1a/post/requestBody/content/application~1json/schema/properties", "properties must be an object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := Load(context.Background(), Config{Name: "inv", Spec: "api.yaml", BaseDir: dir}, nil)
			if err == nil {
				t.Fatal("loaded a broken document")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// JSON pointers in $refs: "~1" is "/", "~0" is "~", and the fragment is
// percent-decoded first (RFC 6901 section 6).
func TestRefPointerEscapes(t *testing.T) {
	dir := writeFiles(t, map[string]string{"api.yaml": `openapi: 3.0.3
paths:
  /a:
    get:
      parameters:
        - $ref: '#/components/parameters/a~1b~0c'
        - $ref: '#/components/parameters/with%20space'
        - $ref: '#/components/parameters/%7E01'
      responses: {'200': {description: ok}}
components:
  parameters:
    a/b~c: {name: slash, in: query, schema: {type: integer}}
    with space: {name: space, in: query, schema: {type: integer}}
    ~1: {name: tilde, in: query, schema: {type: integer}}
`})
	d, err := Load(context.Background(), Config{Name: "inv", Spec: "api.yaml", BaseDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range d.ops[0].params {
		got = append(got, p.name)
	}
	if strings.Join(got, ",") != "slash,space,tilde" {
		t.Errorf("parameters %v, want slash, space, tilde", got)
	}
}
