package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// TestForwardTokenHint drives a real upstream that checks the bearer token
// itself (as FastAPI's OAuth2PasswordBearer does) and so answers 401 with
// WWW-Authenticate when the gateway removed it (issue 13).
func TestForwardTokenHint(t *testing.T) {
	hs := &authtest.Key{Alg: "HS256", Signer: []byte(testSecret)}
	token := authtest.Mint(t, hs, claims(testIssuer, "alice", nil), nil)
	start := func(t *testing.T, forward bool, challenge string) (*gt.Gateway, *gt.Upstream) {
		up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "" {
				if challenge != "" {
					w.Header().Set("WWW-Authenticate", challenge)
				}
				w.WriteHeader(http.StatusUnauthorized)
			}
		})
		extra := fmt.Sprintf("authenticators:\n  corp_sso: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [HS256], secret: %q, forward_token: %v }\n",
			testIssuer, testSecret, forward)
		g := gt.Start(t, gt.Config(up.URL, extra, "  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: [corp_sso] }\n"), nil)
		return g, up
	}
	get := func(t *testing.T, g *gt.Gateway) int {
		req, _ := http.NewRequest("GET", g.URL+"/api/items", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, _ := g.Do(t, req)
		return resp.StatusCode
	}
	hints := func(t *testing.T, g *gt.Gateway) []map[string]any {
		var out []map[string]any
		for _, line := range strings.Split(g.Logs.String(), "\n") {
			var ev map[string]any
			if json.Unmarshal([]byte(line), &ev) == nil && ev["event"] == "forward-token-hint" {
				out = append(out, ev)
			}
		}
		return out
	}

	t.Run("token removed, upstream 401 + WWW-Authenticate → one hint naming the authenticator", func(t *testing.T) {
		g, _ := start(t, false, "Bearer")
		for range 3 {
			if s := get(t, g); s != http.StatusUnauthorized {
				t.Fatalf("status %d, want the upstream's 401", s)
			}
		}
		hs := hints(t, g)
		if len(hs) != 1 {
			t.Fatalf("%d hints for 3 refusals within a minute, want 1; logs:\n%s", len(hs), g.Logs.String())
		}
		if hs[0]["authenticator"] != "corp_sso" || hs[0]["route"] != "items" || hs[0]["status"] != float64(401) ||
			!strings.Contains(fmt.Sprint(hs[0]["hint"]), "forward_token: true on authenticator corp_sso") {
			t.Errorf("hint: %v", hs[0])
		}
		if strings.Contains(g.Logs.String(), token) {
			t.Error("the token reached the log")
		}
	})
	t.Run("upstream 401 without WWW-Authenticate → no hint (not a token check)", func(t *testing.T) {
		g, _ := start(t, false, "")
		if s := get(t, g); s != http.StatusUnauthorized {
			t.Fatalf("status %d", s)
		}
		if hs := hints(t, g); len(hs) != 0 {
			t.Errorf("hint without a challenge: %v", hs)
		}
	})
	t.Run("forward_token: true → the upstream accepts, no hint", func(t *testing.T) {
		g, up := start(t, true, "Bearer")
		if s := get(t, g); s != http.StatusOK {
			t.Fatalf("status %d", s)
		}
		if up.Seen()[0].Header.Get("Authorization") != "Bearer "+token {
			t.Fatal("token not forwarded")
		}
		if hs := hints(t, g); len(hs) != 0 {
			t.Errorf("hint with forward_token on: %v", hs)
		}
	})
}
