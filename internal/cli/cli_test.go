package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

func noEnv(string) (string, bool) { return "", false }

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rampart.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheck(t *testing.T) {
	good := `version: 1
admin: { token: "${TOKEN}" }
upstreams:
  app: { targets: ["http://127.0.0.1:8000"] }
routes:
  - { name: health, path: /health, methods: [GET], upstream: app, auth: none }
`
	env := func(k string) (string, bool) {
		if k == "TOKEN" {
			return "a-perfectly-long-admin-token-0123456789", true
		}
		return "", false
	}
	t.Run("valid config → summary, exit 0", func(t *testing.T) {
		var out, errb strings.Builder
		code := Run(context.Background(), []string{"check", "-c", writeFile(t, good)}, env, &out, &errb)
		if code != 0 || !strings.Contains(out.String(), "ok (1 route, 1 upstream)") {
			t.Fatalf("code %d out %q err %q", code, out.String(), errb.String())
		}
	})
	t.Run("every problem reported with file:line:col, exit 1", func(t *testing.T) {
		bad := `version: 1
admin: { token: "${TOKEN}" }
upstreams:
  app: { targets: ["http://127.0.0.1:8000"], timeout: fast }
routes:
  - { name: a, path: /a, methods: [GET], upstream: nowhere, auth: none }
  - { name: b, path: /b, methods: [GET], upstream: app }
`
		p := writeFile(t, bad)
		var out, errb strings.Builder
		code := Run(context.Background(), []string{"check", "-c", p}, env, &out, &errb)
		if code != 1 {
			t.Fatalf("code %d", code)
		}
		lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
		re := regexp.MustCompile(`^` + regexp.QuoteMeta(p) + `:\d+:\d+: `)
		if len(lines) < 3 {
			t.Fatalf("want at least 3 problems (timeout, dangling upstream, missing auth), got:\n%s", errb.String())
		}
		for _, l := range lines {
			if !re.MatchString(l) {
				t.Errorf("line without file:line:col: %q", l)
			}
		}
		for _, want := range []string{":4:", ":6:", ":7:"} {
			if !strings.Contains(errb.String(), p+want) {
				t.Errorf("no problem reported on line %s:\n%s", want, errb.String())
			}
		}
	})
	t.Run("a websocket route is checked like any other", func(t *testing.T) {
		var out, errb strings.Builder
		ws := strings.Replace(good, "auth: none", "auth: none, websocket: true", 1)
		if code := Run(context.Background(), []string{"check", "-c", writeFile(t, ws)}, env, &out, &errb); code != 0 {
			t.Fatalf("websocket: true: code %d err %q", code, errb.String())
		}
		post := strings.Replace(ws, "methods: [GET]", "methods: [GET, POST]", 1)
		code := Run(context.Background(), []string{"check", "-c", writeFile(t, post)}, env, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), ":6:") || !strings.Contains(errb.String(), "a websocket route accepts only methods: [GET]") {
			t.Fatalf("websocket route with POST: code %d err %q", code, errb.String())
		}
	})
	t.Run("missing file → exit 1", func(t *testing.T) {
		var out, errb strings.Builder
		if code := Run(context.Background(), []string{"check", "-c", "/nonexistent/rampart.yaml"}, noEnv, &out, &errb); code != 1 {
			t.Fatalf("code %d", code)
		}
	})
}

func TestUnknownCommand(t *testing.T) {
	var out, errb strings.Builder
	if code := Run(context.Background(), []string{"frobnicate"}, noEnv, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Fatalf("code %d err %q", code, errb.String())
	}
}

// lockedWriter lets the test read what the demo prints while it runs.
type lockedWriter struct {
	mu sync.Mutex
	pw *io.PipeWriter
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pw.Write(p)
}

// TestDemo runs `rampart demo` for real and follows its printed instructions.
// Its logs are the JSON lines the README promises for jq.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	logs := &syncBuf{}
	go func() {
		done <- Run(ctx, []string{"demo", "--listen", "127.0.0.1:0"}, noEnv, &lockedWriter{pw: pw}, logs)
		pw.Close()
	}()
	addrRe := regexp.MustCompile(`gateway\s+http://(\S+)`)
	writerRe := regexp.MustCompile(`WRITER='([^']+)'`)
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var addr, writer string
	for sc.Scan() {
		if m := addrRe.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
		if m := writerRe.FindStringSubmatch(sc.Text()); m != nil {
			writer = m[1]
		}
		if strings.Contains(sc.Text(), "Press Ctrl-C") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if addr == "" {
		cancel()
		t.Fatalf("demo printed no gateway address (exit %d)", <-done)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (*http.Response, string) {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := get("/api/items"); resp.StatusCode != 200 || !strings.Contains(body, "bolt") || resp.Header.Get("Server") != "" {
		t.Errorf("items: %d %q Server=%q", resp.StatusCode, body, resp.Header.Get("Server"))
	}
	if resp, body := get("/api/debug/crash"); resp.StatusCode != 500 || strings.Contains(body, "S3cr3t") {
		t.Errorf("crash not masked: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get("/admin"); resp.StatusCode != 404 {
		t.Errorf("/admin: %d", resp.StatusCode)
	}
	post := func(token string) int {
		req, _ := http.NewRequest("POST", "http://"+addr+"/api/items", strings.NewReader(`{"name":"gear","qty":5}`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post(""); s != 401 {
		t.Errorf("protected POST without a token: %d", s)
	}
	if writer == "" {
		t.Fatal("demo printed no WRITER token")
	}
	if s := post(writer); s != 201 {
		t.Errorf("protected POST with the printed token: %d", s)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("demo exit code %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop")
	}
	// Every stderr line is a JSON object; the requests above left an
	// access line and an audit event (the POST without a token).
	var access, audit bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("demo log line is not JSON: %q", line)
		}
		switch {
		case ev["msg"] == "access" && ev["path"] == "/api/items" && ev["status"] == float64(200):
			access = true
		case ev["msg"] == "audit" && ev["status"] == float64(401):
			audit = true
		}
	}
	if !access || !audit {
		t.Errorf("access line for GET /api/items: %v, audit event for the 401: %v; logs:\n%s", access, audit, logs.String())
	}
}

func TestCertDev(t *testing.T) {
	dir := t.TempDir()
	var out, errb strings.Builder
	if code := Run(context.Background(), []string{"cert", "dev", "--host", "localhost,127.0.0.1", "--out", dir}, noEnv, &out, &errb); code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	for _, name := range []string{"tls.crt", "tls.key"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(out.String(), "cert_file:") {
		t.Errorf("no usage hint printed: %s", out.String())
	}
	// The result is usable by check as the listener's certificate.
	cfg := "version: 1\nserver:\n  tls: { cert_file: " + filepath.Join(dir, "tls.crt") + ", key_file: " + filepath.Join(dir, "tls.key") +
		" }\nadmin: { listen: \"off\" }\nupstreams:\n  app: { targets: [\"http://127.0.0.1:8000\"] }\nroutes:\n  - { name: h, path: /h, methods: [GET], upstream: app, auth: none }\n"
	out.Reset()
	if code := Run(context.Background(), []string{"check", "-c", writeFile(t, cfg)}, noEnv, &out, &errb); code != 0 {
		t.Fatalf("check with dev cert: %d %s", code, errb.String())
	}
	if code := Run(context.Background(), []string{"cert"}, noEnv, &out, &errb); code != 2 {
		t.Errorf("bare 'cert' exit %d, want 2", code)
	}
}

// TestServeReloadsOnFileChange runs `rampart serve` and edits its config file:
// the new route must start answering without a restart, and a broken edit
// must leave the running config in place.
func TestServeReloadsOnFileChange(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") }))
	defer up.Close()
	addr := gt.FreeAddr(t)
	base := "version: 1\nserver: { listen: \"" + addr + "\" }\nadmin: { listen: \"off\" }\nupstreams:\n  app: { targets: [\"" + up.URL + "\"] }\nroutes:\n" +
		"  - { name: a, path: /a, methods: [GET], upstream: app, auth: none }\n"
	path := writeFile(t, base)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	logs := &syncBuf{}
	go func() { done <- Run(ctx, []string{"serve", "-c", path}, noEnv, io.Discard, logs) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d", code)
		}
	}()
	status := func(p string) int { return statusOf(addr, p) }
	waitFor := func(p string, want int) { t.Helper(); waitStatus(t, addr, p, want, logs) }
	waitFor("/a", 200)
	if err := os.WriteFile(path, []byte(base+"  - { name: b, path: /b, methods: [GET], upstream: app, auth: none }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("/b", 200)
	if err := os.WriteFile(path, []byte(base+"  - { name: c, path: /c, methods: [GET], upstream: nowhere, auth: none }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Wait until the gateway has refused that edit (it logs the located
	// error), then check the running config was kept.
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(logs.String(), "reload refused") {
		if time.Now().After(deadline) {
			t.Fatal("broken edit never reported")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), filepath.Base(path)+":") {
		t.Errorf("reload error lacks file:line:col: %s", logs.String())
	}
	if status("/b") != 200 || status("/c") != 404 {
		t.Fatalf("after a broken edit: /b %d /c %d", status("/b"), status("/c"))
	}
}

// statusOf is the status of GET http://addr+path, 0 when it fails.
func statusOf(addr, path string) int {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitStatus polls GET path until it answers want (15 s at most).
func waitStatus(t *testing.T, addr, path string, want int, logs *syncBuf) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for statusOf(addr, path) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %d; logs:\n%s", path, want, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWAFReport(t *testing.T) {
	log := filepath.Join(t.TempDir(), "audit.log")
	line := `{"msg":"audit","event":"waf_detected","waf":"api","mode":"detect","would_block":true,"score":5,"rules":[942100],"variables":["ARGS:json.bio"],"route":"users"}` + "\n"
	if err := os.WriteFile(log, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"waf", "report", log}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), `- { rule: "942100", target: "ARGS:json.bio" }`) {
		t.Errorf("report:\n%s", stdout.String())
	}
	if code := Run(context.Background(), []string{"waf"}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("rampart waf without report: exit %d, want 2", code)
	}
}
