package jwt_test

import (
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
)

// BenchmarkAuthenticate measures Authenticate per request for each algorithm,
// with the verified-token cache (the same token again: SHA-256 and a map
// lookup) and without it (full parse and signature check every time).
func BenchmarkAuthenticate(b *testing.B) {
	clk := newClock()
	for _, alg := range []string{"RS256", "ES256", "EdDSA", "HS256"} {
		for _, cache := range []bool{true, false} {
			name := alg + "/cache"
			if !cache {
				name = alg + "/nocache"
			}
			b.Run(name, func(b *testing.B) {
				k := authtest.NewKey(alg, "bench-"+alg)
				idp := authtest.NewIdP(b, k)
				cfg := jwt.Config{Name: "bench", Issuer: idp.Issuer, Audiences: []string{authtest.Audience},
					Algorithms: []string{alg}, Now: clk.Now}
				if alg == "HS256" {
					k.Signer = []byte(strings.Repeat("b", 32))
					cfg.Secret = string(k.Signer.([]byte))
				} else {
					cfg.JWKSURL = idp.JWKSURL()
				}
				if !cache {
					cfg.CacheSize = -1
				}
				a, err := jwt.New(cfg, idp.Server.Client(), quietLogger())
				if err != nil {
					b.Fatal(err)
				}
				defer a.Close()
				c := idp.Claims("bench-user", clk.Now())
				c["scope"] = "items:read items:write"
				c["roles"] = []string{"reader"}
				r := bearer(authtest.Mint(b, k, c, nil))
				if _, err := a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := a.Authenticate(r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
