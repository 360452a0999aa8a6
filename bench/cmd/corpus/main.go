// Command corpus runs the request cases of every document in an OpenAPI
// corpus (../shared/openapi-corpus: one folder per document with a
// cases.json) through the real rampart binary and a recording upstream,
// and prints per document: whether `rampart check` loads it (with its time
// and peak RSS, or the reasons it is refused), how many legitimate cases
// were forwarded unchanged (method, path, query and body byte-equal) and
// how many bad cases were refused (400, 404, 405 or 415) without reaching
// the upstream. It exits 1 on any false refusal (a refused document counts
// as refusing all its legitimate cases) or leak.
//
//	go build -o bin/rampart ./cmd/rampart
//	go run ./bench/cmd/corpus -rampart bin/rampart -corpus ../shared/openapi-corpus
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

type caseFile struct {
	Entry    string  `json:"entry"`
	BasePath string  `json:"base_path"`
	Cases    []tcase `json:"cases"`
}

type tcase struct {
	ID          string            `json:"id"`
	Kind        string            `json:"kind"`
	Op          string            `json:"op"`
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	Query       [][2]string       `json:"query"`
	Headers     map[string]string `json:"headers"`
	ContentType string            `json:"content_type"`
	Body        json.RawMessage   `json:"body"`
	RawBody     *string           `json:"raw_body"`
	Why         string            `json:"why"`
}

// body is the bytes the case sends: raw_body when given, a string body as
// is, any other JSON value as compact JSON.
func (c *tcase) body() []byte {
	if c.RawBody != nil {
		return []byte(*c.RawBody)
	}
	if len(c.Body) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(c.Body, &s) == nil {
		return []byte(s)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, c.Body); err != nil {
		return c.Body
	}
	return b.Bytes()
}

func (c *tcase) rawQuery() string {
	parts := make([]string, len(c.Query))
	for i, kv := range c.Query {
		parts[i] = url.QueryEscape(kv[0]) + "=" + url.QueryEscape(kv[1])
	}
	return strings.Join(parts, "&")
}

type seen struct {
	method, path, query string
	body                []byte
}

// recorder is the upstream: it records every request and answers 200 {}.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (u *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.reqs = append(u.reqs, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, body})
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{}`))
}

func (u *recorder) take() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.reqs
	u.reqs = nil
	return out
}

type result struct {
	name       string
	loaded     bool
	loadTime   time.Duration
	rssKB      int64
	reasons    []string
	legit, fwd int
	bad, ref   int
	failures   []string
}

func main() {
	bin := flag.String("rampart", "bin/rampart", "the rampart binary")
	dir := flag.String("corpus", "../shared/openapi-corpus", "the corpus folder")
	only := flag.String("only", "", "run only this document folder")
	verbose := flag.Bool("v", false, "list every refusal reason and failing case")
	flag.Parse()
	if err := run(*bin, *dir, *only, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		os.Exit(1)
	}
}

func run(bin, dir, only string, verbose bool) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var results []*result
	for _, e := range entries {
		if !e.IsDir() || only != "" && e.Name() != only {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "cases.json")); err != nil {
			continue
		}
		r, err := runDocument(bin, filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("%s: %w", e.Name(), err)
		}
		results = append(results, r)
	}
	failed := report(os.Stdout, results, verbose)
	if failed {
		return errors.New("false refusals or leaks (see above)")
	}
	return nil
}

func runDocument(bin, folder string) (*result, error) {
	raw, err := os.ReadFile(filepath.Join(folder, "cases.json"))
	if err != nil {
		return nil, err
	}
	var cf caseFile
	if err := json.Unmarshal(raw, &cf); err != nil {
		return nil, fmt.Errorf("cases.json: %w", err)
	}
	r := &result{name: filepath.Base(folder)}
	for _, c := range cf.Cases {
		if c.Kind == "legit" {
			r.legit++
		} else {
			r.bad++
		}
	}

	rec := &recorder{}
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	upSrv := &http.Server{Handler: rec, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = upSrv.Serve(up) }()
	defer upSrv.Close()

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "rampart-corpus-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	spec, err := filepath.Abs(filepath.Join(folder, cf.Entry))
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(tmp, "rampart.yaml")
	if err := os.WriteFile(cfgPath, []byte(config(addr, up.Addr().String(), spec)), 0o600); err != nil {
		return nil, err
	}

	// rampart check: loaded or refused, with its time and peak RSS.
	check := exec.Command(bin, "check", "-c", cfgPath)
	var out bytes.Buffer
	check.Stdout, check.Stderr = &out, &out
	start := time.Now()
	err = check.Run()
	r.loadTime = time.Since(start)
	if ru, ok := check.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.rssKB = ru.Maxrss
	}
	if err != nil {
		r.reasons = reasons(out.String())
		r.failures = append(r.failures, fmt.Sprintf("document refused: %d legit cases cannot be forwarded", r.legit))
		return r, nil
	}
	r.loaded = true

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serve := exec.CommandContext(ctx, bin, "serve", "-c", cfgPath)
	var serveOut bytes.Buffer
	serve.Stdout, serve.Stderr = &serveOut, &serveOut
	if err := serve.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	defer func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cancel()
			<-exited
		}
	}()
	if err := waitListening(addr, exited); err != nil {
		return nil, fmt.Errorf("rampart serve: %w\n%s", err, serveOut.String())
	}

	client := &http.Client{Timeout: 30 * time.Second}
	for i := range cf.Cases {
		c := &cf.Cases[i]
		status, detail, err := send(client, addr, c)
		got := rec.take()
		if err != nil {
			r.failures = append(r.failures, fmt.Sprintf("%s %s %s: %v", c.ID, c.Method, c.Path, err))
			continue
		}
		if c.Kind == "legit" {
			want := seen{c.Method, (&url.URL{Path: c.Path}).EscapedPath(), c.rawQuery(), c.body()}
			switch {
			case len(got) != 1:
				r.failures = append(r.failures, fmt.Sprintf("false refusal %s %s %s: %d %s", c.ID, c.Method, c.Path, status, detail))
			case got[0].method != want.method || got[0].path != want.path || got[0].query != want.query || !bytes.Equal(got[0].body, want.body):
				r.failures = append(r.failures, fmt.Sprintf("changed %s %s %s: upstream saw %s %s?%s (%d body bytes)", c.ID, c.Method, c.Path, got[0].method, got[0].path, got[0].query, len(got[0].body)))
			default:
				r.fwd++
			}
			continue
		}
		switch {
		case len(got) > 0:
			r.failures = append(r.failures, fmt.Sprintf("leak %s %s %s (%s): upstream reached, answer %d", c.ID, c.Method, c.Path, c.Why, status))
		case status != 400 && status != 404 && status != 405 && status != 415:
			r.failures = append(r.failures, fmt.Sprintf("bad %s %s %s (%s): refused with %d, want 400/404/405/415: %s", c.ID, c.Method, c.Path, c.Why, status, detail))
		default:
			r.ref++
		}
	}
	return r, nil
}

// config is a gateway with one catch-all route, auth none, validating
// requests against the document and refusing undocumented operations.
func config(listen, upstream, spec string) string {
	return fmt.Sprintf(`version: 1
server:
  listen: %q
  max_body_bytes: 16MiB
admin:
  listen: "off"
upstreams:
  recorder: { targets: ["http://%s"] }
openapi:
  doc:
    spec: %q
    validate_requests: true
    reject_undocumented: true
routes:
  - name: all
    path: /{rest...}
    methods: [GET, PUT, POST, DELETE, OPTIONS, HEAD, PATCH, TRACE]
    upstream: recorder
    auth: none
    openapi: doc
`, listen, upstream, spec)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitListening dials addr until it answers, the process exits or a minute
// passes.
func waitListening(addr string, exited <-chan error) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited before listening: %v", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("not listening after a minute")
}

func send(client *http.Client, addr string, c *tcase) (int, string, error) {
	u := &url.URL{Scheme: "http", Host: addr, Path: c.Path, RawQuery: c.rawQuery()}
	var body io.Reader
	if b := c.body(); b != nil {
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(c.Method, u.String(), body)
	if err != nil {
		return 0, "", err
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	if c.ContentType != "" && body != nil {
		req.Header.Set("Content-Type", c.ContentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var p struct{ Type, Detail string }
	if json.Unmarshal(b, &p) == nil && p.Type != "" {
		return resp.StatusCode, p.Type + ": " + p.Detail, nil
	}
	return resp.StatusCode, "", nil
}

// reasons keeps the lines of check's output that name a problem.
func reasons(out string) []string {
	var rs []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			rs = append(rs, line)
		}
	}
	return rs
}

func report(w io.Writer, results []*result, verbose bool) bool {
	sort.Slice(results, func(i, j int) bool { return results[i].name < results[j].name })
	failed := false
	fmt.Fprintf(w, "| document | load (check) | time | peak RSS | legit forwarded | bad refused |\n|---|---|---|---|---|---|\n")
	for _, r := range results {
		state := "loaded"
		if !r.loaded {
			state = fmt.Sprintf("refused (%d lines)", len(r.reasons))
		}
		fmt.Fprintf(w, "| %s | %s | %.2f s | %d MB | %d/%d | %d/%d |\n", r.name, state,
			r.loadTime.Seconds(), r.rssKB/1024, r.fwd, r.legit, r.ref, r.bad)
		failed = failed || len(r.failures) > 0
	}
	for _, r := range results {
		if len(r.failures) == 0 && len(r.reasons) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", r.name)
		for i, s := range r.reasons {
			if i == 10 && !verbose {
				fmt.Fprintf(w, "  ... %d more lines (-v)\n", len(r.reasons)-i)
				break
			}
			fmt.Fprintf(w, "  %s\n", s)
		}
		for _, s := range r.failures {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	return failed
}
