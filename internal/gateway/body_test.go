package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/gateway"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// bodyBudgetServer: 1 KiB of each body in memory, 4 KiB in all, 64 KiB on
// disk in spillDir.
func bodyBudgetServer(spillDir string) string {
	return fmt.Sprintf("server:\n  max_body_bytes: 1MiB\n  body_buffer_bytes: 1KiB\n  body_memory_budget: 4KiB\n"+
		"  body_spill_dir: %s\n  body_spill_budget: 64KiB\n", spillDir)
}

func post(t *testing.T, g *gt.Gateway, path, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", g.URL+path, strings.NewReader(body))
	return g.Do(t, req)
}

func TestBodyBudget(t *testing.T) {
	spill := t.TempDir() + "/spill"
	entered, release := make(chan struct{}, 1), make(chan struct{})
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/items/hold" {
			entered <- struct{}{}
			<-release
		}
		fmt.Fprintf(w, "%d", r.ContentLength)
	})
	g := gt.Start(t, gt.Config(up.URL, bodyBudgetServer(spill), basicRoutes), nil)
	fi, err := os.Stat(spill)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("spill directory: %v, %v; want mode 700", fi, err)
	}

	t.Run("a body past the in-memory threshold is spilled and forwarded whole", func(t *testing.T) {
		body := strings.Repeat("0123456789", 1000)
		before := up.Count()
		resp, got := post(t, g, "/api/items", body)
		if resp.StatusCode != 200 || got != "10000" || up.Seen()[before].Body != body {
			t.Fatalf("status %d, upstream answered %q", resp.StatusCode, got)
		}
	})

	t.Run("a declared body past the spill budget → 503 before reading", func(t *testing.T) {
		before := up.Count()
		res := g.Raw(t, "POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
		gt.CheckProblem(t, res.Resp, res.Body, 503, "body-budget-exhausted")
		if res.Resp.Header.Get("Retry-After") == "" || !res.Closed || up.Count() != before {
			t.Fatalf("Retry-After %q, closed %v, upstream reached %v", res.Resp.Header.Get("Retry-After"), res.Closed, up.Count() != before)
		}
	})

	t.Run("a chunked body that outgrows the spill budget → 503", func(t *testing.T) {
		before := up.Count()
		chunk := strings.Repeat("c", 16<<10)
		raw := "POST /api/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
			strings.Repeat(fmt.Sprintf("%x\r\n%s\r\n", len(chunk), chunk), 5) + "0\r\n\r\n"
		res := g.Raw(t, raw)
		gt.CheckProblem(t, res.Resp, res.Body, 503, "body-budget-exhausted")
		if up.Count() != before {
			t.Fatal("upstream reached")
		}
	})

	t.Run("bodies in flight hold the budget until they are done", func(t *testing.T) {
		body := strings.Repeat("h", 40<<10)
		held := make(chan string, 1)
		go func() {
			req, _ := http.NewRequest("PUT", g.URL+"/api/items/hold", strings.NewReader(body))
			resp, err := gt.Client().Do(req)
			if err != nil {
				held <- err.Error()
				return
			}
			resp.Body.Close()
			held <- resp.Status
		}()
		select { // 40 KiB of the 64 KiB are on disk while the upstream holds the request
		case <-entered:
		case s := <-held:
			t.Fatalf("held request answered early: %s", s)
		}
		res := g.Raw(t, fmt.Sprintf("PUT /api/items/x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
		gt.CheckProblem(t, res.Resp, res.Body, 503, "body-budget-exhausted")
		close(release)
		if s := <-held; s != "200 OK" {
			t.Fatalf("held request: %s", s)
		}
		if resp, got := post(t, g, "/api/items", body); resp.StatusCode != 200 || got != fmt.Sprint(len(body)) {
			t.Fatalf("after the held body was done: %d %q", resp.StatusCode, got)
		}
	})

	if es, err := os.ReadDir(spill); err != nil || len(es) != 0 {
		t.Fatalf("spill directory after the requests: %v, %v; want it empty", es, err)
	}
}

func TestUnwritableSpillDirFailsAtStart(t *testing.T) {
	// A directory under a regular file cannot be made, even by root.
	parent := t.TempDir() + "/file"
	if err := os.WriteFile(parent, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	text := gt.Config("http://127.0.0.1:1", bodyBudgetServer(parent+"/spill"), basicRoutes)
	cfg, err := config.Parse("test.yaml", []byte(text), func(string) (string, bool) { return gt.AdminToken, true })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.New(cfg, gateway.Deps{}); err == nil || !strings.Contains(err.Error(), "spill directory") {
		t.Fatalf("err %v, want a spill directory error", err)
	}
}

// TestStreamedRequestBodies: buffer_request: false forwards the body as it
// comes, and still refuses bodies over max_body_bytes.
func TestStreamedRequestBodies(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	routes := "  - {name: up, path: /upload, methods: [POST], upstream: app, auth: none, buffer_request: false}\n"
	g := gt.Start(t, gt.Config(up.URL, "server:\n  max_body_bytes: 1KiB\n", routes), nil)

	body := strings.Repeat("s", 1000)
	before := up.Count()
	if resp, got := post(t, g, "/upload", body); resp.StatusCode != 200 || got != "ok" || up.Seen()[before].Body != body {
		t.Fatalf("status %d %q", resp.StatusCode, got)
	}

	before = up.Count()
	res := g.Raw(t, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
	gt.CheckProblem(t, res.Resp, res.Body, 413, "body-too-large")
	if up.Count() != before {
		t.Fatal("a declared body over the limit reached the upstream")
	}

	chunk := strings.Repeat("c", 600)
	res = g.Raw(t, "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+
		fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", len(chunk), chunk, len(chunk), chunk))
	gt.CheckProblem(t, res.Resp, res.Body, 413, "body-too-large")
	if !res.Closed {
		t.Fatal("connection kept after a streamed body over the limit")
	}
}

// TestValidatedBodiesStayInMemory: a body the OpenAPI contract validates is
// held in memory (never spilled), within the memory budget: past the limit
// it is a 413, and without room a 503.
func TestValidatedBodiesStayInMemory(t *testing.T) {
	spec := t.TempDir() + "/api.json"
	doc := `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/things":{"post":{
		"requestBody":{"required":true,"content":{"application/json":{"schema":{"type":"object","properties":{"name":{"type":"string"}}}}}},
		"responses":{"200":{"description":"ok"}}}}}}`
	if err := os.WriteFile(spec, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	up := gt.NewUpstream(t, nil)
	start := func(memory string) *gt.Gateway {
		extra := fmt.Sprintf("server:\n  max_body_bytes: 8KiB\n  body_buffer_bytes: 1KiB\n  body_memory_budget: %s\n  body_spill_dir: %s\n"+
			"openapi: {api: {spec: %q, validate_requests: true}}\n", memory, t.TempDir()+"/spill", spec)
		routes := "  - {name: things, path: /things, methods: [POST], upstream: app, auth: none, openapi: api}\n"
		return gt.Start(t, gt.Config(up.URL, extra, routes), nil)
	}
	roomy, tight := start("16KiB"), start("4KiB")
	send := func(g *gt.Gateway, body string, chunked bool) (*http.Response, string) {
		var r io.Reader = strings.NewReader(body)
		if chunked {
			r = struct{ io.Reader }{r}
		}
		req, _ := http.NewRequest("POST", g.URL+"/things", r)
		req.Header.Set("Content-Type", "application/json")
		return g.Do(t, req)
	}
	valid := `{"name":"` + strings.Repeat("n", 2000) + `"}` // past body_buffer_bytes
	for _, chunked := range []bool{false, true} {
		before := up.Count()
		if resp, _ := send(roomy, valid, chunked); resp.StatusCode != 200 || up.Seen()[before].Body != valid {
			t.Fatalf("chunked %v: status %d", chunked, resp.StatusCode)
		}
		if resp, body := send(roomy, `{"name":1}`, chunked); resp.StatusCode != 400 {
			t.Fatalf("chunked %v: invalid body: %d %s", chunked, resp.StatusCode, body)
		}
		resp, body := send(roomy, `{"name":"`+strings.Repeat("n", 9000)+`"}`, chunked)
		gt.CheckProblem(t, resp, body, 413, "body-too-large")
		before = up.Count()
		resp, body = send(tight, `{"name":"`+strings.Repeat("n", 5000)+`"}`, chunked) // past the memory budget
		gt.CheckProblem(t, resp, body, 503, "body-budget-exhausted")
		if up.Count() != before {
			t.Fatal("upstream reached")
		}
	}
}
