package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

const (
	testIssuer = "https://idp.example.test/"
	testSecret = "0123456789abcdef0123456789abcdef-test-only-secret"
)

// authGateway runs routes behind an HS256 authenticator (no IdP needed) and
// an ES256 one reading a JWKS served over loopback HTTP.
func authGateway(t *testing.T) (*gt.Gateway, *gt.Upstream, *authtest.Key, *authtest.Key) {
	t.Helper()
	hs := &authtest.Key{Alg: "HS256", Signer: []byte(testSecret)}
	es := authtest.NewKey("ES256", "es-1")
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{es.JWK()}})
	}))
	t.Cleanup(jwks.Close)
	up := gt.NewUpstream(t, nil)
	extra := fmt.Sprintf(`authenticators:
  shared: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [HS256], secret: %q }
  sso: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [ES256], jwks_url: %q, forward_token: true }
`, testIssuer, testSecret, "http://127.0.0.1/sso", jwks.URL)
	routes := `  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: [shared, sso] }
  - { name: write, path: /api/items, methods: [POST], upstream: app, auth: [shared], require: { scopes: [items:write] } }
  - { name: admin, path: /api/admin, methods: [GET], upstream: app, auth: [shared], require: { roles: [admin], mfa: true } }
  - { name: public, path: /health, methods: [GET], upstream: app, auth: none }
`
	g := gt.Start(t, gt.Config(up.URL, extra, routes), nil)
	return g, up, hs, es
}

func claims(iss, sub string, extra map[string]any) jwtlib.MapClaims {
	now := time.Now()
	c := jwtlib.MapClaims{"iss": iss, "aud": "inventory-api", "sub": sub, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func TestAuthentication(t *testing.T) {
	g, up, hs, es := authGateway(t)
	valid := authtest.Mint(t, hs, claims(testIssuer, "alice", map[string]any{"scope": "items:read items:write"}), nil)
	do := func(method, path string, hdr map[string][]string) (*http.Response, string) {
		req, _ := http.NewRequest(method, g.URL+path, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		return g.Do(t, req)
	}
	bearer := func(tok string) map[string][]string { return map[string][]string{"Authorization": {"Bearer " + tok}} }

	refused := []struct {
		name   string
		method string
		hdr    map[string][]string
		status int
		typ    string
	}{
		{"no credential → 401", "GET", nil, 401, "credentials-missing"},
		{"alg none → 401", "GET", bearer(authtest.Raw(`{"alg":"none","typ":"JWT"}`, claims(testIssuer, "mallory", nil), nil)), 401, ""},
		{"stripped signature → 401", "GET", bearer(strings.TrimRight(valid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")), 401, ""},
		{"expired → 401", "GET", bearer(authtest.Mint(t, hs, claims(testIssuer, "alice", map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), nil)), 401, ""},
		{"wrong audience → 401", "GET", bearer(authtest.Mint(t, hs, jwtlib.MapClaims{"iss": testIssuer, "aud": "billing", "sub": "a", "exp": time.Now().Add(time.Hour).Unix()}, nil)), 401, ""},
		{"signed by another key → 401", "GET", bearer(authtest.Mint(t, authtest.AttackerKey("ES256", "es-1"), claims("http://127.0.0.1/sso", "mallory", nil), nil)), 401, ""},
		{"two Authorization headers → 400", "GET", map[string][]string{"Authorization": {"Bearer " + valid, "Bearer " + valid}}, 400, ""},
		{"token in the query string is not a credential → 401", "GET", nil, 401, "credentials-missing"},
		{"missing scope → 403", "POST", bearer(authtest.Mint(t, hs, claims(testIssuer, "bob", map[string]any{"scope": "items:read"}), nil)), 403, ""},
		{"missing role → 403", "GET", bearer(valid), 403, ""},
		{"role without MFA → 401 step-up", "GET", bearer(authtest.Mint(t, hs, claims(testIssuer, "root", map[string]any{"roles": []string{"admin"}, "amr": []string{"pwd"}}), nil)), 401, ""},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := up.Count()
			path := "/api/items"
			if strings.Contains(tt.name, "query") {
				path += "?access_token=" + valid
			}
			if strings.Contains(tt.name, "role") {
				path = "/api/admin"
			}
			resp, body := do(tt.method, path, tt.hdr)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.typ != "" {
				gt.CheckProblem(t, resp, body, tt.status, tt.typ)
			}
			if tt.status == 401 && !strings.HasPrefix(resp.Header.Get("Www-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("Www-Authenticate"))
			}
			if strings.Contains(tt.name, "scope") && !strings.Contains(resp.Header.Get("Www-Authenticate"), `error="insufficient_scope"`) {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("Www-Authenticate"))
			}
			if strings.Contains(tt.name, "MFA") && !strings.Contains(resp.Header.Get("Www-Authenticate"), "insufficient_user_authentication") {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("Www-Authenticate"))
			}
			if strings.Contains(body, valid) {
				t.Error("token echoed in the response")
			}
			if up.Count() != before {
				t.Fatal("upstream reached")
			}
		})
	}

	t.Run("valid token: principal headers set, spoofed ones replaced, token dropped", func(t *testing.T) {
		before := up.Count()
		resp, _ := do("POST", "/api/items", map[string][]string{"Authorization": {"Bearer " + valid}, "X-Rampart-Subject": {"admin"}})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		s := up.Seen()[before]
		if s.Header.Get("X-Rampart-Subject") != "alice" || s.Header.Get("X-Rampart-Principal") != "shared:alice" ||
			!strings.Contains(s.Header.Get("X-Rampart-Scopes"), "items:write") {
			t.Errorf("principal headers %v", s.Header)
		}
		if s.Header.Get("Authorization") != "" {
			t.Error("token forwarded although forward_token is off")
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q on an authenticated response", resp.Header.Get("Cache-Control"))
		}
	})
	t.Run("ES256 from a JWKS, forward_token on, any-of picks the right authenticator", func(t *testing.T) {
		before := up.Count()
		tok := authtest.Mint(t, es, claims("http://127.0.0.1/sso", "svc-billing", nil), nil)
		resp, _ := do("GET", "/api/items", bearer(tok))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		s := up.Seen()[before]
		if s.Header.Get("X-Rampart-Principal") != "sso:svc-billing" || s.Header.Get("Authorization") != "Bearer "+tok {
			t.Errorf("upstream headers %v", s.Header)
		}
	})
	t.Run("step-up satisfied → 200", func(t *testing.T) {
		tok := authtest.Mint(t, hs, claims(testIssuer, "root", map[string]any{"roles": []string{"admin"}, "amr": []string{"pwd", "otp"}}), nil)
		if resp, body := do("GET", "/api/admin", bearer(tok)); resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("public route needs nothing", func(t *testing.T) {
		if resp, _ := do("GET", "/health", nil); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

// auth_optional: a request without a credential passes anonymously (no
// identity headers, whatever the client sent); a presented credential must
// be valid, and its principal reaches the upstream.
func TestOptionalAuthentication(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	extra := fmt.Sprintf(`authenticators:
  shared: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [HS256], secret: %q }
`, testIssuer, testSecret)
	routes := `  - { name: feed, path: /api/feed, methods: [GET], upstream: app, auth: [shared], auth_optional: true }
`
	g := gt.Start(t, gt.Config(up.URL, extra, routes), nil)
	hs := &authtest.Key{Alg: "HS256", Signer: []byte(testSecret)}
	get := func(hdr ...string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", g.URL+"/api/feed", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		return g.Do(t, req)
	}

	resp, body := get("X-Rampart-Subject", "spoofed")
	if resp.StatusCode != 200 || up.Count() != 1 {
		t.Fatalf("anonymous: %d %s, upstream saw %d", resp.StatusCode, body, up.Count())
	}
	if s := up.Seen()[0].Header.Get("X-Rampart-Subject"); s != "" {
		t.Errorf("anonymous request reached the upstream with X-Rampart-Subject %q", s)
	}

	tok := authtest.Mint(t, hs, claims(testIssuer, "alice", nil), nil)
	if resp, body := get("Authorization", "Bearer "+tok); resp.StatusCode != 200 || up.Count() != 2 {
		t.Fatalf("valid token: %d %s", resp.StatusCode, body)
	}
	if s := up.Seen()[1].Header.Get("X-Rampart-Subject"); s != "alice" {
		t.Errorf("X-Rampart-Subject %q, want alice", s)
	}

	forged := authtest.Mint(t, &authtest.Key{Alg: "HS256", Signer: []byte("another-secret-another-secret-xx")}, claims(testIssuer, "mallory", nil), nil)
	for name, hdr := range map[string][]string{
		"forged token":       {"Authorization", "Bearer " + forged},
		"foreign credential": {"Authorization", "Basic YWxpY2U6cHc="},
	} {
		if resp, body := get(hdr...); resp.StatusCode != 401 {
			t.Errorf("%s: %d %s, want 401", name, resp.StatusCode, body)
		}
	}
	if up.Count() != 2 {
		t.Errorf("upstream saw %d requests, want the 2 accepted ones", up.Count())
	}
}
