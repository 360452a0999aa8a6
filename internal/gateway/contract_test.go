package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// fastAPISpec is a FastAPI 0.110-generated document (OpenAPI 3.1).
func fastAPISpec(t *testing.T) string {
	p, err := filepath.Abs("../openapi/testdata/fastapi-0.110-openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const leakyItem = `{"id":1,"name":"bolt","description":null,"price":1.5,"quantity":3,"category":"books","tags":["a"],"sku":"AB-123",
"dimensions":{"width_cm":1,"height_cm":2,"depth_cm":3,"supplier_cost":0.2},"created_at":"2024-01-01T00:00:00Z",
"owner_id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","internal_margin":0.42,"password_hash":"$2b$12$abc"}`

func TestOpenAPIContract(t *testing.T) {
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == "POST" {
			w.WriteHeader(201)
		}
		io.WriteString(w, leakyItem)
	})
	extra := fmt.Sprintf("openapi:\n  inv: { spec: %q, validate_requests: true, filter_responses: strip, reject_undocumented: true }\n", fastAPISpec(t))
	routes := "  - { name: api, path: \"/{rest...}\", methods: [GET, POST, PATCH, DELETE], upstream: app, auth: none, openapi: inv }\n"
	g := gt.Start(t, gt.Config(up.URL, extra, routes), nil)
	send := func(method, path, ctype, body string) (*http.Response, string) {
		req, _ := http.NewRequest(method, g.URL+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		return g.Do(t, req)
	}
	valid := `{"name":"bolt","price":1.5,"category":"books","sku":"AB-123","tags":["x"],"quantity":3}`

	t.Run("valid request passes and the body arrives intact", func(t *testing.T) {
		before := up.Count()
		resp, body := send("POST", "/items/", "application/json", valid)
		if resp.StatusCode != 201 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if got := up.Seen()[before].Body; got != valid {
			t.Errorf("upstream body %q", got)
		}
	})
	t.Run("undeclared response fields stripped at every depth", func(t *testing.T) {
		resp, body := send("GET", "/items/1", "", "")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		for _, leaked := range []string{"internal_margin", "password_hash"} {
			if _, ok := got[leaked]; ok {
				t.Errorf("%s leaked", leaked)
			}
		}
		if dims, _ := got["dimensions"].(map[string]any); dims == nil || dims["supplier_cost"] != nil || dims["width_cm"] == nil {
			t.Errorf("nested object not filtered right: %v", got["dimensions"])
		}
		if got["sku"] != "AB-123" {
			t.Errorf("declared field lost: %v", got)
		}
		if resp.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
			t.Errorf("Content-Length %s for %d bytes", resp.Header.Get("Content-Length"), len(body))
		}
	})
	refused := []struct {
		name, method, path, ctype, body string
		status                          int
		pointer                         string
	}{
		{"wrong type", "POST", "/items/", "application/json", `{"name":"bolt","price":"cheap","category":"books","sku":"AB-123"}`, 400, "/price"},
		{"missing required", "POST", "/items/", "application/json", `{"name":"bolt","price":1,"category":"books"}`, 400, "/sku"},
		{"too long", "POST", "/items/", "application/json", `{"name":"` + strings.Repeat("n", 101) + `","price":1,"category":"books","sku":"AB-123"}`, 400, "/name"},
		{"out of range", "POST", "/items/", "application/json", `{"name":"b","price":1,"category":"books","sku":"AB-123","quantity":100001}`, 400, "/quantity"},
		{"unknown field (mass assignment)", "POST", "/items/", "application/json", `{"name":"b","price":1,"category":"books","sku":"AB-123","is_admin":true}`, 400, "/is_admin"},
		{"duplicate keys", "POST", "/items/", "application/json", `{"name":"b","name":"c","price":1,"category":"books","sku":"AB-123"}`, 400, ""},
		{"deep nesting", "POST", "/items/", "application/json", strings.Repeat("[", 100000) + strings.Repeat("]", 100000), 400, ""},
		{"invalid UTF-8", "POST", "/items/", "application/json", "{\"name\":\"\xff\",\"price\":1,\"category\":\"books\",\"sku\":\"AB-123\"}", 400, ""},
		{"wrong content type", "POST", "/items/", "text/plain", valid, 415, ""},
		{"form sent to a JSON operation", "POST", "/items/", "application/x-www-form-urlencoded", "name=b", 415, ""},
		{"bad path parameter", "GET", "/items/0", "", "", 400, ""},
		{"bad query parameter", "GET", "/items/?limit=1000", "", "", 400, ""},
		{"undocumented path", "GET", "/admin/export", "", "", 404, ""},
		{"undocumented method", "DELETE", "/users/me", "", "", 405, ""},
	}
	for _, tt := range refused {
		t.Run(tt.name+fmt.Sprintf(" → %d", tt.status), func(t *testing.T) {
			before := up.Count()
			resp, body := send(tt.method, tt.path, tt.ctype, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("not a problem: %s", body)
			}
			if tt.pointer != "" {
				var p struct {
					Errors []struct{ Pointer string } `json:"errors"`
				}
				_ = json.Unmarshal([]byte(body), &p)
				found := false
				for _, e := range p.Errors {
					found = found || strings.HasSuffix(e.Pointer, tt.pointer)
				}
				if !found {
					t.Errorf("problem errors do not name %s: %s", tt.pointer, body)
				}
			}
			if strings.Contains(body, "cheap") || strings.Contains(body, "is_admin\":true") {
				t.Errorf("value echoed back: %s", body)
			}
			if up.Count() != before {
				t.Fatal("upstream reached")
			}
		})
	}
}

func TestRoutesFromSpec(t *testing.T) {
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[]`)
	})
	extra := fmt.Sprintf(`authenticators:
  sso: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [HS256], secret: %q }
openapi:
  inv:
    spec: %q
    validate_requests: true
    routes_from_spec: true
    upstream: app
    security_schemes: { OAuth2PasswordBearer: sso, HTTPBearer: sso }
    allow_public: true
`, testIssuer, testSecret, fastAPISpec(t))
	g := gt.Start(t, gt.Config(up.URL, extra, "  []\n"), nil)
	hs := &authtest.Key{Alg: "HS256", Signer: []byte(testSecret)}
	get := func(method, path, scope string) int {
		req, _ := http.NewRequest(method, g.URL+path, nil)
		if scope != "" {
			req.Header.Set("Authorization", "Bearer "+authtest.Mint(t, hs, claims(testIssuer, "alice", map[string]any{"scope": scope}), nil))
		}
		resp, _ := g.Do(t, req)
		return resp.StatusCode
	}
	if s := get("GET", "/health", ""); s != 200 {
		t.Errorf("public operation: %d", s)
	}
	if s := get("GET", "/items/", ""); s != 401 {
		t.Errorf("secured operation without a token: %d", s)
	}
	if s := get("GET", "/items/", "items:read"); s != 200 {
		t.Errorf("with items:read: %d", s)
	}
	if s := get("GET", "/users/3fa85f64-5717-4562-b3fc-2c963f66afa6", "items:read"); s != 403 {
		t.Errorf("users:admin operation with items:read: %d", s)
	}
	if s := get("GET", "/nope", "items:read"); s != 404 {
		t.Errorf("no operation: %d", s)
	}
}

// The same contract from an OpenAPI 3.0 document (FastAPI 0.95, Pydantic v1).
func TestOpenAPI30Document(t *testing.T) {
	spec, err := filepath.Abs("../openapi/testdata/fastapi-0.95-openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	extra := fmt.Sprintf("openapi:\n  inv: { spec: %q, validate_requests: true, reject_undocumented: true }\n", spec)
	g := gt.Start(t, gt.Config(up.URL, extra, "  - { name: api, path: \"/{rest...}\", methods: [GET, POST], upstream: app, auth: none, openapi: inv }\n"), nil)
	post := func(body string) int {
		req, _ := http.NewRequest("POST", g.URL+"/items/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, _ := g.Do(t, req)
		return resp.StatusCode
	}
	if s := post(`{"name":"bolt","price":1.5,"category":"books","sku":"AB-123"}`); s != 201 {
		t.Fatalf("valid body: %d", s)
	}
	before := up.Count()
	for name, body := range map[string]string{
		"exclusive maximum": `{"name":"bolt","price":1000000,"category":"books","sku":"AB-123"}`,
		"unknown field":     `{"name":"bolt","price":1.5,"category":"books","sku":"AB-123","owner_id":"x"}`,
		"missing required":  `{"name":"bolt","price":1.5,"category":"books"}`,
	} {
		if s := post(body); s != 400 {
			t.Errorf("%s: %d, want 400", name, s)
		}
	}
	if up.Count() != before {
		t.Fatal("invalid bodies reached the upstream")
	}
	if resp, _ := g.Get(t, "/admin"); resp.StatusCode != 404 {
		t.Errorf("undocumented path: %d", resp.StatusCode)
	}
}
