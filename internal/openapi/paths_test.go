package openapi

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/route"
)

// TestPathKeysAsFrameworksWriteThem routes testdata/paths-3.1.yaml through
// real servers: text around parameters, schema-told-apart templates and
// ?beta=true keys each reach the right operation, and what matches none is
// refused before the upstream.
func TestPathKeysAsFrameworksWriteThem(t *testing.T) {
	h := newHarness(t, Config{Name: "paths", Spec: "testdata/paths-3.1.yaml", ValidateRequests: true, RejectUndocumented: true}, nil)
	const uuid = "0b7f3c4e-9d7a-4e8b-b1a2-6f3c2d1e0a9b"
	tests := []struct {
		name, method, target, body string
		status                     int
		want                       string // in the problem detail
	}{
		{"text after a parameter", "GET", "/files/file-1/thumbnail.png", "", 200, ""},
		{"the same shape without the text is the other operation", "GET", "/files/file-1/3", "", 200, ""},
		{"parameter inside the text is checked", "GET", "/files/file-1/thumbnail.gif", "", 400, "/path/extension"},
		{"other operation's parameter is checked", "GET", "/files/file-1/latest", "", 400, "/path/version"},
		{"segment parameter with a suffix", "GET", "/v1/weekly.json", "", 200, ""},
		{"suffix missing", "GET", "/v1/weekly.xml", "", 404, ""},
		{"empty parameter before the suffix", "GET", "/v1/.json", "", 404, ""},
		{"suffix value bound", "GET", "/v1/much-too-long.json", "", 400, "/path/name"},
		{"Google-style custom method", "POST", "/items/5:archive", "", 200, ""},
		{"custom method parameter type", "POST", "/items/x:archive", "", 400, "/path/id"},
		{"plain item", "GET", "/items/5", "", 200, ""},
		{"method of the other operation", "POST", "/items/5", "", 405, ""},
		{"integer order id picks the integer operation", "GET", "/orders/42?expand=true", "", 200, ""},
		{"uuid picks the uuid operation", "GET", "/orders/" + uuid, "", 200, ""},
		{"uuid operation has no expand", "GET", "/orders/" + uuid + "?expand=true", "", 400, "/query/expand: unknown query parameter"},
		{"neither integer nor uuid", "GET", "/orders/abc", "", 400, "/path/order_uuid"},
		{"suffix and integer", "GET", "/reports/7.json", "", 200, ""},
		{"suffix and uuid (declared after another suffix)", "GET", "/reports/" + uuid + ".json", "", 200, ""},
		{"other suffix", "GET", "/reports/x.yaml", "", 200, ""},
		{"suffix, neither integer nor uuid", "GET", "/reports/x.json", "", 400, "/path/report_uuid"},
		{"beta key selected by its query", "POST", "/responses?beta=true", `{"model":"m","multi_agent":true}`, 200, ""},
		{"plain key without the query", "POST", "/responses", `{"model":"m"}`, 200, ""},
		{"beta field without beta", "POST", "/responses", `{"model":"m","multi_agent":true}`, 400, "/body/multi_agent: unknown property"},
		{"another beta value", "POST", "/responses?beta=false", `{"model":"m"}`, 400, "/query/beta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.up.count()
			ctype := ""
			if tt.body != "" {
				ctype = "application/json"
			}
			got := h.do(tt.method, tt.target, ctype, tt.body)
			_, detail := got.problem()
			forwarded := h.up.count() != before
			if got.status != tt.status || forwarded != (tt.status == 200) || !strings.Contains(detail, tt.want) {
				t.Errorf("→ %d %q forwarded=%v, want %d naming %q", got.status, detail, forwarded, tt.status, tt.want)
			}
			if forwarded {
				s := h.up.last()
				path, query, _ := strings.Cut(tt.target, "?")
				if s.Path != path || s.Query != query || string(s.Body) != tt.body {
					t.Errorf("upstream saw %s?%s %q", s.Path, s.Query, s.Body)
				}
			}
		})
	}
}

// TestRoutesForSharedPathShapes checks routes_from_spec: operations that
// share a method and path shape become one route, and the routes compile
// in the gateway's router.
func TestRoutesForSharedPathShapes(t *testing.T) {
	d, err := Load(context.Background(), Config{Name: "paths", Spec: "testdata/paths-3.1.yaml", Upstream: "u",
		Auth: []string{"tokens"}, RoutesFromSpec: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	routes, err := d.Routes()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	specs := make([]route.Spec, len(routes))
	for i, r := range routes {
		got = append(got, r.Methods[0]+" "+r.Path)
		specs[i] = route.Spec{Path: r.Path, Methods: r.Methods}
	}
	want := "GET /files/{file_id}/{extension}, GET /v1/{name}, GET /items/{id}, POST /items/{id}, GET /orders/{order_id}, POST /responses, GET /reports/{report_id}"
	if strings.Join(got, ", ") != want {
		t.Errorf("routes %s\nwant %s", strings.Join(got, ", "), want)
	}
	if _, errs := route.New(specs); errs != nil {
		t.Errorf("generated routes do not compile: %v", errs)
	}
}

// TestRoutesForSharedPathShapesNeedOneAuth: operations that become one
// route must need the same authenticators; otherwise both are named.
func TestRoutesForSharedPathShapesNeedOneAuth(t *testing.T) {
	dir := t.TempDir()
	doc := `openapi: 3.1.0
info: {title: t, version: "1"}
components:
  securitySchemes:
    staff: {type: http, scheme: bearer}
    partners: {type: apiKey, in: header, name: X-Key}
paths:
  /responses:
    post: {security: [{staff: []}], responses: {'200': {description: ok}}}
  /responses?beta=true:
    post: {security: [{partners: []}], responses: {'200': {description: ok}}}
`
	if err := os.WriteFile(filepath.Join(dir, "api.yaml"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Load(context.Background(), Config{Name: "t", Spec: "api.yaml", BaseDir: dir, Upstream: "u", RoutesFromSpec: true,
		SecuritySchemes: map[string]string{"staff": "sso", "partners": "keys"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Routes()
	if err == nil || !strings.Contains(err.Error(), "POST /responses?beta=true") || !strings.Contains(err.Error(), "shares route /responses with POST /responses") {
		t.Errorf("Routes = %v, want a problem naming both operations", err)
	}
}
