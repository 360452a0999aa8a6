package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	"github.com/rampart-gw/rampart/internal/config"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// ownerUpstream serves Bob's and Alice's books, a mixed list, a large list,
// a text page and an error.
func ownerUpstream(t *testing.T) *gt.Upstream {
	return gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Etag", `"v1"`)
		w.Header().Set("X-Upstream", "1")
		switch r.URL.Path {
		case "/books/bobs", "/open/bobs", "/strict/bobs":
			fmt.Fprint(w, `{"title":"Bob's secrets","owner":"bob"}`)
		case "/books/alices":
			fmt.Fprint(w, `{"title":"Alice's notes", "owner":"alice"}`)
		case "/books/dup":
			fmt.Fprint(w, `{"owner":"bob","owner":"alice"}`)
		case "/books/missing":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"no such book"}`)
		case "/books/text":
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, `owner: alice`)
		case "/books/big":
			fmt.Fprintf(w, `{"owner":"alice","pad":%q}`, strings.Repeat("x", 2048))
		case "/books/stream": // no Content-Length: over max_bytes while it streams
			for range 8 {
				fmt.Fprint(w, strings.Repeat(" ", 256))
				w.(http.Flusher).Flush()
			}
		case "/lists/mine":
			fmt.Fprint(w, `{"total":4,"items":[{"id":1,"owner":"alice"},{"id":2,"owner":"bob"},{"id":3},{"id":4,"owner":"alice","tags":[1,2]}]}`)
		case "/tenants/list":
			fmt.Fprint(w, `[{"t":"acme"},{"t":"globex"},{"t":"acme"}]`)
		case "/lists/alone":
			fmt.Fprint(w, `{"items":[{"id":1,"owner":"alice"}]}`)
		}
	})
}

const ownerRoutes = `  - { name: book, path: "/books/{id}", methods: [GET], upstream: app, auth: [shared], response_owner: { field: /owner, claim: sub, max_bytes: 1KiB } }
  - { name: book403, path: "/strict/{id}", methods: [GET], upstream: app, auth: [shared], response_owner: { field: /owner, claim: sub, status: 403 } }
  - { name: list, path: "/lists/{id}", methods: [GET], upstream: app, auth: [shared], response_owner: { field: /items/*/owner, claim: sub } }
  - { name: tenants, path: "/tenants/{id}", methods: [GET], upstream: app, auth: [shared], response_owner: { field: /*/t, claim: tenant } }
  - { name: open, path: "/open/{id}", methods: [GET], upstream: app, auth: [shared], auth_optional: true, response_owner: { field: /owner, claim: sub } }
`

func TestResponseOwner(t *testing.T) {
	up := ownerUpstream(t)
	extra := fmt.Sprintf("authenticators:\n  shared: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [HS256], secret: %q }\n", testIssuer, testSecret)
	g := gt.Start(t, gt.Config(up.URL, extra, ownerRoutes), nil)
	hs := &authtest.Key{Alg: "HS256", Signer: []byte(testSecret)}
	alice := authtest.Mint(t, hs, claims(testIssuer, "alice", map[string]any{"tenant": "acme"}), nil)
	get := func(path, token string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", g.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Accept-Encoding", "gzip")
		req.Header.Set("If-None-Match", `"v1"`)
		req.Header.Set("Range", "bytes=0-3")
		return g.Do(t, req)
	}

	refused := []struct {
		name, path, token string
		status            int
		typ               string
		reached           bool // the upstream was asked
	}{
		{"another user's book → 404", "/books/bobs", alice, 404, "route-not-found", true},
		{"duplicate owner keys fail closed", "/books/dup", alice, 502, "response-unverifiable", true},
		{"non-JSON 2xx → 502", "/books/text", alice, 502, "response-unverifiable", true},
		{"oversized → 502", "/books/big", alice, 502, "response-unverifiable", true},
		{"oversized while streaming → 502", "/books/stream", alice, 502, "response-unverifiable", true},
		{"anonymous on an optional route → 404", "/open/bobs", "", 404, "route-not-found", false},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := up.Count()
			resp, body := get(tt.path, tt.token)
			gt.CheckProblem(t, resp, body, tt.status, tt.typ)
			if strings.Contains(body, "bob") || resp.Header.Get("X-Upstream") != "" || resp.Header.Get("Etag") != "" {
				t.Errorf("the upstream's response leaks: %v %s", resp.Header, body)
			}
			if reached := up.Count() != before; reached != tt.reached {
				t.Errorf("upstream reached = %v, want %v", reached, tt.reached)
			}
		})
	}

	t.Run("her own book → 200 unchanged", func(t *testing.T) {
		resp, body := get("/books/alices", alice)
		if resp.StatusCode != 200 || body != `{"title":"Alice's notes", "owner":"alice"}` || resp.Header.Get("Etag") != `"v1"` {
			t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
		}
		if s := up.Seen(); s[len(s)-1].Header.Get("Accept-Encoding") != "" || s[len(s)-1].Header.Get("If-None-Match") != "" || s[len(s)-1].Header.Get("Range") != "" {
			t.Error("Accept-Encoding, If-None-Match or Range forwarded: the body could come back encoded, partial, or as an unchecked 304")
		}
	})
	t.Run("error responses pass", func(t *testing.T) {
		resp, body := get("/books/missing", alice)
		if resp.StatusCode != 404 || body != `{"error":"no such book"}` {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("status 403", func(t *testing.T) {
		resp, body := get("/strict/bobs", alice)
		gt.CheckProblem(t, resp, body, 403, "object-not-owned")
	})
	t.Run("list keeps only her items", func(t *testing.T) {
		resp, body := get("/lists/mine", alice)
		want := `{"total":4,"items":[{"id":1,"owner":"alice"},{"id":4,"owner":"alice","tags":[1,2]}]}`
		if resp.StatusCode != 200 || body != want || resp.Header.Get("Etag") != "" || resp.ContentLength != int64(len(want)) {
			t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
		}
		resp, body = get("/lists/alone", alice)
		if resp.StatusCode != 200 || body != `{"items":[{"id":1,"owner":"alice"}]}` || resp.Header.Get("Etag") != `"v1"` {
			t.Fatalf("nothing removed, yet: %d %v %s", resp.StatusCode, resp.Header, body)
		}
	})
	t.Run("top-level list, by another claim", func(t *testing.T) {
		resp, body := get("/tenants/list", alice)
		if resp.StatusCode != 200 || body != `[{"t":"acme"},{"t":"acme"}]` {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("audited: route, subject, field; never values", func(t *testing.T) {
		var refusal, removal map[string]any
		for _, line := range strings.Split(g.Logs.String(), "\n") {
			var ev map[string]any
			if json.Unmarshal([]byte(line), &ev) != nil {
				continue
			}
			if ev["step"] == "response-owner" && ev["route"] == "book" && ev["status"] == float64(404) && refusal == nil {
				refusal = ev
			}
			if ev["event"] == "response-owner-removed" && ev["route"] == "list" {
				removal = ev
			}
		}
		if msg, _ := refusal["error"].(string); !strings.Contains(msg, "/owner") || !strings.Contains(msg, `"alice"`) || strings.Contains(msg, "bob") {
			t.Errorf("refusal audit %v", refusal)
		}
		if removal == nil || removal["route"] != "list" || removal["subject"] != "alice" || removal["field"] != "/items/*/owner" || removal["removed"] != float64(2) {
			t.Errorf("removal audit %v", removal)
		}
	})
}

func TestResponseOwnerConfig(t *testing.T) {
	extra := fmt.Sprintf("authenticators:\n  shared: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [HS256], secret: %q }\n", testIssuer, testSecret)
	for _, tt := range []struct{ name, route, want string }{
		{"auth none", `{ name: r, path: /a, methods: [GET], upstream: app, auth: none, response_owner: { field: /owner, claim: sub } }`, "response_owner is not allowed with auth: none"},
		{"websocket", `{ name: r, path: /a, methods: [GET], upstream: app, auth: [shared], websocket: true, response_owner: { field: /owner, claim: sub } }`, "cannot check WebSocket messages"},
		{"field required", `{ name: r, path: /a, methods: [GET], upstream: app, auth: [shared], response_owner: { claim: sub } }`, "field"},
		{"not a pointer", `{ name: r, path: /a, methods: [GET], upstream: app, auth: [shared], response_owner: { field: owner, claim: sub } }`, "must be a JSON pointer starting with /"},
		{"two stars", `{ name: r, path: /a, methods: [GET], upstream: app, auth: [shared], response_owner: { field: /*/items/*/owner, claim: sub } }`, "one * segment only"},
		{"star last", `{ name: r, path: /a, methods: [GET], upstream: app, auth: [shared], response_owner: { field: /items/*, claim: sub } }`, "must name a field inside the elements"},
		{"status", `{ name: r, path: /a, methods: [GET], upstream: app, auth: [shared], response_owner: { field: /owner, claim: sub, status: 401 } }`, "must be 404 or 403, got 401"},
		{"unknown key", `{ name: r, path: /a, methods: [GET], upstream: app, auth: [shared], response_owner: { field: /owner, claim: sub, items: /x } }`, `unknown key "items"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("test.yaml", []byte(gt.Config("http://127.0.0.1:1", extra, "  - "+tt.route+"\n")), func(string) (string, bool) { return gt.AdminToken, true })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// Held-back responses count against the body memory budget: with no room
// left, a response that would need more is refused (502), never held
// outside the budget; the room comes back once a response is done.
func TestResponseOwnerWithinTheBodyBudget(t *testing.T) {
	up := ownerUpstream(t)
	server := fmt.Sprintf("server:\n  body_buffer_bytes: 1KiB\n  body_memory_budget: 1KiB\n  body_spill_dir: %s\n", t.TempDir())
	extra := server + fmt.Sprintf("authenticators:\n  shared: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [HS256], secret: %q }\n", testIssuer, testSecret)
	routes := `  - { name: book, path: "/books/{id}", methods: [GET], upstream: app, auth: [shared], response_owner: { field: /owner, claim: sub, max_bytes: 1MiB } }
`
	g := gt.Start(t, gt.Config(up.URL, extra, routes), nil)
	alice := authtest.Mint(t, &authtest.Key{Alg: "HS256", Signer: []byte(testSecret)}, claims(testIssuer, "alice", nil), nil)
	get := func(path string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", g.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+alice)
		return g.Do(t, req)
	}
	resp, body := get("/books/big") // 2 KiB: more than the 1 KiB memory budget
	gt.CheckProblem(t, resp, body, http.StatusBadGateway, "response-unverifiable")
	for range 3 { // within the budget, again and again: nothing leaked
		if resp, body := get("/books/alices"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Alice's notes") {
			t.Fatalf("small owned response: %d %s", resp.StatusCode, body)
		}
	}
}
