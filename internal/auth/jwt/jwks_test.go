package jwt_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

func randomKID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestUnknownKIDFloodFetchesOncePerCooldown: random kids (a refresh storm
// attempt) cost the IdP at most one JWKS fetch per cooldown, however many and
// however concurrent, and no request waits for the cooldown.
func TestUnknownKIDFloodFetchesOncePerCooldown(t *testing.T) {
	f := newFixture(t, func(c *jwt.Config) { c.UnknownKIDCooldown = 30 * time.Second })
	evil := authtest.AttackerKey("ES256", "")
	flood := func(n int) {
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := *evil
				k.Kid = randomKID()
				_, err := f.a.Authenticate(bearer(authtest.Mint(t, &k, f.claims("x"), nil)))
				var rej *pipeline.Rejection
				if !errors.As(err, &rej) || !errors.Is(rej.Err, jwt.ErrUnknownKey) {
					t.Errorf("random kid: err = %v, want ErrUnknownKey", err)
				}
			}()
		}
		wg.Wait()
	}
	if got := f.idp.JWKSHits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times at start, want 1", got)
	}
	flood(200)
	if got := f.idp.JWKSHits.Load(); got != 2 {
		t.Fatalf("after a flood of 200 random kids: %d fetches in all, want 2 (start + one refresh)", got)
	}
	f.clock.Advance(30*time.Second - time.Nanosecond)
	flood(50)
	if got := f.idp.JWKSHits.Load(); got != 2 {
		t.Fatalf("flood within the cooldown: %d fetches in all, want still 2", got)
	}
	f.clock.Advance(time.Nanosecond)
	flood(50)
	if got := f.idp.JWKSHits.Load(); got != 3 {
		t.Fatalf("flood after the cooldown: %d fetches in all, want 3", got)
	}
	// Known keys kept working throughout.
	if _, err := f.a.Authenticate(bearer(authtest.Mint(t, f.keys["ES256"], f.claims("ok"), nil))); err != nil {
		t.Fatalf("valid token after the flood: %v", err)
	}
}

// TestKeyRotation: the IdP publishes a new key and withdraws the old one; a
// token with the new kid is accepted at once (one refresh), and a token signed
// with the withdrawn key is refused even though it was cached before.
func TestKeyRotation(t *testing.T) {
	f := newFixture(t, nil)
	oldKey := f.keys["RS256"]
	oldTok := authtest.Mint(t, oldKey, f.claims("old"), nil)
	if _, err := f.a.Authenticate(bearer(oldTok)); err != nil {
		t.Fatalf("token before rotation: %v", err)
	}
	newKey := authtest.NewKey("ES256", "kid-2025-rotated")
	f.idp.Publish(newKey, f.keys["EdDSA"])

	p, err := f.a.Authenticate(bearer(authtest.Mint(t, newKey, f.claims("new"), nil)))
	if err != nil || p.Subject != "new" {
		t.Fatalf("token with the rotated-in key: %v, %v", p, err)
	}
	if got := f.idp.JWKSHits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2", got)
	}
	_, err = f.a.Authenticate(bearer(oldTok))
	if !errors.Is(rejection(t, err).Err, jwt.ErrUnknownKey) {
		t.Errorf("token with the withdrawn key (cached before): err = %v, want ErrUnknownKey", err)
	}
}

// TestJWKSOutageKeepsLastGoodKeys: while the JWKS endpoint fails, both the
// unknown-kid refresh and the background refresh fail, and the keys fetched
// before keep working.
func TestJWKSOutageKeepsLastGoodKeys(t *testing.T) {
	f := newFixture(t, func(c *jwt.Config) {
		c.JWKSRefreshFloor, c.JWKSRefreshCeiling = time.Second, time.Second
		c.CacheSize = -1 // every request below verifies against the key set
	})
	<-f.idp.JWKSHit // the fetch at start
	f.idp.SetJWKSStatus(http.StatusServiceUnavailable)

	// Unknown kid: a refresh is attempted and fails.
	before := f.idp.JWKSHits.Load()
	k := authtest.NewKey("ES256", "kid-unseen")
	_, err := f.a.Authenticate(bearer(authtest.Mint(t, k, f.claims("x"), nil)))
	if !errors.Is(rejection(t, err).Err, jwt.ErrUnknownKey) {
		t.Fatalf("unknown kid during outage: %v", err)
	}
	if f.idp.JWKSHits.Load() != before+1 {
		t.Fatalf("unknown kid did not try a refresh")
	}
	// Two failed background refreshes (1s apart).
	for range 2 {
		select {
		case <-f.idp.JWKSHit:
		case <-time.After(10 * time.Second):
			t.Fatal("no background refresh within 10s")
		}
	}
	for _, alg := range algs {
		if _, err := f.a.Authenticate(bearer(authtest.Mint(t, f.keys[alg], f.claims("during-outage"), nil))); err != nil {
			t.Errorf("%s token during the outage: %v", alg, err)
		}
	}
}

// TestBackgroundRefreshWithdrawsKeys: a key the IdP withdraws stops working at
// the next background refresh, without any unknown kid to trigger it.
func TestBackgroundRefreshWithdrawsKeys(t *testing.T) {
	f := newFixture(t, func(c *jwt.Config) {
		c.JWKSRefreshFloor, c.JWKSRefreshCeiling = time.Second, time.Second
	})
	tok := authtest.Mint(t, f.keys["EdDSA"], f.claims("u"), nil)
	if _, err := f.a.Authenticate(bearer(tok)); err != nil {
		t.Fatal(err)
	}
	f.idp.Publish(f.keys["RS256"])
	for len(f.idp.JWKSHit) > 0 {
		<-f.idp.JWKSHit
	}
	// Refreshes run one after another: when the third request after Publish
	// arrives, the second (which certainly read the new set) is processed.
	for range 3 {
		select {
		case <-f.idp.JWKSHit:
		case <-time.After(10 * time.Second):
			t.Fatal("no background refresh within 10s")
		}
	}
	_, err := f.a.Authenticate(bearer(tok))
	if !errors.Is(rejection(t, err).Err, jwt.ErrUnknownKey) {
		t.Errorf("withdrawn key after refresh: err = %v, want ErrUnknownKey", err)
	}
}

func TestDiscovery(t *testing.T) {
	clk := newClock()
	k := authtest.NewKey("RS256", "kid-1")
	newCfg := func(idp *authtest.IdP) jwt.Config {
		return jwt.Config{Name: "sso", Issuer: idp.Issuer, Discovery: true, Audiences: []string{authtest.Audience},
			Algorithms: []string{"RS256"}, Now: clk.Now}
	}

	t.Run("jwks_uri from discovery", func(t *testing.T) {
		idp := authtest.NewIdP(t, k)
		a, err := jwt.New(newCfg(idp), idp.Server.Client(), quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if err := a.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(bearer(authtest.Mint(t, k, idp.Claims("u", clk.Now()), nil))); err != nil {
			t.Fatal(err)
		}
		if idp.DiscoveryHits.Load() != 1 || idp.JWKSHits.Load() != 1 {
			t.Errorf("discovery %d, jwks %d fetches; want 1, 1", idp.DiscoveryHits.Load(), idp.JWKSHits.Load())
		}
	})

	// New succeeds whatever the IdP answers; the first fetch's outcome is
	// the authenticator's state, and tokens are refused with 503 until keys
	// arrive. Documents that arrived but are refused are "invalid" (an
	// error), an IdP that does not answer is "waiting".
	errCases := []struct {
		name  string
		setup func(idp *authtest.IdP, cfg *jwt.Config)
		state string
		want  string
	}{
		{"document names another issuer", func(idp *authtest.IdP, cfg *jwt.Config) {
			idp.SetDiscovery(map[string]any{"issuer": "https://evil.example/"})
		}, jwt.StateInvalid, "must match exactly"},
		{"configured issuer lacks the trailing slash", func(idp *authtest.IdP, cfg *jwt.Config) {
			cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
		}, jwt.StateInvalid, "must match exactly"},
		{"no jwks_uri", func(idp *authtest.IdP, cfg *jwt.Config) {
			idp.SetDiscovery(map[string]any{"jwks_uri": ""})
		}, jwt.StateInvalid, "no jwks_uri"},
		{"jwks_uri over plain http to a remote host", func(idp *authtest.IdP, cfg *jwt.Config) {
			idp.SetDiscovery(map[string]any{"jwks_uri": "http://idp.example.com/jwks"})
		}, jwt.StateInvalid, "use https"},
		{"discovery document missing", func(idp *authtest.IdP, cfg *jwt.Config) {
			cfg.Issuer = idp.Server.URL + "/realms/nope/"
		}, jwt.StateWaiting, "status 404"},
		{"JWKS unreachable at start", func(idp *authtest.IdP, cfg *jwt.Config) {
			idp.SetJWKSStatus(http.StatusBadGateway)
		}, jwt.StateWaiting, "status 502"},
		{"JWKS with no usable key", func(idp *authtest.IdP, cfg *jwt.Config) {
			enc := authtest.NewKey("RS256", "enc")
			enc.Use = "enc"
			hs := authtest.NewKey("HS256", "oct")
			es := authtest.NewKey("ES384", "p384") // not in the allowlist
			idp.Publish(enc, hs, es)
		}, jwt.StateInvalid, "no usable signing key"},
		{"JWKS document without keys", func(idp *authtest.IdP, cfg *jwt.Config) {
			idp.SetDiscovery(map[string]any{"jwks_uri": idp.Server.URL + "/.well-known/openid-configuration?x"})
			cfg.Algorithms = []string{"RS256"}
		}, jwt.StateInvalid, "no usable signing key"},
	}
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			idp := authtest.NewIdP(t, k)
			cfg := newCfg(idp)
			tt.setup(idp, &cfg)
			var logs strings.Builder // read after Close, which ends the writer
			a, err := jwt.New(cfg, idp.Server.Client(), slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("New: %v (an IdP's answer is not a config error)", err)
			}
			defer func() {
				a.Close()
				level := map[string]string{jwt.StateInvalid: "level=ERROR", jwt.StateWaiting: "level=WARN"}[tt.state]
				if !strings.Contains(logs.String(), level) || !strings.Contains(logs.String(), tt.want) {
					t.Errorf("log lacks %s with %q:\n%s", level, tt.want, logs.String())
				}
			}()
			err = a.Wait(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("first fetch: %v, want an error mentioning %q", err, tt.want)
			}
			if got := errors.Is(err, jwt.ErrKeysInvalid); got != (tt.state == jwt.StateInvalid) {
				t.Errorf("errors.Is(err, ErrKeysInvalid) = %v for state %s", got, tt.state)
			}
			if st := a.State(); st.State != tt.state {
				t.Errorf("state %q, want %q", st.State, tt.state)
			}
			claims := idp.Claims("u", clk.Now())
			claims["iss"] = cfg.Issuer
			rej := rejection(t, firstErr(a.Authenticate(bearer(authtest.Mint(t, k, claims, nil)))))
			if rej.Status != http.StatusServiceUnavailable || rej.Type != "auth-unavailable" || rej.Header.Get("Retry-After") == "" {
				t.Errorf("token without keys: %d %s Retry-After %q, want 503 auth-unavailable with Retry-After",
					rej.Status, rej.Type, rej.Header.Get("Retry-After"))
			}
		})
	}
}

func firstErr(_ any, err error) error { return err }

func TestConfigErrors(t *testing.T) {
	idp := authtest.NewIdP(t, authtest.NewKey("RS256", "k"))
	base := func() jwt.Config {
		return jwt.Config{Name: "sso", Issuer: idp.Issuer, Audiences: []string{"api"}, Algorithms: []string{"RS256"}, JWKSURL: idp.JWKSURL()}
	}
	secret := strings.Repeat("s", 64)
	tests := []struct {
		name string
		edit func(*jwt.Config)
		want string
	}{
		{"no name", func(c *jwt.Config) { c.Name = "" }, "name is required"},
		{"no issuer", func(c *jwt.Config) { c.Issuer = "" }, "issuer is required"},
		{"no audiences", func(c *jwt.Config) { c.Audiences = nil }, "audiences is required"},
		{"no algorithms", func(c *jwt.Config) { c.Algorithms = nil }, "algorithms is required"},
		{"alg none", func(c *jwt.Config) { c.Algorithms = []string{"none"} }, "never accepted"},
		{"unknown alg", func(c *jwt.Config) { c.Algorithms = []string{"rs256"} }, "unknown algorithm"},
		{"HS and RS mixed", func(c *jwt.Config) { c.Algorithms = []string{"RS256", "HS256"} }, "mixes shared-secret"},
		{"HS with a JWKS", func(c *jwt.Config) { c.Algorithms = []string{"HS256"} }, "HS256, which verify with a shared secret: set secret"},
		{"RS with a secret", func(c *jwt.Config) { c.JWKSURL, c.Secret = "", secret }, "only for HS256, HS384 and HS512"},
		{"short HS256 secret", func(c *jwt.Config) { c.JWKSURL, c.Secret, c.Algorithms = "", "short", []string{"HS256"} }, "at least 32 bytes"},
		{"HS512 secret shorter than 64 bytes", func(c *jwt.Config) {
			c.JWKSURL, c.Secret, c.Algorithms = "", strings.Repeat("s", 48), []string{"HS512"}
		}, "at least 64 bytes"},
		{"two key sources", func(c *jwt.Config) { c.Discovery = true }, "exactly one of"},
		{"no key source", func(c *jwt.Config) { c.JWKSURL = "" }, "needs exactly one key source"},
		{"leeway too large", func(c *jwt.Config) { c.Leeway = time.Hour }, "leeway"},
		{"http JWKS to a remote host", func(c *jwt.Config) { c.JWKSURL = "http://idp.example.com/jwks" }, "use https"},
		{"JWKS URL with userinfo", func(c *jwt.Config) { c.JWKSURL = "https://u:p@idp.example.com/jwks" }, "no userinfo"},
		{"refresh floor below 1s", func(c *jwt.Config) { c.JWKSRefreshFloor = time.Millisecond }, "jwks_refresh_floor"},
		{"ceiling below floor", func(c *jwt.Config) { c.JWKSRefreshFloor, c.JWKSRefreshCeiling = time.Hour, time.Minute }, "must not be below jwks_refresh_floor"},
		{"cooldown below 1s", func(c *jwt.Config) { c.UnknownKIDCooldown = time.Millisecond }, "unknown_kid_cooldown"},
		{"bad token header name", func(c *jwt.Config) { c.TokenHeader = "X Token" }, "token_header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.edit(&cfg)
			a, err := jwt.New(cfg, idp.Server.Client(), quietLogger())
			if err == nil {
				a.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}
