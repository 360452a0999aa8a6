package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rampart-gw/rampart/internal/auth/apikey"
	"github.com/rampart-gw/rampart/internal/auth/introspect"
	"github.com/rampart-gw/rampart/internal/auth/jwt"
	"github.com/rampart-gw/rampart/internal/auth/mtls"
	"github.com/rampart-gw/rampart/internal/authz"
	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/cors"
	"github.com/rampart-gw/rampart/internal/headers"
	"github.com/rampart-gw/rampart/internal/lockout"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/proxy"
	"github.com/rampart-gw/rampart/internal/ratelimit"
	"github.com/rampart-gw/rampart/internal/waf"
	"github.com/rampart-gw/rampart/internal/websocket"
)

// base is a valid head for table cases: 4 lines, so a case's own lines start at 5.
const base = `version: 1
admin: {listen: "off"}
upstreams: {app: {targets: ["http://127.0.0.1:8000"]}}
authenticators: {sso: {type: jwt, issuer: "https://idp.test/", jwks_url: "https://idp.test/jwks", audiences: [api], algorithms: [RS256]}}
`

// baseRoute is a valid route for base, lines 5-10.
const baseRoute = `routes:
  - name: r
    path: /r
    methods: [GET]
    upstream: app
    auth: [sso]
`

const strongSecret = "Tq7Xw2Lz9Np4Rv8Ks1Bm6Hd3Jf0Gc5Ya"

func parse(src string, env map[string]string) (*Config, error) {
	return Parse("t.yaml", []byte(src), lookup(env))
}

type errCase struct {
	name string
	src  string
	env  map[string]string
	want []string // each "LINE:COL: message prefix"; the error count must match exactly
}

func runErrCases(t *testing.T, cases []errCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parse(c.src, c.env)
			if err == nil {
				t.Fatalf("no error; want %q", c.want)
			}
			if cfg != nil {
				t.Error("config returned together with errors")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("want Errors, got %T: %v", err, err)
			}
			for _, w := range c.want {
				if !hasError(es, w) {
					t.Errorf("missing error %q; got:\n%v", w, es)
				}
			}
			if len(es) != len(c.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(es), len(c.want), es)
			}
			for _, e := range es {
				if e.File != "t.yaml" || e.Line < 1 || e.Col < 1 {
					t.Errorf("bad position in %#v", e)
				}
			}
		})
	}
}

func mustParse(t *testing.T, src string, env map[string]string) *Config {
	t.Helper()
	cfg, err := parse(src, env)
	if err != nil {
		t.Fatalf("unexpected error:\n%v", err)
	}
	return cfg
}

// cmpOpts compares configs by value: URLs by their string, prefixes by value.
var cmpOpts = []cmp.Option{
	cmp.Comparer(func(a, b *url.URL) bool { return a.String() == b.String() }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmpopts.IgnoreUnexported(Config{}),
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "r.yaml", Line: 3, Col: 7, Msg: "boom"}
	if got, want := e.Error(), "r.yaml:3:7: boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	es := Errors{e, {File: "r.yaml", Line: 4, Col: 1, Msg: "bang"}}
	if got, want := es.Error(), "r.yaml:3:7: boom\nr.yaml:4:1: bang"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

func TestDesignExampleLoads(t *testing.T) {
	cfg, err := Load("testdata/design.yaml", lookup(testEnv))
	if err != nil {
		t.Fatalf("DESIGN.md example does not load:\n%v", err)
	}
	mustURL := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	want := &Config{
		File: "testdata/design.yaml",
		// The values interpolated from ${VAR}s, for displays to mask.
		FromEnv: []string{testEnv["RAMPART_ADMIN_TOKEN"], testEnv["INTROSPECT_SECRET"]},
		Version: 1,
		Server: Server{
			Listen:            ":8443",
			TLS:               &TLS{CertFile: "tls.crt", KeyFile: "tls.key", MinVersion: "1.3"},
			HTTPRedirect:      ":8080",
			TrustedProxies:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			MaxHeaderBytes:    16384,
			MaxBodyBytes:      1048576,
			BodyBufferBytes:   64 << 10,
			BodyMemoryBudget:  64 << 20,
			BodySpillBudget:   1 << 30,
			MaxQueryParams:    100,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   30 * time.Second,
		},
		Admin:              Admin{Listen: "127.0.0.1:9901", Token: testEnv["RAMPART_ADMIN_TOKEN"]},
		Store:              "sqlite://rampart.db",
		StoreTimeout:       500 * time.Millisecond,
		StoreOutageGrace:   2 * time.Minute,
		SharedState:        "memory://",
		SharedStateFailure: "fail_closed",
		SharedStateTimeout: 250 * time.Millisecond,
		Lockout:            &lockout.Config{MaxFailures: 10, Window: time.Minute, Duration: 5 * time.Minute, Key: "client_ip"},
		Upstreams: map[string]*proxy.Config{
			"inventory": {Name: "inventory", Targets: []*url.URL{mustURL("http://127.0.0.1:8000")}, Timeout: 10 * time.Second, MaskErrors: true, BufferResponseBytes: 8 << 20},
		},
		Authenticators: map[string]*Authenticator{
			"corp_sso": {Type: "jwt", JWT: &jwt.Config{Name: "corp_sso", Issuer: "https://idp.example.com/", Discovery: true,
				Audiences: []string{"inventory-api"}, Algorithms: []string{"RS256", "ES256"}, Leeway: 30 * time.Second, TokenHeader: "Authorization"}},
			"partners": {Type: "api_key", APIKey: &apikey.Config{Name: "partners", Header: "X-API-Key"}},
			"services": {Type: "mtls", MTLS: &mtls.Config{Name: "services", ClientCAFile: "clients-ca.pem"}},
			"opaque": {Type: "introspection", Introspection: &introspect.Config{Name: "opaque", URL: "https://idp.example.com/introspect",
				ClientID: "rampart", ClientSecret: testEnv["INTROSPECT_SECRET"]}},
		},
		RateLimits: map[string]*ratelimit.Config{
			"per_client": {Name: "per_client", Key: "client_ip", Limits: []string{"10/s burst 20", "200/day"}},
			"per_key":    {Name: "per_key", Key: "principal", Limits: []string{"50/hour"}},
		},
		CORS: map[string]*cors.Config{
			"web": {Name: "web", AllowOrigins: []string{"https://app.example.com"}, AllowMethods: []string{"GET", "POST"},
				AllowHeaders: []string{"Authorization", "Content-Type"}, AllowCredentials: true},
		},
		OpenAPI: map[string]*openapi.Config{
			"inventory": {Name: "inventory", Spec: "./openapi.json", ValidateRequests: true, FilterResponses: "strip", RejectUndocumented: true},
		},
		WAF: map[string]*waf.Config{},
		Routes: []*Route{
			{Name: "items", Path: "/api/items/{id}", PathPos: conf.Pos{Line: 37, Col: 11}, Methods: []string{"GET"}, Upstream: "inventory",
				Auth: []string{"corp_sso", "partners"}, Require: authz.Require{Scopes: []string{"items:read"}},
				RateLimit: []string{"per_client", "per_key"}, CORS: "web", OpenAPI: "inventory", BufferRequest: true, Pos: conf.Pos{Line: 36, Col: 5}},
			{Name: "health", Path: "/health", PathPos: conf.Pos{Line: 46, Col: 11}, Methods: []string{"GET"}, Upstream: "inventory",
				Auth: []string{AuthNone}, BufferRequest: true, Pos: conf.Pos{Line: 45, Col: 5}},
		},
	}
	if diff := cmp.Diff(want, cfg, cmpOpts...); diff != "" {
		t.Errorf("config mismatch (-want +got):\n%s", diff)
	}
}

func TestJSONEquivalentLoadsToSameConfig(t *testing.T) {
	fromYAML, err := Load("testdata/design.yaml", lookup(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := Load("testdata/design.json", lookup(testEnv))
	if err != nil {
		t.Fatalf("JSON config refused:\n%v", err)
	}
	opts := append([]cmp.Option{cmpopts.IgnoreTypes(conf.Pos{}), cmpopts.IgnoreFields(Config{}, "File")}, cmpOpts...)
	if diff := cmp.Diff(fromYAML, fromJSON, opts...); diff != "" {
		t.Errorf("JSON and YAML differ (-yaml +json):\n%s", diff)
	}
}

func TestLoadIOErrorIsPlain(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	var es Errors
	if err == nil || errors.As(err, &es) {
		t.Fatalf("want a plain I/O error, got %v", err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error does not wrap the cause: %v", err)
	}
	if _, err := Load(t.TempDir(), nil); err == nil || errors.As(err, &es) {
		t.Errorf("reading a directory: want a plain error, got %v", err)
	}
}

func TestInputOver4MiBRefused(t *testing.T) {
	big := base + "# " + strings.Repeat("x", MaxFileSize) + "\n"
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, load := range map[string]func() error{
		"Parse": func() error { _, err := parse(big, nil); return err },
		"Load":  func() error { _, err := Load(path, nil); return err },
	} {
		err := load()
		var es Errors
		if !errors.As(err, &es) || len(es) != 1 || !strings.Contains(es[0].Msg, "larger than 4 MiB") || es[0].Line != 1 {
			t.Errorf("%s: want one size error at 1:1, got %v", name, err)
		}
	}
	// Exactly 4 MiB is fine.
	ok := base + "#" + strings.Repeat("x", MaxFileSize-len(base)-2) + "\n"
	if len(ok) != MaxFileSize {
		t.Fatalf("bad test setup: %d", len(ok))
	}
	if _, err := parse(ok, nil); err != nil {
		t.Errorf("4 MiB exactly: %v", err)
	}
}

func TestDocumentLevel(t *testing.T) {
	runErrCases(t, []errCase{
		{name: "empty file refused", src: "# nothing\n", want: []string{"1:1: config is empty"}},
		{name: "empty document refused", src: "---\n", want: []string{"2:1: the top level must be a mapping, got null"}},
		{name: "top level list refused", src: "- version: 1\n", want: []string{"1:1: the top level must be a mapping, got a list"}},
		{name: "top level scalar refused", src: "version\n", want: []string{"1:1: the top level must be a mapping, got a string"}},
		{name: "multiple documents refused", src: base + "---\nversion: 1\n", want: []string{"5:1: multiple YAML documents are not allowed"}},
		{name: "syntax error has a position", src: base + "server: {listen: \":80\"\n", want: []string{"6:1: yaml: did not find expected ',' or '}' (while parsing a flow mapping started at line 5, column 9)"}},
		{name: "tab indentation error has a position", src: base + "server:\n\tlisten: \":80\"\n", want: []string{"6:1: yaml: found character that cannot start any token"}},
		{name: "invalid UTF-8 reported at its position", src: base + "store: \"sqlite://\xff.db\"\n", want: []string{"5:18: invalid UTF-8"}},
		{name: "control character reported at its position", src: base + "store: \"sqlite://\x01.db\"\n", want: []string{"5:18: control character U+0001 is not allowed"}},
		{name: "alias refused", src: base + "cors:\n  a: &x {allow_origins: [\"https://a.test\"]}\n  b: *x\n", want: []string{
			"6:6: aliases are not allowed: remove the anchor &x",
			"7:6: aliases are not allowed (*x)",
		}},
		{name: "merge key refused", src: base + "cors:\n  a:\n    <<: {max_age: 5s}\n    allow_origins: [\"https://a.test\"]\n", want: []string{"7:5: merge keys (<<) are not allowed"}},
		{name: "custom tag refused", src: base + "store: !env STORE\n", want: []string{`5:8: YAML tag "!env" is not supported`}},
		{name: "binary tag refused", src: base + "store: !!binary c3FsaXRlOi8veC5kYg==\n", want: []string{`5:8: YAML tag "!!binary" is not supported`}},
	})
}

// TestAliasBombRefusedQuickly feeds a billion-laughs document: aliases are refused
// without ever being expanded.
func TestAliasBombRefusedQuickly(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nadmin: {listen: \"off\"}\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	start := time.Now()
	_, err := parse(b.String(), nil)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want Errors, got %v", err)
	}
	aliases := 0
	for _, e := range es {
		if strings.Contains(e.Msg, "aliases are not allowed") {
			aliases++
		}
	}
	// 10 anchors and 81 aliases, each reported once; plus 10 unknown keys.
	if aliases != 10+81 || len(es) != 10+81+10 {
		t.Errorf("got %d alias errors, %d in all:\n%v", aliases, len(es), es)
	}
}

func TestVersionAndKeys(t *testing.T) {
	runErrCases(t, []errCase{
		{name: "version required", src: "admin: {listen: \"off\"}\n", want: []string{"1:1: version is required: write version: 1"}},
		{name: "version must be 1", src: "version: 2\nadmin: {listen: \"off\"}\n", want: []string{"1:10: version must be 1"}},
		{name: "version must be an integer", src: "version: one\nadmin: {listen: \"off\"}\n", want: []string{`1:10: version must be an integer, got "one"`}},
		{name: "unknown top-level key lists known keys", src: base + "frobnicate: 1\n", want: []string{
			`5:1: unknown key "frobnicate" in the top level (known: version, server, admin, store, store_timeout, store_outage_grace, shared_state, shared_state_failure, shared_state_timeout, lockout, ip_filter, alerts, tracing, detect, upstreams, authenticators, rate_limits, cors, openapi, waf, routes)`,
		}},
		{name: "unknown key suggests closest", src: base + "server: {max_body_byte: 10MB}\n", want: []string{
			`5:10: unknown key "max_body_byte" in server (known: listen, tls, http_redirect, trusted_proxies, max_header_bytes, max_body_bytes, body_buffer_bytes, body_memory_budget, body_spill_dir, body_spill_budget, max_query_params, read_header_timeout, read_timeout, write_timeout, response_timeout, idle_timeout, max_connections, shutdown_timeout); did you mean "max_body_bytes"?`,
		}},
		{name: "unknown key suggests for transposition", src: base + "server: {lsiten: \":80\"}\n", want: []string{`5:10: unknown key "lsiten" in server (known: `}},
		{name: "camelCase key suggests snake_case", src: base + "server: {maxBodyBytes: 10MB}\n", want: []string{`5:10: unknown key "maxBodyBytes" in server`}},
		{name: "memory budget below the per-body threshold", src: base + "server: {body_buffer_bytes: 1MiB, body_memory_budget: 512KiB}\n", want: []string{
			`5:55: server: body_memory_budget must be at least body_buffer_bytes (1048576 bytes), got 524288 bytes`,
		}},
		{name: "unknown key deep in a route", src: base + baseRoute + "    timeout: 5s\n", want: []string{`11:5: unknown key "timeout" in route "r" (known: name, host, path, methods, deny, deny_status, upstream, auth, auth_optional, ip_filter, require, rate_limit, shared_state_failure, cors, openapi, waf, buffer_request, websocket, headers, response_owner, login)`}},
		{name: "duplicate key refused", src: base + "server:\n  listen: \":1\"\n  listen: \":2\"\n", want: []string{`7:3: duplicate key "listen" in server (first at line 6)`}},
		{name: "duplicate top-level key refused", src: base + "version: 1\n", want: []string{`5:1: duplicate key "version" in the top level (first at line 1)`}},
		{name: "duplicate definition name refused", src: base + "cors:\n  a: {allow_origins: [\"https://a.test\"]}\n  a: {allow_origins: [\"https://b.test\"]}\n", want: []string{`7:3: duplicate key "a" in cors (first at line 6)`}},
		{name: "non-string key refused", src: base + "server: {[a]: 1}\n", want: []string{"5:10: server: keys must be strings, got a list"}},
		{name: "string where list expected", src: base + "server: {trusted_proxies: 10.0.0.0/8}\n", want: []string{"5:27: server: trusted_proxies must be a list of strings, got a string"}},
		{name: "list where string expected", src: base + "store: [a]\n", want: []string{"5:8: store must be a string, got a list"}},
		{name: "mapping where list expected", src: base + "routes: {a: 1}\n", want: []string{"5:9: routes must be a list of routes, got a mapping"}},
		{name: "null where mapping expected", src: base + "server:\n", want: []string{"5:8: server must be a mapping, got null"}},
		{name: "wrong section type does not cascade", src: base + "lockout: yes\n", want: []string{"5:10: lockout must be a mapping, got a string"}},
		{name: "integer field rejects text", src: base + "server: {max_query_params: many}\n", want: []string{`5:28: server: max_query_params must be an integer, got "many"`}},
		{name: "integer field rejects float", src: base + "server: {max_query_params: 1.5}\n", want: []string{`5:28: server: max_query_params must be an integer, got "1.5"`}},
		{name: "bool field rejects yes", src: base + "upstreams: {app: {targets: [\"http://a.test\"], mask_upstream_errors: yes}}\n", want: []string{
			`5:1: duplicate key "upstreams"`,
		}},
		{name: "bool field rejects yes in place", src: "version: 1\nadmin: {listen: \"off\"}\nupstreams: {app: {targets: [\"http://a.test\"], mask_upstream_errors: yes}}\n", want: []string{
			`3:69: upstream "app": mask_upstream_errors must be a boolean (true or false), got "yes"`,
		}},
		{name: "websocket is true or a mapping", src: base + baseRoute + "    websocket: [true]\n", want: []string{`11:16: route "r" websocket must be a mapping, got a list`}},
		{name: "websocket route with other methods", src: base + "routes:\n  - {name: r, path: /r, methods: [GET, POST], upstream: app, auth: none, websocket: true}\n", want: []string{`6:74: route "r": a websocket route accepts only methods: [GET] (the handshake)`}},
		{name: "websocket origins must be exact", src: base + baseRoute + "    websocket: {origins: [\"*\", \"https://*.example.com\"], max_message_bytes: 10}\n", want: []string{
			`11:27: route "r" websocket: origin "*" must be an exact origin (scheme://host[:port]); "*", "null" and wildcards are refused on WebSocket routes`,
			`11:32: route "r" websocket: origin "https://*.example.com" must be an exact origin (scheme://host[:port]); "*", "null" and wildcards are refused on WebSocket routes`,
			`11:77: route "r" websocket: max_message_bytes must be between 125 and 64MiB, got 10 bytes`,
		}},
	})
}

func TestIPFilter(t *testing.T) {
	runErrCases(t, []errCase{
		{name: "host bits set refused with the canonical form", src: base + "ip_filter:\n  deny: [10.0.0.0/8, 10.0.0.1/8, \"2001:db8::1/32\"]\n", want: []string{
			`6:22: ip_filter: entry "10.0.0.1/8" has bits set after the prefix length; write "10.0.0.0/8" for the network, or "10.0.0.1" for that one address`,
			`6:34: ip_filter: entry "2001:db8::1/32" has bits set after the prefix length; write "2001:db8::/32" for the network, or "2001:db8::1" for that one address`,
		}},
		{name: "not an address", src: base + "ip_filter: {allow: [office]}\n", want: []string{
			`5:21: ip_filter: entry "office" is not an IP address or CIDR prefix (such as 192.0.2.0/24 or 2001:db8::/32)`,
		}},
		{name: "empty list", src: base + "ip_filter: {allow: []}\n", want: []string{`5:20: ip_filter: allow must not be empty`}},
		{name: "empty file path", src: base + "ip_filter: {deny_file: \"\"}\n", want: []string{`5:24: ip_filter: deny_file must not be empty`}},
		{name: "unknown key", src: base + "ip_filter: {block: [10.0.0.0/8]}\n", want: []string{`5:13: unknown key "block" in ip_filter (known: allow, deny, allow_file, deny_file)`}},
		{name: "route entry positioned", src: base + baseRoute + "    ip_filter: {allow: [\"192.0.2.1/24\"]}\n", want: []string{
			`11:25: route "r" ip_filter: entry "192.0.2.1/24" has bits set after the prefix length; write "192.0.2.0/24" for the network, or "192.0.2.1" for that one address`,
		}},
		{name: "not on a deny route", src: base + "routes:\n  - {name: d, path: /d, methods: [GET], deny: true, ip_filter: {deny: [10.0.0.0/8]}}\n", want: []string{
			`6:53: route "d": ip_filter is not allowed on a deny route`,
		}},
	})
	cfg := mustParse(t, base+"ip_filter: {allow: [\"::ffff:10.0.0.0/104\"], deny_file: deny.txt}\n"+baseRoute+"    ip_filter: {deny: [192.0.2.7]}\n", nil)
	if got := cfg.IPFilter; got == nil || len(got.Allow) != 1 || got.DenyFile != "deny.txt" {
		t.Errorf("top-level ip_filter = %+v", got)
	}
	if got := cfg.Routes[0].IPFilter; got == nil || len(got.Deny) != 1 || got.Deny[0] != "192.0.2.7" {
		t.Errorf("route ip_filter = %+v", got)
	}
}

func TestDurationsAndSizes(t *testing.T) {
	runErrCases(t, []errCase{
		{name: "bare number duration refused", src: base + "server: {read_timeout: 30}\n", want: []string{`5:24: server: read_timeout must be a duration with a unit, such as 30s, 1m30s or 250ms; got the bare number "30"`}},
		{name: "bare zero duration refused", src: base + "server: {read_timeout: 0}\n", want: []string{`5:24: server: read_timeout must be a duration with a unit`}},
		{name: "malformed duration refused", src: base + "server: {idle_timeout: 5 minutes}\n", want: []string{`5:24: server: idle_timeout must be a duration such as 30s, 1m30s or 250ms, got "5 minutes"`}},
		{name: "zero timeout refused", src: base + "server: {write_timeout: 0s}\n", want: []string{"5:25: server: write_timeout must be greater than 0"}},
		{name: "negative timeout refused", src: base + "server: {shutdown_timeout: -1s}\n", want: []string{"5:28: server: shutdown_timeout must be greater than 0"}},
		{name: "header size below 1KiB refused", src: base + "server: {max_header_bytes: 512}\n", want: []string{"5:28: server: max_header_bytes must be between 1KiB and 1MiB, got 512 bytes"}},
		{name: "header size above 1MiB refused", src: base + "server: {max_header_bytes: 2MiB}\n", want: []string{"5:28: server: max_header_bytes must be between 1KiB and 1MiB, got 2097152 bytes"}},
		{name: "body size above 1GiB refused", src: base + "server: {max_body_bytes: 2GB}\n", want: []string{"5:26: server: max_body_bytes must be between 1 byte and 1GiB, got 2000000000 bytes"}},
		{name: "zero body size refused", src: base + "server: {max_body_bytes: 0}\n", want: []string{"5:26: server: max_body_bytes must be between 1 byte and 1GiB, got 0 bytes"}},
		{name: "negative size refused", src: base + "server: {max_body_bytes: -5}\n", want: []string{`5:26: server: max_body_bytes must be a number of bytes or a size such as 16KiB or 10MB; got "-5"`}},
		{name: "unknown size unit refused", src: base + "server: {max_body_bytes: 10mb}\n", want: []string{`5:26: server: max_body_bytes has an unknown unit; use KB, MB, GB (1000-based) or KiB, MiB, GiB (1024-based); got "10mb"`}},
		{name: "fractional size refused", src: base + "server: {max_body_bytes: 1.5MiB}\n", want: []string{`5:26: server: max_body_bytes must be a number of bytes or a size such as 16KiB or 10MB; got "1.5MiB"`}},
		{name: "huge size does not overflow", src: base + "server: {max_body_bytes: 99999999999999GiB}\n", want: []string{`5:26: server: max_body_bytes is too large`}},
		{name: "max_query_params must be positive", src: base + "server: {max_query_params: 0}\n", want: []string{"5:28: server: max_query_params must be at least 1, got 0"}},
	})

	cfg := mustParse(t, base+"server: {max_header_bytes: 16KiB, max_body_bytes: \"10 MB\", read_timeout: 1m30s, write_timeout: 250ms}\n", nil)
	if cfg.Server.MaxHeaderBytes != 16384 || cfg.Server.MaxBodyBytes != 10_000_000 {
		t.Errorf("sizes: header %d body %d", cfg.Server.MaxHeaderBytes, cfg.Server.MaxBodyBytes)
	}
	if cfg.Server.ReadTimeout != 90*time.Second || cfg.Server.WriteTimeout != 250*time.Millisecond {
		t.Errorf("durations: %v %v", cfg.Server.ReadTimeout, cfg.Server.WriteTimeout)
	}
	for in, want := range map[string]int64{"1": 1, "1024": 1024, "1KB": 1000, "1KiB": 1024, "3MB": 3e6, "3MiB": 3 << 20, "1GB": 1e9, "1GiB": 1 << 30, "2 KiB": 2048} {
		if got, prob := parseSize(in); prob != "" || got != want {
			t.Errorf("parseSize(%q) = %d, %q; want %d", in, got, prob, want)
		}
	}
}

func TestDefaultsApplied(t *testing.T) {
	cfg := mustParse(t, base+baseRoute, nil)
	want := Server{
		Listen: ":8080", MaxHeaderBytes: 16384, MaxBodyBytes: 1 << 20, MaxQueryParams: 100,
		BodyBufferBytes: 64 << 10, BodyMemoryBudget: 64 << 20, BodySpillBudget: 1 << 30,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, ShutdownTimeout: 30 * time.Second,
	}
	if diff := cmp.Diff(want, cfg.Server, cmpOpts...); diff != "" {
		t.Errorf("server defaults (-want +got):\n%s", diff)
	}
	if cfg.Admin.Listen != "" || cfg.Store != "sqlite://rampart.db" || cfg.SharedState != "memory://" || cfg.SharedStateFailure != "fail_closed" || cfg.Lockout != nil {
		t.Errorf("top-level defaults: %+v", cfg)
	}
	up := cfg.Upstreams["app"]
	if up.Timeout != 30*time.Second || !up.MaskErrors || up.Name != "app" || cfg.At("upstreams", "app") != (conf.Pos{Line: 3, Col: 13}) {
		t.Errorf("upstream defaults: %+v", up)
	}
	sso := cfg.Authenticators["sso"].JWT
	if sso.Leeway != 30*time.Second || sso.TokenHeader != "Authorization" || cfg.Authenticators["sso"].APIKey != nil {
		t.Errorf("jwt defaults: %+v", sso)
	}
	r := cfg.Routes[0]
	if r.Pos != (conf.Pos{Line: 6, Col: 5}) || r.PathPos != (conf.Pos{Line: 7, Col: 11}) || r.WebSocket != nil || r.Host != "" {
		t.Errorf("route: %+v", r)
	}

	cfg = mustParse(t, "version: 1\nadmin: {token: "+strongSecret+"}\nserver: {tls: {cert_file: c, key_file: k}}\nlockout: {}\nauthenticators: {k: {type: api_key}}\n", nil)
	if cfg.Server.Listen != ":8443" || cfg.Server.TLS.MinVersion != "1.3" || cfg.Admin.Listen != "127.0.0.1:9901" {
		t.Errorf("tls defaults: %+v %+v %+v", cfg.Server, cfg.Server.TLS, cfg.Admin)
	}
	if diff := cmp.Diff(&lockout.Config{MaxFailures: 10, Window: time.Minute, Duration: 5 * time.Minute, Key: "client_ip"}, cfg.Lockout); diff != "" {
		t.Errorf("lockout defaults:\n%s", diff)
	}
	if h := cfg.Authenticators["k"].APIKey.Header; h != "X-API-Key" {
		t.Errorf("api_key header default: %q", h)
	}

	cfg = mustParse(t, base+"lockout: {max_failures: 3, window: 10s, duration: 1h, key: principal}\n", nil)
	if diff := cmp.Diff(&lockout.Config{MaxFailures: 3, Window: 10 * time.Second, Duration: time.Hour, Key: "principal"}, cfg.Lockout); diff != "" {
		t.Errorf("lockout:\n%s", diff)
	}
}

func TestServer(t *testing.T) {
	runErrCases(t, []errCase{
		{name: "listen without port refused", src: base + "server: {listen: \"8080\"}\n", want: []string{`5:18: server: listen must be host:port, such as :8080, 127.0.0.1:8080 or [::1]:8080; got "8080"`}},
		{name: "listen port out of range refused", src: base + "server: {listen: \":70000\"}\n", want: []string{"5:18: server: listen must have a numeric port between 0 and 65535"}},
		{name: "listen named port refused", src: base + "server: {listen: \":http\"}\n", want: []string{"5:18: server: listen must have a numeric port"}},
		{name: "listen bad host refused", src: base + "server: {listen: \"bad host:80\"}\n", want: []string{"5:18: server: listen must have an empty host, an IP address or a host name before the port"}},
		{name: "http_redirect without tls refused", src: base + "server: {http_redirect: \":8080\", listen: \":9000\"}\n", want: []string{"5:25: server: http_redirect is only allowed with tls"}},
		{name: "listeners on the same port refused", src: "version: 1\nadmin: {listen: \"127.0.0.1:8443\", token: " + strongSecret + "}\nserver:\n  tls: {cert_file: c, key_file: k}\n  http_redirect: \"0.0.0.0:8443\"\n", want: []string{
			"2:17: admin: listen uses the same port as server.listen",
			"5:18: server: http_redirect uses the same port as server.listen",
		}},
		{name: "trusted proxy invalid", src: base + "server: {trusted_proxies: [\"10.0.0.0/33\", \"proxy.local\", \"fe80::1%eth0\"]}\n", want: []string{
			`5:28: server: trusted_proxies entry "10.0.0.0/33" is not an IP address or CIDR prefix`,
			`5:43: server: trusted_proxies entry "proxy.local" is not an IP address`,
			`5:58: server: trusted_proxies entry "fe80::1%eth0" is not an IP address`,
		}},
		{name: "trusted proxy with host bits suggests the network", src: base + "server: {trusted_proxies: [\"10.1.2.3/8\"]}\n", want: []string{`5:28: server: trusted_proxies entry "10.1.2.3/8" has bits set after the prefix length; did you mean "10.0.0.0/8"?`}},
		{name: "trusting every address refused", src: base + "server: {trusted_proxies: [\"::/0\"]}\n", want: []string{`5:28: server: trusted_proxies entry "::/0" trusts every address`}},
		{name: "duplicate trusted proxy refused", src: base + "server: {trusted_proxies: [\"10.0.0.1\", \"10.0.0.1/32\"]}\n", want: []string{`5:40: server: trusted_proxies lists 10.0.0.1/32 twice`}},
		{name: "tls needs cert and key", src: base + "server: {tls: {}}\n", want: []string{"5:10: server.tls: cert_file is required", "5:10: server.tls: key_file is required"}},
		{name: "tls 1.1 refused", src: base + "server: {tls: {cert_file: c, key_file: k, min_version: \"1.1\"}}\n", want: []string{`5:56: server.tls: min_version must be "1.2" or "1.3": TLS 1.1 is obsolete and insecure`}},
		{name: "client_auth needs a CA", src: base + "server: {tls: {cert_file: c, key_file: k, client_auth: require}}\n", want: []string{"5:56: server.tls: client_auth needs client_ca_file"}},
		{name: "client CA without client_auth refused", src: base + "server: {tls: {cert_file: c, key_file: k, client_ca_file: ca.pem}}\n", want: []string{"5:59: server.tls: client_ca_file has no effect without client_auth"}},
		{name: "client_auth value checked", src: base + "server: {tls: {cert_file: c, key_file: k, client_ca_file: ca, client_auth: always}}\n", want: []string{`5:76: server.tls: client_auth must be one of request, require; got "always"`}},
	})

	cfg := mustParse(t, base+"server: {trusted_proxies: [\"192.168.1.10\", \"2001:db8::1\", \"10.0.0.0/8\"], tls: {cert_file: c, key_file: k, min_version: 1.2, client_ca_file: ca, client_auth: request}, listen: \"[::1]:8443\"}\n", nil)
	want := []netip.Prefix{netip.MustParsePrefix("192.168.1.10/32"), netip.MustParsePrefix("2001:db8::1/128"), netip.MustParsePrefix("10.0.0.0/8")}
	if diff := cmp.Diff(want, cfg.Server.TrustedProxies, cmpOpts...); diff != "" {
		t.Errorf("single addresses become /32 and /128:\n%s", diff)
	}
	if diff := cmp.Diff(&TLS{CertFile: "c", KeyFile: "k", MinVersion: "1.2", ClientCAFile: "ca", ClientAuth: "request"}, cfg.Server.TLS); diff != "" {
		t.Errorf("tls:\n%s", diff)
	}
}

func TestAdmin(t *testing.T) {
	runErrCases(t, []errCase{
		{name: "admin token required when listener on (section absent)", src: "version: 1\n", want: []string{"1:1: admin: token is required while the admin listener is on"}},
		{name: "admin token required when listener on", src: "version: 1\nadmin: {listen: \"127.0.0.1:9000\"}\n", want: []string{"2:1: admin: token is required while the admin listener is on"}},
		{name: "non-loopback admin listener needs a token", src: "version: 1\nadmin:\n  listen: \":9901\"\n", want: []string{"2:1: admin: token is required"}},
		{name: "admin listen invalid", src: "version: 1\nadmin: {listen: \"on\", token: " + strongSecret + "}\n", want: []string{`2:17: admin: listen must be host:port, such as :8080, 127.0.0.1:8080 or [::1]:8080, or "off" to turn the admin listener off; got "on"`}},
		{name: "placeholder admin token refused", src: "version: 1\nadmin: {token: change-me}\n", want: []string{"2:16: admin: token is a well-known placeholder"}},
	})
	cfg := mustParse(t, "version: 1\nadmin: {listen: \"0.0.0.0:9901\", token: "+strongSecret+"}\n", nil)
	if cfg.Admin.Listen != "0.0.0.0:9901" || cfg.Admin.Token != strongSecret {
		t.Errorf("non-loopback admin with token: %+v", cfg.Admin)
	}
	cfg = mustParse(t, "version: 1\nadmin: {listen: off}\n", nil)
	if cfg.Admin.Listen != "" {
		t.Errorf("admin off: %+v", cfg.Admin)
	}
}

func TestStoreAndSharedState(t *testing.T) {
	runErrCases(t, []errCase{
		{name: "unknown store scheme refused", src: base + "store: \"mysql://db/x\"\n", want: []string{"5:8: store must be sqlite://PATH, postgres://... or postgresql://..."}},
		{name: "sqlite without a path refused", src: base + "store: \"sqlite://\"\n", want: []string{"5:8: store must be sqlite://PATH, postgres://... or postgresql://... (the sqlite path is missing)"}},
		{name: "unknown shared state refused", src: base + "shared_state: \"memcached://x\"\n", want: []string{"5:15: shared_state must be memory:// or redis://... or rediss://..."}},
		{name: "redis without host refused", src: base + "shared_state: \"redis://\"\n", want: []string{"5:15: shared_state must be memory:// or redis://... or rediss://... (the redis URL does not parse or has no host)"}},
		{name: "store timeout of zero refused", src: base + "store_timeout: 0s\n", want: []string{`5:16: store_timeout must be between 1ms and 30s, got 0s`}},
		{name: "outage grace past a day refused", src: base + "store_outage_grace: 25h\n", want: []string{`5:21: store_outage_grace must be between 0s and 24h0m0s, got 25h0m0s`}},
		{name: "shared state timeout past 10s refused", src: base + "shared_state_timeout: 1m\n", want: []string{`5:23: shared_state_timeout must be between 1ms and 10s, got 1m0s`}},
		{name: "failure mode typo suggests", src: base + "shared_state_failure: fail_opn\n", want: []string{`5:23: shared_state_failure must be one of fail_closed, fail_open, local; got "fail_opn"; did you mean "fail_open"?`}},
		{name: "lockout values checked", src: base + "lockout: {max_failures: 0, window: 0s, duration: 5, key: ip}\n", want: []string{
			"5:25: lockout: max_failures must be between 1 and 1000, got 0",
			"5:36: lockout: window must be greater than 0",
			"5:50: lockout: duration must be a duration with a unit",
			`5:58: lockout: key must be one of client_ip, principal; got "ip"`,
		}},
	})
	for _, s := range []string{"sqlite:///var/lib/rampart.db", "postgres://rampart@db:5432/rampart?sslmode=verify-full", "postgresql://db/rampart"} {
		if cfg := mustParse(t, base+"store: \""+s+"\"\n", nil); cfg.Store != s {
			t.Errorf("store %q: got %q", s, cfg.Store)
		}
	}
	for _, s := range []string{"memory://", "redis://redis:6379/0", "rediss://user@redis:6380"} {
		if cfg := mustParse(t, base+"shared_state: \""+s+"\"\nshared_state_failure: local\n", nil); cfg.SharedState != s || cfg.SharedStateFailure != "local" {
			t.Errorf("shared_state %q: got %q", s, cfg.SharedState)
		}
	}
}

func TestUpstreams(t *testing.T) {
	up := func(targets string) string {
		return "version: 1\nadmin: {listen: \"off\"}\nupstreams:\n  u: {targets: " + targets + "}\n"
	}
	runErrCases(t, []errCase{
		{name: "targets required", src: "version: 1\nadmin: {listen: \"off\"}\nupstreams:\n  u: {timeout: 5s}\n", want: []string{`4:3: upstream "u": targets is required`}},
		{name: "empty targets refused", src: up("[]"), want: []string{`4:16: upstream "u": targets must not be empty`}},
		{name: "target path prefix refused with reason", src: up(`["http://a.test/api"]`), want: []string{`4:17: upstream "u": target has a path, but path prefixes are not supported yet`}},
		{name: "target query refused", src: up(`["http://a.test/?x=1"]`), want: []string{`4:17: upstream "u": target must not have a query`}},
		{name: "target empty query refused", src: up(`["http://a.test?"]`), want: []string{`4:17: upstream "u": target must not have a query`}},
		{name: "target fragment refused", src: up(`["http://a.test#f"]`), want: []string{`4:17: upstream "u": target must not have a fragment`}},
		{name: "target userinfo refused", src: up(`["http://user:pw@a.test"]`), want: []string{`4:17: upstream "u": target must not contain credentials (user:password@)`}},
		{name: "target scheme refused", src: up(`["ftp://a.test"]`), want: []string{`4:17: upstream "u": target must be an absolute http:// or https:// URL`}},
		{name: "relative target refused", src: up(`["a.test:8000"]`), want: []string{`4:17: upstream "u": target must be an absolute http:// or https:// URL`}},
		{name: "target without host refused", src: up(`["http:///x"]`), want: []string{`4:17: upstream "u": target must have a valid host`}},
		{name: "target bad port refused", src: up(`["http://a.test:0"]`), want: []string{`4:17: upstream "u": target must have a port between 1 and 65535`}},
		{name: "duplicate target refused", src: up(`["http://a.test", "http://a.test"]`), want: []string{`4:34: upstream "u": targets lists "http://a.test" twice`}},
		{name: "bad upstream name refused", src: "version: 1\nadmin: {listen: \"off\"}\nupstreams:\n  \"a b\": {targets: [\"http://a.test\"]}\n", want: []string{`4:3: upstream name "a b" must be 1-64 letters`}},
		{name: "zero timeout refused", src: "version: 1\nadmin: {listen: \"off\"}\nupstreams:\n  u: {targets: [\"http://a.test\"], timeout: 0s}\n", want: []string{`4:44: upstream "u": timeout must be greater than 0`}},
	})
	cfg := mustParse(t, up(`["http://10.0.0.1:8000", "https://b.test/", "http://[::1]:9000"]`)+"\n", nil)
	var got []string
	for _, u := range cfg.Upstreams["u"].Targets {
		got = append(got, u.String())
	}
	if diff := cmp.Diff([]string{"http://10.0.0.1:8000", "https://b.test/", "http://[::1]:9000"}, got); diff != "" {
		t.Errorf("targets:\n%s", diff)
	}
	cfg = mustParse(t, "version: 1\nadmin: {listen: \"off\"}\nupstreams:\n  u: {targets: [\"http://a.test\"], timeout: 2s, mask_upstream_errors: false}\n", nil)
	if u := cfg.Upstreams["u"]; u.Timeout != 2*time.Second || u.MaskErrors {
		t.Errorf("upstream: %+v", u)
	}
}

func TestSecrets(t *testing.T) {
	auth := func(secret string) string {
		return "version: 1\nadmin: {listen: \"off\"}\nauthenticators:\n  h: {type: jwt, issuer: \"https://idp.test/\", audiences: [a], algorithms: [HS256], secret: \"" + secret + "\"}\n"
	}
	const at = "4:92: "
	refused := map[string]string{
		"placeholder secret refused":                  "changeme",
		"placeholder refused whatever the separators": "Your_Super-Secret Key",
		"short secret refused":                        "Zq8Lm3Nx7Pw2Rk9Tv4Yb",
		"repeated character refused":                  strings.Repeat("a", 40),
		"changeme inside a long value refused":        "please-changeme-before-production-deploys",
		"yoursecret inside a long value refused":      "yoursecretgoeshere0123456789abcdefgh",
		"replace_me inside a long value refused":      "REPLACE_ME_WITH_A_REAL_KEY_0123456789",
		"example inside a long value refused":         "an-example-key-that-is-long-enough-to-pass",
		"short repeated pattern refused":              strings.Repeat("ab12", 10),
		"repeated placeholder word refused":           strings.Repeat("secret", 6),
	}
	var cases []errCase
	for name, s := range refused {
		cases = append(cases, errCase{name: name, src: auth(s), want: []string{at + `authenticator "h": secret `}})
	}
	runErrCases(t, cases)

	for name, s := range refused {
		_, err := parse(auth(s), nil)
		if err == nil || strings.Contains(err.Error(), s) {
			t.Errorf("%s: secret value appears in %v", name, err)
		}
	}
	if _, err := parse(auth(strongSecret), nil); err != nil {
		t.Errorf("strong secret refused: %v", err)
	}
	for s, why := range map[string]string{
		"changeme": "is a well-known placeholder",
		"random":   "is a well-known placeholder",
		"09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7": "is a well-known placeholder or published example",
		"a-string-secret-at-least-256-bits-long":                           "is a well-known placeholder or published example",
		"404E635266556A586E3272357538782F413F4428472B4B6250645367566B5970": "is a well-known placeholder or published example",
		strings.Repeat("x", 40):                                            "is one character repeated",
		"short":                                                            "is too short (5 bytes); secrets must be at least 32 bytes",
		"zz-changeme-zz-0123456789":                                        `contains the placeholder word "changeme"`,
	} {
		if got := secretProblem(s); !strings.HasPrefix(got, why) {
			t.Errorf("secretProblem(%q) = %q, want prefix %q", s, got, why)
		}
	}
}

// TestSecretValuesNeverInErrors fills every secret-bearing field, and fields that take
// values from the environment, with values that fail validation, and checks that no
// value appears anywhere in the error text.
func TestSecretValuesNeverInErrors(t *testing.T) {
	env := map[string]string{
		"ADMIN":      "changeme-now-please-0123456789-abcdef",
		"JWT":        "sh0rtJwtS3cret",
		"CLIENT":     "hunter2hunter2hunter2hunter2hunter2",
		"STORE":      "mysql://root:Db-Pa55w0rd-Xq@db/rampart",
		"REDIS":      "redis//:R3dis-Pa55-Zw@cache",
		"TARGET":     "http://svc:Up-Pa55-Kq@10.0.0.1/api",
		"LISTEN":     "Listen-Secretish-Value",
		"ORIGIN":     "https://Origin-Secretish.test/",
		"HEADER_VAL": "Header-Secretish\r\nInjected: 1",
		"TTL":        "Ttl-Secretish",
	}
	literal := []string{"Literal-Adm1n-Secret", "your-secret-key-literal-0123456789"}
	src := `version: 1
server: {listen: "${LISTEN}", read_timeout: "${TTL}"}
admin: {listen: "0.0.0.0:9901", token: "${ADMIN}"}
store: "${STORE}"
shared_state: "${REDIS}"
upstreams:
  u: {targets: ["${TARGET}"]}
authenticators:
  j: {type: jwt, issuer: "https://idp.test/", audiences: [a], algorithms: [HS256], secret: "${JWT}"}
  j2: {type: jwt, issuer: "https://idp.test/", audiences: [a], algorithms: [HS256], secret: "Literal-Adm1n-Secret"}
  i: {type: introspection, url: "https://idp.test/i", client_id: c, client_secret: "${CLIENT}"}
  i2: {type: introspection, url: "https://idp.test/i", client_id: c, client_secret: "your-secret-key-literal-0123456789"}
cors:
  c: {allow_origins: ["${ORIGIN}"]}
routes:
  - name: r
    path: /r
    methods: [GET]
    upstream: u
    auth: ["${LISTEN}"]
    headers: {set: {X-A: "${HEADER_VAL}"}}
`
	_, err := parse(src, env)
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want Errors, got %v", err)
	}
	if len(es) < 11 {
		t.Errorf("want an error per bad value, got:\n%v", es)
	}
	text := err.Error()
	for k, v := range env {
		for _, part := range []string{v, strings.SplitN(v, "\r", 2)[0]} {
			if strings.Contains(text, part) {
				t.Errorf("value of %s appears in errors:\n%s", k, text)
			}
		}
	}
	for _, pw := range []string{"Db-Pa55w0rd-Xq", "R3dis-Pa55-Zw", "Up-Pa55-Kq"} {
		if strings.Contains(text, pw) {
			t.Errorf("password %q appears in errors:\n%s", pw, text)
		}
	}
	for _, v := range literal {
		if strings.Contains(text, v) {
			t.Errorf("literal secret %q appears in errors:\n%s", v, text)
		}
	}
}

func TestInterpolation(t *testing.T) {
	runErrCases(t, []errCase{
		{name: "missing env var named", src: base + "store: \"${STORE_URL}\"\n", want: []string{`5:8: store: environment variable "STORE_URL" is not set`}},
		{name: "every missing var named", src: base + "store: \"sqlite://${A}/${B}\"\n", want: []string{
			`5:8: store: environment variable "A" is not set`, `5:8: store: environment variable "B" is not set`,
		}},
		{name: "missing env var in a list", src: base + "server: {trusted_proxies: [\"${PROXY}\"]}\n", want: []string{`5:28: server: trusted_proxies entries: environment variable "PROXY" is not set`}},
		{name: "unterminated reference refused", src: base + "store: \"sqlite://${HOME\"\n", want: []string{`5:8: store: unterminated "${"`}},
		{name: "empty variable name refused", src: base + "store: \"sqlite://${}\"\n", want: []string{`5:8: store: malformed "${...}"`}},
		{name: "invalid variable name refused", src: base + "store: \"sqlite://${1A}\"\n", want: []string{`5:8: store: malformed "${...}"`}},
		{name: "interpolated value validated after expansion", src: base + "server: {max_body_bytes: \"${BODY}\"}\n", env: map[string]string{"BODY": "2GiB"}, want: []string{
			"5:26: server: max_body_bytes must be between 1 byte and 1GiB, got 2147483648 bytes",
		}},
		{name: "interpolated values shown as written", src: base + "server: {read_timeout: \"${T}\"}\n", env: map[string]string{"T": "soon"}, want: []string{
			`5:24: server: read_timeout must be a duration such as 30s, 1m30s or 250ms, got "${T}" (after interpolation)`,
		}},
		{name: "keys are not interpolated", src: base + "server: {\"${KEY}\": 1}\n", env: map[string]string{"KEY": "listen"}, want: []string{`5:10: unknown key "${KEY}" in server`}},
	})

	env := map[string]string{"BODY": "2MiB", "N": "7", "T": "45s", "HOST": "10.1.2.3", "EMPTY": "", "B": "false"}
	// Unquoted ${VAR} works in block style; in flow style ({...}) YAML needs quotes.
	cfg := mustParse(t, base+`server:
  max_body_bytes: ${BODY}
  max_query_params: "${N}"
  read_timeout: ${T}
lockout: {max_failures: "${N}"}
cors: {c: {allow_origins: ["https://${HOST}:8443"], allow_credentials: "${B}"}}
`, env)
	if cfg.Server.MaxBodyBytes != 2<<20 || cfg.Server.MaxQueryParams != 7 || cfg.Server.ReadTimeout != 45*time.Second {
		t.Errorf("interpolation before conversion: %+v", cfg.Server)
	}
	if cfg.Lockout.MaxFailures != 7 || cfg.CORS["c"].AllowOrigins[0] != "https://10.1.2.3:8443" || cfg.CORS["c"].AllowCredentials {
		t.Errorf("interpolation: %+v %+v", cfg.Lockout, cfg.CORS["c"])
	}
	cfg = mustParse(t, base+"store: \"sqlite://$${HOME}/$$x-${EMPTY}$y.db\"\n", env)
	if want := "sqlite://${HOME}/$x-$y.db"; cfg.Store != want {
		t.Errorf("$$ and lone $: got %q, want %q", cfg.Store, want)
	}
	// A substituted value is not interpolated again.
	cfg = mustParse(t, base+"store: \"${S}\"\n", map[string]string{"S": "sqlite://${NOPE}.db"})
	if cfg.Store != "sqlite://${NOPE}.db" {
		t.Errorf("recursive interpolation: %q", cfg.Store)
	}
	// A nil env means nothing is set.
	if _, err := Parse("t.yaml", []byte(base+"store: \"${X}\"\n"), nil); err == nil || !strings.Contains(err.Error(), `environment variable "X" is not set`) {
		t.Errorf("nil env: %v", err)
	}
}

func TestAuthenticators(t *testing.T) {
	const head = "version: 1\nadmin: {listen: \"off\"}\nauthenticators:\n"
	jwt := func(fields string) string {
		return head + "  j: {type: jwt, issuer: \"https://idp.test/\", audiences: [a], " + fields + "}\n"
	}
	runErrCases(t, []errCase{
		{name: "type required", src: head + "  a: {header: X-Key}\n", want: []string{`4:3: authenticator "a": type is required`}},
		{name: "unknown type lists valid ones", src: head + "  a: {type: oauth}\n", want: []string{`4:13: authenticator "a": type must be one of jwt, api_key, mtls, introspection; got "oauth"`}},
		{name: "field of another type refused", src: jwt("jwks_url: \"https://idp.test/k\", algorithms: [RS256], header: X-Key"), want: []string{
			`4:116: authenticator "j": "header" is not a jwt field (jwt fields: type, issuer, discovery, jwks_url, audiences, algorithms, leeway, secret, public_key_file, token_header, token_cookie, roles_claim, require_claims, forward_token, jwks_refresh_floor, jwks_refresh_ceiling, unknown_kid_cooldown)`,
		}},
		{name: "jwt field on api_key refused", src: head + "  a: {type: api_key, issuer: \"https://idp.test/\"}\n", want: []string{`4:22: authenticator "a": "issuer" is not an api_key field (api_key fields: type, header)`}},
		{name: "jwt requires issuer, audiences, algorithms and a key source", src: head + "  j: {type: jwt}\n", want: []string{
			`4:3: authenticator "j": audiences is required`,
			`4:3: authenticator "j": algorithms is required`,
			`4:3: authenticator "j": issuer is required`,
			`4:3: authenticator "j": needs exactly one key source: jwks_url, discovery: true, secret or public_key_file`,
		}},
		{name: "issuer must be https", src: head + "  j: {type: jwt, issuer: \"http://idp.test/\", discovery: true, audiences: [a], algorithms: [RS256]}\n", want: []string{
			`4:26: authenticator "j": issuer must use https:// (http:// is allowed only for localhost and loopback addresses); got "http://idp.test/"`,
		}},
		{name: "issuer must be absolute", src: head + "  j: {type: jwt, issuer: idp.test, discovery: true, audiences: [a], algorithms: [RS256]}\n", want: []string{`4:26: authenticator "j": issuer must be an absolute https:// URL`}},
		{name: "two key sources refused", src: jwt("discovery: true, public_key_file: k.pem, algorithms: [ES256]"), want: []string{
			`4:80: authenticator "j": discovery and public_key_file are both key sources; use exactly one of jwks_url, discovery: true, secret or public_key_file`,
		}},
		{name: "discovery false is not a key source", src: jwt("discovery: false, algorithms: [ES256]"), want: []string{`4:3: authenticator "j": needs exactly one key source`}},
		{name: "alg none refused", src: jwt("discovery: true, algorithms: [RS256, None]"), want: []string{`4:100: authenticator "j": algorithm "none" is never accepted`}},
		{name: "unknown algorithm suggests", src: jwt("discovery: true, algorithms: [rs256]"), want: []string{`4:93: authenticator "j": unknown algorithm "rs256" (valid: HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA); did you mean "RS256"?`}},
		{name: "duplicate algorithm refused", src: jwt("discovery: true, algorithms: [RS256, RS256]"), want: []string{`4:100: authenticator "j": algorithms lists "RS256" twice`}},
		{name: "empty algorithms refused", src: jwt("discovery: true, algorithms: []"), want: []string{`4:92: authenticator "j": algorithms must not be empty`}},
		{name: "HS mixed with asymmetric refused", src: jwt("secret: " + strongSecret + ", algorithms: [HS256, RS256]"), want: []string{
			`4:117: authenticator "j": algorithms mixes shared-secret (HS256) and public-key (RS256) algorithms`,
		}},
		{name: "HS without secret refused", src: jwt("jwks_url: \"https://idp.test/k\", algorithms: [HS512]"), want: []string{`4:107: authenticator "j": algorithms lists HS512, which verify with a shared secret: set secret`}},
		{name: "secret with RS refused", src: jwt("secret: " + strongSecret + ", algorithms: [RS256]"), want: []string{`4:71: authenticator "j": secret is only for HS256, HS384 and HS512, but algorithms lists RS256`}},
		{name: "audiences required non-empty", src: head + "  j: {type: jwt, issuer: \"https://idp.test/\", discovery: true, algorithms: [RS256], audiences: []}\n", want: []string{`4:96: authenticator "j": audiences must not be empty`}},
		{name: "leeway over 5m refused", src: jwt("discovery: true, algorithms: [RS256], leeway: 6m"), want: []string{`4:109: authenticator "j": leeway must be at most 5m, got 6m0s`}},
		{name: "negative leeway refused", src: jwt("discovery: true, algorithms: [RS256], leeway: -1s"), want: []string{`4:109: authenticator "j": leeway must not be negative`}},
		{name: "jwks_url must be https", src: jwt("jwks_url: \"http://idp.test/k\", algorithms: [RS256]"), want: []string{`4:73: authenticator "j": jwks_url must use https://`}},
		{name: "api_key header must be a token", src: head + "  a: {type: api_key, header: \"X Key\"}\n", want: []string{`4:30: authenticator "a": header must be a valid header name, got "X Key"`}},
		{name: "mtls requires client_ca_file", src: head + "  m: {type: mtls}\n", want: []string{`4:3: authenticator "m": client_ca_file is required`}},
		{name: "introspection requires url, client_id, client_secret", src: head + "  i: {type: introspection}\n", want: []string{
			`4:3: authenticator "i": url is required`, `4:3: authenticator "i": client_id is required`, `4:3: authenticator "i": client_secret is required`,
		}},
		{name: "introspection url must be https", src: head + "  i: {type: introspection, url: \"http://idp.test/i\", client_id: c, client_secret: " + strongSecret + "}\n", want: []string{`4:33: authenticator "i": url must use https://`}},
		{name: "authenticator named none refused", src: head + "  none: {type: mtls, client_ca_file: ca.pem}\n", want: []string{`4:3: authenticator name "none" is reserved`}},
	})

	cfg := mustParse(t, head+`  h: {type: jwt, issuer: "http://127.0.0.1:8080/realms/x", secret: "`+strongSecret+`", audiences: [a, b], algorithms: [HS256, HS512], leeway: 0s, token_cookie: session, token_header: X-Token}
  p: {type: jwt, issuer: "http://localhost/", public_key_file: k.pem, audiences: [a], algorithms: [EdDSA]}
  i: {type: introspection, url: "http://[::1]:8080/i", client_id: c, client_secret: "`+strongSecret+`"}
  m: {type: mtls, client_ca_file: ca.pem}
  k: {type: api_key, header: X-Custom-Key}
`, nil)
	h := cfg.Authenticators["h"].JWT
	if h.Leeway != 0 || h.Secret != strongSecret || h.TokenCookie != "session" || h.TokenHeader != "X-Token" || len(h.Algorithms) != 2 {
		t.Errorf("h: %+v", h)
	}
	if cfg.Authenticators["p"].JWT.PublicKeyFile != "k.pem" || cfg.Authenticators["i"].Introspection.URL != "http://[::1]:8080/i" || cfg.Authenticators["m"].MTLS.ClientCAFile != "ca.pem" || cfg.Authenticators["k"].APIKey.Header != "X-Custom-Key" {
		t.Errorf("authenticators: %+v", cfg.Authenticators)
	}
}

func TestRateLimits(t *testing.T) {
	const head = "version: 1\nadmin: {listen: \"off\"}\nrate_limits:\n"
	runErrCases(t, []errCase{
		{name: "key and limits required", src: head + "  r: {}\n", want: []string{`4:3: rate limit "r": key is required`, `4:3: rate limit "r": limits is required`}},
		{name: "unknown key part refused", src: head + "  r: {key: client_id, limits: [\"1/s\"]}\n", want: []string{`4:12: rate limit "r": key must be client_ip, principal, api_key, route, header:NAME or claim:NAME, or several joined with + (did you mean "client_ip"?); got "client_id"`}},
		{name: "header key needs a name", src: head + "  r: {key: \"header:\", limits: [\"1/s\"]}\n", want: []string{`4:12: rate limit "r": key header:NAME needs a valid header name`}},
		{name: "claim key needs a name", src: head + "  r: {key: \"principal+claim:\", limits: [\"1/s\"]}\n", want: []string{`4:12: rate limit "r": key claim:NAME needs a claim name`}},
		{name: "repeated key part refused", src: head + "  r: {key: \"route+route\", limits: [\"1/s\"]}\n", want: []string{`4:12: rate limit "r": key lists a part twice`}},
		{name: "empty limits refused", src: head + "  r: {key: route, limits: []}\n", want: []string{`4:27: rate limit "r": limits must not be empty`}},
		{name: "empty limit string refused", src: head + "  r: {key: route, limits: [\"1/s\", \"\"]}\n", want: []string{`4:35: rate limit "r": limits entries must not be empty`}},
		{name: "negative concurrency refused", src: head + "  r: {key: route, limits: [\"1/s\"], concurrency: -1}\n", want: []string{`4:49: rate limit "r": concurrency must not be negative`}},
		// The rate strings and the key are ratelimit's rules (Config.Validate), placed by the loader.
		{name: "bad rate refused at its entry", src: head + "  r: {key: route, limits: [\"1/s\", \"2/fortnight\"]}\n", want: []string{`4:35: rate limit "r": invalid rate: unknown time unit "fortnight"`}},
		{name: "repeated rate refused at the repeat", src: head + "  r: {key: route, limits: [\"1/s\", 1 per second]}\n", want: []string{`4:35: rate limit "r": limit "1/s" is listed twice`}},
	})
	cfg := mustParse(t, head+"  r:\n    key: \"client_ip+header:X-Tenant+claim:org_id\"\n    limits:\n      - \"10/s burst 20\"\n      - 200/day\n    concurrency: 4\n", nil)
	want := &ratelimit.Config{Name: "r", Key: "client_ip+header:X-Tenant+claim:org_id", Limits: []string{"10/s burst 20", "200/day"}, Concurrency: 4}
	if diff := cmp.Diff(want, cfg.RateLimits["r"]); diff != "" {
		t.Errorf("rate limit (-want +got):\n%s", diff)
	}
	if got, want := cfg.At("rate_limits", "r", "limits", "1"), (conf.Pos{Line: 8, Col: 9}); got != want {
		t.Errorf("position of the second limit: %v, want %v", got, want)
	}
	if got, want := cfg.At("rate_limits", "r", "nothing", "here"), (conf.Pos{Line: 4, Col: 3}); got != want {
		t.Errorf("position of an unset key: %v, want the definition's %v", got, want)
	}
}

func TestCORS(t *testing.T) {
	const head = "version: 1\nadmin: {listen: \"off\"}\ncors:\n"
	origin := func(o string) string { return head + "  c: {allow_origins: [\"" + o + "\"]}\n" }
	runErrCases(t, []errCase{
		{name: "allow_origins required", src: head + "  c: {allow_methods: [GET]}\n", want: []string{`4:3: cors "c": allow_origins is required`}},
		{name: "wildcard with credentials refused", src: head + "  c: {allow_origins: [\"*\"], allow_credentials: true}\n", want: []string{`4:23: cors "c": allow_origins "*" cannot be combined with allow_credentials: true`}},
		{name: "wildcard with other origins refused", src: head + "  c: {allow_origins: [\"*\", \"https://a.test\"]}\n", want: []string{`4:23: cors "c": allow_origins "*" already allows every origin`}},
		{name: "origin with path refused", src: origin("https://a.test/app"), want: []string{`4:23: cors "c": origin "https://a.test/app" must not have a path`}},
		{name: "origin with trailing slash refused", src: origin("https://a.test/"), want: []string{`4:23: cors "c": origin "https://a.test/" must not end with "/"`}},
		{name: "upper-case origin refused", src: origin("https://A.test"), want: []string{`4:23: cors "c": origin "https://A.test" must be lower case`}},
		{name: "origin default port refused", src: origin("https://a.test:443"), want: []string{`4:23: cors "c": origin "https://a.test:443" must not include the default port :443`}},
		{name: "origin without scheme refused", src: origin("a.test"), want: []string{`4:23: cors "c": origin "a.test" must be "*", "null" or an origin scheme://host[:port]`}},
		{name: "wildcard inside a label refused", src: origin("https://app-*.a.test"), want: []string{`4:23: cors "c": origin "https://app-*.a.test" may use a wildcard only as the whole first label`}},
		{name: "wildcard over a bare domain refused", src: origin("https://*.test"), want: []string{`4:23: cors "c": origin "https://*.test" may use a wildcard only`}},
		{name: "wildcard label not first refused", src: origin("https://a.*.test"), want: []string{`4:23: cors "c": origin "https://a.*.test" may use a wildcard only`}},
		{name: "duplicate origin refused", src: head + "  c: {allow_origins: [\"https://a.test\", \"https://a.test\"]}\n", want: []string{`4:41: cors "c": allow_origins lists "https://a.test" twice`}},
		{name: "methods are tokens", src: head + "  c: {allow_origins: [\"https://a.test\"], allow_methods: [\"GET POST\"]}\n", want: []string{`4:58: cors "c": allow_methods entry "GET POST" is not a valid method`}},
		{name: "headers are tokens", src: head + "  c: {allow_origins: [\"https://a.test\"], allow_headers: [\"X:Y\"], expose_headers: [\"A\", \"a\"]}\n", want: []string{
			`4:58: cors "c": allow_headers entry "X:Y" is not a valid header name`, `4:88: cors "c": expose_headers lists "a" twice`,
		}},
		{name: "max_age whole seconds", src: head + "  c: {allow_origins: [\"https://a.test\"], max_age: 1500ms}\n", want: []string{`4:51: cors "c": max_age must be a whole number of seconds`}},
	})
	cfg := mustParse(t, head+"  c: {allow_origins: [\"https://*.a.test\", \"null\", \"http://localhost:3000\", \"https://[::1]:8443\", \"app://x\"], allow_credentials: true, max_age: 10m}\n  d: {allow_origins: [\"*\"]}\n", nil)
	if c := cfg.CORS["c"]; len(c.AllowOrigins) != 5 || c.MaxAge != 10*time.Minute || !c.AllowCredentials {
		t.Errorf("cors: %+v", c)
	}
	if c := cfg.CORS["d"]; c.MaxAge != 0 || len(c.AllowOrigins) != 1 {
		t.Errorf("cors: %+v", c)
	}
}

func TestOpenAPI(t *testing.T) {
	const head = "version: 1\nadmin: {listen: \"off\"}\nopenapi:\n"
	runErrCases(t, []errCase{
		{name: "spec required", src: head + "  o: {validate_requests: true}\n", want: []string{`4:3: openapi "o": spec is required`}},
		{name: "filter_responses checked", src: head + "  o: {spec: a.json, filter_responses: remove}\n", want: []string{`4:39: openapi "o": filter_responses must be one of strip, reject, off; got "remove"`}},
	})
	// max_spec_bytes was documented and supported by openapi.Config but refused by the loader.
	cfg := mustParse(t, head+"  o: {spec: a.json, max_spec_bytes: 2MiB}\n", nil)
	if got := cfg.OpenAPI["o"].MaxSpecBytes; got != 2<<20 {
		t.Errorf("max_spec_bytes = %d, want 2MiB", got)
	}
	cfg = mustParse(t, head+"  o: {spec: a.json, filter_responses: reject, reject_undocumented: true}\n  p: {spec: b.yaml, filter_responses: \"\"}\n  q: {spec: c.yaml, validate_requests: false}\n", nil)
	if o := cfg.OpenAPI["o"]; o.FilterResponses != "reject" || !o.RejectUndocumented || !o.ValidateRequests || cfg.OpenAPI["q"].ValidateRequests || cfg.At("openapi", "o", "spec") != (conf.Pos{Line: 4, Col: 13}) {
		t.Errorf("openapi: %+v", o)
	}
	// Issue 15: auth: none was refused in the openapi block though routes accept it.
	cfg = mustParse(t, head+"  o: {spec: a.json, routes_from_spec: true, upstream: app, auth: none}\n", nil)
	if got := cfg.OpenAPI["o"].Auth; len(got) != 1 || got[0] != "none" {
		t.Errorf("auth: none read as %q", got)
	}
	runErrCases(t, []errCase{
		{name: "none with authenticators", src: head + "  o: {spec: a.json, routes_from_spec: true, upstream: app, auth: [none, sso]}\n", want: []string{`4:66: openapi "o": auth none cannot be listed with authenticators`}},
	})
}

func TestRoutes(t *testing.T) {
	defs := base + "rate_limits: {rl: {key: route, limits: [\"1/s\"]}}\ncors: {web: {allow_origins: [\"https://a.test\"]}}\nopenapi: {api: {spec: a.json}}\n"
	// Lines 1-7 are defs; routes start at 8, the first route's keys at 9.
	r := func(fields string) string {
		return defs + "routes:\n  - name: r\n    path: /r\n" + fields
	}
	runErrCases(t, []errCase{
		{name: "route without auth → error", src: r("    methods: [GET]\n    upstream: app\n"), want: []string{`9:5: route "r": auth is required; write auth: none for a public route`}},
		{name: "auth [none] refused", src: r("    methods: [GET]\n    upstream: app\n    auth: [none]\n"), want: []string{`13:12: route "r": write auth: none, not a list, for a public route`}},
		{name: "none mixed with names refused", src: r("    methods: [GET]\n    upstream: app\n    auth: [sso, none]\n"), want: []string{`13:17: route "r": auth mixes none with authenticators`}},
		{name: "auth as a bare name refused", src: r("    methods: [GET]\n    upstream: app\n    auth: sso\n"), want: []string{`13:11: route "r": auth must be none or a list of authenticator names; write auth: [sso] for one authenticator`}},
		{name: "empty auth list refused", src: r("    methods: [GET]\n    upstream: app\n    auth: []\n"), want: []string{`13:11: route "r": auth must not be an empty list; write auth: none for a public route`}},
		{name: "undefined authenticator lists defined ones", src: r("    methods: [GET]\n    upstream: app\n    auth: [ssso]\n"), want: []string{`13:12: route "r": authenticator "ssso" is not defined (defined in authenticators: sso); did you mean "sso"?`}},
		{name: "undefined upstream lists defined ones", src: r("    methods: [GET]\n    upstream: nope\n    auth: none\n"), want: []string{`12:15: route "r": upstream "nope" is not defined (defined in upstreams: app)`}},
		{name: "undefined rate limit, cors, openapi refused", src: r("    methods: [GET]\n    upstream: app\n    auth: [sso]\n    rate_limit: [rl, other]\n    cors: webb\n    openapi: spec\n"), want: []string{
			`14:22: route "r": rate limit "other" is not defined (defined in rate_limits: rl)`,
			`15:11: route "r": cors policy "webb" is not defined (defined in cors: web); did you mean "web"?`,
			`16:14: route "r": openapi document "spec" is not defined (defined in openapi: api)`,
		}},
		{name: "undefined waf policy refused", src: r("    methods: [GET]\n    upstream: app\n    auth: none\n    waf: crs\n"), want: []string{
			`14:10: route "r": waf policy "crs" is not defined (nothing is defined in waf)`}},
		{name: "waf with buffer_request false refused", src: defs + "waf: {crs: {paranoia_level: 5, mode: bloc}}\nroutes:\n  - name: r\n    path: /r\n    methods: [POST]\n    upstream: app\n    auth: none\n    waf: crs\n    buffer_request: false\n", want: []string{
			`8:29: waf policy "crs": paranoia_level must be between 1 and 4, got 5`, `8:38: waf policy "crs": mode must be one of block, detect; got "bloc"`,
			`16:21: route "r": buffer_request false cannot be used with waf: its rules read the whole buffered body`}},
		{name: "route failure mode typo suggests", src: r("    methods: [GET]\n    upstream: app\n    auth: none\n    rate_limit: [rl]\n    shared_state_failure: fail_opn\n"), want: []string{
			`15:27: route "r": shared_state_failure must be one of fail_closed, fail_open, local; got "fail_opn"; did you mean "fail_open"?`}},
		{name: "route failure mode without rate_limit refused", src: r("    methods: [GET]\n    upstream: app\n    auth: none\n    shared_state_failure: fail_open\n"), want: []string{
			`14:27: route "r": shared_state_failure applies to the route's rate limits, and the route has no rate_limit`}},
		{name: "auth_optional with auth: none refused", src: r("    methods: [GET]\n    upstream: app\n    auth: none\n    auth_optional: true\n"), want: []string{
			`14:20: route "r": auth_optional is not allowed with auth: none (every request is anonymous already)`}},
		{name: "auth_optional with require refused", src: r("    methods: [GET]\n    upstream: app\n    auth: [sso]\n    auth_optional: true\n    require: {scopes: [read]}\n"), want: []string{
			`14:20: route "r": auth_optional cannot be combined with require: anonymous requests would pass it`}},
		{name: "streamed body with openapi refused", src: r("    methods: [POST]\n    upstream: app\n    auth: none\n    openapi: api\n    buffer_request: false\n"), want: []string{
			`15:21: route "r": buffer_request false cannot be used with openapi: validation reads the whole buffered body`,
		}},
		{name: "reference with nothing defined", src: base + "routes:\n  - {name: r, path: /r, methods: [GET], upstream: app, auth: none, cors: web}\n", want: []string{`6:74: route "r": cors policy "web" is not defined (nothing is defined in cors)`}},
		{name: "duplicate route name mentions the first", src: r("    methods: [GET]\n    upstream: app\n    auth: none\n  - name: r\n    path: /s\n    methods: [GET]\n    upstream: app\n    auth: none\n"), want: []string{`14:11: route "r": name "r" is already used by the route at line 9`}},
		{name: "route name required", src: defs + "routes:\n  - {path: /r, methods: [GET], upstream: app, auth: none}\n", want: []string{`9:5: route #1: name is required`}},
		{name: "path required", src: defs + "routes:\n  - {name: r, methods: [GET], upstream: app, auth: none}\n", want: []string{`9:5: route "r": path is required`}},
		{name: "methods required", src: r("    upstream: app\n    auth: none\n"), want: []string{`9:5: route "r": methods is required`}},
		{name: "lower-case method suggests upper case", src: r("    methods: [get]\n    upstream: app\n    auth: none\n"), want: []string{`11:15: route "r": method "get" must be upper case (methods are case-sensitive); did you mean "GET"?`}},
		{name: "CONNECT refused", src: r("    methods: [GET, CONNECT]\n    upstream: app\n    auth: none\n"), want: []string{`11:20: route "r": method "CONNECT" cannot be routed: Rampart is not a forward proxy`}},
		{name: "duplicate method refused", src: r("    methods: [GET, POST, GET]\n    upstream: app\n    auth: none\n"), want: []string{`11:26: route "r": methods lists "GET" twice (first at line 11)`}},
		{name: "empty methods refused", src: r("    methods: []\n    upstream: app\n    auth: none\n"), want: []string{`11:14: route "r": methods must not be empty`}},
		{name: "invalid method token refused", src: r("    methods: [\"GE T\"]\n    upstream: app\n    auth: none\n"), want: []string{`11:15: route "r": method "GE T" is not a valid method token`}},
		{name: "host with port refused", src: r("    methods: [GET]\n    upstream: app\n    auth: none\n    host: \"a.test:8080\"\n"), want: []string{`14:11: route "r": host must be a host name or IP address without a port; got "a.test:8080"`}},
		{name: "invalid host refused", src: r("    methods: [GET]\n    upstream: app\n    auth: none\n    host: \"*.a.test\"\n"), want: []string{`14:11: route "r": host must be a host name or IP address; got "*.a.test"`}},
		{name: "bare IPv6 host refused", src: r("    methods: [GET]\n    upstream: app\n    auth: none\n    host: \"::1\"\n"), want: []string{`14:11: route "r": host must write an IPv6 address in brackets, as in "[::1]"`}},
		{name: "require on a public route refused", src: r("    methods: [GET]\n    upstream: app\n    auth: none\n    require: {mfa: true}\n"), want: []string{`14:5: route "r": require is not allowed with auth: none`}},
		{name: "require fields checked", src: r("    methods: [GET]\n    upstream: app\n    auth: [sso]\n    require: {roles: admin, scopes: [\"\"], claims: [a], mfa: 1, role: x}\n"), want: []string{
			`14:22: route "r" require: roles must be a list of strings, got a string`,
			`14:38: route "r" require: scopes entries must not be empty`,
			`14:51: route "r" require: claims must be a mapping, got a list`,
			`14:61: route "r" require: mfa must be a boolean (true or false), got "1"`,
			`14:64: unknown key "role" in route "r" require (known: roles, scopes, claims, mfa, mfa_methods, acr_values, match, match_bypass_roles); did you mean "roles"?`,
		}},
		{name: "match path must be a template parameter", src: r("    methods: [GET]\n    upstream: app\n    auth: [sso]\n    require: {match: [{path: id, claim: sub}]}\n"), want: []string{
			`14:30: route "r" require: match path "id" is not a parameter of the route's path "/r"`}},
		{name: "match rules checked", src: r("    methods: [GET]\n    upstream: app\n    auth: [sso]\n    require:\n      match:\n        - {query: q, header: X-A, claim: sub}\n        - {header: X-A}\n        - {claim: sub}\n        - {header: X-A, claim: sub, body: /a}\n        - x\n"), want: []string{
			`16:11: route "r" require: a match rule needs exactly one request value to compare: path, query, header or json`,
			`17:11: route "r" require: match entry 2: claim is required`,
			`18:11: route "r" require: a match rule needs exactly one request value to compare: path, query, header or json`,
			`19:37: unknown key "body" in route "r" require: match entry 4 (known: path, query, header, json, claim)`,
			`20:11: route "r" require: match entry 5 must be a mapping, got a string`,
		}},
		{name: "match json needs a pointer and a buffered body", src: r("    methods: [POST]\n    upstream: app\n    auth: [sso]\n    buffer_request: false\n    require: {match: [{json: /owner, claim: sub}, {json: owner~2, claim: sub}]}\n"), want: []string{
			`14:21: route "r": buffer_request false cannot be used with a require.match rule on json: it reads the whole buffered body`,
			`15:51: route "r" require: json "owner~2" is not a JSON pointer (/name/0/sub, with ~0 for ~ and ~1 for /)`}},
		{name: "match_bypass_roles needs match", src: r("    methods: [GET]\n    upstream: app\n    auth: [sso]\n    require: {match_bypass_roles: [admin]}\n"), want: []string{
			`14:35: route "r" require: match_bypass_roles bypasses match rules, and there are none`}},
		{name: "header overrides checked", src: r("    methods: [GET]\n    upstream: app\n    auth: none\n    headers:\n      set: {\"X Bad\": a, X-Ok: \"a\\r\\nb\", X-Dup: a, x-dup: b}\n      remove: [Server, \"Bad Header\", X-Ok]\n"), want: []string{
			`15:13: route "r" headers: set: "X Bad" is not a valid header name`,
			`15:31: route "r" headers: set: the value of X-Ok must not contain CR, LF or NUL`,
			`15:51: route "r" headers: set: header "x-dup" is set twice (first at line 15; header names are case-insensitive)`,
			`16:24: route "r" headers: remove: "Bad Header" is not a valid header name`,
			`16:38: route "r" headers: remove: header "X-Ok" is also set (line 15)`,
		}},
		{name: "NUL in header value refused", src: r("    methods: [GET]\n    upstream: app\n    auth: none\n    headers: {set: {X-A: \"a\\0b\"}}\n"), want: []string{`14:26: route "r" headers: set: the value of X-A must not contain CR, LF or NUL`}},
		{name: "routes entry must be a mapping", src: defs + "routes:\n  - r\n", want: []string{`9:5: routes entry 1 must be a mapping, got a string`}},
	})

	cfg := mustParse(t, r(`    methods: [GET, POST, PROPFIND]
    upstream: app
    auth: [sso]
    host: API.Example.COM
    require: {roles: [admin], scopes: ["items:read"], claims: {tenant: acme, email_verified: true}, mfa: true}
    rate_limit: [rl]
    cors: web
    openapi: api
    headers: {set: {Cache-Control: no-store}, remove: [X-Powered-By]}
  - {name: pub, path: /pub, methods: [GET], upstream: app, auth: none, websocket: {origins: ["https://app.example.com"], idle_timeout: 5s}}
`), nil)
	want := []*Route{
		{
			Name: "r", Host: "api.example.com", Path: "/r", PathPos: conf.Pos{Line: 10, Col: 11}, Methods: []string{"GET", "POST", "PROPFIND"},
			Upstream: "app", Auth: []string{"sso"},
			Require:   authz.Require{Roles: []string{"admin"}, Scopes: []string{"items:read"}, Claims: map[string][]string{"tenant": {"acme"}, "email_verified": {"true"}}, MFA: true},
			RateLimit: []string{"rl"}, CORS: "web", OpenAPI: "api", BufferRequest: true,
			Headers: headers.Overrides{Set: map[string]string{"Cache-Control": "no-store"}, Remove: []string{"X-Powered-By"}},
			Pos:     conf.Pos{Line: 9, Col: 5},
		},
		{Name: "pub", Path: "/pub", PathPos: conf.Pos{Line: 20, Col: 23}, Methods: []string{"GET"}, Upstream: "app", Auth: []string{AuthNone}, BufferRequest: true, Pos: conf.Pos{Line: 20, Col: 5},
			WebSocket: &websocket.Config{Origins: []string{"https://app.example.com"}, MaxMessageBytes: 1 << 20, MaxMessagesPerSecond: 100, IdleTimeout: 5 * time.Second}},
	}
	if diff := cmp.Diff(want, cfg.Routes); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
}

func TestDenyRoutes(t *testing.T) {
	head := "version: 1\nadmin: {listen: \"off\"}\nupstreams: {app: {targets: [\"http://a.test\"]}}\nroutes:\n"
	allow := "  - {name: users, path: \"/users/{name}\", methods: [GET], upstream: app, auth: none}\n"
	cfg := mustParse(t, head+allow+
		"  - {name: debug, path: /users/_debug, methods: [GET], deny: true}\n"+
		"  - {name: all, path: \"/users/{rest...}\", methods: [DELETE], deny: true, deny_status: 403}\n"+
		"  - {name: same, path: \"/users/{id}\", methods: [GET], deny: true}\n", nil)
	want := []Route{{Deny: true, DenyStatus: 404}, {Deny: true, DenyStatus: 403}, {Deny: true, DenyStatus: 404}}
	for i, w := range want {
		if r := cfg.Routes[i+1]; r.Deny != w.Deny || r.DenyStatus != w.DenyStatus || r.Upstream != "" || r.Auth != nil {
			t.Errorf("route %s: %+v", r.Name, r)
		}
	}
	if cfg.Routes[0].Deny || cfg.Routes[0].DenyStatus != 0 {
		t.Errorf("allow route: %+v", cfg.Routes[0])
	}

	runErrCases(t, []errCase{
		{name: "upstream and auth refused on a deny route", src: head + "  - {name: d, path: /d, methods: [GET], deny: true, upstream: app, auth: none, rate_limit: []}\n", want: []string{
			`5:53: route "d": upstream is not allowed on a deny route`,
			`5:68: route "d": auth is not allowed on a deny route`,
			`5:80: route "d": rate_limit is not allowed on a deny route`,
		}},
		{name: "deny_status is 404 or 403", src: head + "  - {name: d, path: /d, methods: [GET], deny: true, deny_status: 401}\n", want: []string{
			`5:66: route "d": deny_status must be 404 or 403, got 401`,
		}},
		{name: "deny_status without deny", src: head + "  - {name: d, path: /d, methods: [GET], upstream: app, auth: none, deny: false, deny_status: 403}\n", want: []string{
			`5:94: route "d": deny_status applies to a deny route only`,
		}},
		{name: "deny must be a boolean", src: head + "  - {name: d, path: /d, methods: [GET], deny: yes}\n", want: []string{
			`5:47: route "d": deny must be a boolean`,
			`5:5: route "d": upstream is required`,
			`5:5: route "d": auth is required`,
		}},
		{name: "equivalent deny routes overlap", src: head + "  - {name: a, path: \"/x/{id}\", methods: [GET], deny: true}\n  - {name: b, path: \"/x/{n}\", methods: [GET], deny: true}\n", want: []string{
			`6:21: route "b" overlaps route "a" (line 5) for GET`,
		}},
	})
}

func TestRouteTemplatesAndOverlaps(t *testing.T) {
	head := "version: 1\nadmin: {listen: \"off\"}\nupstreams: {app: {targets: [\"http://a.test\"]}}\nroutes:\n"
	rt := func(name, extra string) string {
		return "  - {name: " + name + ", upstream: app, auth: none, " + extra + "}\n"
	}
	runErrCases(t, []errCase{
		{name: "overlapping routes refused at the second", src: head + rt("a", "path: \"/items/{id}\", methods: [GET, POST]") + rt("b", "path: \"/items/{name}\", methods: [POST, GET, PUT]"), want: []string{
			`6:48: route "b" overlaps route "a" (line 5) for POST, GET: same host and equivalent path templates`,
		}},
		{name: "same path different methods is fine, same method refused", src: head + rt("a", "path: /x, methods: [GET]") + rt("b", "path: /x, methods: [POST]") + rt("c", "path: /x, methods: [GET]"), want: []string{
			`7:48: route "c" overlaps route "a" (line 5) for GET`,
		}},
		{name: "malformed template reported at the path", src: head + rt("a", "path: \"/a//b\", methods: [GET]") + rt("b", "path: nope, methods: [GET]"), want: []string{
			`5:48: route "a": empty segment ("//") in path template "/a//b"`,
			`6:48: route "b": path template "nope" must start with '/'`,
		}},
	})
	// Different hosts, literal beats parameter: no overlap.
	mustParse(t, head+rt("a", "path: \"/items/{id}\", methods: [GET]")+rt("b", "path: /items/new, methods: [GET]")+rt("c", "path: \"/items/{id}\", methods: [GET], host: a.test"), nil)
}

func TestJSONConfigAccepted(t *testing.T) {
	src := `{
	"version": 1,
	"admin": {"listen": "off"},
	"upstreams": {"app": {"targets": ["http://127.0.0.1:8000"], "mask_upstream_errors": false}},
	"routes": [{"name": "r", "path": "/r", "methods": ["GET"], "upstream": "app", "auth": "none", "websocket": true}]
}`
	cfg := mustParse(t, src, nil)
	if len(cfg.Routes) != 1 || cfg.Routes[0].WebSocket == nil || cfg.Upstreams["app"].MaskErrors {
		t.Errorf("JSON config: %+v", cfg)
	}
	runErrCases(t, []errCase{
		{name: "JSON errors have positions", src: `{"version": 1, "admin": {"listen": "off"}, "upstreams": {"app": {"targets": "http://a.test"}}}`, want: []string{
			`1:77: upstream "app": targets must be a list of strings, got a string`,
		}},
		{name: "JSON duplicate keys refused", src: `{"version": 1, "version": 1, "admin": {"listen": "off"}}`, want: []string{`1:16: duplicate key "version"`}},
	})
}

func TestSuggest(t *testing.T) {
	known := []string{"listen", "max_body_bytes", "max_header_bytes", "read_timeout"}
	for in, want := range map[string]string{
		"listne": "listen", "Listen": "listen", "max_body_byte": "max_body_bytes", "maxBodyBytes": "max_body_bytes",
		"max-header-bytes": "max_header_bytes", "readtimeout": "read_timeout", "frobnicate": "", "x": "", strings.Repeat("a", 100): "",
	} {
		if got := conf.Suggest(in, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func Example() {
	_, err := Parse("rampart.yaml", []byte("version: 1\nadmin: {listen: \"off\"}\nserver: {max_body_byte: 10MB}\n"), nil)
	fmt.Println(err)
	// Output:
	// rampart.yaml:3:10: unknown key "max_body_byte" in server (known: listen, tls, http_redirect, trusted_proxies, max_header_bytes, max_body_bytes, body_buffer_bytes, body_memory_budget, body_spill_dir, body_spill_budget, max_query_params, read_header_timeout, read_timeout, write_timeout, response_timeout, idle_timeout, max_connections, shutdown_timeout); did you mean "max_body_bytes"?
}

// A route's require is authz.Require, checked by authz's own Validate at the
// entry it names.
func TestRequireCheckedByAuthz(t *testing.T) {
	src := base + baseRoute + "    require: {scopes: [\"items:read\", \"a b\"], claims: {tenant: []}}\n"
	runErrCases(t, []errCase{{name: "scope with a space, claim without values", src: src, want: []string{
		`11:38: route "r" require: scope "a b" is not valid (empty, or with spaces or quotes)`,
		`11:63: route "r" require: claim "tenant" must list at least one accepted value`,
	}}})
}

func TestAlertsSection(t *testing.T) {
	runErrCases(t, []errCase{
		{name: "webhook over clear text to a remote host", src: base + "alerts:\n  webhooks:\n    - {name: ops, url: \"http://hooks.example.com/T0/SECRETPATH\"}\n",
			want: []string{`7:24: alerts: webhooks entry 1: url must use https://`}},
		{name: "weak webhook secret", src: base + "alerts:\n  webhooks:\n    - {name: ops, url: \"https://hooks.example.com/x\", secret: changeme}\n",
			want: []string{`7:63: alerts: webhooks entry 1: secret is a well-known placeholder`}},
		{name: "duplicate webhook names", src: base + "alerts:\n  webhooks:\n    - {name: ops, url: \"https://a.example.com/\"}\n    - {name: ops, url: \"https://b.example.com/\"}\n",
			want: []string{`8:7: alerts: webhook name "ops" is used twice`}},
		{name: "syslog over clear text to a remote host", src: base + "alerts:\n  syslog: {address: \"tcp://siem.example.com:514\"}\n",
			want: []string{`6:21: alerts: syslog: address tcp:// sends audit events in clear text`}},
		{name: "syslog facility", src: base + "alerts:\n  syslog: {address: \"tls://siem.example.com:6514\", facility: locl0}\n",
			want: []string{`6:62: alerts: syslog: facility must be one of`}},
	})
	cfg := mustParse(t, base+"alerts:\n  webhooks:\n    - {name: ops, url: \"https://hooks.example.com/x\"}\n  syslog: {address: \"tls://siem.example.com:6514\"}\n", nil)
	a := cfg.Alerts
	if a == nil || len(a.Webhooks) != 1 || a.Webhooks[0].MaxAttempts != 5 || a.Webhooks[0].Queue != 1000 || a.Webhooks[0].Timeout != 5*time.Second ||
		a.Syslog == nil || a.Syslog.Facility != "authpriv" || a.Syslog.AppName != "rampart" || a.Syslog.Queue != 4<<20 || a.DrainTimeout != 5*time.Second {
		t.Fatalf("alerts defaults: %+v %+v", a, a.Syslog)
	}
	_, err := parse(base+"alerts:\n  webhooks:\n    - {name: ops, url: \"http://hooks.example.com/T0/SECRETPATH\"}\n", nil)
	if err == nil || strings.Contains(err.Error(), "SECRETPATH") {
		t.Errorf("a config error echoes the webhook URL's path (or none): %v", err)
	}
}
