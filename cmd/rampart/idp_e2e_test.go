package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// TestServeStartsBeforeIdP (issue 14, item 1), through the real binary: the
// IdP's JWKS endpoint comes up about 5 s after `rampart serve`. Until then the
// gateway serves its auth: none route, answers the jwt route with 503
// auth-unavailable and Retry-After, and /readyz (200) lists the authenticator
// as waiting; once the IdP is up, the same token is accepted and /readyz
// lists no waiting authenticator.
func TestServeStartsBeforeIdP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and waits for a late IdP")
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "from upstream")
	}))
	defer upstream.Close()
	idpAddr, listen, adminListen := gt.FreeAddr(t), gt.FreeAddr(t), gt.FreeAddr(t)
	const issuer = "https://idp.example.com/"
	cfg := fmt.Sprintf(`version: 1
server: { listen: %q }
admin: { listen: %q, token: "${RAMPART_ADMIN_TOKEN}" }
upstreams:
  app: { targets: [%q] }
authenticators:
  corp_sso: { type: jwt, issuer: %q, jwks_url: "http://%s/jwks", audiences: [%s], algorithms: [ES256], jwks_refresh_floor: 2s }
routes:
  - { name: secure, path: /secure, methods: [GET], upstream: app, auth: [corp_sso] }
  - { name: public, path: /public, methods: [GET], upstream: app, auth: none }
`, listen, adminListen, upstream.URL, issuer, idpAddr, authtest.Audience)
	srv := serveBinary(t, cfg)
	started := time.Now()

	client := gt.Client()
	readyz := func() (int, map[string]string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+adminListen+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var rd struct {
			Authenticators map[string]struct{ State string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&rd); err != nil {
			t.Fatalf("readyz body: %v", err)
		}
		states := map[string]string{}
		for name, a := range rd.Authenticators {
			states[name] = a.State
		}
		return resp.StatusCode, states
	}
	poll := func(what string, done func(int, map[string]string) bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for code, states := readyz(); !done(code, states); code, states = readyz() {
			srv.alive(t, "waiting for "+what)
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 60s: readyz %d %v\n%s", what, code, states, srv.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	get := func(path, token string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+listen+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	key := authtest.NewKey("ES256", "kid-1")
	now := time.Now()
	tok := authtest.Mint(t, key, map[string]any{"iss": issuer, "aud": authtest.Audience, "sub": "alice",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}, nil)

	// Before the IdP: ready, the authenticator waiting, public served, jwt 503.
	poll("ready replica", func(code int, _ map[string]string) bool { return code == http.StatusOK })
	if _, states := readyz(); states["corp_sso"] != "waiting" {
		t.Fatalf("before the IdP: authenticator states %v, want corp_sso waiting", states)
	}
	if resp, body := get("/public", ""); resp.StatusCode != http.StatusOK || body != "from upstream" {
		t.Fatalf("auth: none route before the IdP: %d %q, want 200", resp.StatusCode, body)
	}
	resp, body := get("/secure", tok)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, "auth-unavailable") {
		t.Fatalf("jwt route before the IdP: %d Retry-After %q %s %s, want 503 auth-unavailable with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), body)
	}

	// The IdP comes up about 5 s after the gateway (the scenario, not a sync).
	time.Sleep(time.Until(started.Add(5 * time.Second)))
	idp := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{key.JWK()}})
	}))
	ln, err := net.Listen("tcp", idpAddr)
	if err != nil {
		t.Fatalf("IdP listen on %s: %v", idpAddr, err)
	}
	idp.Listener = ln
	idp.Start()
	defer idp.Close()

	poll("keys", func(_ int, states map[string]string) bool { return states["corp_sso"] == "ready" })
	if code, states := readyz(); code != http.StatusOK || len(states) != 1 {
		t.Errorf("after the IdP: readyz %d %v", code, states)
	}
	if resp, body := get("/secure", tok); resp.StatusCode != http.StatusOK || body != "from upstream" {
		t.Fatalf("jwt route after the IdP came up: %d %q, want 200", resp.StatusCode, body)
	}
	if resp, _ := get("/secure", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("jwt route without a token: %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+adminListen+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	mresp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !bytes.Contains(metrics, []byte(`rampart_authenticator_ready{authenticator="corp_sso"} 1`)) {
		t.Errorf("metrics lack rampart_authenticator_ready 1 for corp_sso")
	}
}
