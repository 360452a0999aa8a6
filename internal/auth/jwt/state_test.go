package jwt_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
)

func TestBackoffDelay(t *testing.T) {
	low := func(time.Duration) time.Duration { return 0 }
	high := func(d time.Duration) time.Duration { return d - 1 }
	tests := []struct {
		name    string
		b       jwt.Backoff
		floor   time.Duration
		attempt int
		want    time.Duration
	}{
		{"first retry, least jitter: half the initial delay", jwt.Backoff{Initial: time.Second, Max: 8 * time.Second, Jitter: low}, time.Minute, 0, 500 * time.Millisecond},
		{"first retry, most jitter: just under the initial delay", jwt.Backoff{Initial: time.Second, Max: 8 * time.Second, Jitter: high}, time.Minute, 0, time.Second - 1},
		{"doubles per failure", jwt.Backoff{Initial: time.Second, Max: 8 * time.Second, Jitter: low}, time.Minute, 2, 2 * time.Second},
		{"capped at Max", jwt.Backoff{Initial: time.Second, Max: 8 * time.Second, Jitter: high}, time.Minute, 10, 8*time.Second - 1},
		{"capped forever, no overflow", jwt.Backoff{Initial: time.Second, Max: 8 * time.Second, Jitter: low}, time.Minute, 1000, 4 * time.Second},
		{"Max unset: capped at the refresh floor", jwt.Backoff{Initial: time.Second, Jitter: low}, 4 * time.Second, 10, 2 * time.Second},
		{"zero value: 500ms first", jwt.Backoff{Jitter: low}, time.Minute, 0, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.Delay(tt.attempt, tt.floor); got != tt.want {
				t.Errorf("Delay(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
		})
	}
	// Without an injected source the delay stays within [d/2, d].
	for range 100 {
		if d := (jwt.Backoff{Initial: time.Second}).Delay(0, time.Minute); d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("random jitter gave %v, outside [500ms, 1s]", d)
		}
	}
}

// quickCfg is a JWKS authenticator for idp that retries every few
// milliseconds while it has no keys.
func quickCfg(idp *authtest.IdP, algs ...string) jwt.Config {
	return jwt.Config{Name: "corp_sso", Issuer: idp.Issuer, Audiences: []string{authtest.Audience}, Algorithms: algs,
		JWKSURL: idp.JWKSURL(), Retry: jwt.Backoff{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond}}
}

// waitState polls a's state until it is want.
func waitState(t *testing.T, a *jwt.Authenticator, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for a.State().State != want {
		if time.Now().After(deadline) {
			t.Fatalf("state still %q (%v) after 10s, want %q", a.State().State, a.State().Err, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStartsWithoutIdP: an IdP that is down at start does not fail New; tokens
// get 503 auth-unavailable with Retry-After (never a pass, never a 401) until
// the retries with backoff fetch the keys, then they verify.
func TestStartsWithoutIdP(t *testing.T) {
	k := authtest.NewKey("ES256", "kid-1")
	idp := authtest.NewIdP(t, k)
	idp.SetJWKSStatus(http.StatusServiceUnavailable)
	a, err := jwt.New(quickCfg(idp, "ES256"), idp.Server.Client(), quietLogger())
	if err != nil {
		t.Fatalf("New with the IdP down: %v", err)
	}
	defer a.Close()
	if err := a.Wait(context.Background()); err == nil {
		t.Fatal("first fetch succeeded against a failing IdP")
	}
	if st := a.State(); st.State != jwt.StateWaiting {
		t.Fatalf("state %q, want waiting", st.State)
	}
	tok := authtest.Mint(t, k, idp.Claims("u", time.Now()), nil)
	rej := rejection(t, firstErr(a.Authenticate(bearer(tok))))
	if rej.Status != http.StatusServiceUnavailable || rej.Type != "auth-unavailable" || rej.Header.Get("Retry-After") == "" {
		t.Fatalf("while waiting: %d %s Retry-After %q, want 503 auth-unavailable with Retry-After", rej.Status, rej.Type, rej.Header.Get("Retry-After"))
	}
	retries := idp.JWKSHits.Load()
	for idp.JWKSHits.Load() < retries+2 {
		<-idp.JWKSHit // retried in the background, without any request
	}
	idp.SetJWKSStatus(0)
	waitState(t, a, jwt.StateReady)
	if _, err := a.Authenticate(bearer(tok)); err != nil {
		t.Fatalf("after the IdP came up: %v", err)
	}
}

// TestReloadKeepsKeys: an authenticator built on a reload while the IdP is
// down starts with the previous one's keys when the key source is the same,
// and waits like a fresh start when it is not.
func TestReloadKeepsKeys(t *testing.T) {
	k := authtest.NewKey("ES256", "kid-1")
	idp := authtest.NewIdP(t, k)
	prev, err := jwt.New(quickCfg(idp, "ES256"), idp.Server.Client(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer prev.Close()
	if err := prev.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	idp.SetJWKSStatus(http.StatusBadGateway)
	tok := authtest.Mint(t, k, idp.Claims("u", time.Now()), nil)

	t.Run("same source: previous keys", func(t *testing.T) {
		cfg := quickCfg(idp, "ES256")
		cfg.Leeway = 10 * time.Second // not part of the key source
		cfg.Previous = prev
		next, err := jwt.New(cfg, idp.Server.Client(), quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		defer next.Close()
		if st := next.State(); st.State != jwt.StateReady {
			t.Fatalf("state %q, want ready from the start", st.State)
		}
		if _, err := next.Authenticate(bearer(tok)); err != nil {
			t.Fatalf("token after a reload during the outage: %v", err)
		}
		if err := next.Wait(context.Background()); err != nil {
			t.Errorf("Wait = %v; keys are loaded, a failed refresh keeps them", err)
		}
	})
	t.Run("other source: waits", func(t *testing.T) {
		cfg := quickCfg(idp, "ES256", "ES384")
		cfg.Previous = prev
		next, err := jwt.New(cfg, idp.Server.Client(), quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		defer next.Close()
		_ = next.Wait(context.Background())
		if st := next.State(); st.State != jwt.StateWaiting {
			t.Fatalf("state %q, want waiting (the keys were kept for another allowlist)", st.State)
		}
		if rej := rejection(t, firstErr(next.Authenticate(bearer(tok)))); rej.Status != http.StatusServiceUnavailable {
			t.Errorf("token: %d, want 503", rej.Status)
		}
	})
}
