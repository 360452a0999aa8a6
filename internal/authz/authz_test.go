package authz_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/auth/authtest"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
	"github.com/rampart-gw/rampart/internal/authz"
	"github.com/rampart-gw/rampart/internal/h1/h1test"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

func TestCheck(t *testing.T) {
	user := &pipeline.Principal{
		Subject: "alice", Authenticator: "corp_sso",
		Scopes: []string{"items:read", "items:write"},
		Roles:  []string{"editor"},
		AMR:    []string{"pwd"},
		Claims: map[string]any{
			"tenant": "acme", "groups": []any{"eng", "ops"}, "email_verified": true, "level": float64(3),
			"org": map[string]any{"id": "o-1"}, "acr": "urn:acr:basic",
		},
	}
	mfaUser := &pipeline.Principal{Subject: "bob", AMR: []string{"pwd", "hwk"}, Claims: map[string]any{}}
	acrUser := &pipeline.Principal{Subject: "carol", AMR: []string{"pwd"}, Claims: map[string]any{"acr": "urn:acr:gold"}}
	apiKeyPrincipal := &pipeline.Principal{Subject: "partner-1", Authenticator: "partners"}

	tests := []struct {
		name      string
		p         *pipeline.Principal
		req       authz.Require
		status    int // 0 = allowed
		typ       string
		challenge string
	}{
		{name: "no principal: 401 (deny by default)", p: nil, req: authz.Require{Realm: "rampart"}, status: 401, typ: auth.TypeCredentialsMissing, challenge: `Bearer realm="rampart"`},
		{name: "empty requirement: any principal", p: apiKeyPrincipal},

		{name: "all scopes held", p: user, req: authz.Require{Scopes: []string{"items:read", "items:write"}}},
		{name: "one scope missing: 403 insufficient_scope", p: user, req: authz.Require{Scopes: []string{"items:read", "items:delete"}, Realm: "rampart"},
			status: 403, typ: authz.TypeInsufficientScope, challenge: `Bearer realm="rampart", error="insufficient_scope", scope="items:read items:delete"`},
		{name: "scopes are exact (no prefix match)", p: user, req: authz.Require{Scopes: []string{"items"}}, status: 403, typ: authz.TypeInsufficientScope},
		{name: "scopes are case-sensitive", p: user, req: authz.Require{Scopes: []string{"Items:Read"}}, status: 403, typ: authz.TypeInsufficientScope},

		{name: "one of the roles held", p: user, req: authz.Require{Roles: []string{"admin", "editor"}}},
		{name: "no role held: 403", p: user, req: authz.Require{Roles: []string{"admin"}}, status: 403, typ: authz.TypeInsufficientRole},
		{name: "principal without roles", p: apiKeyPrincipal, req: authz.Require{Roles: []string{"admin"}}, status: 403, typ: authz.TypeInsufficientRole},

		{name: "claim exact", p: user, req: authz.Require{Claims: map[string][]string{"tenant": {"acme"}}}},
		{name: "claim one-of", p: user, req: authz.Require{Claims: map[string][]string{"tenant": {"globex", "acme"}}}},
		{name: "claim mismatch: 403", p: user, req: authz.Require{Claims: map[string][]string{"tenant": {"globex"}}}, status: 403, typ: authz.TypeClaimMismatch},
		{name: "claim absent: 403", p: user, req: authz.Require{Claims: map[string][]string{"department": {"x"}}}, status: 403, typ: authz.TypeClaimMismatch},
		{name: "array claim contains a value", p: user, req: authz.Require{Claims: map[string][]string{"groups": {"ops"}}}},
		{name: "array claim lacks the values", p: user, req: authz.Require{Claims: map[string][]string{"groups": {"admins"}}}, status: 403, typ: authz.TypeClaimMismatch},
		{name: "boolean claim", p: user, req: authz.Require{Claims: map[string][]string{"email_verified": {"true"}}}},
		{name: "number claim", p: user, req: authz.Require{Claims: map[string][]string{"level": {"3"}}}},
		{name: "nested claim", p: user, req: authz.Require{Claims: map[string][]string{"org.id": {"o-1"}}}},
		{name: "object claim never equals a value", p: user, req: authz.Require{Claims: map[string][]string{"org": {"o-1"}}}, status: 403, typ: authz.TypeClaimMismatch},
		{name: "every claim must hold", p: user, req: authz.Require{Claims: map[string][]string{"tenant": {"acme"}, "level": {"5"}}}, status: 403, typ: authz.TypeClaimMismatch},

		{name: "MFA: password only → 401 step-up", p: user, req: authz.Require{MFA: true, Realm: "rampart"}, status: 401,
			typ: authz.TypeInsufficientAuthentication, challenge: `Bearer realm="rampart", error="insufficient_user_authentication"`},
		{name: "MFA: hardware key", p: mfaUser, req: authz.Require{MFA: true}},
		{name: "MFA: custom method list", p: mfaUser, req: authz.Require{MFA: true, MFAMethods: []string{"otp"}}, status: 401, typ: authz.TypeInsufficientAuthentication},
		{name: "MFA: acr in the list satisfies it", p: acrUser, req: authz.Require{MFA: true, ACRValues: []string{"urn:acr:gold"}}},
		{name: "MFA: acr not in the list, challenge names acr_values", p: user, req: authz.Require{MFA: true, ACRValues: []string{"urn:acr:gold", "urn:acr:platinum"}},
			status: 401, typ: authz.TypeInsufficientAuthentication, challenge: `Bearer error="insufficient_user_authentication", acr_values="urn:acr:gold urn:acr:platinum"`},
		{name: "ACR required without MFA", p: acrUser, req: authz.Require{ACRValues: []string{"urn:acr:gold"}}},
		{name: "ACR required without MFA: amr does not help", p: mfaUser, req: authz.Require{ACRValues: []string{"urn:acr:gold"}}, status: 401, typ: authz.TypeInsufficientAuthentication},
		{name: "MFA: API-key principal has no amr", p: apiKeyPrincipal, req: authz.Require{MFA: true}, status: 401, typ: authz.TypeInsufficientAuthentication},

		{name: "403 before step-up", p: user, req: authz.Require{Scopes: []string{"admin:all"}, MFA: true}, status: 403, typ: authz.TypeInsufficientScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rej := authz.Check(tt.p, tt.req)
			if tt.status == 0 {
				if rej != nil {
					t.Fatalf("refused: %d %s %v", rej.Status, rej.Type, rej.Err)
				}
				return
			}
			if rej == nil {
				t.Fatal("allowed")
			}
			if rej.Status != tt.status || rej.Type != tt.typ {
				t.Errorf("refusal %d %s, want %d %s", rej.Status, rej.Type, tt.status, tt.typ)
			}
			if tt.challenge != "" {
				if got := rej.Header.Get("WWW-Authenticate"); got != tt.challenge {
					t.Errorf("WWW-Authenticate = %s, want %s", got, tt.challenge)
				}
			}
			if tt.status == 403 && tt.typ != authz.TypeInsufficientScope && rej.Header.Get("WWW-Authenticate") != "" {
				t.Errorf("role/claim refusal carries a challenge: %s", rej.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		req  authz.Require
		ok   bool
	}{
		{"zero value", authz.Require{}, true},
		{"full", authz.Require{Scopes: []string{"a:b"}, Roles: []string{"r"}, Claims: map[string][]string{"t": {"x"}}, MFA: true, ACRValues: []string{"gold"}}, true},
		{"scope with a space", authz.Require{Scopes: []string{"a b"}}, false},
		{"empty role", authz.Require{Roles: []string{""}}, false},
		{"claim without values", authz.Require{Claims: map[string][]string{"t": nil}}, false},
		{"empty MFA method list", authz.Require{MFA: true, MFAMethods: []string{}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if errs := tt.req.Validate(); (len(errs) == 0) != tt.ok {
				t.Errorf("Validate = %v, want ok=%v", errs, tt.ok)
			}
		})
	}
}

// TestRouteEndToEnd runs authentication and authorization as the gateway
// chains them, in a real server in front of a real upstream, with tokens from
// a real IdP: refusals are problem+json and never reach the upstream.
func TestRouteEndToEnd(t *testing.T) {
	key := authtest.NewKey("RS256", "k1")
	idp := authtest.NewIdP(t, key)
	a, err := jwt.New(jwt.Config{Name: "corp_sso", Issuer: idp.Issuer, JWKSURL: idp.JWKSURL(),
		Audiences: []string{authtest.Audience}, Algorithms: []string{"RS256"}, Leeway: jwt.DefaultLeeway},
		idp.Server.Client(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	var upstreamHits atomic.Int64
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamHits.Add(1)
		_, _ = io.WriteString(w, "ok")
	})
	authenticate := auth.Any("rampart", a)
	req := authz.Require{Scopes: []string{"items:write"}, Roles: []string{"editor"}, MFA: true, Realm: "rampart"}
	gw := h1test.NewServer(t, pipeline.Chain(upstream,
		pipeline.Guard("authn", nil, func(r *http.Request) (*http.Request, error) {
			p, err := authenticate(r)
			if err != nil {
				return nil, err
			}
			return pipeline.WithInfo(r, &pipeline.Info{Principal: p}), nil
		}),
		pipeline.Guard("authz", nil, func(r *http.Request) (*http.Request, error) {
			if rej := authz.Check(pipeline.InfoFrom(r.Context()).Principal, req); rej != nil {
				return nil, rej
			}
			return r, nil
		}),
	))

	token := func(scope string, roles, amr []string) string {
		c := idp.Claims("alice", time.Now())
		c["scope"], c["roles"], c["amr"] = scope, roles, amr
		return authtest.Mint(t, key, c, nil)
	}
	tests := []struct {
		name      string
		tok       string
		status    int
		typ       string
		challenge string
	}{
		{"all requirements met", token("items:read items:write", []string{"editor"}, []string{"pwd", "otp"}), 200, "", ""},
		{"no token", "", 401, auth.TypeCredentialsMissing, `Bearer realm="rampart"`},
		{"missing scope", token("items:read", []string{"editor"}, []string{"otp"}), 403, authz.TypeInsufficientScope,
			`Bearer realm="rampart", error="insufficient_scope", scope="items:write"`},
		{"missing role", token("items:write", []string{"viewer"}, []string{"otp"}), 403, authz.TypeInsufficientRole, ""},
		{"password-only login", token("items:write", []string{"editor"}, []string{"pwd"}), 401, authz.TypeInsufficientAuthentication,
			`Bearer realm="rampart", error="insufficient_user_authentication"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := upstreamHits.Load()
			r, _ := http.NewRequest(http.MethodPost, gw.URL+"/api/items", strings.NewReader("{}"))
			if tt.tok != "" {
				r.Header.Set("Authorization", "Bearer "+tt.tok)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 200 {
				if upstreamHits.Load() != before+1 {
					t.Error("upstream not reached")
				}
				return
			}
			if upstreamHits.Load() != before {
				t.Error("refused request reached the upstream")
			}
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("not problem+json: %v %s", err, resp.Header.Get("Content-Type"))
			}
			if body["type"] != pipeline.TypePrefix+tt.typ || body["status"] != float64(tt.status) {
				t.Errorf("problem %v, want type %s", body, tt.typ)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
		})
	}
}

func ExampleCheck() {
	p := &pipeline.Principal{Subject: "alice", Scopes: []string{"items:read"}, AMR: []string{"pwd"}}
	for _, req := range []authz.Require{
		{Scopes: []string{"items:read"}},
		{Scopes: []string{"items:write"}},
		{Scopes: []string{"items:read"}, MFA: true},
	} {
		if rej := authz.Check(p, req); rej != nil {
			fmt.Println(rej.Status, rej.Type, rej.Header.Get("WWW-Authenticate"))
			continue
		}
		fmt.Println("allowed")
	}
	// Output:
	// allowed
	// 403 insufficient-scope Bearer error="insufficient_scope", scope="items:write"
	// 401 insufficient-authentication Bearer error="insufficient_user_authentication"
}
