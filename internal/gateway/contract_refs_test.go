package gateway_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// Issue 15: a document whose operations are $refs to other files (as
// DigitalOcean's is) passed check, then refused every legitimate request
// (unknown query parameter; 415 "does not take a request body") because the
// operations were read as empty.
func TestOpenAPIOperationRefsAcrossFiles(t *testing.T) {
	spec, err := filepath.Abs("../openapi/testdata/multifile/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(202)
		_, _ = w.Write([]byte(`{}`))
	})
	extra := fmt.Sprintf("openapi:\n  do: { spec: %q, validate_requests: true, reject_undocumented: true }\n", spec)
	routes := "  - { name: api, path: \"/{rest...}\", methods: [GET, POST, DELETE, PATCH], upstream: app, auth: none, openapi: do }\n"
	g := gt.Start(t, gt.Config(up.URL, extra, routes), nil)
	send := func(method, target, body string) (*http.Response, string) {
		req, _ := http.NewRequest(method, g.URL+target, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		return g.Do(t, req)
	}

	forwarded := []struct{ name, method, target, body string }{
		{"list with query parameters from two files", "GET", "/v2/droplets?per_page=20&page=2&tag_name=web", ""},
		{"create with a body whose properties are a $ref", "POST", "/v2/droplets", `{"name":"example.com","size":"s-1vcpu-1gb","tags":["web"]}`},
		{"recursive schema", "POST", "/v2/droplets", `{"name":"a","size":"s","disk_layout":{"size_gb":10,"children":[{"size_gb":5,"children":[]}]}}`},
		{"path item $ref with a shared path parameter", "GET", "/v2/droplets/7", ""},
	}
	for _, tt := range forwarded {
		t.Run(tt.name+" → forwarded", func(t *testing.T) {
			before := up.Count()
			resp, body := send(tt.method, tt.target, tt.body)
			if resp.StatusCode != 202 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			seen := up.Seen()
			if len(seen) != before+1 {
				t.Fatalf("upstream saw %d requests, want 1", len(seen)-before)
			}
			if got := seen[before]; got.Method != tt.method || got.RequestURI != tt.target || got.Body != tt.body {
				t.Errorf("upstream saw %s %s %q, want %s %s %q", got.Method, got.RequestURI, got.Body, tt.method, tt.target, tt.body)
			}
		})
	}

	refused := []struct {
		name, method, target, body string
		status                     int
		typ                        string
	}{
		{"query parameter out of range", "GET", "/v2/droplets?per_page=500", "", 400, "request-invalid"},
		{"unknown query parameter", "GET", "/v2/droplets?admin=1", "", 400, "request-invalid"},
		{"query parameter reached through an escaped pointer, too long", "GET", "/v2/droplets?tag_name=" + strings.Repeat("x", 256), "", 400, "request-invalid"},
		{"missing required property", "POST", "/v2/droplets", `{"name":"example.com"}`, 400, "request-invalid"},
		{"unknown property (mass assignment)", "POST", "/v2/droplets", `{"name":"a","size":"s","is_admin":true}`, 400, "request-invalid"},
		{"pattern in a schema of a referenced map", "POST", "/v2/droplets", `{"name":"a","size":"S 1"}`, 400, "request-invalid"},
		{"bad value deep in the recursive schema", "POST", "/v2/droplets", `{"name":"a","size":"s","disk_layout":{"children":[{"size_gb":0}]}}`, 400, "request-invalid"},
		{"no body where one is required", "POST", "/v2/droplets", "", 400, "request-invalid"},
		{"bad path parameter from the path item's file", "GET", "/v2/droplets/0", "", 400, "request-invalid"},
		{"undocumented method", "PATCH", "/v2/droplets/7", "", 405, "method-not-allowed"},
	}
	for _, tt := range refused {
		t.Run(fmt.Sprintf("%s → %d", tt.name, tt.status), func(t *testing.T) {
			before := up.Count()
			resp, body := send(tt.method, tt.target, tt.body)
			gt.CheckProblem(t, resp, body, tt.status, tt.typ)
			if up.Count() != before {
				t.Fatal("upstream reached")
			}
		})
	}
}
