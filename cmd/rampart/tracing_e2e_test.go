package main_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	otlptrace "go.opentelemetry.io/proto/otlp/trace/v1"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/tracing/otlptest"
)

// TestTracingThroughTheBinary: `rampart serve` with a tracing: section
// exports, over OTLP/HTTP to a real receiver, a server span and an
// upstream span per forwarded request (the upstream got the upstream
// span's traceparent) and a lone server span for a refusal; the
// collector's credential comes from the environment and is sent, never
// logged.
func TestTracingThroughTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	rc := otlptest.Start(t)
	up := gt.NewUpstream(t, nil)
	listen, adminListen := gt.FreeAddr(t), gt.FreeAddr(t)
	cfg := fmt.Sprintf(`version: 1
server: { listen: %q }
admin: { listen: %q, token: "${RAMPART_ADMIN_TOKEN}" }
tracing:
  endpoint: %q
  service_name: e2e-gateway
  headers: { Authorization: "Bearer ${OTLP_TOKEN}" }
upstreams:
  app: { targets: [%q] }
routes:
  - { name: item, path: "/api/items/{id}", methods: [GET], upstream: app, auth: none }
`, listen, adminListen, rc.Endpoint(), up.URL)
	const credential = "e2e-collector-credential-5678"
	srv := serveBinary(t, cfg, "OTLP_TOKEN="+credential, "OTEL_BSP_SCHEDULE_DELAY=50")
	srv.waitReady(t, gt.Client(), adminListen)

	resp, err := gt.Client().Get("http://" + listen + "/api/items/42")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || up.Count() != 1 {
		t.Fatalf("status %d, upstream saw %d requests", resp.StatusCode, up.Count())
	}
	tp := strings.Split(up.Seen()[0].Header.Get("Traceparent"), "-")
	if len(tp) != 4 {
		t.Fatalf("upstream traceparent %q", up.Seen()[0].Header.Get("Traceparent"))
	}
	spans := rc.WaitTrace(t, tp[1], 2)
	server := otlptest.ByKind(t, spans, otlptrace.Span_SPAN_KIND_SERVER)
	client := otlptest.ByKind(t, spans, otlptrace.Span_SPAN_KIND_CLIENT)
	if server.Name != "GET /api/items/{id}" || server.Service != "e2e-gateway" || server.Attrs["rampart.decision"] != "forwarded" {
		t.Errorf("server span %q of %q, decision %v", server.Name, server.Service, server.Attrs["rampart.decision"])
	}
	if client.ParentSpanID != server.SpanID || client.SpanID != tp[2] {
		t.Errorf("upstream span %s (parent %s); server span %s; upstream's traceparent parent %s", client.SpanID, client.ParentSpanID, server.SpanID, tp[2])
	}
	if got := server.ExportContentHeader.Get("Authorization"); got != "Bearer "+credential {
		t.Errorf("collector got Authorization %q", got)
	}

	resp, err = gt.Client().Get("http://" + listen + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var found []otlptest.Span
		for _, s := range rc.Spans() {
			if s.Attrs["rampart.request_id"] == id {
				found = append(found, s)
			}
		}
		if len(found) == 1 && found[0].Attrs["rampart.decision"] == "route-not-found" && len(rc.Trace(found[0].TraceID)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refused request %s: spans %+v", id, found)
		}
	}
	srv.alive(t, "tracing")
	if strings.Contains(srv.logs.String(), credential) {
		t.Error("the collector credential appears in the logs")
	}
}
