package gateway_test

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"
	otlptrace "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/rampart-gw/rampart/internal/auth/authtest"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/tracing/otlptest"
)

// traceparentRE is a W3C traceparent: version, trace id, parent id, flags.
var traceparentRE = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$`)

// A trusted proxy's trace, as it would send it.
const (
	proxyTraceID    = "4bf92f3577b34da6a3ce929d0e0e4736"
	proxySpanID     = "00f067aa0ba902b7"
	proxyTraceparen = "00-" + proxyTraceID + "-" + proxySpanID + "-01"
)

// tracingGateway starts a gateway exporting to a fresh receiver: route
// items (/api/items/{id}, jwt) and public (/public, auth none) in front of
// target, with server settings and more tracing keys.
func tracingGateway(t *testing.T, target, endpoint, server, tracingExtra string) *gt.Gateway {
	t.Helper()
	if os.Getenv("OTEL_BSP_SCHEDULE_DELAY") == "" {
		t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20") // export every 20 ms, not 5 s
	}
	extra := fmt.Sprintf(`%sauthenticators:
  sso: { type: jwt, issuer: %q, audiences: [items], algorithms: [HS256], secret: %q }
tracing:
  endpoint: %q
  headers: { Authorization: "Bearer collector-credential-1234" }
%s`, server, testIssuer, testSecret, endpoint, tracingExtra)
	routes := `  - { name: items, path: "/api/items/{id}", methods: [GET], upstream: app, auth: [sso] }
  - { name: public, path: /public, methods: [GET, POST], upstream: app, auth: none }
`
	return gt.Start(t, gt.Config(target, extra, routes), nil)
}

func itemsToken(t *testing.T) string {
	return authtest.Mint(t, &authtest.Key{Alg: "HS256", Signer: []byte(testSecret)},
		jwtlib.MapClaims{"iss": testIssuer, "aud": "items", "sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}, nil)
}

// upstreamTraceparent returns the traceparent the upstream's last request
// carried, split.
func upstreamTraceparent(t *testing.T, up *gt.Upstream) (traceID, parentID, flags string) {
	t.Helper()
	seen := up.Seen()
	if len(seen) == 0 {
		t.Fatal("the upstream saw no request")
	}
	h := seen[len(seen)-1].Header
	if n := len(h.Values("Traceparent")); n != 1 {
		t.Fatalf("upstream got %d traceparent headers (%q), want 1", n, h.Values("Traceparent"))
	}
	m := traceparentRE.FindStringSubmatch(h.Get("Traceparent"))
	if m == nil {
		t.Fatalf("upstream traceparent %q is not a W3C traceparent", h.Get("Traceparent"))
	}
	return m[1], m[2], m[3]
}

func TestTraceOfAForwardedRequest(t *testing.T) {
	rc := otlptest.Start(t)
	up := gt.NewUpstream(t, nil)
	g := tracingGateway(t, up.URL, rc.Endpoint(), "", "  service_name: edge\n")
	req, _ := http.NewRequest("GET", g.URL+"/api/items/42?x=1", nil)
	req.Header.Set("Authorization", "Bearer "+itemsToken(t))
	resp, body := g.Do(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	traceID, parentID, flags := upstreamTraceparent(t, up)
	if flags != "01" {
		t.Errorf("upstream traceparent flags %s, want 01 (sampled, sample_ratio 1)", flags)
	}
	spans := rc.WaitTrace(t, traceID, 2)
	server := otlptest.ByKind(t, spans, otlptrace.Span_SPAN_KIND_SERVER)
	client := otlptest.ByKind(t, spans, otlptrace.Span_SPAN_KIND_CLIENT)
	if server.ParentSpanID != "" {
		t.Errorf("server span has parent %s, want a root (no traceparent was sent)", server.ParentSpanID)
	}
	if client.ParentSpanID != server.SpanID {
		t.Errorf("upstream span's parent %s, want the server span %s", client.ParentSpanID, server.SpanID)
	}
	if parentID != client.SpanID {
		t.Errorf("upstream's traceparent names parent %s, want the upstream span %s", parentID, client.SpanID)
	}
	if server.Name != "GET /api/items/{id}" || server.Service != "edge" {
		t.Errorf("server span %q of service %q, want \"GET /api/items/{id}\" of edge", server.Name, server.Service)
	}
	wantServer := map[string]any{
		"http.request.method": "GET", "http.route": "/api/items/{id}", "rampart.route": "items",
		"http.response.status_code": int64(200), "rampart.decision": "forwarded", "rampart.principal.kind": "jwt",
		"rampart.request_id": resp.Header.Get("X-Request-Id"), "client.address": "127.0.0.1", "url.scheme": "http",
	}
	checkAttrs(t, "server span", server, wantServer)
	host, port, _ := strings.Cut(strings.TrimPrefix(up.URL, "http://"), ":")
	checkAttrs(t, "upstream span", client, map[string]any{"http.request.method": "GET", "server.address": host,
		"server.port": mustAtoi(t, port), "http.response.status_code": int64(200), "rampart.upstream": "app"})
	if _, ok := client.Attrs["rampart.upstream.time_ms"].(float64); !ok {
		t.Errorf("upstream span has no rampart.upstream.time_ms: %v", client.Attrs)
	}
	for _, s := range spans {
		if s.StatusCode == otlptrace.Status_STATUS_CODE_ERROR {
			t.Errorf("span %q has an error status on a 200", s.Name)
		}
		for k, v := range s.Attrs {
			if k == "rampart.request_id" {
				continue // random hex, checked above: may hold "42" by chance
			}
			if str, _ := v.(string); strings.Contains(str, "alice") || strings.Contains(str, "42") {
				t.Errorf("span %q attribute %s = %q carries the principal or the path's id", s.Name, k, str)
			}
		}
	}
	if h := server.ExportContentHeader.Get("Authorization"); h != "Bearer collector-credential-1234" {
		t.Errorf("collector got Authorization %q, want the configured header", h)
	}
	if strings.Contains(g.Logs.String(), "collector-credential-1234") {
		t.Error("the collector credential appears in the logs")
	}
}

func TestTraceOfARefusedRequest(t *testing.T) {
	rc := otlptest.Start(t)
	up := gt.NewUpstream(t, nil)
	g := tracingGateway(t, up.URL, rc.Endpoint(), "", "")
	for _, tc := range []struct {
		name, path, span, decision string
		status                     int
	}{
		{"no token → 401, span of the route", "/api/items/7", "GET /api/items/{id}", "credentials-missing", 401},
		{"unknown path → 404, span without a route", "/nope/123", "GET", "route-not-found", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := g.Get(t, tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			server := waitRequest(t, rc, resp.Header.Get("X-Request-Id"))
			if server.Name != tc.span {
				t.Errorf("span name %q, want %q", server.Name, tc.span)
			}
			checkAttrs(t, "server span", server, map[string]any{"rampart.decision": tc.decision,
				"http.response.status_code": int64(tc.status), "rampart.principal.kind": "none"})
			// The upstream span, had there been one, ended before the
			// server span, so it was exported with it or before it.
			if spans := rc.Trace(server.TraceID); len(spans) != 1 {
				t.Errorf("refused request's trace has %d spans, want the server span alone: %+v", len(spans), spans)
			}
		})
	}
	if up.Count() != 0 {
		t.Errorf("upstream saw %d requests, want none", up.Count())
	}
}

// waitRequest returns the server span of the request with id, polling the
// receiver until a deadline.
func waitRequest(t *testing.T, rc *otlptest.Receiver, id string) otlptest.Span {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range rc.Spans() {
			if s.Kind == otlptrace.Span_SPAN_KIND_SERVER && s.Attrs["rampart.request_id"] == id {
				return s
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no server span for request %s: %+v", id, rc.Spans())
	return otlptest.Span{}
}

// peers are the two sides of the trace context trust rule: the test
// client (127.0.0.1) as a trusted proxy, and as an untrusted peer.
var peers = []struct {
	name, trustedProxies string
	trusted              bool
}{
	{"trusted proxy", "127.0.0.1", true},
	{"untrusted peer", "10.0.0.0/8", false},
}

// trustConfig is the server section trusting trustedProxies.
func trustConfig(trustedProxies string) string {
	return "server: { trusted_proxies: [\"" + trustedProxies + "\"] }\n"
}

// TestTraceContextOnlyFromTrustedProxies: a trusted proxy's trace is
// continued; an untrusted peer's request starts a new trace and its
// traceparent is not forwarded.
func TestTraceContextOnlyFromTrustedProxies(t *testing.T) {
	for _, tc := range peers {
		t.Run(tc.name, func(t *testing.T) {
			rc := otlptest.Start(t)
			up := gt.NewUpstream(t, nil)
			g := tracingGateway(t, up.URL, rc.Endpoint(), trustConfig(tc.trustedProxies), "")
			req, _ := http.NewRequest("GET", g.URL+"/public", nil)
			req.Header.Set("Traceparent", proxyTraceparen)
			req.Header.Set("Tracestate", "proxy=abc")
			if resp, body := g.Do(t, req); resp.StatusCode != 200 {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			traceID, parentID, _ := upstreamTraceparent(t, up)
			if got := traceID == proxyTraceID; got != tc.trusted {
				t.Errorf("upstream trace id %s continues the proxy's = %v, want %v", traceID, got, tc.trusted)
			}
			if parentID == proxySpanID {
				t.Errorf("upstream's parent is the proxy's span: the client's traceparent was forwarded as is")
			}
			wantState := ""
			if tc.trusted {
				wantState = "proxy=abc"
			}
			if got := up.Seen()[0].Header.Get("Tracestate"); got != wantState {
				t.Errorf("upstream tracestate %q, want %q", got, wantState)
			}
			spans := rc.WaitTrace(t, traceID, 2)
			server := otlptest.ByKind(t, spans, otlptrace.Span_SPAN_KIND_SERVER)
			wantParent := ""
			if tc.trusted {
				wantParent = proxySpanID
			}
			if server.ParentSpanID != wantParent {
				t.Errorf("server span's parent %q, want %q", server.ParentSpanID, wantParent)
			}
		})
	}
}

func TestSampleRatioZeroExportsNothingButPropagates(t *testing.T) {
	rc := otlptest.Start(t)
	up := gt.NewUpstream(t, nil)
	g := tracingGateway(t, up.URL, rc.Endpoint(), "", "  sample_ratio: 0\n")
	for range 5 {
		if resp, body := g.Get(t, "/public"); resp.StatusCode != 200 {
			t.Fatalf("status %d %s", resp.StatusCode, body)
		}
		if _, _, flags := upstreamTraceparent(t, up); flags != "00" {
			t.Errorf("upstream traceparent flags %s, want 00 (not sampled)", flags)
		}
	}
	g.Stop(t) // shutting down flushes whatever was queued
	if n := len(rc.Spans()); n != 0 {
		t.Errorf("%d spans exported with sample_ratio 0", n)
	}
}

func TestStopFlushesQueuedSpans(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "600000") // no export but the one on shutdown
	rc := otlptest.Start(t)
	up := gt.NewUpstream(t, nil)
	g := tracingGateway(t, up.URL, rc.Endpoint(), "", "")
	if resp, body := g.Get(t, "/public"); resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	g.Stop(t)
	traceID, _, _ := upstreamTraceparent(t, up)
	if got := len(rc.Trace(traceID)); got != 2 {
		t.Errorf("%d spans exported by the time the gateway stopped, want 2", got)
	}
}

// TestTracingChangeOnReloadNeedsRestart: the exporter outlives reloads; a
// changed tracing: section is reported and applied at the next restart,
// while the rest of the new config is applied.
func TestTracingChangeOnReloadNeedsRestart(t *testing.T) {
	rc := otlptest.Start(t)
	up := gt.NewUpstream(t, nil)
	g := tracingGateway(t, up.URL, rc.Endpoint(), "", "")
	next := gt.Config(up.URL, fmt.Sprintf("tracing: { endpoint: %q, sample_ratio: 0 }\n", rc.Endpoint()),
		"  - { name: renamed, path: /public, methods: [GET], upstream: app, auth: none }\n")
	if err := g.ReloadYAML(t, next); err != nil {
		t.Fatal(err)
	}
	waitLog(t, g, "tracing changed: restart rampart to apply it")
	if resp, body := g.Get(t, "/public"); resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	traceID, _, flags := upstreamTraceparent(t, up)
	if flags != "01" {
		t.Errorf("flags %s after the reload: the running exporter's sample_ratio (1) must still apply", flags)
	}
	server := otlptest.ByKind(t, rc.WaitTrace(t, traceID, 2), otlptrace.Span_SPAN_KIND_SERVER)
	if server.Attrs["rampart.route"] != "renamed" {
		t.Errorf("span route %v, want the reloaded config's route", server.Attrs["rampart.route"])
	}
}

func TestUpstreamFailuresMarkSpansAsErrors(t *testing.T) {
	rc := otlptest.Start(t)
	up := gt.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	g := tracingGateway(t, up.URL, rc.Endpoint(), "", "")
	resp, _ := g.Get(t, "/public")
	if resp.StatusCode != 503 {
		t.Fatalf("status %d, want the upstream's 503", resp.StatusCode)
	}
	traceID, _, _ := upstreamTraceparent(t, up)
	spans := rc.WaitTrace(t, traceID, 2)
	for _, s := range spans {
		if s.StatusCode != otlptrace.Status_STATUS_CODE_ERROR {
			t.Errorf("span %q status %v on an upstream 503, want error", s.Name, s.StatusCode)
		}
	}
	checkAttrs(t, "upstream span", otlptest.ByKind(t, spans, otlptrace.Span_SPAN_KIND_CLIENT),
		map[string]any{"http.response.status_code": int64(503), "error.type": "503"})

	// An upstream that cannot be reached: 502, and both spans say why.
	dead := tracingGateway(t, "http://"+gt.FreeAddr(t), rc.Endpoint(), "", "")
	resp, _ = dead.Get(t, "/public")
	if resp.StatusCode != 502 {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	server := waitRequest(t, rc, resp.Header.Get("X-Request-Id"))
	checkAttrs(t, "server span", server, map[string]any{"rampart.decision": "upstream-unavailable", "http.response.status_code": int64(502)})
	client := otlptest.ByKind(t, rc.Trace(server.TraceID), otlptrace.Span_SPAN_KIND_CLIENT)
	checkAttrs(t, "upstream span", client, map[string]any{"error.type": "upstream-unavailable"})
	if client.StatusCode != otlptrace.Status_STATUS_CODE_ERROR || server.StatusCode != otlptrace.Status_STATUS_CODE_ERROR {
		t.Errorf("statuses %v, %v on a 502, want errors", server.StatusCode, client.StatusCode)
	}
}

func TestDeadCollectorDoesNotAffectRequests(t *testing.T) {
	up := gt.NewUpstream(t, nil)
	g := tracingGateway(t, up.URL, "http://"+gt.FreeAddr(t)+"/v1/traces", "", "  timeout: 200ms\n  queue: 4\n")
	for range 50 {
		start := time.Now()
		resp, body := g.Get(t, "/public")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d %s", resp.StatusCode, body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("a request took %v with the collector down", d)
		}
	}
	if up.Count() != 50 {
		t.Errorf("upstream saw %d requests, want 50", up.Count())
	}
	// The spans that could not be sent are counted, never silently lost.
	deadline := time.Now().Add(10 * time.Second)
	for {
		failed, dropped := metric(t, g, `rampart_trace_spans_total{outcome="failed"}`), metric(t, g, `rampart_trace_spans_total{outcome="dropped"}`)
		if failed > 0 && failed+dropped == 100 || time.Now().After(deadline) {
			if failed == 0 || failed+dropped != 100 {
				t.Errorf("failed %v + dropped %v spans, want 100 (2 per request), some failed", failed, dropped)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(g.Logs.String(), "collector-credential-1234") {
		t.Error("the collector credential appears in the logs")
	}
	if !strings.Contains(g.Logs.String(), "trace export failed") {
		t.Error("the failed export was not logged")
	}
}

// TestTracingOffForwardsOnlyTrustedTraceContext: without tracing, a
// trusted proxy's trace context is passed on unchanged and an untrusted
// peer's removed.
func TestTracingOffForwardsOnlyTrustedTraceContext(t *testing.T) {
	for _, tc := range peers {
		t.Run(tc.name, func(t *testing.T) {
			up := gt.NewUpstream(t, nil)
			g := gt.Start(t, gt.Config(up.URL, trustConfig(tc.trustedProxies),
				"  - { name: public, path: /public, methods: [GET], upstream: app, auth: none }\n"), nil)
			// Lower-case names, as HTTP/2 and many clients write them.
			res := g.Raw(t, "GET /public HTTP/1.1\r\nHost: x\r\ntraceparent: "+proxyTraceparen+
				"\r\ntracestate: proxy=abc\r\nConnection: close\r\n\r\n")
			if res.Resp.StatusCode != 200 {
				t.Fatalf("status %d %s", res.Resp.StatusCode, res.Body)
			}
			h := up.Seen()[0].Header
			want := ""
			if tc.trusted {
				want = proxyTraceparen
			}
			if got := h.Get("Traceparent"); got != want {
				t.Errorf("upstream traceparent %q, want %q", got, want)
			}
			if got := h.Get("Tracestate") != ""; got != tc.trusted {
				t.Errorf("upstream tracestate present = %v, want %v", got, tc.trusted)
			}
		})
	}
}

func checkAttrs(t *testing.T, what string, s otlptest.Span, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if got := s.Attrs[k]; got != v {
			t.Errorf("%s %q: %s = %#v, want %#v", what, s.Name, k, got, v)
		}
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// metric reads one sample from the admin /metrics page (0 when absent).
func metric(t *testing.T, g *gt.Gateway, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(metricsText(t, g), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var x float64
			fmt.Sscan(v, &x)
			return x
		}
	}
	return 0
}

// TestWebSocketHandshakeCarriesTheServerSpan: a WebSocket route's upstream
// gets the server span's traceparent with the upgrade (a relay has no
// upstream span), and the server span reports the 101.
func TestWebSocketHandshakeCarriesTheServerSpan(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
	rc := otlptest.Start(t)
	up, _ := goEcho(t)
	g := gt.Start(t, gt.Config(up.URL, wsAuth()+fmt.Sprintf("tracing: { endpoint: %q }\n", rc.Endpoint()),
		wsRoutes(`{ origins: ["`+appOrigin+`"] }`)), nil)
	c, _, err := dialWS(t, g, appOrigin, wsToken(t))
	if err != nil {
		t.Fatal(err)
	}
	traceID, parentID, _ := upstreamTraceparent(t, up)
	_ = c.CloseNow() // the access line, and the span, end with the relay
	server := otlptest.ByKind(t, rc.WaitTrace(t, traceID, 1), otlptrace.Span_SPAN_KIND_SERVER)
	if server.SpanID != parentID {
		t.Errorf("upstream's traceparent names parent %s, want the server span %s", parentID, server.SpanID)
	}
	checkAttrs(t, "server span", server, map[string]any{"http.response.status_code": int64(101), "rampart.principal.kind": "jwt"})
}
