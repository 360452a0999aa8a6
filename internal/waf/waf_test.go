package waf

import (
	"errors"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config/conf"
)

var (
	sharedOnce sync.Once
	shared     *Policy
	sharedErr  error
)

// pl1 is a block-mode policy at PL1, compiled once for the package's tests.
func pl1(t testing.TB) *Policy {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = New(Config{Name: "api", MaxBodyBytes: 1 << 20}) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func inspect(t testing.TB, p *Policy, method, target, contentType, body string) *Result {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.RequestURI = target
	r.Header.Set("User-Agent", "rampart-test/1.0")
	r.Header.Set("Accept", "application/json")
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	req := Request{HTTP: r, ID: "t1", Client: netip.MustParseAddr("192.0.2.1")}
	if body != "" {
		req.Body = strings.NewReader(body)
	}
	res, err := p.Inspect(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAttacksInJSONAndQueryAreBlocked(t *testing.T) {
	p := pl1(t)
	for _, tc := range []struct{ name, method, target, body string }{
		{"sqli in a JSON field", "POST", "/users", `{"name": "x' UNION SELECT password FROM users--"}`},
		{"xss in a JSON field", "POST", "/users", `{"bio": "<script>alert(document.cookie)</script>"}`},
		{"command injection in a JSON field", "POST", "/users", `{"host": "example.com; cat /etc/passwd"}`},
		{"sqli in the query", "GET", "/users?name=x%27%20UNION%20SELECT%20password%20FROM%20users--", ""},
		{"path traversal in the query", "GET", "/files?name=../../../../etc/passwd", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := ""
			if tc.body != "" {
				ct = "application/json"
			}
			res := inspect(t, p, tc.method, tc.target, ct, tc.body)
			if res == nil || !res.Blocked {
				t.Fatalf("not blocked: %+v", res)
			}
			if res.Score < 5 || len(res.Rules) == 0 || len(res.Variables) == 0 {
				t.Errorf("result lacks the evidence: %+v", res)
			}
			if strings.Contains(res.Error(), "password FROM") || strings.Contains(res.Error(), "/etc/passwd") {
				t.Errorf("the audit text carries the payload: %s", res.Error())
			}
		})
	}
}

func TestJSONFieldNamesAreVariables(t *testing.T) {
	res := inspect(t, pl1(t), "POST", "/users", "application/json", `{"user": {"name": "x' UNION SELECT password FROM users--"}}`)
	if res == nil || !slices.Contains(res.Variables, "ARGS:json.user.name") {
		t.Fatalf("variables = %+v, want ARGS:json.user.name (the JSON body processor ran)", res)
	}
}

func TestMalformedJSONIsRefused(t *testing.T) {
	res := inspect(t, pl1(t), "POST", "/users", "application/json", `{"name": "x' UNION SELECT`)
	if res == nil || !res.Blocked || !slices.Contains(res.Rules, 10003) {
		t.Fatalf("a body the JSON processor cannot parse passed: %+v", res)
	}
}

func TestLegitimateRequestsPass(t *testing.T) {
	res := inspect(t, pl1(t), "GET", "/users/42?limit=10", "", "")
	if res != nil {
		t.Fatalf("a plain GET matched: %+v", res)
	}
}

func TestExclusionsAreCheckedAgainstTheRuleSet(t *testing.T) {
	_, err := New(Config{Name: "api", ExcludeRules: []string{"942100", "123456"}, ExcludeTags: []string{"attack-sqli", "no-such-tag"},
		ExcludeTargets: []Target{{Rule: "941100", Target: "ARGS:json.html"}, {Rule: "999999", Target: "ARGS:x"}}})
	var fes []*conf.FieldError
	for _, e := range unwrapAll(err) {
		var fe *conf.FieldError
		if errors.As(e, &fe) {
			fes = append(fes, fe)
		}
	}
	want := map[string]int{"exclude_rules": 1, "exclude_tags": 1, "exclude_targets": 1}
	if len(fes) != 3 {
		t.Fatalf("errors = %v, want one per unknown id or tag", err)
	}
	for _, fe := range fes {
		if want[fe.Field] != fe.Index {
			t.Errorf("%s[%d]: %s (wrong entry)", fe.Field, fe.Index, fe.Msg)
		}
	}
}

func TestExcludeTargetLetsAFieldThrough(t *testing.T) {
	body := `{"html": "<script>alert(1)</script>"}`
	if res := inspect(t, pl1(t), "POST", "/pages", "application/json", body); res == nil || !res.Blocked {
		t.Fatal("the payload is not blocked without the exclusion; the test proves nothing")
	}
	p, err := New(Config{Name: "cms", ExcludeTargets: []Target{{Rule: "attack-xss", Target: "ARGS:json.html"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res := inspect(t, p, "POST", "/pages", "application/json", body); res != nil && res.Blocked {
		t.Fatalf("the excluded field was blocked: %+v", res)
	}
	if res := inspect(t, p, "POST", "/pages", "application/json", `{"title": "<script>alert(1)</script>"}`); res == nil || !res.Blocked {
		t.Fatal("the exclusion let other fields through")
	}
}

func TestRulesFileErrorsAtTheirLine(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "extra.conf")
	text := "# local rules\nSecRule ARGS \"@rx evil\" \"id:20001,phase:2,deny,status:403\"\n\nSecNoSuchDirective on\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{Name: "api", RulesFile: "extra.conf", BaseDir: dir})
	var fe *conf.FieldError
	if !errors.As(err, &fe) || fe.Field != "rules_file" || !strings.Contains(fe.Msg, "extra.conf:4:") {
		t.Fatalf("err = %v, want rules_file at extra.conf:4", err)
	}
}

func TestRulesFileRulesRun(t *testing.T) {
	dir := t.TempDir()
	text := "SecRule ARGS:json.coupon \"@streq FREE\" \\\n  \"id:20001,phase:2,deny,status:403,log,msg:'no free coupons'\"\n"
	if err := os.WriteFile(filepath.Join(dir, "extra.conf"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Name: "api", RulesFile: "extra.conf", BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	res := inspect(t, p, "POST", "/orders", "application/json", `{"coupon": "FREE"}`)
	if res == nil || !res.Blocked || !slices.Contains(res.Rules, 20001) {
		t.Fatalf("the extra rule did not refuse: %+v", res)
	}
}

func TestDetectModeReportsWithoutBlocking(t *testing.T) {
	p, err := New(Config{Name: "rollout", Mode: "detect"})
	if err != nil {
		t.Fatal(err)
	}
	res := inspect(t, p, "POST", "/users", "application/json", `{"name": "x' UNION SELECT password FROM users--"}`)
	if res == nil || !res.Blocked || res.Score < 5 {
		t.Fatalf("detect mode did not report what would be blocked: %+v", res)
	}
}

func TestExcerptIsShortAndRedacted(t *testing.T) {
	if got := excerpt("ARGS:json.card", "4111 1111 1111 1111 and more text here"); strings.ContainsAny(got, "0123456789") || len([]rune(got)) > excerptBytes+1 {
		t.Errorf("excerpt = %q", got)
	}
	if got := excerpt("REQUEST_HEADERS:authorization", "Bearer secret"); got != "" {
		t.Errorf("a header value was shown: %q", got)
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// BenchmarkInspect is the WAF alone at PL1: one Coraza transaction per
// request.
func BenchmarkInspect(b *testing.B) {
	p := pl1(b)
	body := `{"customer":{"name":"Siobhán O'Brien","email":"siobhan.obrien@example.ie"},"notes":"` + strings.Repeat("Please select the best option. ", 31) + `"}`
	for _, tc := range []struct{ name, method, body string }{{"GET", "GET", ""}, {"POST-1KiB-JSON", "POST", body}} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest(tc.method, "/api/items/42?expand=owner", nil)
			r.RequestURI = "/api/items/42?expand=owner"
			r.Header.Set("User-Agent", "bench/1.0")
			r.Header.Set("Accept", "application/json")
			if tc.body != "" {
				r.Header.Set("Content-Type", "application/json")
				r.ContentLength = int64(len(tc.body))
			}
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				req := Request{HTTP: r, ID: "b", Client: netip.MustParseAddr("192.0.2.1")}
				if tc.body != "" {
					req.Body = strings.NewReader(tc.body)
				}
				if res, err := p.Inspect(req); err != nil || res != nil {
					b.Fatalf("%+v %v", res, err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's CPU time (user and system). Benchmarks report
// it per operation beside ns/op, which on a shared machine measures the
// wait for a core as much as the work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCompile is the cost of compiling a PL1 policy (once per load;
// reloads that keep the policy reuse it).
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(Config{Name: "api"}); err != nil {
			b.Fatal(err)
		}
	}
}
