package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/pgtest"
	"github.com/rampart-gw/rampart/internal/store/sqlite"
)

// runCheck runs `rampart check` in process on text and returns the exit code
// and both outputs.
func runCheck(t *testing.T, text string, flags ...string) (code int, stdout, stderr string, path string) {
	t.Helper()
	path = writeFile(t, text)
	var out, errb strings.Builder
	code = Run(context.Background(), append([]string{"check", "-c", path}, flags...), noEnv, &out, &errb)
	return code, out.String(), errb.String(), path
}

// assertLocated checks that every line of stderr is file:line:col: message,
// with the file named once.
func assertLocated(t *testing.T, path, stderr string) {
	t.Helper()
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `:\d+:\d+: `)
	for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if !re.MatchString(l) {
			t.Errorf("line without file:line:col: %q", l)
		}
		if strings.Count(l, path) != 1 {
			t.Errorf("file named more than once: %q", l)
		}
	}
}

const checkBase = `version: 1
admin: { listen: "off" }
upstreams:
  app: { targets: ["http://127.0.0.1:8000"] }
`

func TestCheckWritesNoFiles(t *testing.T) {
	db := filepath.Join(t.TempDir(), "k.db")
	text := checkBase + fmt.Sprintf(`store: "sqlite://%s"
authenticators:
  partners: { type: api_key }
routes:
  - { name: items, path: /items, methods: [GET], upstream: app, auth: [partners] }
`, db)
	for _, flags := range [][]string{nil, {"--online"}} {
		t.Run(fmt.Sprint("check ", flags), func(t *testing.T) {
			code, out, errs, _ := runCheck(t, text, flags...)
			if code != 0 || !strings.Contains(out, "ok (1 route, 1 upstream)") {
				t.Fatalf("code %d out %q err %q", code, out, errs)
			}
			entries, err := os.ReadDir(filepath.Dir(db))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				t.Errorf("check created %s", e.Name())
			}
		})
	}
	t.Run("--online reads an existing store and leaves it as it was", func(t *testing.T) {
		s, err := sqlite.Open(context.Background(), db, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(db)
		code, out, errs, _ := runCheck(t, text, "--online")
		if code != 0 {
			t.Fatalf("code %d out %q err %q", code, out, errs)
		}
		if after, _ := os.ReadFile(db); string(after) != string(before) {
			t.Error("check --online changed the database file")
		}
	})
	t.Run("--online: a store path in a missing directory fails", func(t *testing.T) {
		bad := strings.Replace(text, db, filepath.Join(t.TempDir(), "no", "such", "k.db"), 1)
		code, _, errs, path := runCheck(t, bad, "--online")
		if code != 1 || !strings.Contains(errs, "store:") {
			t.Fatalf("code %d err %q", code, errs)
		}
		assertLocated(t, path, errs)
	})
}

func TestCheckOfflineByDefault(t *testing.T) {
	t.Run("jwt discovery at a closed port: offline ok, --online warns, --online --strict fails", func(t *testing.T) {
		text := checkBase + fmt.Sprintf(`authenticators:
  sso: { type: jwt, issuer: %q, discovery: true, audiences: [inventory-api], algorithms: [RS256] }
routes:
  - { name: items, path: /items, methods: [GET], upstream: app, auth: [sso] }
`, "http://"+gt.FreeAddr(t)+"/")
		if code, out, errs, _ := runCheck(t, text); code != 0 || !strings.Contains(out, "ok (1 route,") {
			t.Fatalf("offline: code %d out %q err %q", code, out, errs)
		}
		code, out, errs, path := runCheck(t, text, "--online")
		if code != 0 || !strings.Contains(out, "ok (1 route,") || !strings.Contains(errs, `warning: authenticator "sso"`) || !strings.Contains(errs, "discovery") {
			t.Fatalf("--online: code %d out %q err %q, want 0 with a warning on stderr", code, out, errs)
		}
		assertLocated(t, path, errs)
		code, _, errs, path = runCheck(t, text, "--online", "--strict")
		if code != 1 || strings.Contains(errs, "warning") || !strings.Contains(errs, `authenticator "sso"`) {
			t.Fatalf("--online --strict: code %d err %q, want 1 with an error", code, errs)
		}
		assertLocated(t, path, errs)
	})
	t.Run("jwt discovery naming another issuer: --online fails without --strict", func(t *testing.T) {
		idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"issuer":"https://evil.example/","jwks_uri":"https://evil.example/jwks"}`)
		}))
		defer idp.Close()
		text := checkBase + fmt.Sprintf(`authenticators:
  sso: { type: jwt, issuer: %q, discovery: true, audiences: [inventory-api], algorithms: [RS256] }
routes:
  - { name: items, path: /items, methods: [GET], upstream: app, auth: [sso] }
`, idp.URL+"/")
		code, _, errs, path := runCheck(t, text, "--online")
		if code != 1 || strings.Contains(errs, "warning") || !strings.Contains(errs, "invalid key material") || !strings.Contains(errs, "evil.example") {
			t.Fatalf("--online: code %d err %q, want 1 naming the wrong issuer", code, errs)
		}
		assertLocated(t, path, errs)
	})
	t.Run("postgres store: offline checks the URL only, --online connects", func(t *testing.T) {
		text := checkBase + fmt.Sprintf(`store: "postgres://rampart:pw-not-logged@%s/test?sslmode=disable"
authenticators:
  partners: { type: api_key }
routes:
  - { name: items, path: /items, methods: [GET], upstream: app, auth: [partners] }
`, gt.FreeAddr(t))
		if code, out, errs, _ := runCheck(t, text); code != 0 {
			t.Fatalf("offline: code %d out %q err %q", code, out, errs)
		}
		code, _, errs, path := runCheck(t, text, "--online")
		if code != 1 || !strings.Contains(errs, "store: postgres: connecting") || strings.Contains(errs, "pw-not-logged") {
			t.Fatalf("--online: code %d err %q", code, errs)
		}
		assertLocated(t, path, errs)
	})
	t.Run("postgres store: --online connects and creates no table", func(t *testing.T) {
		url := pgtest.URL(t)
		text := checkBase + fmt.Sprintf(`store: %q
authenticators:
  partners: { type: api_key }
routes:
  - { name: items, path: /items, methods: [GET], upstream: app, auth: [partners] }
`, url)
		if code, out, errs, _ := runCheck(t, text, "--online"); code != 0 {
			t.Fatalf("code %d out %q err %q", code, out, errs)
		}
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var tables int
		if err := conn.QueryRow(context.Background(),
			`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("check --online created %d tables (migrated the store)", tables)
		}
	})
	t.Run("redis shared_state: offline ok, --online fails when nobody answers", func(t *testing.T) {
		text := checkBase + fmt.Sprintf(`shared_state: "redis://%s"
routes:
  - { name: items, path: /items, methods: [GET], upstream: app, auth: none }
`, gt.FreeAddr(t))
		if code, out, errs, _ := runCheck(t, text); code != 0 {
			t.Fatalf("offline: code %d out %q err %q", code, out, errs)
		}
		if code, _, errs, _ := runCheck(t, text, "--online"); code != 1 || !strings.Contains(errs, "shared_state:") {
			t.Fatalf("--online: code %d err %q", code, errs)
		}
	})
}

// specJSON is an OpenAPI document with three operations, all public.
const specJSON = `{"openapi": "3.1.0", "info": {"title": "inv", "version": "1"},
 "paths": {
  "/items": {"get": {"operationId": "list_items", "responses": {"200": {"description": "ok"}}},
             "post": {"operationId": "create_item", "responses": {"201": {"description": "ok"}}}},
  "/items/{id}": {"get": {"operationId": "get_item", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                  "responses": {"200": {"description": "ok"}}}}}}`

// Issue 15: error responses declared without a schema are emptied by the
// filter; check says so, and still succeeds.
func TestCheckWarnsAboutEmptiedErrorResponses(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "openapi.json")
	doc := `{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/items": {"get": {"operationId": "list_items",
  "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "array"}}}}, "404": {"description": "none", "content": {}}}}}}}`
	if err := os.WriteFile(spec, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs, _ := runCheck(t, checkBase+fmt.Sprintf(`openapi:
  inv: { spec: %q, filter_responses: strip }
routes:
  - { name: items, path: /items, methods: [GET], upstream: app, auth: none, openapi: inv }
`, spec))
	if code != 0 || !strings.Contains(errs, `warning: openapi "inv": GET /items (#/paths/~1items/get) response 404 declares no JSON schema: its JSON bodies will be emptied`) {
		t.Fatalf("code %d out %q err %q", code, out, errs)
	}
	if !strings.Contains(out, "openapi inv: validating requests, filtering responses (strip)") {
		t.Errorf("out %q", out)
	}
}

// A duplicate entry in required is legal JSON Schema and enforced; check
// says where it is, because it is rarely what the author meant.
func TestCheckWarnsAboutDuplicateRequired(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "openapi.json")
	doc := `{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/items": {"post": {
  "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name", "name"]}}}},
  "responses": {"201": {"description": "ok"}}}}}}`
	if err := os.WriteFile(spec, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs, _ := runCheck(t, checkBase+fmt.Sprintf(`openapi:
  inv: { spec: %q }
routes:
  - { name: items, path: /items, methods: [POST], upstream: app, auth: none, openapi: inv }
`, spec))
	if code != 0 || !strings.Contains(errs, "warning: ") || !strings.Contains(errs, "required") || !strings.Contains(errs, "name") {
		t.Fatalf("code %d out %q err %q, want exit 0 and a warning about the duplicate required entry", code, out, errs)
	}
}

func TestCheckCountsRoutesFromSpec(t *testing.T) {
	cfg := func(spec string) string {
		return checkBase + fmt.Sprintf(`openapi:
  inv: { spec: %q, routes_from_spec: true, upstream: app, allow_public: true }
routes:
  - { name: health, path: /health, methods: [GET], upstream: app, auth: none }
`, spec)
	}
	t.Run("local spec: its operations are counted", func(t *testing.T) {
		spec := filepath.Join(t.TempDir(), "openapi.json")
		if err := os.WriteFile(spec, []byte(specJSON), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errs, _ := runCheck(t, cfg(spec))
		if code != 0 || !strings.Contains(out, "ok (4 routes, 1 upstream)") {
			t.Fatalf("code %d out %q err %q", code, out, errs)
		}
		// Issue 15: requests are validated unless the config says otherwise, and check says so.
		if !strings.Contains(out, "openapi inv: validating requests, not filtering responses") {
			t.Errorf("check does not say what the contract does: %q", out)
		}
	})
	t.Run("remote spec: not counted offline, and said so; counted with --online", func(t *testing.T) {
		fetched := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fetched++
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, specJSON)
		}))
		defer srv.Close()
		code, out, errs, _ := runCheck(t, cfg(srv.URL+"/openapi.json"))
		if code != 0 || !strings.Contains(out, "ok (1 route, 1 upstream)") || !strings.Contains(out, `openapi "inv" was not fetched`) || !strings.Contains(out, "not counted") {
			t.Fatalf("offline: code %d out %q err %q", code, out, errs)
		}
		if fetched != 0 {
			t.Fatalf("offline check fetched the spec %d times", fetched)
		}
		code, out, errs, _ = runCheck(t, cfg(srv.URL+"/openapi.json"), "--online")
		if code != 0 || !strings.Contains(out, "ok (4 routes, 1 upstream)") || strings.Contains(out, "not counted") {
			t.Fatalf("--online: code %d out %q err %q", code, out, errs)
		}
	})
}

// TestCheckNamesTheFileOnce pins issue 13's "f.yaml: f.yaml:7:3:": errors
// found while compiling were prefixed with the file name a second time.
func TestCheckNamesTheFileOnce(t *testing.T) {
	text := checkBase + fmt.Sprintf(`authenticators:
  sso: { type: jwt, issuer: "https://idp.example.com/", public_key_file: %q, audiences: [inventory-api], algorithms: [RS256] }
openapi:
  inv: { spec: ./missing.json }
routes:
  - { name: items, path: /items, methods: [GET], upstream: app, auth: [sso], openapi: inv }
`, filepath.Join(t.TempDir(), "missing.pem"))
	code, _, errs, path := runCheck(t, text)
	if code != 1 || !strings.Contains(errs, "missing.pem") || !strings.Contains(errs, "missing.json") {
		t.Fatalf("code %d err %q", code, errs)
	}
	assertLocated(t, path, errs)
}

// TestCheckWarnsAboutAnyIssuer: issuer/audiences any is legal with a secret,
// and check says what it accepts; a published example secret is an error.
func TestCheckWarnsAboutAnyIssuer(t *testing.T) {
	const routes = `routes:
  - { name: books, path: /books, methods: [GET], upstream: app, auth: [flask] }
`
	code, out, errs, path := runCheck(t, checkBase+`authenticators:
  flask: { type: jwt, issuer: any, audiences: [any], algorithms: [HS256], secret: "Wq9Zr4Tm7Lp1Xv6Nb3Jc8Yd5Fs0GuHk2", token_header: x-access-token, require_claims: { type: access } }
`+routes)
	if code != 0 || !strings.Contains(errs, `warning: authenticator "flask": accepts tokens of any issuer and audience`) || !strings.Contains(errs, "prefer setting iss and aud") {
		t.Fatalf("code %d out %q err %q, want 0 with a warning", code, out, errs)
	}
	assertLocated(t, path, errs)

	const fastapi = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7"
	code, out, errs, _ = runCheck(t, checkBase+`authenticators:
  flask: { type: jwt, issuer: any, audiences: [any], algorithms: [HS256], secret: "`+fastapi+`" }
`+routes)
	if code != 1 || !strings.Contains(errs, "published example") || strings.Contains(errs, fastapi) {
		t.Fatalf("FastAPI docs' secret: code %d out %q err %q, want 1 without the value", code, out, errs)
	}
}

// Issue 16: /users/v1/_debug, documented as a path of its own, would be
// served by the route /users/v1/{username}; check says so at the route's
// path, and not once a deny route (or an explicit route) takes it.
func TestCheckWarnsAboutParameterShadowingDocumentedPath(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "openapi.json")
	doc := `{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {
  "/users/v1/{username}": {"get": {"parameters": [{"name": "username", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "ok"}}}},
  "/users/v1/_debug": {"get": {"responses": {"200": {"description": "ok"}}}}}}`
	if err := os.WriteFile(spec, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	head := checkBase + fmt.Sprintf("openapi:\n  users: { spec: %q }\nroutes:\n", spec)
	user := "  - { name: user, path: \"/users/v1/{username}\", methods: [GET], upstream: app, auth: none, openapi: users }\n"
	code, out, errs, _ := runCheck(t, head+user)
	want := `:8:25: warning: route "user": {username} in path "/users/v1/{username}" takes GET /users/v1/_debug, which openapi "users" documents as a path of its own (#/paths/~1users~1v1~1_debug/get); add a route for it, or a deny route (deny: true) if it must never be reachable`
	if code != 0 || !strings.Contains(errs, want) || strings.Count(errs, "warning: ") != 1 {
		t.Fatalf("code %d out %q err %q, want exit 0 and %q", code, out, errs, want)
	}
	for name, route := range map[string]string{
		"deny route":     "  - { name: debug, path: /users/v1/_debug, methods: [GET], deny: true }\n",
		"explicit route": "  - { name: debug, path: /users/v1/_debug, methods: [GET], upstream: app, auth: none }\n",
	} {
		if code, out, errs, _ := runCheck(t, head+user+route); code != 0 || errs != "" {
			t.Errorf("with a %s: code %d out %q err %q, want no warning", name, code, out, errs)
		}
	}
}

// TestCheckIPListFiles: check reads ip_filter list files (relative to the
// config) and reports every bad line at file:line:col of the list file,
// and a missing file at the key that names it.
func TestCheckIPListFiles(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "deny.txt")
	if err := os.WriteFile(list, []byte("# blocked\n10.0.0.1/8\n192.0.2.0/24\n  2001:db8::/32 2001:db9::/32\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rampart.yaml")
	text := checkBase + `ip_filter: { deny_file: deny.txt }
routes:
  - name: r
    path: /r
    methods: [GET]
    upstream: app
    auth: none
    ip_filter: { allow_file: office.txt }
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	code := Run(context.Background(), []string{"check", "-c", path}, noEnv, &out, &errb)
	want := []string{
		path + `:12:30: route "r": ip_filter: allow_file: cannot be read: no such file or directory`,
		list + `:2:1: entry "10.0.0.1/8" has bits set after the prefix length; write "10.0.0.0/8" for the network, or "10.0.0.1" for that one address`,
		list + `:4:17: one address or CIDR prefix per line; found more after "2001:db8::/32"`,
	}
	got := strings.Split(strings.TrimRight(errb.String(), "\n"), "\n")
	slices.Sort(got)
	slices.Sort(want)
	if code != 1 || !slices.Equal(got, want) {
		t.Errorf("code %d, stderr:\n%s\nwant:\n%s", code, errb.String(), strings.Join(want, "\n"))
	}

	// Fixed, it passes.
	if err := os.WriteFile(list, []byte("10.0.0.0/8\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "office.txt"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := Run(context.Background(), []string{"check", "-c", path}, noEnv, &out, &errb); code != 0 {
		t.Errorf("code %d after the fix: %s", code, errb.String())
	}
}
