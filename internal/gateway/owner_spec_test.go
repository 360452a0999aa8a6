package gateway_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/gateway"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// Routes generated from an OpenAPI document carry the operation's
// x-rampart-owner rules (issue 16): Alice changes her own password, not
// Bob's, unless she is an admin; refusals never reach the upstream.
func TestOwnershipOnRoutesFromSpec(t *testing.T) {
	spec, err := filepath.Abs("../openapi/testdata/owner-3.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	up := gt.NewUpstream(t, nil)
	extra := fmt.Sprintf(`authenticators:
  shared: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [HS256], secret: %q }
openapi:
  users: { spec: %q, routes_from_spec: true, upstream: app, security_schemes: { bearerAuth: shared } }
`, testIssuer, testSecret, spec)
	g := gt.Start(t, gt.Config(up.URL, extra, "  - { name: other, path: /other, methods: [GET], upstream: app, auth: none }\n"), nil)
	hs := &authtest.Key{Alg: "HS256", Signer: []byte(testSecret)}
	alice := authtest.Mint(t, hs, claims(testIssuer, "alice", nil), nil)
	admin := authtest.Mint(t, hs, claims(testIssuer, "root", map[string]any{"roles": []string{"admin"}}), nil)
	for _, tt := range []struct {
		name, path, token string
		status            int
	}{
		{"own object", "/users/v1/alice/password", alice, 200},
		{"another user's object", "/users/v1/bob/password", alice, 403},
		{"case trick", "/users/v1/Alice/password", alice, 403},
		{"admin bypass", "/users/v1/bob/password", admin, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := up.Count()
			req, _ := http.NewRequest("PUT", g.URL+tt.path, strings.NewReader(`{"password":"correct horse"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tt.token)
			resp, body := g.Do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tt.status == 403 {
				gt.CheckProblem(t, resp, body, 403, "object-not-owned")
				if up.Count() != before {
					t.Error("the upstream was reached")
				}
			} else if up.Count() != before+1 {
				t.Errorf("upstream saw %d requests, want 1", up.Count()-before)
			}
		})
	}
}

// An ownership rule on an operation that needs no authentication would have
// no principal to compare with: the config is refused, never served open.
func TestOwnershipOnPublicOperationRefused(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "public.yaml")
	doc := `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /users/{username}:
    get:
      security: []
      parameters: [{in: path, name: username, required: true, schema: {type: string}}]
      x-rampart-owner: {match: [{path: username, claim: sub}]}
      responses: {"200": {description: ok}}
`
	if err := os.WriteFile(spec, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	extra := fmt.Sprintf("openapi:\n  users: { spec: %q, routes_from_spec: true, upstream: app, allow_public: true }\n", spec)
	text := gt.Config("http://127.0.0.1:1", extra, "  - { name: other, path: /other, methods: [GET], upstream: app, auth: none }\n")
	cfg, err := config.Parse("test.yaml", []byte(text), func(string) (string, bool) { return gt.AdminToken, true })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.New(cfg, gateway.Deps{}); err == nil || !strings.Contains(err.Error(), "x-rampart-owner but no required authentication") {
		t.Fatalf("err %v, want the ownership-without-authentication error", err)
	}
}
