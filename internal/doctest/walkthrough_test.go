package doctest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestFastAPIWalkthrough runs docs/fastapi.md as written against a real
// FastAPI service (Uvicorn) and the rampart binary built from this tree.
func TestFastAPIWalkthrough(t *testing.T) {
	runWalkthrough(t, "docs/fastapi.md", "fastapi, uvicorn, jwt")
}

// TestFlaskWalkthrough runs docs/flask.md as written against a real Flask
// service.
func TestFlaskWalkthrough(t *testing.T) {
	runWalkthrough(t, "docs/flask.md", "flask")
}

// step is one "sh walkthrough" block and the "text expect" block after it.
type step struct {
	sh     block
	expect *block
}

// script turns a walkthrough into one bash script: file blocks become
// here-documents written where they appear, and each command block is
// preceded by a marker line so its output can be told apart.
func script(blocks []block) (string, []step, error) {
	var s strings.Builder
	s.WriteString("set -euo pipefail\n")
	var steps []step
	for _, b := range blocks {
		switch {
		case b.attr("file") != "":
			name := b.attr("file")
			if strings.Contains(name, "/") || strings.Contains(b.text, "\nRAMPART_DOC_EOF\n") {
				return "", nil, fmt.Errorf("%s: file block %q cannot be written", b.where(), name)
			}
			fmt.Fprintf(&s, "cat > %s <<'RAMPART_DOC_EOF'\n%sRAMPART_DOC_EOF\n", name, b.text)
		case b.lang() == "sh" && b.has("walkthrough"):
			fmt.Fprintf(&s, "printf '\\n%s%d\\n'\n%s", marker, len(steps), b.text)
			steps = append(steps, step{sh: b})
		case b.lang() == "text" && b.has("expect"):
			if len(steps) == 0 || steps[len(steps)-1].expect != nil {
				return "", nil, fmt.Errorf("%s: an expect block must follow a walkthrough block", b.where())
			}
			bb := b
			steps[len(steps)-1].expect = &bb
		}
	}
	return s.String(), steps, nil
}

const marker = "@@@ rampart-doctest step "

// portRef finds the local ports a walkthrough uses.
var portRef = regexp.MustCompile(`(127\.0\.0\.1:|localhost:|--port )(\d{4,5})\b`)

// freePorts maps each port the text names to a free one.
func freePorts(t *testing.T, text string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range portRef.FindAllStringSubmatch(text, -1) {
		if _, ok := out[m[2]]; ok {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		ln.Close()
		out[m[2]] = p
	}
	return out
}

func rewritePorts(text string, ports map[string]string) string {
	return portRef.ReplaceAllStringFunc(text, func(s string) string {
		m := portRef.FindStringSubmatch(s)
		return m[1] + ports[m[2]]
	})
}

// expectLine turns an expected line into an anchored pattern; "…" matches anything.
func expectLine(l string) *regexp.Regexp {
	parts := strings.Split(l, "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

// matchInOrder returns the first expected line that is not found, in order,
// among the output lines, or "".
func matchInOrder(expected, output string) string {
	out := strings.Split(output, "\n")
	i := 0
	for _, e := range strings.Split(strings.TrimRight(expected, "\n"), "\n") {
		if strings.TrimSpace(e) == "" {
			continue
		}
		re := expectLine(strings.TrimRight(e, " "))
		for ; i < len(out); i++ {
			if re.MatchString(strings.TrimRight(out[i], " \r")) {
				break
			}
		}
		if i == len(out) {
			return e
		}
		i++
	}
	return ""
}

func runWalkthrough(t *testing.T, doc, modules string) {
	root := repoRoot(t)
	py := pythonWith(t, modules)
	for _, tool := range []string{"bash", "curl", "openssl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			require(t, fmt.Sprintf("%s needs %s on PATH", doc, tool))
		}
	}
	rampart := buildRampart(t, root)

	text, steps, err := script(parseBlocks(doc, readDoc(t, root, doc)))
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) == 0 {
		t.Fatalf("%s has no sh walkthrough blocks", doc)
	}
	text = rewritePorts(text, freePorts(t, text))

	dir := t.TempDir()
	bin := filepath.Join(dir, ".bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"rampart": rampart, "python3": py} {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	scriptPath := filepath.Join(dir, ".walkthrough.sh")
	if err := os.WriteFile(scriptPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	outPath := filepath.Join(dir, ".walkthrough.out")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", scriptPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	// Output goes to a file, not a pipe: the services the walkthrough starts
	// in the background must not keep Wait waiting.
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so the services it starts die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	runErr := cmd.Wait()

	raw, _ := os.ReadFile(outPath)
	sections := splitSteps(string(raw))
	logs := func() string {
		var b strings.Builder
		for _, f := range []string{"app.log", "rampart.log"} {
			if data, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
				fmt.Fprintf(&b, "\n--- %s ---\n%s", f, tail(string(data), 4000))
			}
		}
		return b.String()
	}
	if runErr != nil {
		last := len(sections) - 1
		where := "before the first step"
		if last >= 0 && last < len(steps) {
			where = "in the step at " + steps[last].sh.where()
		}
		t.Fatalf("%s failed %s: %v\n--- script output ---\n%s%s", doc, where, runErr, tail(string(raw), 6000), logs())
	}
	if len(sections) != len(steps) {
		t.Fatalf("ran %d of %d steps\n%s", len(sections), len(steps), raw)
	}
	asserted := 0
	for i, s := range steps {
		if s.expect == nil {
			continue
		}
		asserted++
		if miss := matchInOrder(s.expect.text, sections[i]); miss != "" {
			t.Errorf("%s: the step at %s does not print what %s says:\nmissing (in order): %s\n--- it printed ---\n%s",
				doc, s.sh.where(), s.expect.where(), miss, sections[i])
		}
	}
	if asserted == 0 {
		t.Fatalf("%s has no expect blocks: nothing would be asserted", doc)
	}
	if t.Failed() {
		t.Log(logs())
	}
}

// splitSteps splits the script's output at the step markers.
func splitSteps(out string) []string {
	var sections []string
	for _, l := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(l, marker) {
			sections = append(sections, "")
			continue
		}
		if len(sections) > 0 {
			sections[len(sections)-1] += l
		}
	}
	return sections
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// require skips the test with a loud message, or fails it when CI demands
// every service (RAMPART_REQUIRE_SERVICES=1).
func require(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("RAMPART_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s (RAMPART_REQUIRE_SERVICES=1: absence is a failure; .ci/run installs it)", msg)
	}
	t.Skipf("SKIPPED: %s — the walkthrough was NOT executed; install it (Debian: apt-get install python3-fastapi python3-uvicorn python3-flask python3-jwt jq)", msg)
}

// pythonWith returns a python3 that imports modules: /usr/bin/python3 first
// (Debian's packages install there), then python3 on PATH.
func pythonWith(t *testing.T, modules string) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, c := range candidates {
		if err := exec.Command(c, "-c", "import "+modules).Run(); err == nil {
			return c
		}
	}
	require(t, fmt.Sprintf("no python3 (tried %s) imports %s", strings.Join(candidates, ", "), modules))
	return ""
}

var rampartBuild struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildRampart builds ./cmd/rampart once per test binary.
func buildRampart(t *testing.T, root string) string {
	t.Helper()
	rampartBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "rampart-doctest-")
		if err != nil {
			rampartBuild.err = err
			return
		}
		rampartBuild.path = filepath.Join(dir, "rampart")
		cmd := exec.Command(goTool(), "build", "-o", rampartBuild.path, "./cmd/rampart")
		cmd.Dir = root
		rampartBuild.out, rampartBuild.err = cmd.CombinedOutput()
	})
	if rampartBuild.err != nil {
		t.Fatalf("go build ./cmd/rampart: %v\n%s", rampartBuild.err, bytes.TrimSpace(rampartBuild.out))
	}
	return rampartBuild.path
}
