package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/tracing"
)

func TestTracing(t *testing.T) {
	base := "version: 1\nadmin: {listen: \"off\"}\n"
	if cfg := mustParse(t, base, nil); cfg.Tracing != nil {
		t.Errorf("tracing on without a tracing: section: %+v", cfg.Tracing)
	}
	cfg := mustParse(t, base+"tracing: { endpoint: \"http://127.0.0.1:4318/v1/traces\" }\n", nil)
	want := &tracing.Config{Endpoint: "http://127.0.0.1:4318/v1/traces", SampleRatio: 1, ServiceName: "rampart",
		Timeout: 10 * time.Second, Queue: 2048}
	if diff := cmp.Diff(want, cfg.Tracing); diff != "" {
		t.Errorf("tracing defaults:\n%s", diff)
	}
	runErrCases(t, []errCase{
		{name: "endpoint required", src: base + "tracing: { sample_ratio: 0.5 }\n", want: []string{"3:1: tracing: endpoint is required"}},
		{name: "plain http to a remote collector refused", src: base + "tracing: { endpoint: \"http://10.1.2.3:4318/v1/traces\" }\n",
			want: []string{"3:22: tracing: endpoint must use https://"}},
		{name: "ratio above 1 refused", src: base + "tracing: { endpoint: \"https://otel.test/v1/traces\", sample_ratio: 1.5 }\n",
			want: []string{"3:67: tracing: sample_ratio must be at most 1"}},
		{name: "ratio not a number refused", src: base + "tracing: { endpoint: \"https://otel.test/v1/traces\", sample_ratio: half }\n",
			want: []string{"3:67: tracing: sample_ratio must be a number"}},
		{name: "bad header name refused", src: base + "tracing: { endpoint: \"https://otel.test/v1/traces\", headers: { \"a b\": x } }\n",
			want: []string{`3:62: tracing: headers has "a b", which is not a valid header name`}},
		{name: "queue bounded", src: base + "tracing: { endpoint: \"https://otel.test/v1/traces\", queue: 0 }\n",
			want: []string{"3:60: tracing: queue must be between 1 and 65536"}},
	})
}

// TestTracingHeaderValuesNeverShown: export headers hold the collector's
// credentials; a refused one is named, its value never shown.
func TestTracingHeaderValuesNeverShown(t *testing.T) {
	src := "version: 1\nadmin: {listen: \"off\"}\ntracing:\n  endpoint: https://otel.test/v1/traces\n  headers: { Authorization: \"${TOKEN}\", X-Key: \"Literal-Collector-Secret\\nX: 1\" }\n"
	_, err := parse(src, map[string]string{"TOKEN": "Env-Collector-Secret\r\nInjected: 1"})
	if err == nil {
		t.Fatal("header values with CR/LF accepted")
	}
	for _, secret := range []string{"Env-Collector-Secret", "Literal-Collector-Secret", "Injected"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows a header value (%s):\n%v", secret, err)
		}
	}
	if !strings.Contains(err.Error(), `"Authorization"`) || !strings.Contains(err.Error(), `"X-Key"`) {
		t.Errorf("error does not name the headers:\n%v", err)
	}
}
