package jwt_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
)

// appClaims are the claims of a Flask-JWT-Extended access token: no iss, no
// aud, a type claim.
func appClaims(c *clock, typ string) map[string]any {
	now := c.Now().Unix()
	return map[string]any{"sub": "alice", "iat": now, "nbf": now, "exp": now + 900, "type": typ, "fresh": false}
}

const appSecret = "Wq9Zr4Tm7Lp1Xv6Nb3Jc8Yd5Fs0GuHk2"

func appAuthenticator(t *testing.T, clk *clock, edit func(*jwt.Config)) *jwt.Authenticator {
	t.Helper()
	cfg := jwt.Config{Name: "app", Issuer: jwt.Any, Audiences: []string{jwt.Any}, Algorithms: []string{"HS256"},
		Secret: appSecret, RequireClaims: map[string]string{"type": "access"}, Now: clk.Now}
	if edit != nil {
		edit(&cfg)
	}
	a, err := jwt.New(cfg, nil, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// TestAppIssuedTokens: issuer and audiences any accept tokens without (or
// with any) iss and aud, still signed with the secret and with an exp.
func TestAppIssuedTokens(t *testing.T) {
	clk := newClock()
	key := &authtest.Key{Alg: "HS256", Signer: []byte(appSecret)}
	a := appAuthenticator(t, clk, nil)
	mint := func(edit func(map[string]any)) string {
		c := appClaims(clk, "access")
		if edit != nil {
			edit(c)
		}
		return authtest.Mint(t, key, c, nil)
	}

	for name, tok := range map[string]string{
		"no iss, no aud":   mint(nil),
		"some iss and aud": mint(func(c map[string]any) { c["iss"] = "https://other.example/"; c["aud"] = "x" }),
	} {
		if p, err := a.Authenticate(bearer(tok)); err != nil || p.Subject != "alice" {
			t.Errorf("%s: Authenticate = %v, %v", name, p, err)
		}
	}
	for name, c := range map[string]struct {
		tok  string
		want error
	}{
		"refresh token":  {authtest.Mint(t, key, appClaims(clk, "refresh"), nil), jwt.ErrClaims},
		"no type":        {mint(func(c map[string]any) { delete(c, "type") }), jwt.ErrClaims},
		"numeric type":   {mint(func(c map[string]any) { c["type"] = 1 }), jwt.ErrClaims},
		"no exp":         {mint(func(c map[string]any) { delete(c, "exp") }), jwt.ErrClaims},
		"expired":        {mint(func(c map[string]any) { c["exp"] = clk.Now().Unix() - 3600 }), jwt.ErrExpired},
		"another secret": {authtest.Mint(t, &authtest.Key{Alg: "HS256", Signer: []byte(appSecret + "x")}, appClaims(clk, "access"), nil), jwt.ErrSignature},
	} {
		_, err := a.Authenticate(bearer(c.tok))
		if rej := rejection(t, err); rej.Status != http.StatusUnauthorized || !errors.Is(rej.Err, c.want) {
			t.Errorf("%s: err = %v (%d), want 401 %v", name, rej.Err, rej.Status, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "refresh") {
			t.Errorf("%s: the claim's value appears in %v", name, err)
		}
	}

	// Without the explicit setting, the same token is refused.
	strict := appAuthenticator(t, clk, func(c *jwt.Config) {
		c.Issuer, c.Audiences = "https://app.example/", []string{"api"}
	})
	if _, err := strict.Authenticate(bearer(mint(nil))); err == nil {
		t.Error("token without iss/aud accepted by an authenticator with an issuer and audiences")
	}
	onlyIss := appAuthenticator(t, clk, func(c *jwt.Config) { c.Audiences = []string{"api"} })
	if _, err := onlyIss.Authenticate(bearer(mint(nil))); err == nil {
		t.Error("token without aud accepted with issuer any but audiences [api]")
	}
	if _, err := onlyIss.Authenticate(bearer(mint(func(c map[string]any) { c["aud"] = "api" }))); err != nil {
		t.Errorf("issuer any, aud api: %v", err)
	}
}

// TestAppTokenHeader: token_header x-access-token takes the raw token, as
// the Flask examples send it, and the Bearer form.
func TestAppTokenHeader(t *testing.T) {
	clk := newClock()
	key := &authtest.Key{Alg: "HS256", Signer: []byte(appSecret)}
	a := appAuthenticator(t, clk, func(c *jwt.Config) { c.TokenHeader = "x-access-token" })
	tok := authtest.Mint(t, key, appClaims(clk, "access"), nil)
	for _, v := range []string{tok, "Bearer " + tok} {
		r := httptest.NewRequest(http.MethodGet, "https://gw.example/books", nil)
		r.Header.Set("X-Access-Token", v)
		if p, err := a.Authenticate(r); err != nil || p.Subject != "alice" {
			t.Errorf("x-access-token: %.12s…: Authenticate = %v, %v", v, p, err)
		}
	}
	if _, err := a.Authenticate(bearer(tok)); err == nil {
		t.Error("token in Authorization accepted by an authenticator reading x-access-token")
	}
}

// TestAnyNeedsSecret: any is refused with an IdP's keys, where it would
// accept tokens the IdP signs for other applications, and mixed with other
// audiences; check warns about it.
func TestAnyNeedsSecret(t *testing.T) {
	for name, c := range map[string]jwt.Config{
		"issuer any with jwks_url":    {Issuer: jwt.Any, Audiences: []string{"api"}, JWKSURL: "https://idp.example/jwks", Algorithms: []string{"RS256"}},
		"audiences any with jwks_url": {Issuer: "https://idp.example/", Audiences: []string{jwt.Any}, JWKSURL: "https://idp.example/jwks", Algorithms: []string{"RS256"}},
		"any among audiences":         {Issuer: jwt.Any, Audiences: []string{jwt.Any, "api"}, Secret: appSecret, Algorithms: []string{"HS256"}},
		"empty required claim":        {Issuer: jwt.Any, Audiences: []string{jwt.Any}, Secret: appSecret, Algorithms: []string{"HS256"}, RequireClaims: map[string]string{"type": ""}},
	} {
		c.Name, c.Offline = "x", true
		if a, err := jwt.New(c, nil, quietLogger()); err == nil {
			_ = a.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	c := jwt.Config{Issuer: jwt.Any, Audiences: []string{jwt.Any}}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "any issuer and audience") {
		t.Errorf("Warnings = %q", w)
	}
	c.Issuer = "https://idp.example/"
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "any audience (") {
		t.Errorf("Warnings = %q", w)
	}
	c.Audiences = []string{"api"}
	if w := c.Warnings(); w != nil {
		t.Errorf("Warnings = %q, want none", w)
	}
}
