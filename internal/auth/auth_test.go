package auth_test

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/auth/authtest"
	"github.com/rampart-gw/rampart/internal/auth/introspect"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
	"github.com/rampart-gw/rampart/internal/h1/h1test"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// staticKey is a minimal real authenticator of another kind (an API key in
// X-API-Key), to show how Any treats credentials of different kinds.
type staticKey struct{ name, key string }

func (s staticKey) Name() string { return s.name }

func (s staticKey) Authenticate(r *http.Request) (*pipeline.Principal, error) {
	vs := r.Header.Values("X-API-Key")
	switch {
	case len(vs) == 0:
		return nil, auth.ErrNoCredential
	case len(vs) > 1:
		return nil, pipeline.Reject(http.StatusBadRequest, auth.TypeAmbiguousCredentials, "Two API keys.")
	case subtle.ConstantTimeCompare([]byte(vs[0]), []byte(s.key)) != 1:
		return nil, pipeline.Reject(http.StatusUnauthorized, auth.TypeInvalidToken, "The API key is invalid.")
	}
	return &pipeline.Principal{Subject: "partner-1", Authenticator: s.name}, nil
}

type world struct {
	corp, partner    *authtest.IdP
	corpKey, partKey *authtest.Key
	corpJWT, partJWT *jwt.Authenticator
	opaque           *introspect.Authenticator
	apiKey           staticKey
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{corpKey: authtest.NewKey("ES256", "corp-1"), partKey: authtest.NewKey("EdDSA", "part-1")}
	w.corp = authtest.NewIdP(t, w.corpKey)
	w.partner = authtest.NewIdP(t, w.partKey)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var err error
	mk := func(name string, idp *authtest.IdP, alg string) *jwt.Authenticator {
		a, err := jwt.New(jwt.Config{Name: name, Issuer: idp.Issuer, Discovery: true, Audiences: []string{authtest.Audience},
			Algorithms: []string{alg}, Leeway: jwt.DefaultLeeway}, idp.Server.Client(), logger)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close() })
		if err := a.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		return a
	}
	w.corpJWT = mk("corp_sso", w.corp, "ES256")
	w.partJWT = mk("partner_sso", w.partner, "EdDSA")
	w.opaque, err = introspect.New(introspect.Config{Name: "opaque", URL: w.corp.IntrospectionURL(),
		ClientID: "rampart", ClientSecret: authtest.IntrospectSecret}, w.corp.Server.Client(), logger)
	if err != nil {
		t.Fatal(err)
	}
	w.corp.SetIntrospect(func(tok string) (int, any) {
		if tok == "opaque-good" {
			return http.StatusOK, map[string]any{"active": true, "sub": "svc-7", "scope": "items:read"}
		}
		return http.StatusOK, map[string]any{"active": false}
	})
	w.apiKey = staticKey{name: "partners", key: "pk_live_0123456789abcdef0123456789abcdef"}
	return w
}

func req(header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://gw.example/api/items/1", nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func TestAny(t *testing.T) {
	w := newWorld(t)
	now := time.Now()
	corpTok := authtest.Mint(t, w.corpKey, w.corp.Claims("alice", now), nil)
	partTok := authtest.Mint(t, w.partKey, w.partner.Claims("bob", now), nil)
	expired := w.corp.Claims("alice", now.Add(-2*time.Hour))
	expiredTok := authtest.Mint(t, w.corpKey, expired, nil)
	forged := authtest.Mint(t, authtest.AttackerKey("ES256", "corp-1"), w.corp.Claims("admin", now), nil)

	tests := []struct {
		name      string
		as        []auth.Authenticator
		r         *http.Request
		wantAuthn string // accepted by; "" = refused
		wantSub   string
		status    int
		typ       string
		challenge []string
		reason    error // wrapped in the refusal's Err
	}{
		{name: "first authenticator accepts", as: []auth.Authenticator{w.corpJWT, w.partJWT},
			r: req("Authorization", "Bearer "+corpTok), wantAuthn: "corp_sso", wantSub: "alice"},
		{name: "a token of the second issuer passes the first authenticator by", as: []auth.Authenticator{w.corpJWT, w.partJWT},
			r: req("Authorization", "Bearer "+partTok), wantAuthn: "partner_sso", wantSub: "bob"},
		{name: "opaque token reaches introspection after JWT", as: []auth.Authenticator{w.corpJWT, w.opaque},
			r: req("Authorization", "Bearer opaque-good"), wantAuthn: "opaque", wantSub: "svc-7"},
		{name: "API key when no bearer token", as: []auth.Authenticator{w.corpJWT, w.apiKey},
			r: req("X-API-Key", w.apiKey.key), wantAuthn: "partners", wantSub: "partner-1"},
		{name: "both credentials valid: config order decides", as: []auth.Authenticator{w.apiKey, w.corpJWT},
			r: req("X-API-Key", w.apiKey.key, "Authorization", "Bearer "+corpTok), wantAuthn: "partners", wantSub: "partner-1"},

		{name: "no credential: 401 with one challenge per scheme", as: []auth.Authenticator{w.corpJWT, w.partJWT, w.apiKey},
			r: req(), status: 401, typ: auth.TypeCredentialsMissing, challenge: []string{`Bearer realm="rampart"`}, reason: auth.ErrNoCredential},
		{name: "another scheme is no credential", as: []auth.Authenticator{w.corpJWT},
			r: req("Authorization", "Basic YWxpY2U6cGFzcw=="), status: 401, typ: auth.TypeCredentialsMissing, challenge: []string{`Bearer realm="rampart"`}},
		{name: "no authenticators: deny", as: nil, r: req("Authorization", "Bearer "+corpTok), status: 401, typ: auth.TypeCredentialsMissing},

		{name: "expired JWT does not fall through to a valid API key", as: []auth.Authenticator{w.corpJWT, w.apiKey},
			r: req("Authorization", "Bearer "+expiredTok, "X-API-Key", w.apiKey.key), status: 401, typ: auth.TypeInvalidToken,
			challenge: []string{`Bearer realm="rampart", error="invalid_token"`}, reason: jwt.ErrExpired},
		{name: "forged JWT does not fall through to introspection", as: []auth.Authenticator{w.corpJWT, w.opaque},
			r: req("Authorization", "Bearer "+forged), status: 401, typ: auth.TypeInvalidToken,
			challenge: []string{`Bearer realm="rampart", error="invalid_token"`}, reason: jwt.ErrSignature},
		{name: "bad API key does not fall through to a valid JWT", as: []auth.Authenticator{w.apiKey, w.corpJWT},
			r: req("X-API-Key", "pk_live_guess", "Authorization", "Bearer "+corpTok), status: 401, typ: auth.TypeInvalidToken},
		{name: "opaque token with no introspection: invalid_token", as: []auth.Authenticator{w.corpJWT},
			r: req("Authorization", "Bearer 2YotnFZFEjr1zCsicMWpAA"), status: 401, typ: auth.TypeInvalidToken,
			challenge: []string{`Bearer realm="rampart", error="invalid_token"`}, reason: auth.ErrForeignCredential},
		{name: "inactive opaque token", as: []auth.Authenticator{w.corpJWT, w.opaque},
			r: req("Authorization", "Bearer opaque-revoked"), status: 401, typ: auth.TypeInvalidToken,
			challenge: []string{`Bearer realm="rampart", error="invalid_token"`}, reason: introspect.ErrInactive},

		{name: "two Authorization fields: 400", as: []auth.Authenticator{w.corpJWT, w.opaque},
			r: req("Authorization", "Bearer "+corpTok, "Authorization", "Bearer opaque-good"), status: 400, typ: auth.TypeAmbiguousCredentials,
			challenge: []string{`Bearer realm="rampart", error="invalid_request"`}},
		{name: "comma-joined Authorization: 400", as: []auth.Authenticator{w.corpJWT},
			r: req("Authorization", "Bearer "+corpTok+", Bearer "+partTok), status: 400, typ: auth.TypeAmbiguousCredentials},
		{name: "Basic and Bearer joined: 400", as: []auth.Authenticator{w.corpJWT},
			r: req("Authorization", "Basic YWxpY2U6cGFzcw==, Bearer "+corpTok), status: 400, typ: auth.TypeAmbiguousCredentials},
		{name: "empty bearer token: 400", as: []auth.Authenticator{w.corpJWT},
			r: req("Authorization", "Bearer "), status: 400, typ: auth.TypeMalformedCredentials,
			challenge: []string{`Bearer realm="rampart", error="invalid_request"`}},
		{name: "two API keys: 400 (no challenge: no scheme)", as: []auth.Authenticator{w.apiKey, w.corpJWT},
			r: req("X-API-Key", "a", "X-API-Key", "b", "Authorization", "Bearer "+corpTok), status: 400, typ: auth.TypeAmbiguousCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := w.corp.IntrospectHits.Load()
			p, err := auth.Any("rampart", tt.as...)(tt.r)
			if tt.wantAuthn != "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if p.Authenticator != tt.wantAuthn || p.Subject != tt.wantSub {
					t.Errorf("principal %s:%s, want %s:%s", p.Authenticator, p.Subject, tt.wantAuthn, tt.wantSub)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted as %s:%s", p.Authenticator, p.Subject)
			}
			var rej *pipeline.Rejection
			if !errors.As(err, &rej) {
				t.Fatalf("err %v is not a rejection", err)
			}
			if rej.Status != tt.status || rej.Type != tt.typ {
				t.Errorf("refusal %d %s, want %d %s (%v)", rej.Status, rej.Type, tt.status, tt.typ, rej.Err)
			}
			if tt.challenge != nil {
				if got := rej.Header.Values("WWW-Authenticate"); strings.Join(got, "|") != strings.Join(tt.challenge, "|") {
					t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
				}
			}
			if tt.reason != nil && !errors.Is(rej.Err, tt.reason) {
				t.Errorf("reason %v, want %v", rej.Err, tt.reason)
			}
			if strings.Contains(tt.name, "does not fall through to introspection") || strings.Contains(tt.name, "400") {
				if got := w.corp.IntrospectHits.Load() - before; got != 0 {
					t.Errorf("introspection called %d times after the refusal", got)
				}
			}
		})
	}
}

// TestAnyEndToEnd drives Any through pipeline.Guard in a real server in front
// of a real upstream: refusals are problem+json with a challenge and never
// reach the upstream; accepted requests arrive with the identity headers and
// without the client's forged copies.
func TestAnyEndToEnd(t *testing.T) {
	w := newWorld(t)
	var mu sync.Mutex
	var seen []http.Header
	upstream := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		_, _ = io.WriteString(rw, "ok")
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }}
	authenticate := auth.Any("rampart", w.corpJWT, w.opaque)
	gw := h1test.NewServer(t, pipeline.Guard("auth", nil, func(r *http.Request) (*http.Request, error) {
		p, err := authenticate(r)
		if err != nil {
			return nil, err
		}
		r = r.Clone(r.Context())
		auth.SetHeaders(r.Header, p)
		return r, nil
	})(proxy))

	do := func(header ...string) (*http.Response, map[string]any) {
		r, _ := http.NewRequest(http.MethodGet, gw.URL+"/api/items/1", nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Add(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if resp.Header.Get("Content-Type") == "application/problem+json" {
			_ = json.NewDecoder(resp.Body).Decode(&body)
		}
		return resp, body
	}
	upstreamCount := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }

	t.Run("refusals never reach the upstream", func(t *testing.T) {
		for name, hdr := range map[string][]string{
			"no token":         nil,
			"alg none":         {"Authorization", "Bearer " + authtest.Raw(map[string]any{"alg": "none"}, w.corp.Claims("admin", time.Now()), nil)},
			"two tokens":       {"Authorization", "Bearer a.b.c", "Authorization", "Bearer d.e.f"},
			"inactive opaque":  {"Authorization", "Bearer opaque-revoked"},
			"forged principal": {"X-Rampart-Subject", "admin", "X-Rampart-Principal", "corp_sso:admin"},
		} {
			resp, body := do(hdr...)
			if resp.StatusCode < 400 || body == nil || !strings.HasPrefix(body["type"].(string), pipeline.TypePrefix) {
				t.Errorf("%s: status %d, body %v", name, resp.StatusCode, body)
			}
			if resp.StatusCode == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="rampart"`) {
				t.Errorf("%s: WWW-Authenticate %q", name, resp.Header.Get("WWW-Authenticate"))
			}
			if detail, _ := body["detail"].(string); strings.Contains(strings.ToLower(detail), "expired") || strings.Contains(detail, "kid") {
				t.Errorf("%s: detail %q helps an attacker", name, detail)
			}
		}
		if n := upstreamCount(); n != 0 {
			t.Errorf("the upstream saw %d refused requests", n)
		}
	})

	t.Run("accepted request carries the identity headers, not the client's", func(t *testing.T) {
		c := w.corp.Claims("alice", time.Now())
		c["scope"] = "items:read items:write"
		c["roles"] = []string{"reader", "auditor"}
		tok := authtest.Mint(t, w.corpKey, c, nil)
		resp, _ := do("Authorization", "Bearer "+tok, "X-Rampart-Subject", "admin", "X-Rampart-Roles", "admin")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		mu.Lock()
		h := seen[len(seen)-1]
		mu.Unlock()
		want := map[string]string{
			"X-Rampart-Principal": "corp_sso:alice",
			"X-Rampart-Subject":   "alice",
			"X-Rampart-Scopes":    "items:read items:write",
			"X-Rampart-Roles":     "reader,auditor",
		}
		for k, v := range want {
			if got := h.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("upstream %s = %q, want %q", k, got, v)
			}
		}
	})
}
