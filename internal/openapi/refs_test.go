package openapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
parameters:
  - {name: q, in: query, schema: {type: string}, examples: {a: {$ref: '#/examples/q'}}}
responses:
  '200':
    description: ok
    headers:
      x-rate: {$ref: 'headers.yml#/x~1rate'}
`,
			"headers.yml": "x-rate: {schema: {type: integer}}\n"},
			[]string{"op.yml#/requestBody/content/application~1json/schema/$ref (line 4)", "op.yml#/requestBody/content/application~1json/examples/one/$ref (line 6)",
				"op.yml#/parameters/0/examples/a/$ref (line 8)", "op.yml#/responses/200/headers/x-rate/$ref (line 13)", `"/x~1rate" does not resolve in headers.yml`}},
		{"path problems listed with the others", map[string]string{"api.yaml": `openapi: 3.0.3
paths:
  /a/{x}:
    get: {parameters: [{$ref: '#/nope'}], responses: {'200': {description: ok}}}
  /a/{y}:
    get: {responses: {'200': {description: ok}}}
`}, []string{"api.yaml#/paths/~1a~1{x}/get/parameters/0/$ref (line 4)", "api.yaml#/paths/~1a~1{y}/get", "ambiguous"}},
		{"path item with a $ref and its own operation", map[string]string{
			"api.yaml": "openapi: 3.0.3\npaths:\n  /a:\n    $ref: 'a.yml'\n    get: {responses: {'200': {description: ok}}}\n",
			"a.yml":    "post: {responses: {'200': {description: ok}}}\n"},
			[]string{"api.yaml#/paths/~1a/get (line 5)", "must not have its own get"}},
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
		t.Run(tt.name, func(t *testing.T) { loadBroken(t, tt.files, "api.yaml", tt.want) })
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

// remote_refs: a $ref to another origin is refused unless the config
// allows it; then each URL is fetched once, within max_spec_bytes, and
// never under Offline (rampart check without --online).
func TestRemoteRefs(t *testing.T) {
	fetches := map[string]int{}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches[r.URL.Path]++
		mu.Unlock()
		switch r.URL.Path {
		case "/common.yaml":
			_, _ = w.Write([]byte("Id: {type: integer, minimum: 1}\nName: {type: string, maxLength: 8}\n"))
		case "/big.yaml":
			_, _ = w.Write([]byte("Big: {type: string, description: '" + strings.Repeat("x", 2048) + "'}\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	fetched := func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return fetches[path]
	}
	doc := func(ref2 string) map[string]string {
		return map[string]string{"api.yaml": fmt.Sprintf(`openapi: 3.0.3
paths:
  /items/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {$ref: '%[1]s/common.yaml#/Id'}}
        - {name: q, in: query, schema: {$ref: '%[1]s/%[2]s'}}
      responses: {'200': {description: ok}}
`, srv.URL, ref2)}
	}
	load := func(files map[string]string, cfg Config) (*Document, error) {
		cfg.Name, cfg.Spec, cfg.BaseDir = "inv", "api.yaml", writeFiles(t, files)
		return Load(context.Background(), cfg, srv.Client())
	}

	t.Run("off by default: every remote $ref listed", func(t *testing.T) {
		_, err := load(doc("common.yaml#/Name"), Config{})
		for _, w := range []string{"parameters/0/schema/$ref (line 6)", "parameters/1/schema/$ref (line 7)", "remote_refs: true"} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("error lacks %q: %v", w, err)
			}
		}
		if n := fetched("/common.yaml"); n != 0 {
			t.Errorf("fetched %d times with remote_refs off", n)
		}
	})
	t.Run("allowed: fetched once and enforced", func(t *testing.T) {
		d, err := load(doc("common.yaml#/Name"), Config{RemoteRefs: true})
		if err != nil {
			t.Fatal(err)
		}
		if n := fetched("/common.yaml"); n != 1 {
			t.Errorf("common.yaml fetched %d times, want 1", n)
		}
		if id := d.ops[0].pathP[0].s.ref; id == nil || !id.hasMin {
			t.Errorf("remote schema not compiled: %+v", id)
		}
	})
	t.Run("bounded by max_spec_bytes", func(t *testing.T) {
		_, err := load(doc("big.yaml#/Big"), Config{RemoteRefs: true, MaxSpecBytes: 1024})
		if err == nil || !strings.Contains(err.Error(), "max_spec_bytes") || !strings.Contains(err.Error(), "parameters/1/schema/$ref") {
			t.Errorf("oversized remote file: %v", err)
		}
	})
	t.Run("offline: not fetched, the document is unfetched", func(t *testing.T) {
		before := fetched("/common.yaml")
		_, err := load(doc("common.yaml#/Name"), Config{RemoteRefs: true, Offline: true})
		if !errors.Is(err, ErrOffline) {
			t.Errorf("offline: %v, want ErrOffline", err)
		}
		if fetched("/common.yaml") != before {
			t.Error("fetched while offline")
		}
	})
}

// Lines in JSON documents are counted as the parser goes (issue 15: counting
// from the start for every value made a 4 MB document take seconds): every
// problem still gets its own line.
func TestJSONProblemLines(t *testing.T) {
	loadBroken(t, map[string]string{"api.json": `{
  "openapi": "3.0.3",
  "paths": {
    "/a": {
      "get": {
        "parameters": [
          {"name": "x", "in": "query", "schema": {"$ref": "#/nope"}},

          {"name": "y", "in": "query", "schema": {"$ref": "#/nope/either"}}
        ],
        "responses": {"200": {"description": "ok"}}
      }
    }
  }
}`}, "api.json", []string{"parameters/0/schema/$ref (line 7)", "parameters/1/schema/$ref (line 9)"})
}

func TestLoadListsProblemsUpToTheBoundAndCountsTheRest(t *testing.T) {
	var b strings.Builder
	b.WriteString("openapi: 3.0.3\npaths:\n  /a:\n    get:\n      responses: {'200': {description: ok}}\n      parameters:\n")
	for i := range maxLoadErrors + 2 {
		fmt.Fprintf(&b, "        - {name: p%d, in: query, schema: {$ref: '#/nope'}}\n", i)
	}
	msg := loadBroken(t, map[string]string{"api.yaml": b.String()}, "api.yaml", nil).Error()
	if n := strings.Count(msg, "does not resolve"); n != maxLoadErrors {
		t.Errorf("%d problems listed, want %d", n, maxLoadErrors)
	}
	if !strings.HasSuffix(msg, "2 more problems not listed") {
		t.Errorf("error ends %q", msg[len(msg)-80:])
	}
}

// Without remote_refs, a same-origin $ref that redirects to another origin
// is refused before the redirect is followed.
func TestRefRedirectToAnotherOrigin(t *testing.T) {
	var reached sync.Mutex
	other := 0
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Lock()
		other++
		reached.Unlock()
		_, _ = w.Write([]byte(`{"type":"integer"}`))
	}))
	defer elsewhere.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"openapi":"3.1.0","paths":{"/a":{"get":{"parameters":[{"name":"q","in":"query","schema":{"$ref":"id.json"}}],"responses":{"200":{"description":"ok"}}}}}}`))
	})
	mux.HandleFunc("/id.json", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/latest/meta-data", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_, err := Load(context.Background(), Config{Name: "remote", Spec: srv.URL + "/openapi.json"}, srv.Client())
	if err == nil || !strings.Contains(err.Error(), "redirected to another origin") || !strings.Contains(err.Error(), "parameters/0/schema/$ref") {
		t.Errorf("redirected $ref: %v", err)
	}
	reached.Lock()
	defer reached.Unlock()
	if other != 0 {
		t.Error("the other origin was reached")
	}
}

// The YAML library's tree is released while it is converted, except
// anchored nodes, which aliases may name again after their first use.
func TestYAMLAliasesSurviveConversion(t *testing.T) {
	root, err := parseDocument([]byte(`
a: &name {type: string, maxLength: 8, nested: &inner [1, 2]}
b: *name
c: [*name, *inner, {d: *inner}]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, ptr := range []string{"/a/maxLength", "/b/maxLength", "/c/0/maxLength", "/c/0/nested/1", "/c/1/1", "/c/2/d/1"} {
		if n, err := walkPointer(root, ptr); err != nil || n.kind != kNum {
			t.Errorf("%s: %v %+v", ptr, err, n)
		}
	}
}
