// Package otlptest is a real OTLP/HTTP trace receiver for tests: an
// httptest server that decodes the protobuf ExportTraceServiceRequest the
// gateway sends (gzip or not), so that tests check the bytes on the wire,
// not the SDK's in-process view of them.
package otlptest

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	otlptrace "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Span is one exported span, decoded.
type Span struct {
	Service             string // the resource's service.name
	TraceID, SpanID     string // hex
	ParentSpanID        string // hex, "" for a root
	Name                string
	Kind                otlptrace.Span_SpanKind
	Attrs               map[string]any // string, int64, float64 or bool
	StatusCode          otlptrace.Status_StatusCode
	Start, End          time.Time
	ExportContentHeader http.Header // the export request's headers
}

// Receiver collects the spans exported to it.
type Receiver struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []Span
	requests int
}

// Start starts a receiver; its URL (+ "/v1/traces") is an endpoint.
func Start(t testing.TB) *Receiver {
	t.Helper()
	rc := &Receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

// Endpoint is the receiver's OTLP/HTTP traces URL.
func (rc *Receiver) Endpoint() string { return rc.URL + "/v1/traces" }

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "not an OTLP/HTTP protobuf trace export", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(io.LimitReader(body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var got []Span
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				got = append(got, decode(s, service, r.Header.Clone()))
			}
		}
	}
	rc.mu.Lock()
	rc.spans = append(rc.spans, got...)
	rc.requests++
	rc.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func decode(s *otlptrace.Span, service string, h http.Header) Span {
	sp := Span{Service: service, TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
		ParentSpanID: hex.EncodeToString(s.GetParentSpanId()), Name: s.GetName(), Kind: s.GetKind(),
		Attrs: map[string]any{}, StatusCode: s.GetStatus().GetCode(),
		Start: time.Unix(0, int64(s.GetStartTimeUnixNano())), End: time.Unix(0, int64(s.GetEndTimeUnixNano())),
		ExportContentHeader: h}
	for _, kv := range s.GetAttributes() {
		sp.Attrs[kv.GetKey()] = value(kv.GetValue())
	}
	return sp
}

func value(v *common.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *common.AnyValue_StringValue:
		return x.StringValue
	case *common.AnyValue_IntValue:
		return x.IntValue
	case *common.AnyValue_DoubleValue:
		return x.DoubleValue
	case *common.AnyValue_BoolValue:
		return x.BoolValue
	}
	return fmt.Sprint(v)
}

// Spans returns the spans received so far.
func (rc *Receiver) Spans() []Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Span(nil), rc.spans...)
}

// Requests is the number of export requests received.
func (rc *Receiver) Requests() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests
}

// Trace returns the spans of one trace.
func (rc *Receiver) Trace(traceID string) []Span {
	var out []Span
	for _, s := range rc.Spans() {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// WaitTrace polls, until a deadline, for n spans of traceID and returns
// them; it fails the test when they do not all arrive.
func (rc *Receiver) WaitTrace(t testing.TB, traceID string, n int) []Span {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := rc.Trace(traceID)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s: %d spans received, want %d (all spans: %+v)", traceID, len(got), n, rc.Spans())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ByKind returns the first span of kind in spans, failing the test when
// there is none.
func ByKind(t testing.TB, spans []Span, kind otlptrace.Span_SpanKind) Span {
	t.Helper()
	for _, s := range spans {
		if s.Kind == kind {
			return s
		}
	}
	t.Fatalf("no %v span in %+v", kind, spans)
	return Span{}
}
