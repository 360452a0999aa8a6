package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// TestReloadDuringIdPOutage: a reload while the IdP is down keeps the running
// keys of an authenticator whose key source did not change (tokens keep
// working, readyz says ready); one whose key source changed waits for the
// IdP, and only its tokens get 503 — a route listing it before another
// authenticator still takes that one's tokens, and public routes serve.
func TestReloadDuringIdPOutage(t *testing.T) {
	es := authtest.NewKey("ES256", "es-1")
	var down atomic.Bool
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "IdP down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{es.JWK()}})
	}))
	defer jwks.Close()
	up := gt.NewUpstream(t, nil)
	const ssoIssuer = "http://127.0.0.1/sso"
	cfg := func(algs string) string {
		return gt.Config(up.URL, fmt.Sprintf(`authenticators:
  shared: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [HS256], secret: %q }
  sso: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [%s], jwks_url: %q }
`, testIssuer, testSecret, ssoIssuer, algs, jwks.URL), `  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: [sso, shared] }
  - { name: public, path: /health, methods: [GET], upstream: app, auth: none }
`)
	}
	g := gt.Start(t, cfg("ES256"), nil)
	ssoTok := authtest.Mint(t, es, claims(ssoIssuer, "alice", nil), nil)
	hsTok := authtest.Mint(t, &authtest.Key{Alg: "HS256", Signer: []byte(testSecret)}, claims(testIssuer, "bob", nil), nil)
	check := func(when string, wantSSO int) {
		t.Helper()
		for _, c := range []struct {
			path, tok string
			want      int
		}{{"/api/items", ssoTok, wantSSO}, {"/api/items", hsTok, 200}, {"/health", "", 200}} {
			req, _ := http.NewRequest(http.MethodGet, g.URL+c.path, nil)
			if c.tok != "" {
				req.Header.Set("Authorization", "Bearer "+c.tok)
			}
			resp, body := g.Do(t, req)
			if resp.StatusCode != c.want {
				t.Errorf("%s: %s: %d %s, want %d", when, c.path, resp.StatusCode, body, c.want)
			}
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				t.Errorf("%s: 503 without Retry-After", when)
			}
		}
	}
	state := func() string {
		rd, err := g.Readiness()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rd.Authenticators["shared"]; ok {
			t.Errorf("readyz lists the shared-secret authenticator, which fetches nothing: %v", rd.Authenticators)
		}
		return rd.Authenticators["sso"].State
	}

	check("IdP up", 200)
	down.Store(true)
	if err := g.ReloadYAML(t, cfg("ES256")); err != nil {
		t.Fatalf("reload with the IdP down: %v", err)
	}
	check("reloaded, same key source, IdP down", 200)
	if s := state(); s != "ready" {
		t.Errorf("sso after a same-source reload: %s, want ready", s)
	}
	if err := g.ReloadYAML(t, cfg("ES256, ES384")); err != nil {
		t.Fatalf("reload with another allowlist: %v", err)
	}
	check("reloaded, other key source, IdP down", 503)
	if s := state(); s != "waiting" {
		t.Errorf("sso after a changed-source reload: %s, want waiting", s)
	}
}
