package main_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// TestStopBOLAThroughTheBinary (issue 16), through the real binary in front
// of an upstream shaped like the deliberately vulnerable Flask API (its own
// HS256 tokens without iss or aud, in a Bearer header): Alice changing Bob's
// password is refused and never reaches the upstream, her own passes, an
// admin may change anyone's, case and encoding tricks are refused, the debug
// route that dumps every user is unreachable although a parameter route
// would match it, and a refresh token is not an access token.
func TestStopBOLAThroughTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	var mu sync.Mutex
	var seen []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.EscapedPath())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/books/v1" { // every user's books, as the vulnerable API answers
			_, _ = io.WriteString(w, `{"books":[{"title":"a","owner":"alice"},{"title":"b","owner":"bob"},{"title":"c","owner":"alice"}]}`)
			return
		}
		_, _ = io.WriteString(w, `{"status":"success"}`)
	}))
	defer upstream.Close()
	upstreamSaw := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}

	const secret = "Kq7Vn2Xr9Tb4Lm8Zc1Wd6Hs3Fp0Gy5Ju"
	listen, adminListen := gt.FreeAddr(t), gt.FreeAddr(t)
	cfg := fmt.Sprintf(`version: 1
server: { listen: %q }
admin: { listen: %q, token: "${RAMPART_ADMIN_TOKEN}" }
upstreams:
  vampi: { targets: [%q] }
authenticators:
  app_tokens: { type: jwt, issuer: any, audiences: [any], algorithms: [HS256], secret: "${APP_SECRET}",
                require_claims: { type: access } }
routes:
  - name: password
    path: /users/v1/{username}/password
    methods: [PUT]
    upstream: vampi
    auth: [app_tokens]
    require:
      match: [{ path: username, claim: sub }]
      match_bypass_roles: [admin]
  - { name: user, path: "/users/v1/{username}", methods: [GET], upstream: vampi, auth: [app_tokens] }
  - { name: debug, path: /users/v1/_debug, methods: [GET], deny: true }
  - { name: books, path: /books/v1, methods: [GET], upstream: vampi, auth: [app_tokens],
      response_owner: { field: /books/*/owner, claim: sub } }
`, listen, adminListen, upstream.URL)
	srv := serveBinary(t, cfg, "APP_SECRET="+secret)

	waitServing(t, srv, adminListen)
	client := gt.Client()

	// Tokens as Flask-JWT-Extended issues them: no iss, no aud, type access.
	key := &authtest.Key{Alg: "HS256", Signer: []byte(secret)}
	mint := func(sub, typ string, roles ...string) string {
		c := jwtlib.MapClaims{"sub": sub, "type": typ, "exp": time.Now().Add(time.Hour).Unix()}
		if len(roles) > 0 {
			c["roles"] = roles
		}
		return authtest.Mint(t, key, c, nil)
	}
	alice, admin := mint("alice", "access"), mint("root", "access", "admin")

	tests := []struct {
		name, method, path, token string
		status                    int
		problem                   string
	}{
		{"Alice changes her own password", "PUT", "/users/v1/alice/password", alice, 200, ""},
		{"Alice changes Bob's password", "PUT", "/users/v1/bob/password", alice, 403, "object-not-owned"},
		{"case trick", "PUT", "/users/v1/Alice/password", alice, 403, "object-not-owned"},
		{"encoded upper-case trick", "PUT", "/users/v1/%41lice/password", alice, 403, "object-not-owned"},
		{"admin changes Bob's password", "PUT", "/users/v1/bob/password", admin, 200, ""},
		{"the debug route is unreachable", "GET", "/users/v1/_debug", alice, 404, "route-not-found"},
		{"a refresh token is not an access token", "PUT", "/users/v1/alice/password", mint("alice", "refresh"), 401, "invalid-token"},
		{"no token", "PUT", "/users/v1/alice/password", "", 401, "credentials-missing"},
	}
	for _, tt := range tests {
		before := len(upstreamSaw())
		req, _ := http.NewRequest(tt.method, "http://"+listen+tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		reached := len(upstreamSaw()) > before
		switch {
		case resp.StatusCode != tt.status:
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, body, tt.status)
		case tt.problem == "" && !reached:
			t.Errorf("%s: allowed but the upstream saw nothing", tt.name)
		case tt.problem != "" && reached:
			t.Errorf("%s: refused, yet the upstream saw %v", tt.name, upstreamSaw()[before:])
		case tt.problem != "":
			gt.CheckProblem(t, resp, string(body), tt.status, tt.problem)
		}
	}

	// The read side: a list answer keeps only Alice's books.
	req, _ := http.NewRequest("GET", "http://"+listen+"/books/v1", nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"books":[{"title":"a","owner":"alice"},{"title":"c","owner":"alice"}]}`; resp.StatusCode != 200 || string(body) != want {
		t.Errorf("GET /books/v1 as Alice: %d %s, want 200 %s", resp.StatusCode, body, want)
	}
}
