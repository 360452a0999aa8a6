package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// TestOwnership runs require.match rules through the real gateway: a request
// for an object bound to another caller is refused (403 object-not-owned)
// and never reaches the upstream.
func TestOwnership(t *testing.T) {
	hs := &authtest.Key{Alg: "HS256", Signer: []byte(testSecret)}
	up := gt.NewUpstream(t, nil)
	extra := fmt.Sprintf("authenticators:\n  shared: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [HS256], secret: %q }\n", testIssuer, testSecret)
	routes := `  - name: password
    path: /users/{username}/password
    methods: [GET, PUT]
    upstream: app
    auth: [shared]
    require: { match: [{ path: username, claim: sub }], match_bypass_roles: [admin] }
  - name: books
    path: /books
    methods: [GET]
    upstream: app
    auth: [shared]
    require: { match: [{ query: user_id, claim: uid }, { header: x-tenant, claim: org.tenant }] }
  - name: notes
    path: /notes
    methods: [POST]
    upstream: app
    auth: [shared]
    require: { match: [{ json: /owner, claim: sub }, { json: /meta/uid, claim: uid }], match_bypass_roles: [admin] }
`
	g := gt.Start(t, gt.Config(up.URL, extra, routes), nil)
	alice := authtest.Mint(t, hs, claims(testIssuer, "alice", map[string]any{"uid": 42, "org": map[string]any{"tenant": "acme"}}), nil)
	root := authtest.Mint(t, hs, claims(testIssuer, "root", map[string]any{"roles": []string{"admin"}}), nil)
	noUID := authtest.Mint(t, hs, claims(testIssuer, "carol", map[string]any{"org": map[string]any{"tenant": "acme"}}), nil)

	for _, tt := range []struct {
		name, target, token string
		header              string // extra header lines
		status              int
		body                string // POSTed as JSON when set
	}{
		{"own object", "/users/alice/password", alice, "", 200, ""},
		{"another's object", "/users/bob/password", alice, "", 403, ""},
		{"unreserved escape is decoded by the router", "/users/%61lice/password", alice, "", 200, ""},
		{"case differs", "/users/Alice/password", alice, "", 403, ""},
		{"escaped upper case", "/users/%41lice/password", alice, "", 403, ""},
		{"encoded slash refused by the router", "/users/alice%2F/password", alice, "", 400, ""},
		{"trailing space", "/users/alice%20/password", alice, "", 403, ""},
		{"unicode look-alike", "/users/%D0%B0lice/password", alice, "", 403, ""}, // Cyrillic а
		{"invalid UTF-8 escape", "/users/alice%FF/password", alice, "", 403, ""},
		{"admin bypass", "/users/bob/password", root, "", 200, ""},
		{"query and header match", "/books?user_id=42", alice, "X-Tenant: acme\r\n", 200, ""},
		{"query differs", "/books?user_id=43", alice, "X-Tenant: acme\r\n", 403, ""},
		{"query escaped", "/books?user_id=%342", alice, "X-Tenant: acme\r\n", 200, ""},
		{"query repeated", "/books?user_id=42&user_id=43", alice, "X-Tenant: acme\r\n", 403, ""},
		{"query missing", "/books", alice, "X-Tenant: acme\r\n", 403, ""},
		{"header differs", "/books?user_id=42", alice, "X-Tenant: ACME\r\n", 403, ""},
		{"header missing", "/books?user_id=42", alice, "", 403, ""},
		{"header repeated", "/books?user_id=42", alice, "X-Tenant: acme\r\nX-Tenant: evil\r\n", 403, ""},
		{"claim missing", "/books?user_id=", noUID, "X-Tenant: acme\r\n", 403, ""},
		{"admin has no bypass where none is configured", "/books?user_id=42", root, "X-Tenant: acme\r\n", 403, ""},
		{"json owner", "/notes", alice, "", 200, `{"owner":"alice","meta":{"uid":42},"text":"hi"}`},
		{"json another owner", "/notes", alice, "", 403, `{"owner":"bob","meta":{"uid":42}}`},
		{"json escaped owner", "/notes", alice, "", 200, `{"owner":"\u0061lice","meta":{"uid":42}}`},
		{"json case differs", "/notes", alice, "", 403, `{"owner":"Alice","meta":{"uid":42}}`},
		{"json duplicate key", "/notes", alice, "", 403, `{"owner":"alice","owner":"bob","meta":{"uid":42}}`},
		{"json number spelled otherwise", "/notes", alice, "", 403, `{"owner":"alice","meta":{"uid":42.0}}`},
		{"json uid as a string", "/notes", alice, "", 200, `{"owner":"alice","meta":{"uid":"42"}}`},
		{"json field missing", "/notes", alice, "", 403, `{"meta":{"uid":42}}`},
		{"json not JSON", "/notes", alice, "", 403, `owner=alice`},
		{"json no body", "/notes", alice, "", 403, ""},
		{"json admin bypass", "/notes", root, "", 200, `{"owner":"bob"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := up.Count()
			method := "GET"
			if strings.HasPrefix(tt.target, "/notes") {
				method = "POST"
				tt.header += fmt.Sprintf("Content-Type: application/json\r\nContent-Length: %d\r\n", len(tt.body))
			}
			res := g.Raw(t, method+" "+tt.target+" HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer "+tt.token+"\r\n"+tt.header+"Connection: close\r\n\r\n"+tt.body)
			if res.Resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.Resp.StatusCode, tt.status, res.Body)
			}
			if tt.status == 200 {
				if up.Count() != before+1 {
					t.Fatal("the upstream did not get the request")
				}
				if seen := up.Seen(); seen[len(seen)-1].Body != tt.body {
					t.Errorf("the upstream got body %q, want %q", seen[len(seen)-1].Body, tt.body)
				}
				return
			}
			if up.Count() != before {
				t.Fatal("the upstream saw a refused request")
			}
			if tt.status == 403 {
				gt.CheckProblem(t, res.Resp, res.Body, 403, "object-not-owned")
				if strings.Contains(res.Body, "lice") || strings.Contains(res.Body, "bob") || strings.Contains(res.Body, "user_id") {
					t.Errorf("the problem echoes a request value: %s", res.Body)
				}
			}
		})
	}
}

// A body with json ownership rules is held in memory, within the memory
// budget, however large (it is parsed whole, from the gateway's own buffer):
// one past body_buffer_bytes is checked like a small one, and one that finds
// no room is refused 503 before the upstream is contacted.
func TestOwnershipBodiesWithinTheBudget(t *testing.T) {
	hs := &authtest.Key{Alg: "HS256", Signer: []byte(testSecret)}
	up := gt.NewUpstream(t, nil)
	extra := fmt.Sprintf("server:\n  body_buffer_bytes: 1KiB\n  body_memory_budget: 8KiB\n  body_spill_dir: %s\n", t.TempDir()) +
		fmt.Sprintf("authenticators:\n  shared: { type: jwt, issuer: %q, audiences: [inventory-api], algorithms: [HS256], secret: %q }\n", testIssuer, testSecret)
	routes := "  - { name: notes, path: /notes, methods: [POST], upstream: app, auth: [shared], require: { match: [{ json: /owner, claim: sub }] } }\n"
	g := gt.Start(t, gt.Config(up.URL, extra, routes), nil)
	alice := authtest.Mint(t, hs, claims(testIssuer, "alice", nil), nil)
	send := func(owner string, pad int) (*http.Response, string) {
		req, _ := http.NewRequest("POST", g.URL+"/notes", strings.NewReader(fmt.Sprintf(`{"owner":%q,"text":%q}`, owner, strings.Repeat("x", pad))))
		req.Header.Set("Authorization", "Bearer "+alice)
		req.Header.Set("Content-Type", "application/json")
		return g.Do(t, req)
	}
	if resp, body := send("alice", 4<<10); resp.StatusCode != 200 || up.Count() != 1 {
		t.Fatalf("4 KiB body of Alice's: %d %s, upstream saw %d", resp.StatusCode, body, up.Count())
	}
	resp, body := send("bob", 4<<10)
	gt.CheckProblem(t, resp, body, 403, "object-not-owned")
	resp, body = send("alice", 16<<10) // more than the whole memory budget
	gt.CheckProblem(t, resp, body, 503, "body-budget-exhausted")
	if up.Count() != 1 {
		t.Errorf("upstream saw %d requests, want only the first", up.Count())
	}
}
