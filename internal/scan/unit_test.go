package scan

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		bad  bool
	}{
		{in: "10", want: 10}, {in: "10/s", want: 10}, {in: " 2.5/sec ", want: 2.5}, {in: "600/m", want: 10},
		{in: "600/min", want: 10}, {in: "3600/h", want: 1}, {in: "1000/s", want: 1000}, {in: "30/minute", want: 0.5},
		{in: "", bad: true}, {in: "0/s", bad: true}, {in: "-5/s", bad: true}, {in: "1001/s", bad: true},
		{in: "10/d", bad: true}, {in: "NaN/s", bad: true}, {in: "Inf", bad: true}, {in: "1e400", bad: true},
		{in: "0.1/h", bad: true}, {in: "10 per second", bad: true}, {in: "/s", bad: true}, {in: "+5", bad: true},
	} {
		got, err := ParseRate(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseRate(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestBucketSpacesRequests(t *testing.T) {
	now := time.Unix(0, 0)
	var slept []time.Duration
	b := newBucket(10, 1)
	b.now = func() time.Time { return now }
	b.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); now = now.Add(d); return nil }
	for range 5 {
		if err := b.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := now.Sub(time.Unix(0, 0)); got < 400*time.Millisecond || got > 401*time.Millisecond {
		t.Errorf("5 requests at 10/s took %v of clock, want 400ms (first free, then 100ms apart); sleeps %v", got, slept)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.sleep = sleepCtx
	b.now = time.Now
	b.last = time.Now()
	b.tokens = 0
	if err := b.wait(ctx); err == nil {
		t.Error("wait on a cancelled context returned nil")
	}
}

func TestParseOpenAPI(t *testing.T) {
	t.Run("YAML 3.1 with refs, integer status keys and security inheritance", func(t *testing.T) {
		api, err := ParseOpenAPI([]byte(`openapi: 3.1.0
servers: [{url: "https://api.example.com/v1/"}]
security: [{oauth: [items:read]}]
components:
  securitySchemes:
    oauth: {type: oauth2, flows: {}}
    key: {type: apiKey, in: header, name: X-Key}
  parameters:
    id: {name: id, in: path, required: true, schema: {type: integer}}
  schemas:
    Node:
      type: object
      properties:
        children: {type: array, items: {$ref: "#/components/schemas/Node"}}
    Loop: {$ref: "#/components/schemas/Loop"}
    Ext: {$ref: "other.yaml#/Thing"}
paths:
  /nodes/{id}:
    parameters: [{$ref: "#/components/parameters/id"}]
    get:
      responses:
        200: {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Node"}}}}
        default: {description: err, content: {application/problem+json: {schema: {$ref: "#/components/schemas/Loop"}}}}
    delete:
      security: [{key: []}]
      responses: {"204": {description: gone}}
  /public:
    get:
      security: []
      responses: {"200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Ext"}}}}}
`))
		if err != nil {
			t.Fatal(err)
		}
		if api.ServerPath != "/v1" || len(api.Operations) != 3 {
			t.Fatalf("server path %q, %d operations", api.ServerPath, len(api.Operations))
		}
		get, del, pub := api.Operations[0], api.Operations[1], api.Operations[2]
		if get.Method != "GET" || !get.Secured() || get.Security[0]["oauth"][0] != "items:read" {
			t.Errorf("GET /nodes/{id} security = %v (want the global oauth requirement)", get.Security)
		}
		if del.Method != "DELETE" || !del.Secured() || len(del.Security[0]["key"]) != 0 {
			t.Errorf("DELETE security = %v", del.Security)
		}
		if pub.Secured() {
			t.Errorf("security: [] must make the operation public")
		}
		if len(get.Params) != 1 || get.Params[0].Name != "id" || !get.Params[0].Required {
			t.Errorf("path-level $ref parameter not inherited: %+v", get.Params)
		}
		node := get.Responses["200"]
		if node == nil || node.Properties["children"].Items != node {
			t.Errorf("recursive schema not shared: %+v", node)
		}
		if loop := get.Responses["DEFAULT"]; loop == nil || !loop.Unknown {
			t.Errorf("a $ref cycle must be an unknown schema, got %+v", loop)
		}
		if ext := pub.Responses["200"]; ext == nil || !ext.Unknown {
			t.Errorf("an external $ref must be an unknown schema, got %+v", ext)
		}
		if api.Schemes["key"].Name != "X-Key" || api.Schemes["key"].In != "header" {
			t.Errorf("apiKey scheme = %+v", api.Schemes["key"])
		}
	})
	t.Run("JSON 3.0", func(t *testing.T) {
		api, err := ParseOpenAPI([]byte(`{"openapi":"3.0.3","paths":{"/a":{"post":{"requestBody":{"content":{"application/json":{"schema":{"type":"object","properties":{"n":{"type":"string"}},"additionalProperties":false}}}},"responses":{"201":{"description":"x"}}}}}}`))
		if err != nil {
			t.Fatal(err)
		}
		if op := api.Operations[0]; op.Body == nil || op.Body.Properties["n"] == nil || op.Body.AdditionalOK {
			t.Errorf("request body schema = %+v", op.Body)
		}
	})
	for _, bad := range []struct{ name, doc string }{
		{"swagger 2", `{"swagger":"2.0","paths":{}}`},
		{"openapi 4", `openapi: 4.0.0`},
		{"not an object", `[1,2]`},
		{"empty", ``},
		{"broken JSON", `{"openapi":`},
		{"non-scalar key", "openapi: 3.0.0\n? [a]\n: b\n"},
		{"alias bomb", "openapi: 3.0.0\na: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"},
		{"deep JSON", strings.Repeat("[", 500) + strings.Repeat("]", 500)},
	} {
		t.Run("refused: "+bad.name, func(t *testing.T) {
			if _, err := ParseOpenAPI([]byte(bad.doc)); err == nil {
				t.Error("want an error")
			}
		})
	}
}

func TestRedactor(t *testing.T) {
	token := userToken("x")
	r := newRedactor(token, "key-0123456789")
	for _, tc := range []struct{ in, gone, keep string }{
		{"postgresql://inventory:S3cr3t@db:5432/x", "S3cr3t", "postgresql://inventory:[REDACTED]@db"},
		{"Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop", "Bearer [REDACTED]"},
		{"echo " + token, token, Redacted},
		{"X-API-Key: key-0123456789", "key-0123456789", ""},
		{`{"access_token": "tok123456"}`, "tok123456", `"access_token": "[REDACTED]"`},
		{"DB_PASSWORD=hunter2\nDEBUG=1", "hunter2", "DEBUG=1"},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow", "PRIVATE KEY-----"},
		{"key AKIAABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOP", "AKIA[REDACTED]"},
		{"Access-Control-Allow-Credentials: true", "", "Credentials: true"},
	} {
		got := r.text(tc.in)
		if tc.gone != "" && strings.Contains(got, tc.gone) || !strings.Contains(got, tc.keep) {
			t.Errorf("text(%q) = %q", tc.in, got)
		}
	}
	if got := r.url("http://h/x?access_token=abc&page=2&api_key=k"); got != "http://h/x?access_token=[REDACTED]&page=2&api_key=[REDACTED]" {
		t.Errorf("url = %q", got)
	}
	for _, tc := range []struct{ name, value, want string }{
		{"Authorization", "Bearer xyz", "Bearer [REDACTED]"},
		{"Cookie", "a=1; b=2", "a=[REDACTED]; b=[REDACTED]"},
		{"Set-Cookie", "sid=abc; Path=/; HttpOnly", "sid=[REDACTED]; Path=/; HttpOnly"},
		{"X-Custom-Key", "v", "[REDACTED]"},
		{"Content-Type", "application/json", "application/json"},
	} {
		if got := r.header(tc.name, tc.value, "X-Custom-Key"); got != tc.want {
			t.Errorf("header(%s: %s) = %q, want %q", tc.name, tc.value, got, tc.want)
		}
	}
}

func TestForgeTokens(t *testing.T) {
	now := time.Now()
	valid, _ := parseJWT(userToken("items:read"))
	byRule := map[string][]forged{}
	for _, f := range forgeTokens(valid, now) {
		byRule[f.rule] = append(byRule[f.rule], f)
	}
	if len(byRule["AUTH002"]) != 3 {
		t.Fatalf("alg none variants = %d, want none/None/NONE", len(byRule["AUTH002"]))
	}
	for _, f := range byRule["AUTH002"] {
		j, err := parseJWT(f.token)
		if err != nil || !strings.EqualFold(str(j.header["alg"]), "none") || j.signature != "" {
			t.Errorf("alg none token %q: %v %v", f.token, j, err)
		}
	}
	if f := byRule["AUTH003"][0]; !strings.HasSuffix(f.token, ".") || !strings.HasPrefix(f.token, valid.rawHeader+"."+valid.rawClaims) {
		t.Errorf("stripped token = %q", f.token)
	}
	exp := byRule["AUTH004"][0]
	if j, _ := parseJWT(exp.token); !isExpired(j, now) {
		t.Errorf("expiry probe is not expired: %v", j.claims)
	}
	alt := byRule["AUTH005"][0]
	a, _ := parseJWT(alt.token)
	s1, _ := b64.DecodeString(a.signature)
	s2, _ := b64.DecodeString(valid.signature)
	if len(s1) != len(s2) || string(s1) == string(s2) {
		t.Errorf("altered signature decodes to the same bytes (a padding-bit change would be a false positive)")
	}
	expired, _ := parseJWT(mint(map[string]any{"sub": "a", "exp": now.Add(-time.Minute).Unix()}))
	fs := forgeTokens(expired, now)
	for _, f := range fs {
		if f.rule == "AUTH004" && !strings.Contains(f.note, "--token as given") {
			t.Errorf("an expired --token must be sent as is: %q", f.note)
		}
		if f.rule == "AUTH005" {
			t.Error("no altered-signature probe from an expired token")
		}
	}
	if len(forgeTokens(nil, now)) != 5 {
		t.Errorf("without --token: want 3 alg none, stripped and expired probes")
	}
	for _, bad := range []string{"", "a.b", "a.b.c", "e30.e30", strings.Repeat("a", 20000)} {
		if _, err := parseJWT(bad); err == nil {
			t.Errorf("parseJWT(%q) accepted", bad)
		}
	}
}

// recorder counts requests and methods at a target.
type recorder struct {
	mu      sync.Mutex
	methods map[string]int
	total   int
	times   []time.Time
}

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		if r.methods == nil {
			r.methods = map[string]int{}
		}
		r.methods[req.Method]++
		r.total++
		r.times = append(r.times, time.Now())
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	})
}

func TestSafety(t *testing.T) {
	t.Run("only GET, HEAD and OPTIONS without --allow-unsafe", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, rec.wrap(vulnAPI()))
		run(t, srv.URL, func(o *Options) { o.OpenAPI = "testdata/vulnapi.yaml"; o.Token = goldenToken })
		for m := range rec.methods {
			if m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions {
				t.Errorf("sent %d %s requests", rec.methods[m], m)
			}
		}
	})
	t.Run("never DELETE, even with --allow-unsafe", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, rec.wrap(vulnAPI()))
		spec := writeSpec(t, `openapi: 3.0.0
paths:
  /api/items/{id}:
    delete: {security: [{k: []}], responses: {"204": {description: x}}}
components: {securitySchemes: {k: {type: apiKey, in: header, name: K}}}
`)
		run(t, srv.URL, func(o *Options) { o.OpenAPI = spec; o.AllowUnsafe = true })
		if rec.methods[http.MethodDelete] > 0 {
			t.Error("DELETE was sent")
		}
	})
	t.Run("budget is a hard cap", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, rec.wrap(vulnAPI()))
		rep := run(t, srv.URL, func(o *Options) { o.OpenAPI = "testdata/vulnapi.yaml"; o.MaxRequests = 25 })
		if rec.total > 25 || rep.Requests.Sent > 25 {
			t.Errorf("target saw %d requests, report says %d; budget 25", rec.total, rep.Requests.Sent)
		}
		if !strings.Contains(strings.Join(rep.Notes, "\n"), "budget") {
			t.Errorf("no note about the exhausted budget: %v", rep.Notes)
		}
		skipped := 0
		for _, c := range rep.Coverage {
			if c.Status == Skipped {
				skipped++
			}
		}
		if skipped == 0 {
			t.Error("a cut-short scan must say what was not tested")
		}
	})
	t.Run("a budget of one request still scans the target URL", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, rec.wrap(items()))
		rep := run(t, srv.URL, func(o *Options) { o.MaxRequests = 1 })
		if rec.total != 1 || rep.Requests.Sent != 1 {
			t.Errorf("target saw %d requests, report %d", rec.total, rep.Requests.Sent)
		}
	})
	t.Run("rate cap", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, rec.wrap(items()))
		start := time.Now()
		run(t, srv.URL, func(o *Options) { o.Rate = 20; o.MaxRequests = 11; o.Burst = 2 })
		// 11 requests at 20/s: the first is free, then 50ms apart.
		if d := time.Since(start); d < 450*time.Millisecond {
			t.Errorf("%d requests took %v at 20/s", rec.total, d)
		}
		for i := 1; i < len(rec.times); i++ {
			if gap := rec.times[i].Sub(rec.times[i-1]); gap < 40*time.Millisecond {
				t.Errorf("requests %d and %d were %v apart (cap 20/s)", i, i+1, gap)
			}
		}
	})
	t.Run("redirects to another host are not followed", func(t *testing.T) {
		other := &recorder{}
		elsewhere := newServer(t, other.wrap(items()))
		srv := newServer(t, http.RedirectHandler(elsewhere.URL+"/", http.StatusFound))
		rep := run(t, srv.URL, nil)
		if other.total > 0 {
			t.Errorf("the other host received %d requests", other.total)
		}
		if !strings.Contains(strings.Join(rep.Notes, "\n"), "redirects to another host") {
			t.Errorf("notes = %v", rep.Notes)
		}
	})
	t.Run("unreachable target is an error", func(t *testing.T) {
		srv := httptest.NewServer(items())
		srv.Close()
		if _, err := Run(context.Background(), Options{Target: srv.URL, Timeout: time.Second}); err == nil || !strings.Contains(err.Error(), "cannot reach") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("timeout per request", func(t *testing.T) {
		block := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
		defer srv.Close()
		defer close(block)
		start := time.Now()
		_, err := Run(context.Background(), Options{Target: srv.URL, Timeout: 200 * time.Millisecond})
		if err == nil || time.Since(start) > 3*time.Second {
			t.Errorf("err = %v after %v", err, time.Since(start))
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, o := range []Options{{Target: "ftp://x"}, {Target: "http://u:p@h/"}, {Target: "http://h/#f"}, {Target: "/relative"},
			{Target: "http://h", APIKeyHeader: "bad header"}, {Target: "http://h", Token: "a\nb"}, {Target: "http://h", MaxRequests: -1}} {
			if _, err := Run(context.Background(), o); err == nil {
				t.Errorf("Run(%+v) accepted", o)
			}
		}
		if _, err := Run(context.Background(), Options{Target: "http://u:secretpw@h/"}); err == nil || strings.Contains(err.Error(), "secretpw") {
			t.Errorf("credentials in the URL must be refused without echoing them: %v", err)
		}
	})
}

func TestTLS001(t *testing.T) {
	t.Run("http redirecting to https on the same host → scanned over https, no finding", func(t *testing.T) {
		tlsSrv := start(t, header(items(), "Strict-Transport-Security", "max-age=63072000"), defaultTLS)
		plain := newServer(t, http.RedirectHandler(tlsSrv.URL+"/", http.StatusPermanentRedirect))
		rep := run(t, plain.URL, nil)
		if got := findingsOf(rep, "TLS001"); len(got) > 0 {
			t.Errorf("TLS001 fired: %+v", got)
		}
		if !strings.HasPrefix(rep.Target, "https://") || coverageOf(rep, "TLS001").Status == Skipped {
			t.Errorf("target %s, coverage %+v", rep.Target, coverageOf(rep, "TLS001"))
		}
		if len(findingsOf(rep, "TLS005")) != 1 {
			t.Errorf("the test certificate is self-signed: want TLS005 info")
		}
	})
	t.Run("plain HTTP to a non-loopback host is high", func(t *testing.T) {
		s := &scanner{seen: map[string]bool{}, red: newRedactor(), rep: &Report{}}
		ex := &exchange{req: &request{method: "GET", target: "/"}, url: "http://api.example.com/", status: 200, header: http.Header{}}
		s.plainHTTP(ex, "plain")
		if len(s.rep.Findings) != 1 || s.rep.Findings[0].Severity != High {
			t.Fatalf("findings = %+v", s.rep.Findings)
		}
	})
	for host, want := range map[string]bool{"127.0.0.1": true, "127.8.9.1": true, "::1": true, "[::1]": true, "localhost": true,
		"LOCALHOST.": true, "api.localhost": true, "10.0.0.1": false, "example.com": false, "localhost.example.com": false, "": false} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v", host, got)
		}
	}
}

// TestSARIFStructure checks the golden SARIF against the 2.1.0 shape
// code-scanning services require.
func TestSARIFStructure(t *testing.T) {
	b, err := os.ReadFile("testdata/golden/vulnapi.sarif")
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name, Version, InformationURI string
					Rules                         []struct {
						ID, Name                                string
						ShortDescription, FullDescription, Help struct{ Text string }
						Properties                              struct {
							Tags             []string
							SecuritySeverity string `json:"security-severity"`
						}
					}
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct{ ArtifactLocation struct{ URI string } }
				}
			}
		}
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || !strings.Contains(log.Schema, "sarif") || len(log.Runs) != 1 {
		t.Fatalf("version %q schema %q runs %d", log.Version, log.Schema, len(log.Runs))
	}
	d := log.Runs[0].Tool.Driver
	if d.Name == "" || d.Version == "" || d.InformationURI == "" || len(d.Rules) != len(Rules) {
		t.Errorf("driver = %+v", d)
	}
	ids := map[string]int{}
	for i, r := range d.Rules {
		ids[r.ID] = i
		if r.Name == "" || r.ShortDescription.Text == "" || r.FullDescription.Text == "" || r.Help.Text == "" ||
			len(r.Properties.Tags) == 0 || r.Properties.SecuritySeverity == "" {
			t.Errorf("rule %s incomplete: %+v", r.ID, r)
		}
	}
	if len(log.Runs[0].Results) == 0 {
		t.Fatal("no results")
	}
	for _, res := range log.Runs[0].Results {
		i, ok := ids[res.RuleID]
		if !ok || i != res.RuleIndex {
			t.Errorf("result rule %s index %d (rules[%d])", res.RuleID, res.RuleIndex, i)
		}
		if res.Level != "error" && res.Level != "warning" && res.Level != "note" && res.Level != "none" {
			t.Errorf("level %q", res.Level)
		}
		if res.Message.Text == "" || len(res.Locations) != 1 || !strings.HasPrefix(res.Locations[0].PhysicalLocation.ArtifactLocation.URI, "http") {
			t.Errorf("result %s: message %q locations %+v", res.RuleID, res.Message.Text, res.Locations)
		}
	}
}

func TestSeverity(t *testing.T) {
	for _, s := range []Severity{Info, Low, Medium, High} {
		got, err := ParseSeverity(strings.ToUpper(s.String()))
		if err != nil || got != s {
			t.Errorf("round trip %s: %v %v", s, got, err)
		}
	}
	if _, err := ParseSeverity("critical"); err == nil {
		t.Error("critical accepted")
	}
	rep := &Report{Findings: []Finding{{Severity: Low}, {Severity: Medium}}}
	rep.finish()
	if !rep.Fails(Medium) || rep.Fails(High) || rep.Summary.Medium != 1 || rep.Summary.Low != 1 {
		t.Errorf("fails/summary wrong: %+v", rep.Summary)
	}
}

func TestRulesCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules {
		if r.ID == "" || r.Name == "" || r.Title == "" || r.Description == "" || r.Remediation == "" || r.Rampart == "" || r.CWE == 0 {
			t.Errorf("rule %s incomplete", r.ID)
		}
		if owaspTitles[r.OWASP] == "" {
			t.Errorf("rule %s: unknown OWASP category %q", r.ID, r.OWASP)
		}
		if seen[r.Name] {
			t.Errorf("duplicate name %s", r.Name)
		}
		seen[r.Name] = true
	}
}

func TestDestructiveWord(t *testing.T) {
	for _, c := range []struct {
		method, text, want string
	}{
		{"GET", "/createdb", "createdb"},
		{"GET", "/create_db", "create"}, // a GET that creates
		{"GET", "createDB", "create"},
		{"GET", "/api/resetDatabase", "reset"},
		{"GET", "/users/v1/{username}", ""},
		{"GET", "/api/admin/users", ""}, // an admin read is AUTHZ001's business
		{"POST", "/api/admin/users", "admin"},
		{"GET", "/items/create", "create"},
		{"POST", "/books/v1", ""},
		{"POST", "createBook", "create"},
		{"GET", "/auth/logout", "logout"},
		{"GET", "/cache/flush", "flush"},
		{"GET", "/dropdown-options", ""}, // not "drop"
		{"GET", "/seedling", ""},
		{"GET", "/settings", ""},
		{"PUT", "/users/{id}/password", ""},
	} {
		if got := destructiveWord(c.method, c.text); got != c.want {
			t.Errorf("destructiveWord(%s, %q) = %q, want %q", c.method, c.text, got, c.want)
		}
	}
}

func TestOpPattern(t *testing.T) {
	for _, c := range []struct {
		pattern, method, path string
		want                  bool
	}{
		{"GET /createdb", "GET", "/createdb", true},
		{"GET /createdb", "POST", "/createdb", false},
		{"/createdb", "POST", "/createdb", true},
		{"* /users/*/password", "PUT", "/users/{username}/password", true},
		{"/users/*", "GET", "/users/a/b", false},
		{"/users/**", "GET", "/users/a/b", true},
		{"/users/**", "GET", "/users", false},
		{"/a.b", "GET", "/aXb", false}, // dots are literal
	} {
		p, err := ParseOpPattern(c.pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		if got := p.Match(c.method, c.path); got != c.want {
			t.Errorf("%q.Match(%s %s) = %v, want %v", c.pattern, c.method, c.path, got, c.want)
		}
	}
	for _, bad := range []string{"", "GET", "GET users", "G(T /x"} {
		if _, err := ParseOpPattern(bad); err == nil {
			t.Errorf("ParseOpPattern(%q) accepted", bad)
		}
	}
}

func TestSecretKind(t *testing.T) {
	for _, c := range []struct {
		key, value string
		auth       bool
		want       bool
	}{
		{"password", "pass1", false, true},
		{"password", "********", false, false},
		{"password", "", false, false},
		{"password_changed_at", "2024-01-01", false, false},
		{"db_password", "x1", false, true},
		{"hash", "5f4dcc3b5aa765d61d8327deb882cf99", false, true},
		{"anything", "$2b$12$KIXQJ6b1b8dY0bB0P5y0Ve8Jq0d1Zl0m9bC0aYh1sQ2dE3fG4hI5K", false, true},
		{"digest", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", false, true},
		{"auth_token", "abc.def.ghi", true, false}, // a login answer
		{"auth_token", "abc.def.ghi", false, true},
		{"next_token", "page-2", false, false}, // pagination
		{"secret", "a user's note", false, false},
		{"name", "5f4dcc3b5aa765d61d8327deb882cf99", false, false},
	} {
		if got := secretKind(c.key, c.value, c.auth, nil) != ""; got != c.want {
			t.Errorf("secretKind(%q, %q, auth=%v) = %v, want %v", c.key, c.value, c.auth, got, c.want)
		}
	}
}
