package tracing

import (
	"sort"
	"time"

	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/framing"
)

// Config is the tracing: section. Without it tracing is off: no span is
// started and the request path pays one nil check.
type Config struct {
	// Endpoint is the collector's OTLP/HTTP traces URL, such as
	// http://127.0.0.1:4318/v1/traces; required. https://, or http:// for
	// localhost and loopback addresses only (a collector elsewhere is
	// reached over TLS, since spans and headers carry client addresses
	// and the collector's credentials).
	Endpoint string `yaml:"endpoint" conf:"required,weburl"`
	// SampleRatio is the share of new traces recorded and exported,
	// between 0 and 1. Parent-based: a request continuing a trace from a
	// trusted proxy follows that trace's sampled flag instead. Requests
	// not sampled still get a traceparent (flag 00) sent upstream.
	SampleRatio float64 `yaml:"sample_ratio" default:"1" conf:"min=0,max=1"`
	// ServiceName is the service.name resource attribute of the spans.
	ServiceName string `yaml:"service_name" default:"rampart" conf:"nonempty"`
	// Headers are sent with every export, for the collector's
	// authentication (Authorization: Bearer ${OTLP_TOKEN}). Their values
	// are secrets: never logged nor shown in messages; write them as
	// ${ENV_VAR}.
	Headers map[string]string `yaml:"headers" conf:"entry=header"`
	// Timeout bounds one export to the collector; between 100ms and 1m. A
	// batch that fails or times out is dropped (and counted), not retried:
	// a dead collector never holds spans, or requests, back.
	Timeout time.Duration `yaml:"timeout" default:"10s" conf:"min=100ms,max=1m"`
	// Queue bounds the spans waiting for export (in memory, exported in
	// batches of up to 512 every 5s or as soon as a batch is full); spans
	// ended while it is full are dropped and counted
	// (rampart_trace_spans_total{outcome="dropped"}). Between 1 and 65536.
	Queue int `yaml:"queue" default:"2048" conf:"min=1,max=65536"`
}

// Validate checks the export headers: names must be tokens and values
// must fit in a header. Values are never shown.
func (c *Config) Validate() []error {
	var errs []error
	names := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch {
		case !framing.ValidToken(k):
			errs = append(errs, conf.Errorf("headers", "has %q, which is not a valid header name", k))
		case !framing.ValidValue(c.Headers[k]):
			errs = append(errs, conf.Errorf("headers", "has a value with a control character (CR, LF, NUL...) for %q", k))
		}
	}
	return errs
}
