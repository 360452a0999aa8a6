package jwt_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/auth/authtest"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
)

func TestAcceptsValidTokens(t *testing.T) {
	f := newFixture(t, nil)
	now := f.clock.Now()
	with := func(sub string, extra map[string]any) map[string]any {
		c := f.claims(sub)
		for k, v := range extra {
			if v == nil {
				delete(c, k)
				continue
			}
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name       string
		tok        string
		wantSub    string
		wantScopes []string
		wantRoles  []string
		wantAMR    []string
	}{
		{name: "RS256", tok: authtest.Mint(t, f.keys["RS256"], with("rs", nil), nil), wantSub: "rs"},
		{name: "PS256", tok: authtest.Mint(t, f.keys["PS256"], with("ps", nil), nil), wantSub: "ps"},
		{name: "ES256", tok: authtest.Mint(t, f.keys["ES256"], with("es", nil), nil), wantSub: "es"},
		{name: "ES384", tok: authtest.Mint(t, f.keys["ES384"], with("es384", nil), nil), wantSub: "es384"},
		{name: "EdDSA", tok: authtest.Mint(t, f.keys["EdDSA"], with("ed", nil), nil), wantSub: "ed"},
		{name: "typ JWT", tok: authtest.Mint(t, f.keys["RS256"], with("typ", nil), map[string]any{"typ": "JWT"}), wantSub: "typ"},
		{name: "typ at+jwt (RFC 9068)", tok: authtest.Mint(t, f.keys["RS256"], with("at", nil), map[string]any{"typ": "at+jwt"}), wantSub: "at"},
		{name: "typ application/at+JWT", tok: authtest.Mint(t, f.keys["RS256"], with("at2", nil), map[string]any{"typ": "application/at+JWT"}), wantSub: "at2"},
		{name: "no typ", tok: authtest.Mint(t, f.keys["RS256"], with("notyp", nil), map[string]any{"typ": nil}), wantSub: "notyp"},
		{name: "no kid: every fitting key is tried", tok: authtest.Mint(t, &authtest.Key{Alg: "ES256", Signer: f.keys["ES256"].Signer}, with("nokid", nil), nil), wantSub: "nokid"},
		{name: "aud as an array containing ours", tok: authtest.Mint(t, f.keys["RS256"], with("arr", map[string]any{"aud": []string{"other", authtest.Audience}}), nil), wantSub: "arr"},
		{name: "expired within leeway", tok: authtest.Mint(t, f.keys["RS256"], with("late", map[string]any{"exp": now.Add(-20 * time.Second).Unix()}), nil), wantSub: "late"},
		{name: "nbf within leeway", tok: authtest.Mint(t, f.keys["RS256"], with("early", map[string]any{"nbf": now.Add(20 * time.Second).Unix()}), nil), wantSub: "early"},
		{name: "fractional exp (NumericDate may be non-integer)", tok: authtest.Mint(t, f.keys["RS256"], with("frac", map[string]any{"exp": float64(now.Add(time.Hour).Unix()) + 0.5}), nil), wantSub: "frac"},
		{name: "no nbf, no iat", tok: authtest.Mint(t, f.keys["RS256"], with("bare", map[string]any{"nbf": nil, "iat": nil}), nil), wantSub: "bare"},
		{name: "scope as space-separated string",
			tok:     authtest.Mint(t, f.keys["RS256"], with("s", map[string]any{"scope": "items:read  items:write"}), nil),
			wantSub: "s", wantScopes: []string{"items:read", "items:write"}},
		{name: "scp as array (Okta)",
			tok:     authtest.Mint(t, f.keys["RS256"], with("s", map[string]any{"scp": []string{"items:read"}}), nil),
			wantSub: "s", wantScopes: []string{"items:read"}},
		{name: "scp as string (Entra ID)",
			tok:     authtest.Mint(t, f.keys["RS256"], with("s", map[string]any{"scp": "User.Read Items.Read"}), nil),
			wantSub: "s", wantScopes: []string{"User.Read", "Items.Read"}},
		{name: "scope wins over scp",
			tok:     authtest.Mint(t, f.keys["RS256"], with("s", map[string]any{"scope": "a", "scp": []string{"b"}}), nil),
			wantSub: "s", wantScopes: []string{"a"}},
		{name: "roles and amr",
			tok:     authtest.Mint(t, f.keys["ES256"], with("r", map[string]any{"roles": []string{"admin", "ops"}, "amr": []string{"pwd", "otp"}}), nil),
			wantSub: "r", wantRoles: []string{"admin", "ops"}, wantAMR: []string{"pwd", "otp"}},
		{name: "one role as a string",
			tok:     authtest.Mint(t, f.keys["ES256"], with("r", map[string]any{"roles": "admin"}), nil),
			wantSub: "r", wantRoles: []string{"admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.a.Authenticate(bearer(tt.tok))
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if p.Subject != tt.wantSub || p.Authenticator != "corp_sso" {
				t.Errorf("principal = %q/%q, want corp_sso/%q", p.Authenticator, p.Subject, tt.wantSub)
			}
			if diff := cmp.Diff(tt.wantScopes, p.Scopes); diff != "" {
				t.Errorf("scopes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRoles, p.Roles); diff != "" {
				t.Errorf("roles (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAMR, p.AMR); diff != "" {
				t.Errorf("amr (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRolesClaimPaths(t *testing.T) {
	tests := []struct {
		name, rolesClaim string
		claims           map[string]any
		want             []string
	}{
		{"Keycloak realm roles", "realm_access.roles",
			map[string]any{"realm_access": map[string]any{"roles": []string{"offline_access", "admin"}}}, []string{"offline_access", "admin"}},
		{"Keycloak client roles", "resource_access.inventory.roles",
			map[string]any{"resource_access": map[string]any{"inventory": map[string]any{"roles": []string{"reader"}}}}, []string{"reader"}},
		{"Auth0 namespaced claim with dots in its name", "https://example.com/roles",
			map[string]any{"https://example.com/roles": []string{"editor"}}, []string{"editor"}},
		{"absent claim: no roles", "groups", map[string]any{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *jwt.Config) { c.RolesClaim = tt.rolesClaim })
			c := f.claims("u")
			for k, v := range tt.claims {
				c[k] = v
			}
			p, err := f.a.Authenticate(bearer(authtest.Mint(t, f.keys["RS256"], c, nil)))
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if diff := cmp.Diff(tt.want, p.Roles); diff != "" {
				t.Errorf("roles (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecretAndPublicKeyFile(t *testing.T) {
	clk := newClock()
	idp := authtest.NewIdP(t) // only its issuer and Claims are used
	secret := strings.Repeat("k", 32) + "-long-enough-secret"
	hs := &authtest.Key{Alg: "HS256", Signer: []byte(secret)}

	t.Run("HS256 with secret", func(t *testing.T) {
		a, err := jwt.New(jwt.Config{Name: "hs", Issuer: idp.Issuer, Audiences: []string{authtest.Audience},
			Algorithms: []string{"HS256"}, Secret: secret, Now: clk.Now}, nil, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		p, err := a.Authenticate(bearer(authtest.Mint(t, hs, idp.Claims("svc", clk.Now()), nil)))
		if err != nil || p.Subject != "svc" {
			t.Fatalf("Authenticate = %v, %v", p, err)
		}
		other := &authtest.Key{Alg: "HS256", Signer: []byte(secret + "x")}
		_, err = a.Authenticate(bearer(authtest.Mint(t, other, idp.Claims("svc", clk.Now()), nil)))
		if !errors.Is(rejection(t, err).Err, jwt.ErrSignature) {
			t.Errorf("other secret: err = %v, want ErrSignature", err)
		}
		rs := authtest.NewKey("RS256", "")
		_, err = a.Authenticate(bearer(authtest.Mint(t, rs, idp.Claims("svc", clk.Now()), nil)))
		if !errors.Is(rejection(t, err).Err, jwt.ErrAlgorithm) {
			t.Errorf("RS256 token to HS256 authenticator: err = %v, want ErrAlgorithm", err)
		}
	})

	t.Run("public_key_file with PUBLIC KEY and CERTIFICATE-free PEM", func(t *testing.T) {
		rs := authtest.NewKey("RS256", "")
		ed := authtest.NewKey("EdDSA", "")
		path := filepath.Join(t.TempDir(), "keys.pem")
		var pemData []byte
		for _, k := range []*authtest.Key{rs, ed} {
			der, err := x509.MarshalPKIXPublicKey(k.Public())
			if err != nil {
				t.Fatal(err)
			}
			pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
		}
		if err := os.WriteFile(path, pemData, 0o600); err != nil {
			t.Fatal(err)
		}
		a, err := jwt.New(jwt.Config{Name: "pem", Issuer: idp.Issuer, Audiences: []string{authtest.Audience},
			Algorithms: []string{"RS256", "EdDSA"}, PublicKeyFile: path, Now: clk.Now}, nil, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []*authtest.Key{rs, ed} {
			// A kid is irrelevant with static keys: any kid, even a hostile one, is ignored.
			tok := authtest.Mint(t, k, idp.Claims("pem-"+k.Alg, clk.Now()), map[string]any{"kid": "../../etc/passwd"})
			if p, err := a.Authenticate(bearer(tok)); err != nil || p.Subject != "pem-"+k.Alg {
				t.Errorf("%s: Authenticate = %v, %v", k.Alg, p, err)
			}
		}
	})
}

func TestPublicKeyFileErrors(t *testing.T) {
	idp := authtest.NewIdP(t)
	write := func(t *testing.T, blocks ...*pem.Block) string {
		path := filepath.Join(t.TempDir(), "key.pem")
		var data []byte
		for _, b := range blocks {
			data = append(data, pem.EncodeToMemory(b)...)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	rs := authtest.NewKey("RS256", "")
	rsDER, _ := x509.MarshalPKIXPublicKey(rs.Public())
	es := authtest.NewKey("ES256", "")
	esPriv, _ := x509.MarshalPKCS8PrivateKey(es.Signer)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakDER, _ := x509.MarshalPKIXPublicKey(&weak.PublicKey)
	tests := []struct {
		name   string
		blocks []*pem.Block
		algs   []string
		want   string
	}{
		{"private key", []*pem.Block{{Type: "PRIVATE KEY", Bytes: esPriv}}, []string{"ES256"}, "private key"},
		{"RSA key of 1024 bits", []*pem.Block{{Type: "PUBLIC KEY", Bytes: weakDER}}, []string{"RS256"}, "at least 2048"},
		{"no PEM block", nil, []string{"RS256"}, "no PEM public key"},
		{"no key for an allowed algorithm", []*pem.Block{{Type: "PUBLIC KEY", Bytes: rsDER}}, []string{"RS256", "ES256"}, "no key fits algorithm ES256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jwt.New(jwt.Config{Name: "pem", Issuer: idp.Issuer, Audiences: []string{"api"},
				Algorithms: tt.algs, PublicKeyFile: write(t, tt.blocks...)}, nil, quietLogger())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestVerifiedTokenCache(t *testing.T) {
	t.Run("entry dies at exp", func(t *testing.T) {
		f := newFixture(t, func(c *jwt.Config) { c.Leeway = 0 })
		c := f.claims("u")
		c["exp"] = f.clock.Now().Add(time.Minute).Unix()
		tok := authtest.Mint(t, f.keys["ES256"], c, nil)
		if _, err := f.a.Authenticate(bearer(tok)); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Minute)
		_, err := f.a.Authenticate(bearer(tok))
		if !errors.Is(rejection(t, err).Err, jwt.ErrExpired) {
			t.Errorf("cached token past exp: err = %v, want ErrExpired", err)
		}
	})
	t.Run("a cache hit allocates nothing and shares the read-only principal", func(t *testing.T) {
		f := newFixture(t, nil)
		tok := authtest.Mint(t, f.keys["ES256"], f.claims("u"), nil)
		r := bearer(tok)
		p1, err := f.a.Authenticate(r)
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if p, err := f.a.Authenticate(r); err != nil || p != p1 {
				t.Fatalf("cache hit = %p, %v; want the cached principal %p", p, err, p1)
			}
		})
		if allocs != 0 {
			t.Errorf("cache hit allocates %v times per request, want 0", allocs)
		}
	})
	t.Run("no cache: every request verifies", func(t *testing.T) {
		f := newFixture(t, func(c *jwt.Config) { c.CacheSize = -1 })
		tok := authtest.Mint(t, f.keys["EdDSA"], f.claims("u"), nil)
		for range 3 {
			if _, err := f.a.Authenticate(bearer(tok)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestTokenSources(t *testing.T) {
	t.Run("custom header", func(t *testing.T) {
		f := newFixture(t, func(c *jwt.Config) { c.TokenHeader = "X-Access-Token" })
		tok := authtest.Mint(t, f.keys["RS256"], f.claims("u"), nil)
		for _, v := range []string{tok, "Bearer " + tok} {
			r := bearer("ignored")
			r.Header.Set("X-Access-Token", v)
			if p, err := f.a.Authenticate(r); err != nil || p.Subject != "u" {
				t.Errorf("X-Access-Token %.10q…: %v, %v", v, p, err)
			}
		}
		if _, err := f.a.Authenticate(bearer(tok)); !errors.Is(err, auth.ErrNoCredential) {
			t.Errorf("token in Authorization when X-Access-Token is configured: err = %v, want ErrNoCredential", err)
		}
	})
	t.Run("cookie", func(t *testing.T) {
		f := newFixture(t, func(c *jwt.Config) { c.TokenCookie = "access_token" })
		tok := authtest.Mint(t, f.keys["RS256"], f.claims("u"), nil)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: "access_token", Value: tok})
		if p, err := f.a.Authenticate(r); err != nil || p.Subject != "u" {
			t.Errorf("cookie: %v, %v", p, err)
		}
		r.AddCookie(&http.Cookie{Name: "access_token", Value: tok})
		if rej := rejection(t, mustErr(f.a.Authenticate(r))); rej.Status != 400 || rej.Type != auth.TypeAmbiguousCredentials {
			t.Errorf("two token cookies: %d %s", rej.Status, rej.Type)
		}
	})
	t.Run("never the query string", func(t *testing.T) {
		f := newFixture(t, nil)
		tok := authtest.Mint(t, f.keys["RS256"], f.claims("u"), nil)
		r := httptest.NewRequest(http.MethodGet, "/?access_token="+tok, nil)
		if _, err := f.a.Authenticate(r); !errors.Is(err, auth.ErrNoCredential) {
			t.Errorf("token in the query: err = %v, want ErrNoCredential", err)
		}
	})
	t.Run("another scheme is not ours", func(t *testing.T) {
		f := newFixture(t, nil)
		r := bearer("x")
		r.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
		if _, err := f.a.Authenticate(r); !errors.Is(err, auth.ErrNoCredential) || errors.Is(err, auth.ErrForeignCredential) {
			t.Errorf("Basic credentials: err = %v, want ErrNoCredential", err)
		}
	})
	t.Run("opaque token is foreign", func(t *testing.T) {
		f := newFixture(t, nil)
		if _, err := f.a.Authenticate(bearer("2YotnFZFEjr1zCsicMWpAA")); !errors.Is(err, auth.ErrForeignCredential) {
			t.Errorf("opaque token: err = %v, want ErrForeignCredential", err)
		}
	})
	t.Run("scheme in any case", func(t *testing.T) {
		f := newFixture(t, nil)
		r := bearer("x")
		r.Header.Set("Authorization", "bEaReR "+authtest.Mint(t, f.keys["RS256"], f.claims("u"), nil))
		if _, err := f.a.Authenticate(r); err != nil {
			t.Errorf("lower-case scheme (RFC 9110 §11.1: case-insensitive): %v", err)
		}
	})
	t.Run("duplicate Authorization", func(t *testing.T) {
		f := newFixture(t, nil)
		tok := authtest.Mint(t, f.keys["RS256"], f.claims("u"), nil)
		r := bearer(tok)
		r.Header.Add("Authorization", "Bearer "+tok)
		if rej := rejection(t, mustErr(f.a.Authenticate(r))); rej.Status != 400 || rej.Type != auth.TypeAmbiguousCredentials {
			t.Errorf("two Authorization fields: %d %s", rej.Status, rej.Type)
		}
		r = bearer(tok + ", Bearer " + tok)
		if rej := rejection(t, mustErr(f.a.Authenticate(r))); rej.Status != 400 || rej.Type != auth.TypeAmbiguousCredentials {
			t.Errorf("comma-joined Authorization: %d %s", rej.Status, rej.Type)
		}
	})
}

func mustErr(_ any, err error) error { return err }
