package doctest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/cli"
)

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// configBlock reports whether b is a complete example config: a yaml block
// whose first line is "# rampart.yaml", or a walkthrough's rampart.yaml.
func configBlock(b block) bool {
	if b.lang() != "yaml" {
		return false
	}
	first, _, _ := strings.Cut(b.text, "\n")
	return strings.TrimSpace(first) == "# rampart.yaml" || b.attr("file") == "rampart.yaml"
}

// TestEveryYAMLBlockIsMarked keeps the config test honest: a yaml block is
// either a complete config (checked below) or says it is a fragment.
func TestEveryYAMLBlockIsMarked(t *testing.T) {
	root := repoRoot(t)
	for _, f := range docFiles(t, root) {
		for _, b := range parseBlocks(f, readDoc(t, root, f)) {
			if b.lang() == "yaml" && !configBlock(b) && !b.has("fragment") && b.attr("file") == "" {
				t.Errorf("%s: a yaml block must start with the line \"# rampart.yaml\" (a complete config, checked by TestExampleConfigsPassCheck) or have the info string \"yaml fragment\"", b.where())
			}
		}
	}
}

// TestExampleConfigsPassCheck runs `rampart check` (cli.Run, in process) on
// every complete example config in README.md and docs/, in a directory
// holding the files examples refer to, with every ${VAR} the block names set
// to a fresh random secret.
func TestExampleConfigsPassCheck(t *testing.T) {
	root := repoRoot(t)
	spec, err := os.ReadFile(filepath.Join(root, "internal", "openapi", "testdata", "fastapi-0.95-openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range docFiles(t, root) {
		for _, b := range parseBlocks(f, readDoc(t, root, f)) {
			if !configBlock(b) {
				continue
			}
			n++
			t.Run(b.where(), func(t *testing.T) {
				dir := t.TempDir()
				// The key store (sqlite://rampart.db) is relative to the working directory.
				t.Chdir(dir)
				fixtures(t, dir, spec)
				env := map[string]string{}
				for _, m := range envRef.FindAllStringSubmatch(b.text, -1) {
					env[m[1]] = randomSecret(t)
				}
				if err := os.WriteFile("rampart.yaml", []byte(b.text), 0o600); err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
				if code := cli.Run(context.Background(), []string{"check", "-c", "rampart.yaml"}, lookup, &stdout, &stderr); code != 0 {
					t.Errorf("rampart check exited %d:\n%s%s", code, stderr.String(), stdout.String())
				}
			})
		}
	}
	if n == 0 {
		t.Fatal("no example configs found: the block extraction is broken")
	}
}

// fixtures writes the files example configs refer to: an OpenAPI document,
// a development certificate pair (also under certs/) and a client CA.
func fixtures(t *testing.T, dir string, spec []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "openapi.json"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{dir, filepath.Join(dir, "certs")} {
		var stdout, stderr bytes.Buffer
		if code := cli.Run(context.Background(), []string{"cert", "dev", "--out", out}, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("rampart cert dev --out %s: exit %d: %s", out, code, stderr.String())
		}
	}
	ca, err := os.ReadFile(filepath.Join(dir, "tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "clients-ca.pem"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randomSecret(t *testing.T) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
