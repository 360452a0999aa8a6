package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testEnv is the environment the testdata files are loaded with. Every value is
// treated as secret: none may appear in any error message.
var testEnv = map[string]string{
	"RAMPART_ADMIN_TOKEN": "q8Vt3Lw0Zp5Nc2Rm7Xh4Jb9Ky1Fd6Gs0Tn",
	"INTROSPECT_SECRET":   "Hk2Wq9Zr4Tm7Lp1Xv6Nb3Jc8Yd5Fs0Gu",
	"JWT_SECRET":          "tooShortSecret9",
	"ADMIN_LISTEN":        "127.0.0.1:9901",
	"BODY_LIMIT":          "2MiB",
	"UPSTREAM_HOST":       "10.1.2.3",
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func testdataInputs(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"testdata/*.yaml", "testdata/*.json"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no testdata inputs")
	}
	return files
}

// TestGolden loads every testdata input and compares the exact output (every error
// with its position, or "ok") with the input's .golden file. Run with -update to
// rewrite the golden files after an intended change, then review the diff.
func TestGolden(t *testing.T) {
	for _, in := range testdataInputs(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			cfg, err := Load(in, lookup(testEnv))
			got := "ok\n"
			if err != nil {
				var es Errors
				if !errors.As(err, &es) {
					t.Fatalf("Load returned %T, want Errors: %v", err, err)
				}
				if cfg != nil {
					t.Errorf("Load returned a config together with errors")
				}
				checkErrors(t, in, es)
				got = err.Error() + "\n"
			} else if cfg == nil {
				t.Fatal("Load returned neither config nor error")
			}
			golden := in + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (run with -update after checking):\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// checkErrors asserts the invariants every error list must hold: the file is set,
// positions are 1-based, the list is sorted, and no environment value leaked.
func checkErrors(t *testing.T, file string, es Errors) {
	t.Helper()
	if len(es) == 0 {
		t.Fatal("empty Errors returned as an error")
	}
	for i, e := range es {
		if e.File != file || e.Line < 1 || e.Col < 1 || e.Msg == "" {
			t.Errorf("bad error %#v", e)
		}
		if i > 0 && (es[i-1].Line > e.Line || es[i-1].Line == e.Line && es[i-1].Col > e.Col) {
			t.Errorf("errors not sorted: %v before %v", es[i-1], e)
		}
	}
	text := es.Error()
	for k, v := range testEnv {
		if strings.Contains(text, v) {
			t.Errorf("value of %s leaked into error text:\n%s", k, text)
		}
	}
}

// TestManyErrorsAllReported proves that one file with many problems yields every one
// of them, each at the right position, in one run.
func TestManyErrorsAllReported(t *testing.T) {
	_, err := Load("testdata/many_errors.yaml", lookup(testEnv))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want Errors, got %v", err)
	}
	// A sample across every section; the golden file pins the full list.
	want := []string{
		"1:10: version must be 1",
		"3:11: server: listen must be host:port",
		`4:3: unknown key "max_body_byte" in server`,
		"6:17: server: read_timeout must be a duration with a unit",
		"13:10: admin: token is a well-known placeholder",
		"20:15: upstream \"inventory\": target has a path, but path prefixes are not supported yet",
		`27:32: authenticator "sso": algorithm "none" is never accepted`,
		`29:5: authenticator "sso": "header" is not a jwt field`,
		`32:98: authenticator "intro": client_secret: environment variable "MISSING_SECRET" is not set`,
		`36:26: cors "web": allow_origins "*" cannot be combined with allow_credentials: true`,
		`40:5: route "items": auth is required; write auth: none for a public route`,
		`42:15: route "items": method "get" must be upper case (methods are case-sensitive); did you mean "GET"?`,
		`45:11: route "items": name "items" is already used by the route at line 40`,
		`58:11: route "pub": host must be a host name or IP address without a port`,
	}
	for _, w := range want {
		if !hasError(es, w) {
			t.Errorf("missing error %q in:\n%v", w, es)
		}
	}
	if len(es) < 50 {
		t.Errorf("got %d errors, want at least 50 (all of them):\n%v", len(es), es)
	}
}

// hasError reports whether es holds an error "LINE:COL: MSG" whose message starts
// with the message part of want.
func hasError(es Errors, want string) bool {
	for _, e := range es {
		s := e.Error()
		s = s[len(e.File)+1:]
		if strings.HasPrefix(s, want) {
			return true
		}
	}
	return false
}
