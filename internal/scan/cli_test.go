package scan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/cli"
	"github.com/rampart-gw/rampart/internal/demoapp"
)

// cleanAPI is a well-behaved API: strict headers, a rate-limit policy
// advertised, no banners; its worst finding is plain HTTP on loopback (info).
func cleanAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		h.Set("RateLimit-Policy", `"default";q=100;w=60`)
		h.Set("Content-Type", "application/json")
		if r.URL.Path != "/" || r.Method != http.MethodGet {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":"not found"}`)
			return
		}
		// Echo the credential, to prove the report redacts it.
		fmt.Fprintf(w, `{"you":%q}`, r.Header.Get("Authorization"))
	})
}

func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), append([]string{"scan"}, args...), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}, &out, &errb)
	return code, out.String(), errb.String()
}

func TestScanCommand(t *testing.T) {
	clean := httptest.NewServer(cleanAPI())
	defer clean.Close()
	vuln := httptest.NewServer(demoapp.New())
	defer vuln.Close()
	dead := httptest.NewServer(cleanAPI())
	dead.Close()

	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		stdout   string // contains
		stderr   string // contains
		noStdout string // must not contain
	}{
		{name: "no target → usage, exit 2", args: nil, code: 2, stderr: "want exactly one target URL"},
		{name: "two targets → exit 2", args: []string{clean.URL, clean.URL}, code: 2, stderr: "got 2 arguments"},
		{name: "bad rate → exit 2", args: []string{clean.URL, "--rate", "fast"}, code: 2, stderr: "--rate"},
		{name: "rate above the cap → exit 2", args: []string{clean.URL, "--rate", "5000/s"}, code: 2, stderr: "at most 1000"},
		{name: "bad format → exit 2", args: []string{clean.URL, "--format", "xml"}, code: 2, stderr: "--format"},
		{name: "bad fail-on → exit 2", args: []string{clean.URL, "--fail-on", "critical"}, code: 2, stderr: "--fail-on"},
		{name: "bad timeout → exit 2", args: []string{clean.URL, "--timeout", "0s"}, code: 2, stderr: "--timeout"},
		{name: "unknown flag → exit 2", args: []string{clean.URL, "--frobnicate"}, code: 2},
		{name: "not a URL → exit 2", args: []string{"ftp://example.com"}, code: 2, stderr: "http:// or https://"},
		{name: "unreachable → exit 2", args: []string{dead.URL}, code: 2, stderr: "cannot reach"},
		{name: "missing OpenAPI file → exit 2", args: []string{clean.URL, "--openapi", "/nonexistent.yaml"}, code: 2, stderr: "openapi"},
		{name: "help → exit 0", args: []string{"-h"}, code: 0, stderr: "Exit status"},
		{name: "clean target → exit 0", args: []string{clean.URL, "--rate", "1000/s"}, code: 0,
			stdout: "result: passes --fail-on medium"},
		{name: "vulnerable target → exit 1", args: []string{vuln.URL, "--openapi", "testdata/inventory.yaml", "--rate", "1000/s"}, code: 1,
			stdout: "result: fails --fail-on medium"},
		{name: "--fail-on info makes the clean target fail", args: []string{clean.URL, "--rate", "1000/s", "--fail-on", "info"}, code: 1},
		{name: "flags after the URL; JSON on stdout, verdict on stderr", args: []string{vuln.URL, "--format", "json", "--rate", "1000/s", "--fail-on", "high", "--openapi", "testdata/inventory.yaml"},
			code: 1, stdout: `"rule": "ERR004"`, stderr: "fails --fail-on high"},
		{name: "SARIF", args: []string{"--format=sarif", "--rate=1000/s", clean.URL}, code: 0, stdout: `"version": "2.1.0"`},
		{name: "token from the environment is used and redacted", args: []string{clean.URL, "--rate", "1000/s", "--format", "json", "--fail-on", "high"},
			env: map[string]string{"RAMPART_SCAN_TOKEN": "env-token-0123456789abcdef"}, code: 0, noStdout: "env-token-0123456789abcdef",
			stdout: "\"rule\": \"HDR003\",\n      \"status\": \"tested\""}, // HDR003 runs only with a credential
		{name: "bad --include → exit 2", args: []string{clean.URL, "--include", "createdb"}, code: 2, stderr: "--include/--exclude"},
		{name: "bad --exclude → exit 2", args: []string{clean.URL, "--exclude", "GET users"}, code: 2, stderr: "--include/--exclude"},
		{name: "second token from the environment is redacted", args: []string{clean.URL, "--rate", "1000/s", "--format", "json", "--fail-on", "high",
			"--exclude", "/nothing", "--exclude", "GET /other/**", "--allow-slow"},
			env: map[string]string{"RAMPART_SCAN_TOKEN": "env-token-0123456789abcdef", "RAMPART_SCAN_TOKEN_B": "env-token-b-0123456789abcdef"}, code: 0,
			noStdout: "env-token-b-0123456789abcdef", stdout: "\"rule\": \"BOLA001\",\n      \"status\": \"skipped\""},
		{name: "no colour when stdout is not a terminal", args: []string{vuln.URL, "--rate", "1000/s", "--openapi", "testdata/inventory.yaml"}, code: 1, noStdout: "\x1b["},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.env, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			if !strings.Contains(out, tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, out)
			}
			if !strings.Contains(errs, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, errs)
			}
			if tc.noStdout != "" && strings.Contains(out, tc.noStdout) {
				t.Errorf("stdout contains %q", tc.noStdout)
			}
			if strings.Contains(strings.Join(tc.args, " "), "--format json") && code != 2 {
				var v map[string]any
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Errorf("stdout is not one JSON document: %v", err)
				}
			}
		})
	}
}
