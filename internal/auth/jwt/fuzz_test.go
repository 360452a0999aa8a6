package jwt

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
)

// FuzzToken feeds arbitrary strings to the verifier and to Authenticate, for
// a JWKS authenticator (RS256, ES256, EdDSA) and an HS256 one: nothing may
// panic and nothing may be accepted. The in-code seeds are correctly signed
// tokens that fail only on a claim (expired, wrong audience, forbidden
// header), so mutations explore the paths behind signature verification too;
// testdata/fuzz/FuzzToken holds attack shapes (alg none, JWE, JSON
// serialization, psychic signatures, hostile kids, odd numbers).
func FuzzToken(f *testing.F) {
	now := time.Now()
	clock := func() time.Time { return now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	keys := []*authtest.Key{authtest.NewKey("RS256", "rs"), authtest.NewKey("ES256", "es"), authtest.NewKey("EdDSA", "ed")}
	idp := authtest.NewIdP(f, keys...)
	jwksAuth, err := New(Config{Name: "fuzz", Issuer: idp.Issuer, Audiences: []string{authtest.Audience},
		Algorithms: []string{"RS256", "ES256", "EdDSA"}, JWKSURL: idp.JWKSURL(), Now: clock}, idp.Server.Client(), logger)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = jwksAuth.Close() })
	hsKey := &authtest.Key{Alg: "HS256", Kid: "hs", Signer: []byte(strings.Repeat("fuzz-secret-", 4))}
	hsAuth, err := New(Config{Name: "fuzz-hs", Issuer: idp.Issuer, Audiences: []string{authtest.Audience},
		Algorithms: []string{"HS256"}, Secret: string(hsKey.Signer.([]byte)), Now: clock}, nil, logger)
	if err != nil {
		f.Fatal(err)
	}

	for _, k := range append(keys, hsKey) {
		expired := idp.Claims("seed", now.Add(-2*time.Hour))
		f.Add(authtest.Mint(f, k, expired, nil))
		wrongAud := idp.Claims("seed", now)
		wrongAud["aud"] = "other"
		f.Add(authtest.Mint(f, k, wrongAud, nil))
		f.Add(authtest.Mint(f, k, idp.Claims("seed", now), map[string]any{"jku": "https://attacker.example/jwks"}))
		f.Add(authtest.Mint(f, k, idp.Claims("seed", now), map[string]any{"crit": []string{"exp"}}))
	}

	auths := []*Authenticator{jwksAuth, hsAuth}
	f.Fuzz(func(t *testing.T, tok string) {
		for _, a := range auths {
			if p, err := a.verify(context.Background(), tok); err == nil {
				t.Fatalf("%s: verify accepted %q as %+v", a.name, tok, p)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header["Authorization"] = []string{"Bearer " + tok}
			if p, err := a.Authenticate(r); err == nil {
				t.Fatalf("%s: Authenticate accepted %q as %+v", a.name, tok, p)
			}
		}
	})
}
