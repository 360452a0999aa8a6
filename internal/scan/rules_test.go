package scan

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// ruleCase is one rule against two real servers written for it: a
// deliberately vulnerable one (the rule must fire, with this proof) and a
// fixed one (the rule must not fire, and must still have been exercised —
// a rule that silently skipped would pass the fixed test for nothing).
type ruleCase struct {
	name     string
	rule     string
	vuln     http.Handler
	fixed    http.Handler
	vulnTLS  func(*tls.Config) // non-nil: serve over TLS, with this config
	fixedTLS func(*tls.Config)
	opts     func(*testing.T, *Options, *httptest.Server)
	// fixedOpts, when set, replaces opts for the fixed target.
	fixedOpts func(*testing.T, *Options, *httptest.Server)
	proof     string   // the finding's proof contains this
	severity  Severity // the finding's severity
	secret    string   // planted secret that must never appear in any output
}

func defaultTLS(*tls.Config) {}

func start(t *testing.T, h http.Handler, tlsCfg func(*tls.Config)) *httptest.Server {
	t.Helper()
	if tlsCfg == nil {
		return newServer(t, h)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the legacy-TLS probe is refused on purpose
	srv.TLS = &tls.Config{}
	tlsCfg(srv.TLS)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestRules(t *testing.T) {
	for _, tc := range append(ruleCases(), vampiCases()...) {
		t.Run(tc.rule+" "+tc.name, func(t *testing.T) {
			t.Parallel()
			t.Run("vulnerable → fires", func(t *testing.T) {
				srv := start(t, tc.vuln, tc.vulnTLS)
				rep := run(t, srv.URL, func(o *Options) {
					if tc.opts != nil {
						tc.opts(t, o, srv)
					}
				})
				got := findingsOf(rep, tc.rule)
				if len(got) == 0 {
					t.Fatalf("%s did not fire; coverage %+v; findings %v", tc.rule, coverageOf(rep, tc.rule), ruleIDs(rep))
				}
				f := got[0]
				if !strings.Contains(f.Evidence.Proof, tc.proof) {
					t.Errorf("proof = %q, want it to contain %q", f.Evidence.Proof, tc.proof)
				}
				if f.Severity != tc.severity {
					t.Errorf("severity = %s, want %s", f.Severity, tc.severity)
				}
				if f.Method != "TLS" && !strings.HasPrefix(f.Evidence.Request.URL, strings.Replace(srv.URL, "https://", "http", 1)[:4]) {
					t.Errorf("evidence URL %q is not on the target %s", f.Evidence.Request.URL, srv.URL)
				}
				if f.Method != "TLS" && (f.Evidence.Response == nil || f.Evidence.Response.Status == 0) {
					t.Errorf("evidence has no response: %+v", f.Evidence)
				}
				if f.OWASP == "" || !strings.HasPrefix(f.CWE, "CWE-") || f.Remediation == "" || f.Rampart == "" {
					t.Errorf("finding lacks mapping or remediation: %+v", f)
				}
				out := allOutputs(t, rep)
				for _, secret := range []string{tc.secret, testSecret} {
					if secret != "" && strings.Contains(out, secret) {
						t.Errorf("secret %q appears in the report", secret)
					}
				}
			})
			t.Run("fixed → silent", func(t *testing.T) {
				srv := start(t, tc.fixed, tc.fixedTLS)
				opts := tc.opts
				if tc.fixedOpts != nil {
					opts = tc.fixedOpts
				}
				rep := run(t, srv.URL, func(o *Options) {
					if opts != nil {
						opts(t, o, srv)
					}
				})
				if got := findingsOf(rep, tc.rule); len(got) > 0 {
					b, _ := json.MarshalIndent(got, "", "  ")
					t.Errorf("%s fired on the fixed target (false positive):\n%s", tc.rule, b)
				}
				if c := coverageOf(rep, tc.rule); c.Status == Skipped {
					t.Errorf("%s was skipped on the fixed target, so this test proves nothing: %v", tc.rule, c.Notes)
				}
			})
		})
	}
}

func ruleIDs(rep *Report) []string {
	var ids []string
	for _, f := range rep.Findings {
		ids = append(ids, f.Rule)
	}
	return ids
}

func withSpec(text string, more func(*Options)) func(*testing.T, *Options, *httptest.Server) {
	return func(t *testing.T, o *Options, _ *httptest.Server) {
		o.OpenAPI = writeSpec(t, text)
		if more != nil {
			more(o)
		}
	}
}

func unsafeOK(_ *testing.T, o *Options, _ *httptest.Server) { o.AllowUnsafe = true }

// header wraps h, setting response headers before it runs.
func header(h http.Handler, kv ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Set(kv[i], kv[i+1])
		}
		h.ServeHTTP(w, r)
	})
}

// bare answers JSON without any security header.
func bare(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// protectedItems is items() behind a bearer-token check by v; admin scope
// checks on /api/admin/users when adminChecks.
func protectedItems(v verifier, adminChecks bool) http.Handler {
	mux := items()
	mux.HandleFunc("GET /api/admin/users", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, []map[string]any{{"id": 1, "name": "alice"}})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			claims, ok := v.claims(r)
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="test"`)
				problem(w, 401)
				return
			}
			if adminChecks && strings.HasPrefix(r.URL.Path, "/api/admin/") && !slices.Contains(strings.Fields(fmt.Sprint(claims["scope"])), "admin:users") {
				problem(w, 403)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

const specAdmin = `
  /api/admin/users:
    get:
      security: [{bearer: ["admin:users"]}]
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: array, items: {$ref: "#/components/schemas/Item"}}}}}
`

func ruleCases() []ruleCase {
	strict := verifier{}
	token := userToken("items:read")
	expired := mint(map[string]any{"sub": "alice", "scope": "items:read", "exp": time.Now().Add(-time.Hour).Unix()})
	withToken := func(tok string) func(*testing.T, *Options, *httptest.Server) {
		return withSpec(specItems(true), func(o *Options) { o.Token = tok })
	}
	trustCert := func(_ *testing.T, o *Options, srv *httptest.Server) {
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		o.RootCAs = pool
	}
	hsts := func(h http.Handler) http.Handler {
		return header(h, "Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	return []ruleCase{
		// Transport
		{name: "TLS 1.0 accepted", rule: "TLS002", severity: Medium, proof: "negotiated TLS 1.",
			vuln: hsts(items()), vulnTLS: func(c *tls.Config) { c.MinVersion = tls.VersionTLS10 },
			fixed: hsts(items()), fixedTLS: defaultTLS},
		{name: "TLS 1.2 at most", rule: "TLS003", severity: Low, proof: "requiring TLS 1.3 failed",
			vuln: hsts(items()), vulnTLS: func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 },
			fixed: hsts(items()), fixedTLS: defaultTLS},
		{name: "no HSTS over HTTPS", rule: "TLS004", severity: Low, proof: `Strict-Transport-Security ""`,
			vuln: items(), vulnTLS: defaultTLS, fixed: hsts(items()), fixedTLS: defaultTLS},
		{name: "self-signed certificate is info", rule: "TLS005", severity: Info, proof: "x509:",
			vuln: hsts(items()), vulnTLS: defaultTLS, fixed: hsts(items()), fixedTLS: defaultTLS, fixedOpts: trustCert},

		// Headers
		{name: "no nosniff", rule: "HDR001", severity: Low, proof: "without X-Content-Type-Options: nosniff",
			vuln: bare(200, `{"ok":true}`), fixed: items()},
		{name: "HTML page without frame protection", rule: "HDR002", severity: Medium, proof: "text/html",
			vuln: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Header().Set("X-Content-Type-Options", "nosniff")
				_, _ = w.Write([]byte("<html><body>Inventory console</body></html>"))
			}),
			fixed: items()},
		{name: "JSON without frame protection is info", rule: "HDR002", severity: Info, proof: "application/json",
			vuln: header(bare(200, `{"ok":true}`), "X-Content-Type-Options", "nosniff"), fixed: items()},
		{name: "authenticated response cacheable", rule: "HDR003", severity: Low, proof: "authenticated request",
			vuln: header(protectedItems(strict, true), "Cache-Control", "public, max-age=60"), fixed: protectedItems(strict, true),
			opts: withToken(token)},
		{name: "version banner", rule: "HDR004", severity: Low, proof: "Server: gunicorn/21.2.0",
			vuln:  header(items(), "Server", "gunicorn/21.2.0"),
			fixed: header(items(), "Server", "api")},
		{name: "X-Powered-By", rule: "HDR004", severity: Low, proof: "X-Powered-By: Express",
			vuln: header(items(), "X-Powered-By", "Express"), fixed: items()},

		// Error disclosure
		{name: "traceback for a quote", rule: "ERR001", severity: Medium, proof: "Traceback (most recent call last):",
			vuln: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.RawQuery, "%27") || strings.Contains(r.URL.Path, "'") {
					w.Header().Set("Content-Type", "text/plain")
					w.WriteHeader(500)
					_, _ = w.Write([]byte("Traceback (most recent call last):\n  File \"/srv/app.py\", line 12, in items\n    int(request.args['id'])\nValueError: invalid literal for int() with base 10\n"))
					return
				}
				items().ServeHTTP(w, r)
			}),
			fixed: items()},
		{name: "ORM error text", rule: "ERR002", severity: Medium, proof: "sqlalchemy.exc.OperationalError",
			vuln:  bare(500, `{"error":"sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) no such table: items"}`),
			fixed: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { problem(w, 500) })},
		{name: "quote breaks the SQL", rule: "ERR003", severity: High, proof: "You have an error in your SQL syntax",
			vuln: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if q := r.URL.Query().Get("q"); strings.Contains(q, "'") {
					writeJSON(w, 500, map[string]string{"error": "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near '\"' at line 1"})
					return
				}
				items().ServeHTTP(w, r)
			}),
			fixed: items(), opts: withSpec(specItems(false), nil)},
		{name: "database URL in a body", rule: "ERR004", severity: High, proof: "postgres://app:[REDACTED]@db.internal:5432/app",
			secret: "hunter2hunter2",
			vuln:   header(bare(200, `{"database":"postgres://app:hunter2hunter2@db.internal:5432/app"}`), "X-Content-Type-Options", "nosniff"),
			fixed:  header(bare(200, `{"database":"postgres://db.internal:5432/app"}`), "X-Content-Type-Options", "nosniff")},

		// CORS
		{name: "origin reflected", rule: "CORS001", severity: Medium, proof: "Access-Control-Allow-Origin: " + evilOrigin,
			vuln: corsAPI(func(o string) bool { return true }, false, ""), fixed: corsAPI(exact("https://app.example.com"), false, "")},
		{name: "null allowed", rule: "CORS002", severity: Medium, proof: "Origin: null",
			vuln: corsAPI(exact("https://app.example.com", "null"), false, ""), fixed: corsAPI(exact("https://app.example.com"), false, "")},
		{name: "credentials with reflection", rule: "CORS003", severity: High, proof: "Access-Control-Allow-Credentials: true",
			vuln: corsAPI(func(o string) bool { return true }, true, ""), fixed: corsAPI(exact("https://app.example.com"), true, "")},
		{name: "wildcard with credentials is low", rule: "CORS003", severity: Low, proof: "Access-Control-Allow-Origin: *",
			vuln:  header(items(), "Access-Control-Allow-Origin", "*", "Access-Control-Allow-Credentials", "true"),
			fixed: header(items(), "Access-Control-Allow-Origin", "*")},
		{name: "prefix look-alike of the target", rule: "CORS004", severity: Medium, proof: ".evil-rampart-scan.example",
			vuln:  corsAPI(func(o string) bool { return strings.HasPrefix(o, "http://127.0.0.1") }, false, ""),
			fixed: corsAPI(exact("http://127.0.0.1"), false, "")},
		{name: "suffix look-alike of the advertised origin", rule: "CORS004", severity: Medium, proof: "Origin: https://evilapp.example.com",
			vuln:  corsAPI(func(o string) bool { return strings.HasSuffix(o, "app.example.com") }, false, "https://app.example.com"),
			fixed: corsAPI(exact("https://app.example.com"), false, "https://app.example.com")},

		// Authentication
		{name: "secured operation open", rule: "AUTH001", severity: High, proof: "no credential sent → 200",
			vuln: items(), fixed: protectedItems(strict, true), opts: withSpec(specItems(true), nil)},
		{name: "alg none", rule: "AUTH002", severity: High, proof: `alg "none"`,
			vuln: protectedItems(verifier{allowNone: true}, true), fixed: protectedItems(strict, true), opts: withSpec(specItems(true), nil)},
		{name: "alg none on a path found without a document", rule: "AUTH002", severity: High, proof: `alg "none"`,
			vuln: protectedAdmin(verifier{allowNone: true}), fixed: protectedAdmin(strict)},
		{name: "signature stripped", rule: "AUTH003", severity: High, proof: "signature removed",
			vuln: protectedItems(verifier{skipSig: true}, true), fixed: protectedItems(strict, true), opts: withToken(token)},
		{name: "expired token", rule: "AUTH004", severity: High, proof: "--token as given: it expired",
			vuln: protectedItems(verifier{skipExp: true}, true), fixed: protectedItems(strict, true), opts: withToken(expired)},
		{name: "altered signature", rule: "AUTH005", severity: High, proof: "one bit of its signature flipped",
			vuln: protectedItems(verifier{skipSig: true}, true), fixed: protectedItems(strict, true), opts: withToken(token)},

		// Authorization
		{name: "admin operation with a user token", rule: "AUTHZ001", severity: High, proof: "admin:users",
			vuln: protectedItems(strict, false), fixed: protectedItems(strict, true),
			opts: withSpec(specItems(true)+specAdmin, func(o *Options) { o.Token = token })},

		// Resource consumption
		{name: "no limit, no headers", rule: "RATE001", severity: Medium, proof: "30 of 30 requests → 2xx",
			vuln: items(), fixed: header(items(), "RateLimit-Policy", `"default";q=100;w=60`, "RateLimit", `"default";r=99;t=60`)},
		{name: "429 after ten", rule: "RATE001", severity: Medium, proof: "no 429",
			vuln: items(), fixed: limited(items(), 10)},

		// Data exposure
		{name: "password hash returned", rule: "EXPO001", severity: High, proof: "password_hash",
			secret: "$2b$12$abcdefghijklmnopqrstuv",
			vuln: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/api/items" {
					writeJSON(w, 200, []map[string]any{{"id": 1, "name": "bolt", "password_hash": "$2b$12$abcdefghijklmnopqrstuv", "owner": map[string]any{"email": "a@example.com"}}})
					return
				}
				items().ServeHTTP(w, r)
			}),
			fixed: items(), opts: withSpec(specItems(false), nil)},
		{name: "mass assignment echoed", rule: "MASS001", severity: High, proof: "response echoes is_admin, role, rampart_scan_probe",
			vuln: usersAPI(false, true), fixed: usersAPI(true, true),
			opts: withSpec(specUsers, func(o *Options) { o.AllowUnsafe = true })},
		{name: "undeclared properties ignored silently is low", rule: "MASS001", severity: Low, proof: "with undeclared properties",
			vuln: usersAPI(false, false), fixed: usersAPI(true, false),
			opts: withSpec(specUsers, func(o *Options) { o.AllowUnsafe = true })},

		// Paths
		{name: "prefix guard and a normalizing router", rule: "PATH001", severity: High, proof: "→ 401; GET",
			vuln: pathGuard(false), fixed: pathGuard(true)},

		// Methods
		{name: "TRACE echoes", rule: "METH001", severity: Low, proof: "echoing the X-Rampart-Scan-Trace header",
			vuln: traceAPI(true), fixed: traceAPI(false), opts: unsafeOK},
		{name: "TRACE advertised is info", rule: "METH001", severity: Info, proof: "Allow: GET, HEAD, TRACE",
			vuln: traceAPI(true), fixed: traceAPI(false)},
		{name: "X-HTTP-Method-Override honoured", rule: "METH002", severity: Medium, proof: "X-HTTP-Method-Override: OPTIONS → 404",
			vuln: methodOverride(items()), fixed: items()},
		{name: "override only on POST", rule: "METH002", severity: Medium, proof: "POST with X-HTTP-Method-Override: GET → 200",
			vuln: postOverride(items()), fixed: items(), opts: unsafeOK},

		// Inventory
		{name: ".env exposed", rule: "INV001", severity: High, proof: "GET /.env → 200", secret: "pr0d-pa55word",
			vuln: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/.env" {
					w.Header().Set("Content-Type", "text/plain")
					_, _ = w.Write([]byte("APP_ENV=production\nDB_PASSWORD=pr0d-pa55word\n"))
					return
				}
				items().ServeHTTP(w, r)
			}),
			fixed: items()},
		{name: "single-page app answers every path", rule: "INV001", severity: Medium, proof: "GET /admin → 200",
			vuln: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/admin" {
					w.Header().Set("Content-Type", "text/html")
					_, _ = w.Write([]byte("<html>Admin dashboard</html>"))
					return
				}
				items().ServeHTTP(w, r)
			}),
			fixed: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = fmt.Fprintf(w, "<html><div id=app data-path=%q></div></html>", r.URL.Path)
			})},
	}
}

func exact(allowed ...string) func(string) bool {
	return func(o string) bool { return slices.Contains(allowed, o) }
}

// corsAPI is items() with a CORS policy: allow decides an Origin; creds adds
// Allow-Credentials; advertise, when set, is sent as ACAO on requests
// without an allowed Origin (a fixed-origin policy).
func corsAPI(allow func(string) bool, creds bool, advertise string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		if o := r.Header.Get("Origin"); o != "" && allow(o) {
			w.Header().Set("Access-Control-Allow-Origin", o)
			if creds {
				w.Header().Set("Access-Control-Allow-Credentials", "true")
			}
		} else if advertise != "" {
			w.Header().Set("Access-Control-Allow-Origin", advertise)
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(204)
			return
		}
		items().ServeHTTP(w, r)
	})
}

// limited answers 429 with Retry-After after n requests.
func limited(h http.Handler, n int64) http.Handler {
	var count atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) > n {
			w.Header().Set("Retry-After", "1")
			problem(w, 429)
			return
		}
		h.ServeHTTP(w, r)
	})
}

const specUsers = `openapi: 3.1.0
info: {title: users, version: "1"}
paths:
  /api/users:
    post:
      security: []
      requestBody:
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [name]
              properties: {name: {type: string, example: bob}}
      responses:
        "201": {description: created}
`

// usersAPI creates users from JSON. strict rejects unknown fields; echo
// returns the stored object (with whatever was bound).
func usersAPI(strict, echo bool) http.Handler {
	mux := items()
	mux.HandleFunc("POST /api/users", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&in); err != nil {
			problem(w, 400)
			return
		}
		for k := range in {
			if strict && k != "name" {
				problem(w, 400)
				return
			}
		}
		in["id"] = 7
		if !echo {
			in = map[string]any{"id": 7, "name": in["name"]}
		}
		writeJSON(w, 201, in)
	})
	return mux
}

// pathGuard protects /admin/ with a check on the raw path (vulnerable) or
// on the normalized path (fixed), in front of a router that decodes,
// cleans, drops ";params" and lower-cases — a parser differential.
func pathGuard(fixed bool) http.Handler {
	normalize := func(r *http.Request) string {
		p := r.URL.Path // decoded
		var segs []string
		for _, s := range strings.Split(p, "/") {
			s, _, _ = strings.Cut(s, ";")
			segs = append(segs, s)
		}
		return strings.ToLower(path.Clean("/" + strings.Join(segs, "/")))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checked := r.URL.EscapedPath()
		if fixed {
			checked = normalize(r)
		}
		if strings.HasPrefix(checked, "/admin") && r.Header.Get("Authorization") == "" {
			problem(w, 401)
			return
		}
		switch normalize(r) {
		case "/admin", "/admin/users":
			writeJSON(w, 200, []map[string]string{{"name": "root", "role": "admin"}})
		case "/api/items":
			writeJSON(w, 200, []map[string]any{{"id": 1}})
		case "/":
			writeJSON(w, 200, map[string]string{"links": "/api/items /admin/users"})
		default:
			problem(w, 404)
		}
	})
}

// protectedAdmin is items() with /admin behind a bearer token.
func protectedAdmin(v verifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin" {
			if _, ok := v.claims(r); !ok {
				problem(w, 401)
				return
			}
			writeJSON(w, 200, map[string]string{"admin": "dashboard"})
			return
		}
		items().ServeHTTP(w, r)
	})
}

func traceAPI(enabled bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodOptions:
			allow := "GET, HEAD"
			if enabled {
				allow += ", TRACE"
			}
			w.Header().Set("Allow", allow)
			w.WriteHeader(204)
		case http.MethodTrace:
			if !enabled {
				problem(w, 405)
				return
			}
			w.Header().Set("Content-Type", "message/http")
			_ = r.Write(w)
		default:
			items().ServeHTTP(w, r)
		}
	})
}

// methodOverride honours override headers on any method, like a careless middleware.
func methodOverride(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := r.Header.Get("X-HTTP-Method-Override"); m != "" {
			r.Method = strings.ToUpper(m)
		}
		h.ServeHTTP(w, r)
	})
}

// postOverride honours X-HTTP-Method-Override on POST only (Rails, Express's method-override).
func postOverride(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := r.Header.Get("X-HTTP-Method-Override"); m != "" && r.Method == http.MethodPost {
			r.Method = strings.ToUpper(m)
		}
		h.ServeHTTP(w, r)
	})
}
