package scan

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// plantedFlaws maps each of the composite API's nine flaws to the rules
// that report it. A finding of any other rule is a false positive.
var plantedFlaws = []struct {
	flaw  string
	rules []string
}{
	{"SQL injection (masked errors)", []string{"ERR005", "ERR003"}},
	{"unauthorized password change", []string{"BOLA002"}},
	{"BOLA on books", []string{"BOLA001"}},
	{"mass assignment of admin", []string{"MASS002", "MASS001"}},
	{"passwords in a debug route", []string{"EXPO002"}},
	{"user enumeration", []string{"AUTH007"}},
	{"regular-expression DoS", []string{"DOS001"}},
	{"no rate limiting", []string{"RATE001"}},
	{"JWT signed with a weak key", []string{"AUTH006"}},
}

// vampiOptions is how a user scans it: two ordinary users' tokens, writes
// and slow probes allowed, and a budget.
func vampiOptions(v *vampi, url string) func(*Options) {
	return func(o *Options) {
		o.OpenAPI = "testdata/vampi.yaml"
		o.Token = v.token("name1")
		o.TokenB = v.token("name2")
		o.AllowUnsafe = true
		o.AllowSlow = true
		o.MaxRequests = 300
	}
}

// TestVampi is issue 19's acceptance: the composite vulnerable API scanned
// as a new user would scan it.
func TestVampi(t *testing.T) {
	v := newVampi(allVampiFlaws())
	srv := newServer(t, v)
	rep := run(t, srv.URL, vampiOptions(v, srv.URL))
	t.Logf("report:\n%s", text(t, rep))

	found := 0
	for _, p := range plantedFlaws {
		if slices.ContainsFunc(rep.Findings, func(f Finding) bool { return slices.Contains(p.rules, f.Rule) }) {
			found++
		} else {
			t.Logf("not found: %s (%v)", p.flaw, p.rules)
		}
	}
	if found < 8 {
		t.Errorf("found %d of %d planted flaws, want at least 8", found, len(plantedFlaws))
	}
	for _, f := range rep.Findings {
		if f.Rule == "TLS001" && f.Severity == Info {
			continue // plain HTTP on loopback: the test's transport, not the API
		}
		if !slices.ContainsFunc(plantedFlaws, func(p struct {
			flaw  string
			rules []string
		}) bool {
			return slices.Contains(p.rules, f.Rule)
		}) {
			t.Errorf("false positive: %s %s %s: %s", f.Rule, f.Method, f.Location, f.Message)
		}
	}
	calls := v.calls()
	if rep.Requests.Sent > 300 || len(calls) > 300 {
		t.Errorf("sent %d (server saw %d), budget 300", rep.Requests.Sent, len(calls))
	}
	for _, c := range calls {
		if strings.Contains(c, "/createdb") || strings.HasPrefix(c, "DELETE ") {
			t.Errorf("the scan called %s", c)
		}
	}
	if !slices.ContainsFunc(rep.Skipped, func(k SkippedOperation) bool { return k.Path == "/createdb" }) {
		t.Errorf("GET /createdb is not listed as skipped: %+v", rep.Skipped)
	}
	out := allOutputs(t, rep)
	for _, secret := range []string{"pass1", "pass2", "pass3", v.token("name1"), vampiWeakKey + `"`} {
		if strings.Contains(out, secret) {
			t.Errorf("%q appears in the report", secret)
		}
	}
	t.Logf("found %d of %d planted flaws with %d requests", found, len(plantedFlaws), rep.Requests.Sent)
}

// TestVampiFixed: the same API with every flaw fixed reports nothing.
func TestVampiFixed(t *testing.T) {
	v := newVampi(vampiFlaws{})
	srv := newServer(t, v)
	rep := run(t, srv.URL, vampiOptions(v, srv.URL))
	for _, f := range rep.Findings {
		if f.Rule == "TLS001" && f.Severity == Info {
			continue
		}
		t.Errorf("false positive on the fixed API: %s %s %s: %s", f.Rule, f.Method, f.Location, f.Message)
	}
}

func text(t *testing.T, rep *Report) string {
	t.Helper()
	var b strings.Builder
	if err := WriteText(&b, rep, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// vampiCases are the per-rule tests of the new rules: the composite API
// with only the rule's flaw planted, against the same API with none.
func vampiCases() []ruleCase {
	one := func(name, rule string, f vampiFlaws, proof string, sev Severity, secret string) ruleCase {
		vuln, fixed := newVampi(f), newVampi(vampiFlaws{})
		return ruleCase{name: name, rule: rule, vuln: vuln, fixed: fixed, proof: proof, severity: sev, secret: secret,
			opts:      func(_ *testing.T, o *Options, s *httptest.Server) { vampiOptions(vuln, s.URL)(o) },
			fixedOpts: func(_ *testing.T, o *Options, s *httptest.Server) { vampiOptions(fixed, s.URL)(o) }}
	}
	return []ruleCase{
		one("weak HMAC key", "AUTH006", vampiFlaws{weakKey: true}, "dictionary secret equals its signature", High, ""),
		one("login messages", "AUTH007", vampiFlaws{enumBody: true}, "Username does not exist", Medium, ""),
		one("login timing", "AUTH007", vampiFlaws{enumTiming: true}, "interleaved tries", Medium, ""),
		one("masked SQL error", "ERR005", vampiFlaws{sqli: true}, "one quote → 500; two quotes → 404", Medium, ""),
		one("debug route", "EXPO002", vampiFlaws{debug: true}, "[].password", High, "pass1"),
		one("admin on register", "MASS002", vampiFlaws{massAssign: true}, "admin set as sent", High, ""),
		one("books of others", "BOLA001", vampiFlaws{bola: true}, "same body as A's", High, "name1's secret"),
		one("password of others", "BOLA002", vampiFlaws{passwordChange: true}, "user B on A's object → 204", Medium, ""),
		one("backtracking e-mail regex", "DOS001", vampiFlaws{redos: true}, `"a"×24+"!"`, Medium, ""),
	}
}

// TestVampiCredentialLost: told to call /createdb, the scan deletes its own
// user; it notices, says so, and stops the authenticated checks instead of
// reporting what a dead token makes the API answer.
func TestVampiCredentialLost(t *testing.T) {
	v := newVampi(vampiFlaws{})
	srv := newServer(t, v)
	rep := run(t, srv.URL, func(o *Options) {
		vampiOptions(v, srv.URL)(o)
		o.Include = []string{"GET /createdb"}
	})
	if !slices.Contains(v.calls(), "GET /createdb") {
		t.Fatal("--include did not send GET /createdb")
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "credential stopped working") }) {
		t.Errorf("no note about the lost credential: %q", rep.Notes)
	}
	for _, f := range rep.Findings {
		if f.Severity >= Medium {
			t.Errorf("noise after the credential died: %s %s: %s", f.Rule, f.Location, f.Message)
		}
	}
	for _, c := range rep.Coverage {
		for _, n := range c.Notes {
			if strings.Contains(n, "refused") && strings.Contains(n, "token itself") {
				t.Errorf("%s: %s", c.Rule, n)
			}
		}
	}
}

// TestExcludeInclude: --exclude keeps an operation out; patterns parse.
func TestExcludeInclude(t *testing.T) {
	v := newVampi(vampiFlaws{})
	srv := newServer(t, v)
	rep := run(t, srv.URL, func(o *Options) {
		vampiOptions(v, srv.URL)(o)
		o.Exclude = []string{"/users/v1/**", "POST /books/*"}
	})
	for _, c := range v.calls() {
		if strings.HasPrefix(c, "GET /users/v1") && c != "GET /users/v1" || strings.HasPrefix(c, "POST /books/v1") {
			t.Errorf("excluded operation sent: %s", c)
		}
	}
	if !slices.ContainsFunc(rep.Skipped, func(k SkippedOperation) bool {
		return k.Path == "/users/v1/_debug" && strings.Contains(k.Reason, "--exclude")
	}) {
		t.Errorf("skipped = %+v", rep.Skipped)
	}
	if _, err := Run(t.Context(), Options{Target: srv.URL, Include: []string{"nonsense"}}); err == nil {
		t.Error("a pattern without a path was accepted")
	}
}
