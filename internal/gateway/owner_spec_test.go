package gateway_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
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
