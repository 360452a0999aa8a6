package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// TestAppIssuedTokens runs a Flask-style API's own tokens (HS256, no iss or
// aud, type access|refresh, sent raw in x-access-token) through the gateway:
// accepted only by the authenticator that says issuer and audiences any,
// refresh tokens refused, and the token not passed on.
func TestAppIssuedTokens(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	extra := fmt.Sprintf(`authenticators:
  flask: { type: jwt, issuer: any, audiences: [any], algorithms: [HS256], secret: %q, token_header: x-access-token, require_claims: { type: access } }
  strict: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [HS256], secret: %q, token_header: x-access-token }
`, testSecret, testIssuer, testSecret)
	routes := `  - { name: books, path: /books/v1, methods: [GET], upstream: app, auth: [flask] }
  - { name: strict, path: /strict, methods: [GET], upstream: app, auth: [strict] }
`
	g := gt.Start(t, gt.Config(up.URL, extra, routes), nil)
	hs := &authtest.Key{Alg: "HS256", Signer: []byte(testSecret)}
	flask := func(typ string) string {
		now := time.Now()
		return authtest.Mint(t, hs, jwtlib.MapClaims{"sub": "alice", "iat": now.Unix(), "nbf": now.Unix(),
			"exp": now.Add(15 * time.Minute).Unix(), "type": typ, "fresh": false, "jti": "j1"}, nil)
	}
	get := func(path, tok string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", g.URL+path, nil)
		req.Header.Set("x-access-token", tok)
		return g.Do(t, req)
	}

	if resp, body := get("/books/v1", flask("access")); resp.StatusCode != 200 || up.Count() != 1 {
		t.Fatalf("access token: %d %s", resp.StatusCode, body)
	}
	seen := up.Seen()[0].Header
	if s := seen.Get("X-Rampart-Subject"); s != "alice" {
		t.Errorf("X-Rampart-Subject %q, want alice", s)
	}
	if v := seen.Get("X-Access-Token"); v != "" {
		t.Errorf("the token reached the upstream in x-access-token")
	}
	for name, c := range map[string]struct{ path, tok string }{
		"refresh token":             {"/books/v1", flask("refresh")},
		"no iss/aud without any":    {"/strict", flask("access")},
		"another application's key": {"/books/v1", authtest.Mint(t, &authtest.Key{Alg: "HS256", Signer: []byte(strings.Repeat("q", 40))}, jwtlib.MapClaims{"sub": "mallory", "exp": time.Now().Add(time.Hour).Unix(), "type": "access"}, nil)},
	} {
		resp, body := get(c.path, c.tok)
		if resp.StatusCode != 401 || !strings.Contains(body, "invalid-token") {
			t.Errorf("%s: %d %s, want 401 invalid-token", name, resp.StatusCode, body)
		}
	}
	if up.Count() != 1 {
		t.Errorf("upstream saw %d requests, want 1", up.Count())
	}
}
