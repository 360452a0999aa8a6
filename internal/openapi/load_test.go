package openapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const okPaths = `
paths:
  /items/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses: {'200': {description: ok}}
`

func TestLoadErrorsNameDocumentFileAndPointer(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{"swagger 2.0", map[string]string{"api.yaml": "swagger: '2.0'\npaths: {}\n"}, []string{`openapi "inv": api.yaml#/swagger`, "Swagger 2.0"}},
		{"unsupported version", map[string]string{"api.yaml": "openapi: 4.0.0\npaths: {}\n"}, []string{"api.yaml#/openapi", `"4.0.0"`}},
		{"invalid YAML", map[string]string{"api.yaml": "openapi: 3.1.0\npaths: [\n"}, []string{`openapi "inv": api.yaml: YAML`}},
		{"invalid JSON", map[string]string{"api.yaml": `{"openapi": "3.1.0",}`}, []string{"api.yaml: JSON"}},
		{"dangling local $ref", map[string]string{"api.yaml": "openapi: 3.1.0\n" + strings.Replace(okPaths, "{type: integer}", "{$ref: '#/components/schemas/Missing'}", 1)},
			[]string{"api.yaml#/paths/~1items~1{id}/get/parameters/0/schema/$ref", "does not resolve"}},
		{"missing referenced file", map[string]string{"api.yaml": "openapi: 3.1.0\n" + strings.Replace(okPaths, "{type: integer}", "{$ref: 'schemas/nope.yaml#/Id'}", 1)},
			[]string{`openapi "inv": api.yaml#/paths/~1items~1{id}/get/parameters/0/schema/$ref (line 6): schemas/nope.yaml: open`}},
		{"problem inside a referenced file", map[string]string{
			"api.yaml":            "openapi: 3.1.0\n" + strings.Replace(okPaths, "{type: integer}", "{$ref: 'schemas/common.yaml#/Id'}", 1),
			"schemas/common.yaml": "Id:\n  type: integer\n  pattern: '(?=x'\n"},
			[]string{"schemas/common.yaml#/Id/pattern", "line 3", "ECMA-262"}},
		{"invalid pattern", map[string]string{"api.yaml": "openapi: 3.0.3\n" + strings.Replace(okPaths, "{type: integer}", "{type: string, pattern: '^[a-z'}", 1)},
			[]string{"#/paths/~1items~1{id}/get/parameters/0/schema/pattern"}},
		{"type array in 3.0", map[string]string{"api.yaml": "openapi: 3.0.3\n" + strings.Replace(okPaths, "{type: integer}", "{type: [integer, 'null']}", 1)},
			[]string{"schema/type", "nullable"}},
		{"unsupported keyword", map[string]string{"api.yaml": "openapi: 3.1.0\n" + strings.Replace(okPaths, "{type: integer}", "{additionalItems: false}", 1)},
			[]string{"schema/additionalItems", "not supported"}},
		{"two parameters in one segment", map[string]string{"api.yaml": "openapi: 3.1.0\npaths:\n  /files/{name}.{ext}:\n    get: {responses: {'200': {description: ok}}}\n"},
			[]string{"#/paths/~1files~1{name}.{ext}", "exactly one {parameter}"}},
		{"x-rampart-owner naming a parameter the path lacks", map[string]string{"api.yaml": "openapi: 3.1.0\n" + strings.Replace(okPaths, "      responses:", "      x-rampart-owner: {match: [{path: user, claim: sub}]}\n      responses:", 1)},
			[]string{"x-rampart-owner/match/0/path", `path "user" is not a parameter of /items/{id}`}},
		{"x-rampart-owner unknown key", map[string]string{"api.yaml": "openapi: 3.1.0\n" + strings.Replace(okPaths, "      responses:", "      x-rampart-owner: {match: [{path: id, claim: sub}], bypass: [admin]}\n      responses:", 1)},
			[]string{"x-rampart-owner/bypass", `unknown key "bypass"`}},
		{"matrix path parameters (the gateway refuses ';' in paths)", map[string]string{"api.yaml": "openapi: 3.1.0\n" + strings.Replace(okPaths, "in: path, required: true", "in: path, required: true, style: matrix", 1)},
			[]string{"parameters/0", "style matrix"}},
		{"segments that can match the same text", map[string]string{"api.yaml": "openapi: 3.1.0\npaths:\n  /f/a{x}:\n    get: {responses: {'200': {description: ok}}}\n  /f/{y}b:\n    get: {responses: {'200': {description: ok}}}\n"},
			[]string{"GET /f/{y}b is ambiguous with GET /f/a{x}"}},
		{"ambiguous templates", map[string]string{"api.yaml": "openapi: 3.1.0\npaths:\n  /a/{x}:\n    get: {responses: {'200': {description: ok}}}\n  /a/{y}:\n    get: {responses: {'200': {description: ok}}}\n"},
			[]string{"#/paths/~1a~1{y}/get", "ambiguous"}},
		{"undefined security scheme", map[string]string{"api.yaml": "openapi: 3.1.0\nsecurity: [{jwt: []}]\n" + okPaths},
			[]string{"api.yaml#/security/0/jwt", "not defined"}},
		{"object query parameter of an unsupported style", map[string]string{"api.yaml": "openapi: 3.1.0\n" + strings.Replace(strings.Replace(okPaths, "in: path, required: true", "in: query, style: pipeDelimited", 1), "{type: integer}", "{type: object, properties: {a: {type: string}}}", 1)},
			[]string{"parameters/0", "pipeDelimited", "not supported"}},
		{"billion laughs", map[string]string{"api.yaml": laughs()}, []string{"too many values"}},
		{"several problems at once", map[string]string{"api.yaml": "openapi: 3.1.0\n" + strings.Replace(okPaths, "{type: integer}", "{type: integer, minLength: -1, pattern: '(?<=a'}", 1)},
			[]string{"schema/minLength", "schema/pattern"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := loadBroken(t, tt.files, "api.yaml", tt.want)
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *LoadError", err)
			}
		})
	}
}

// loadBroken loads spec from files, which must fail with an error
// containing each of want, and returns the error.
func loadBroken(t *testing.T, files map[string]string, spec string, want []string) error {
	t.Helper()
	_, err := Load(context.Background(), Config{Name: "inv", Spec: spec, BaseDir: writeFiles(t, files)}, nil)
	if err == nil {
		t.Fatal("loaded a broken document")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	return err
}

func laughs() string {
	var b strings.Builder
	b.WriteString("openapi: 3.1.0\nx-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	prev := "a"
	for i := 0; i < 8; i++ {
		name := string(rune('b' + i))
		b.WriteString("x-" + name + ": &" + name + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString("]\n")
		prev = name
	}
	b.WriteString("paths: {}\n")
	return b.String()
}

func TestLoadFromURLWithRelativeRefs(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/items/{id}":{"get":{` +
			`"parameters":[{"name":"id","in":"path","required":true,"schema":{"$ref":"schemas/id.json"}}],"responses":{"200":{"description":"ok"}}}}}}`))
	})
	mux.HandleFunc("/schemas/id.json", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"type":"integer","minimum":1}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cfg := Config{Name: "remote", Spec: srv.URL + "/openapi.json", ValidateRequests: true}
	d, err := Load(context.Background(), cfg, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if got := d.ops[0].pathP[0].s.ref; got == nil || !got.hasMin {
		t.Fatalf("relative $ref over HTTP not resolved: %+v", got)
	}

	// A reload while the service is down keeps the last good version.
	srv.Close()
	d2, err := Reload(context.Background(), cfg, srv.Client(), d)
	var le *LoadError
	if d2 != d || !errors.As(err, &le) || !le.Fetch {
		t.Errorf("Reload with the URL down = %p, %v; want the previous document and a fetch error", d2, err)
	}
	if d3, err := Reload(context.Background(), cfg, srv.Client(), nil); d3 != nil || err == nil {
		t.Error("Reload without a previous document must fail")
	}
}

func TestLoadRefusesCrossOriginRefs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"openapi":"3.1.0","paths":{"/a":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"$ref":"http://169.254.169.254/latest/meta-data#/x"}}}}}}}}}`))
	}))
	defer srv.Close()
	_, err := Load(context.Background(), Config{Name: "remote", Spec: srv.URL + "/openapi.json"}, srv.Client())
	if err == nil || !strings.Contains(err.Error(), "another origin") {
		t.Errorf("cross-origin $ref: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Name: "a"},
		{Name: "a", Spec: "x", FilterResponses: "drop"},
		{Name: "a", Spec: "x", UnknownFields: "ignore"},
		{Name: "a", Spec: "x", BasePath: "v1"},
		{Name: "a", Spec: "ftp://x/openapi.json"},
	} {
		if _, err := Load(context.Background(), cfg, nil); err == nil || !strings.HasPrefix(err.Error(), `openapi "a"`) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}

func TestFixturesLoad(t *testing.T) {
	tests := []struct {
		spec, basePath, version string
		ops                     int
	}{
		{"testdata/fastapi-0.110-openapi.json", "", "3.1.0", 11},
		{"testdata/fastapi-0.95-openapi.json", "", "3.0.2", 5},
		{"testdata/orders-3.1.yaml", "/api/v2", "3.1.0", 7}, // servers[0] with a variable
		{"testdata/multifile/openapi.yaml", "", "3.0.3", 4}, // operations and path items are $refs to files
	}
	for _, tt := range tests {
		d, err := Load(context.Background(), Config{Name: "x", Spec: tt.spec}, nil)
		if err != nil {
			t.Errorf("%s: %v", tt.spec, err)
			continue
		}
		if d.Version() != tt.version || len(d.ops) != tt.ops || d.basePath != tt.basePath {
			t.Errorf("%s: version %s, %d operations, base path %q", tt.spec, d.Version(), len(d.ops), d.basePath)
		}
	}
	d, err := Load(context.Background(), Config{Name: "x", Spec: "testdata/orders-3.1.yaml", BasePath: "/"}, nil)
	if err != nil || d.basePath != "" || d.ops[0].template != "/orders" {
		t.Errorf("base_path: / must ignore servers: %v %q", err, d.basePath)
	}
}
