package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
)

// kibJSON is a realistic 1 KiB JSON body (an order with free text).
var kibJSON = func() string {
	s := `{"customer":{"name":"Siobhán O'Brien","email":"siobhan.obrien@example.ie"},"items":[{"sku":"AB-123","qty":2,"price":19.99},{"sku":"CD-456","qty":1,"price":5}],` +
		`"notes":"Leave at the back door; ring twice. See https://example.com/delivery?id=42 for the map.","description":"`
	for len(s) < 1000 {
		s += "Please select the best option and update the profile where needed. "
	}
	return s[:1000] + `"}`
}()

// BenchmarkWAF is one request through the whole pipeline (as
// BenchmarkCorePipeline) with and without a PL1 waf: policy: a GET and a
// 1 KiB JSON POST.
func BenchmarkWAF(b *testing.B) {
	for _, tc := range []struct{ name, method, body, policy string }{
		{"GET/none", "GET", "", ""},
		{"GET/PL1", "GET", "", "crs"},
		{"POST-1KiB-JSON/none", "POST", kibJSON, ""},
		{"POST-1KiB-JSON/PL1", "POST", kibJSON, "crs"},
		{"GET/PL1+responses", "GET", "", "crs-responses"},
	} {
		b.Run(tc.name, func(b *testing.B) { benchWAF(b, tc.method, tc.body, tc.policy) })
	}
}

func benchWAF(b *testing.B, method, body, policy string) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":42}`)
	}))
	defer up.Close()
	route := `  - { name: item, path: "/api/items/{id}", methods: [GET, POST], upstream: app, auth: none }` + "\n"
	if policy != "" {
		route = strings.Replace(route, " }", ", waf: "+policy+" }", 1)
	}
	yaml := "version: 1\nadmin: { listen: \"off\" }\nwaf:\n  crs: { paranoia_level: 1 }\n  crs-responses: { inspect_responses: true }\nupstreams:\n  app: { targets: [\"" + up.URL + "\"] }\nroutes:\n" + route
	cfg, err := config.Parse("bench.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	if policy == "" {
		cfg.WAF = nil // nothing to compile
	}
	gw, err := New(cfg, Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	req := httptest.NewRequest(method, "http://example.test/api/items/42?expand=owner&fields=id,name", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	req.RequestURI = "/api/items/42?expand=owner&fields=id,name"
	req.Header.Set("User-Agent", "bench/1.0")
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	serveLoop(b, gw, req, body)
}

// cpuTime is the process's CPU time (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
