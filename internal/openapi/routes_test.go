package openapi

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/route"
)

func TestRoutesFromFastAPIDocument(t *testing.T) {
	cfg := Config{Name: "inventory", Spec: fastapi, RoutesFromSpec: true, Upstream: "inventory",
		SecuritySchemes: map[string]string{"OAuth2PasswordBearer": "corp_sso", "HTTPBearer": "corp_sso"}}
	d, err := Load(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}

	// /token and /health declare no security: refused, and listed, unless
	// allow_public.
	_, err = d.Routes()
	var re *RoutesError
	if !errors.As(err, &re) || len(re.Problems) != 2 ||
		!strings.HasPrefix(re.Problems[0], "POST /token (#/paths/~1token/post)") || !strings.HasPrefix(re.Problems[1], "GET /health") {
		t.Fatalf("Routes without allow_public = %v", err)
	}

	cfg.AllowPublic = true
	d, err = Load(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	routes, err := d.Routes()
	if err != nil {
		t.Fatal(err)
	}
	type short struct {
		Name, Method, Path string
		Auth, Scopes       []string
	}
	var got []short
	for _, r := range routes {
		if r.Upstream != "inventory" || r.OpenAPI != "inventory" || len(r.Methods) != 1 {
			t.Errorf("route %+v", r)
		}
		got = append(got, short{r.Name, r.Methods[0], r.Path, r.Auth, r.Scopes})
	}
	sso := []string{"corp_sso"}
	want := []short{
		{"inventory.list_items_items__get", "GET", "/items/", sso, []string{"items:read"}},
		{"inventory.create_item_items__post", "POST", "/items/", sso, []string{"items:write"}},
		{"inventory.read_item_items__item_id__get", "GET", "/items/{item_id}", sso, []string{"items:read"}},
		{"inventory.delete_item_items__item_id__delete", "DELETE", "/items/{item_id}", sso, []string{"items:write"}},
		{"inventory.update_item_items__item_id__patch", "PATCH", "/items/{item_id}", sso, []string{"items:write"}},
		{"inventory.upload_item_image_items__item_id__image_post", "POST", "/items/{item_id}/image", sso, []string{"items:write"}},
		{"inventory.create_user_users__post", "POST", "/users/", sso, []string{"users:admin"}},
		{"inventory.read_me_users_me_get", "GET", "/users/me", sso, nil},
		{"inventory.read_user_users__user_id__get", "GET", "/users/{user_id}", sso, []string{"users:admin"}},
		{"inventory.login_token_post", "POST", "/token", []string{"none"}, nil},
		{"inventory.health_health_get", "GET", "/health", []string{"none"}, nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes\n got %+v\nwant %+v", got, want)
	}
	// The generated routes compile in Rampart's router (no overlaps).
	specs := make([]route.Spec, len(routes))
	for i, r := range routes {
		specs[i] = route.Spec{Path: r.Path, Methods: r.Methods}
	}
	if _, errs := route.New(specs); errs != nil {
		t.Errorf("generated routes do not compile: %v", errs)
	}
}

func TestRoutesFrom31Document(t *testing.T) {
	base := Config{Name: "orders", Spec: "testdata/orders-3.1.yaml", Upstream: "orders", AllowPublic: true}
	tests := []struct {
		name    string
		schemes map[string]string
		auth    []string
		want    map[string][]string // operation → auth + "|" + scopes
		err     string
	}{
		{"mapped schemes; OR of alternatives; document-level default",
			map[string]string{"bearerAuth": "corp_sso", "apiKey": "partners"}, nil,
			map[string][]string{
				"listOrders":        {"corp_sso", "|orders:read"},
				"createOrder":       {"corp_sso", "partners", "|orders:write"},
				"getOrder":          {"corp_sso", "|orders:read"},
				"replaceOrderNotes": {"corp_sso", "|orders:write"},
				"getOrderLine":      {"corp_sso", "|orders:read"},
				"createAccount":     {"none", "|"},
				"ping":              {"none", "|"}, // [{}]: anonymous is an alternative
			}, ""},
		{"unmapped scheme falls back to the default auth",
			map[string]string{"bearerAuth": "corp_sso"}, []string{"legacy_keys"},
			map[string][]string{"createOrder": {"corp_sso", "legacy_keys", "|orders:write"}}, ""},
		{"unmapped scheme without a default", map[string]string{"bearerAuth": "corp_sso"}, nil, nil, `security scheme "apiKey" has no authenticator`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.SecuritySchemes, cfg.Auth = tt.schemes, tt.auth
			d, err := Load(context.Background(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			routes, err := d.Routes()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range routes {
				w, ok := tt.want[r.Operation]
				if !ok {
					continue
				}
				got := append(append([]string{}, r.Auth...), "|"+strings.Join(r.Scopes, " "))
				if !reflect.DeepEqual(got, w) {
					t.Errorf("%s: %v, want %v", r.Operation, got, w)
				}
				if !strings.HasPrefix(r.Path, "/api/v2/") {
					t.Errorf("%s: path %q lacks the base path", r.Operation, r.Path)
				}
			}
		})
	}
}

func TestRoutesRefusesWhatRoutesCannotExpress(t *testing.T) {
	dir := writeFiles(t, map[string]string{"api.yaml": `
openapi: 3.1.0
components:
  securitySchemes:
    jwt: {type: http, scheme: bearer}
    key: {type: apiKey, in: header, name: X-Key}
paths:
  /both:
    get:
      security: [{jwt: [], key: []}]
      responses: {'200': {description: ok}}
  /scopes:
    get:
      security: [{jwt: [a]}, {key: [b]}]
      responses: {'200': {description: ok}}
`})
	d, err := Load(context.Background(), Config{Name: "x", Spec: "api.yaml", BaseDir: dir, Upstream: "u",
		SecuritySchemes: map[string]string{"jwt": "sso", "key": "keys"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Routes()
	if err == nil || !strings.Contains(err.Error(), "jwt and key together") || !strings.Contains(err.Error(), "different scopes") {
		t.Errorf("err = %v", err)
	}
}

// Issue 15: drf-spectacular lists a scoped alternative beside an unscoped
// one, or beside {} (optional auth); such documents were refused. Any one
// alternative satisfies the operation (OpenAPI's OR).
func TestRoutesFromDRFSpectacularAlternatives(t *testing.T) {
	dir := writeFiles(t, map[string]string{"api.yaml": `
openapi: 3.0.3
components:
  securitySchemes:
    jwtAuth: {type: http, scheme: bearer}
    oauth2: {type: oauth2, flows: {clientCredentials: {tokenUrl: /o/token/, scopes: {read: r, write: w}}}}
    cookieAuth: {type: apiKey, in: cookie, name: sessionid}
paths:
  /unscoped-beside-scoped:
    get:
      security: [{oauth2: [read]}, {jwtAuth: []}]
      responses: {'200': {description: ok}}
  /optional:
    get:
      security: [{oauth2: [read]}, {}]
      responses: {'200': {description: ok}}
  /smallest-scope-set:
    get:
      security: [{oauth2: [read, write]}, {jwtAuth: [read]}]
      responses: {'200': {description: ok}}
  /unrelated-scopes:
    get:
      security: [{oauth2: [read]}, {jwtAuth: [write]}]
      responses: {'200': {description: ok}}
  /different-authenticators:
    get:
      security: [{oauth2: [read]}, {cookieAuth: []}]
      responses: {'200': {description: ok}}
`})
	base := Config{Name: "drf", Spec: "api.yaml", BaseDir: dir, Upstream: "u",
		SecuritySchemes: map[string]string{"jwtAuth": "sso", "oauth2": "sso", "cookieAuth": "sessions"}}
	tests := []struct {
		name string
		cfg  func(*Config)
		want map[string]string // path → auth|scopes, or the error
	}{
		{"allow_public", func(c *Config) { c.AllowPublic = true }, map[string]string{
			"/unscoped-beside-scoped":   "sso|",     // a token sso accepts satisfies {jwtAuth: []}
			"/optional":                 "sso?|",    // anonymous satisfies {}; a presented token must be valid
			"/smallest-scope-set":       "sso|read", // [read, write] is never the only way in
			"/unrelated-scopes":         "error|unrelated scopes",
			"/different-authenticators": "error|different scopes",
		}},
		{"without allow_public, {} is refused", nil, map[string]string{"/optional": "error|lists {} (anonymous)"}},
		{"auth: none allows public operations", func(c *Config) { c.Auth = []string{"none"} }, map[string]string{"/optional": "sso?|"}},
		{"an optional scheme without an authenticator is public", func(c *Config) {
			c.AllowPublic, c.SecuritySchemes = true, map[string]string{"jwtAuth": "sso"}
		}, map[string]string{"/optional": "none|"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			d, err := Load(context.Background(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range d.ops {
				want, ok := tt.want[op.path]
				if !ok {
					continue
				}
				auth, scopes, optional, err := d.routeAuth(op)
				got := strings.Join(auth, ",") + "|" + strings.Join(scopes, " ")
				if optional {
					got = strings.Join(auth, ",") + "?|" + strings.Join(scopes, " ")
				}
				if err != nil {
					got = "error|" + err.Error()
				}
				if got != want && !(strings.HasPrefix(want, "error|") && strings.HasPrefix(got, "error|") && strings.Contains(got, want[6:])) {
					t.Errorf("%s: %s, want %s", op.path, got, want)
				}
			}
		})
	}
}

// auth: none means no default authenticator: a secured operation whose
// scheme is not mapped is an error, never public.
func TestRoutesAuthNoneNeverMakesSecuredOperationsPublic(t *testing.T) {
	d, err := Load(context.Background(), Config{Name: "orders", Spec: "testdata/orders-3.1.yaml", Upstream: "orders", Auth: []string{"none"},
		SecuritySchemes: map[string]string{"bearerAuth": "corp_sso"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Routes(); err == nil || !strings.Contains(err.Error(), `security scheme "apiKey" has no authenticator`) {
		t.Errorf("err = %v", err)
	}
}
