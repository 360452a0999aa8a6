package apikey

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/store"
)

func benchSetup(b *testing.B, cfg Config) (*Authenticator, string) {
	s := openSQLite(b, filepath.Join(b.TempDir(), "k.db"), nil)
	_, full, err := s.CreateKey(context.Background(), store.KeySpec{Consumer: "acme",
		Scopes: []string{"items:read", "items:write"}, Roles: []string{"partner"}, Labels: map[string]string{"team": "payments"}})
	if err != nil {
		b.Fatal(err)
	}
	cfg.Name = "partners"
	a := newAuth(b, cfg, s)
	return a, full
}

// BenchmarkAuthenticate is the request path with a warm cache: read the
// header, parse the key, find the cached record, HMAC the secret, compare.
func BenchmarkAuthenticate(b *testing.B) {
	a, full := benchSetup(b, Config{CacheTTL: time.Hour})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", full)
	if _, err := a.Authenticate(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthenticateParallel(b *testing.B) {
	a, full := benchSetup(b, Config{CacheTTL: time.Hour})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", full)
	if _, err := a.Authenticate(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Authenticate(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAuthenticateWrongSecret: a guess against a cached id costs a
// hash, not a query.
func BenchmarkAuthenticateWrongSecret(b *testing.B) {
	a, full := benchSetup(b, Config{CacheTTL: time.Hour})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", full)
	if _, err := a.Authenticate(r); err != nil {
		b.Fatal(err)
	}
	bad := []byte(full)
	bad[len(bad)-1] ^= 1
	r.Header.Set("X-API-Key", string(bad))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(r); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkAuthenticateUncached asks SQLite on every request, for
// comparison.
func BenchmarkAuthenticateUncached(b *testing.B) {
	a, full := benchSetup(b, Config{CacheTTL: -1})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", full)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}
