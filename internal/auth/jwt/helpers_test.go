package jwt_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// clock is an injected, manually advanced clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a running IdP publishing an RS256, a PS256, an ES256, an ES384 and an
// EdDSA key, and an authenticator trusting its JWKS.
type fixture struct {
	idp   *authtest.IdP
	clock *clock
	keys  map[string]*authtest.Key // by alg
	a     *jwt.Authenticator
}

var algs = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}

func newFixture(t *testing.T, edit func(*jwt.Config)) *fixture {
	t.Helper()
	f := &fixture{clock: newClock(), keys: map[string]*authtest.Key{}}
	var keys []*authtest.Key
	for _, alg := range algs {
		k := authtest.NewKey(alg, "kid-"+alg)
		f.keys[alg] = k
		keys = append(keys, k)
	}
	f.idp = authtest.NewIdP(t, keys...)
	cfg := jwt.Config{
		Name:       "corp_sso",
		Issuer:     f.idp.Issuer,
		Audiences:  []string{authtest.Audience},
		Algorithms: algs,
		Leeway:     jwt.DefaultLeeway,
		JWKSURL:    f.idp.JWKSURL(),
		Now:        f.clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	a, err := jwt.New(cfg, f.idp.Server.Client(), quietLogger())
	if err != nil {
		t.Fatalf("jwt.New: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	if err := a.Wait(context.Background()); err != nil {
		t.Fatalf("first JWKS fetch: %v", err)
	}
	f.a = a
	return f
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// claims returns valid claims for sub at the fixture's current time.
func (f *fixture) claims(sub string) map[string]any {
	return f.idp.Claims(sub, f.clock.Now())
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://gw.example/api/items/1", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// rejection asserts err is a *pipeline.Rejection and returns it.
func rejection(t *testing.T, err error) *pipeline.Rejection {
	t.Helper()
	var rej *pipeline.Rejection
	if !errors.As(err, &rej) {
		t.Fatalf("error %v (%T) is not a *pipeline.Rejection", err, err)
	}
	return rej
}
