package gateway_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// TestOpenAPIStripeShapedRequests runs Stripe-shaped requests through the
// real gateway with routes generated from the document: a form body with
// encoding style deepObject and a deepObject query reach the upstream
// unchanged; bad ones are refused 400 and never reach it.
func TestOpenAPIStripeShapedRequests(t *testing.T) {
	spec, err := filepath.Abs("../openapi/testdata/styles-3.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	up := gt.NewUpstream(t, nil)
	extra := fmt.Sprintf("openapi:\n  styles: { spec: %q, validate_requests: true, reject_undocumented: true, routes_from_spec: true, upstream: app, allow_public: true }\n", spec)
	g := gt.Start(t, gt.Config(up.URL, extra, "  - { name: other, path: /other, methods: [GET], upstream: app, auth: none }\n"), nil)
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name, method, target, ctype, body string
		status                            int
	}{
		{"form body with deepObject fields", "POST", "/v1/customers", form,
			"email=a%40example.com&address%5Bline1%5D=1+Main+St&expand%5B0%5D=tax_ids&items%5B0%5D%5Bprice%5D=price_1&items%5B0%5D%5Bquantity%5D=2&metadata%5Bk%5D=v", 200},
		{"deepObject query", "GET", "/v1/charges?created%5Bgte%5D=1700000000&expand%5B0%5D=data.customer&limit=10", "", "", 200},
		{"form body: undeclared nested property", "POST", "/v1/customers", form, "email=x&address%5Bline1%5D=a&address%5Bis_admin%5D=true", 400},
		{"form body: nested type", "POST", "/v1/customers", form, "email=x&items%5B0%5D%5Bprice%5D=p&items%5B0%5D%5Bquantity%5D=many", 400},
		{"deepObject query: bad value", "GET", "/v1/charges?created%5Bgte%5D=yesterday", "", "", 400},
		{"deepObject query: undeclared key", "GET", "/v1/charges?created%5Bafter%5D=1", "", "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.Count()
			req, _ := http.NewRequest(tt.method, g.URL+tt.target, strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, body := g.Do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tt.status != 200 {
				gt.CheckProblem(t, resp, body, 400, "request-invalid")
				if up.Count() != before {
					t.Errorf("the upstream was reached")
				}
				return
			}
			if up.Count() != before+1 {
				t.Fatalf("upstream saw %d requests, want 1", up.Count()-before)
			}
			if s := up.Seen()[before]; s.RequestURI != tt.target || s.Body != tt.body {
				t.Errorf("upstream saw %s %q, want %s %q", s.RequestURI, s.Body, tt.target, tt.body)
			}
		})
	}
}

// TestOpenAPIMultipartPartEncodings runs OpenAI-shaped realtime-call
// requests (an application/sdp part and an application/json session part)
// through the real gateway: an encoding's contentType is enforced on each
// part and a JSON part is validated against its schema; refusals are 400
// problems naming the part and never reach the upstream.
func TestOpenAPIMultipartPartEncodings(t *testing.T) {
	spec, err := filepath.Abs("../openapi/testdata/parts-3.1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	up := gt.NewUpstream(t, nil)
	extra := fmt.Sprintf("openapi:\n  parts: { spec: %q, validate_requests: true, reject_undocumented: true, routes_from_spec: true, upstream: app, allow_public: true }\n", spec)
	g := gt.Start(t, gt.Config(up.URL, extra, "  - { name: other, path: /other, methods: [GET], upstream: app, auth: none }\n"), nil)
	const sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0"
	body := func(sdpType, sessionType, session string) string {
		b := "--XX\r\nContent-Disposition: form-data; name=\"sdp\"\r\nContent-Type: " + sdpType + "\r\n\r\n" + sdp + "\r\n"
		if session != "" {
			b += "--XX\r\nContent-Disposition: form-data; name=\"session\"\r\nContent-Type: " + sessionType + "\r\n\r\n" + session + "\r\n"
		}
		return b + "--XX--\r\n"
	}
	tests := []struct {
		name, body, pointer string
		status              int
	}{
		{"sdp and JSON session", body("application/sdp", "application/json", `{"type":"realtime","model":"gpt-realtime"}`), "", 200},
		{"sdp alone", body("application/sdp", "", ""), "", 200},
		{"sdp part of the wrong type", body("text/plain", "", ""), "/body/sdp", 400},
		{"session part of the wrong type", body("application/sdp", "text/plain", `{"type":"realtime"}`), "/body/session", 400},
		{"session failing its schema", body("application/sdp", "application/json", `{"type":"realtime","is_admin":true}`), "/body/session/is_admin", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.Count()
			req, _ := http.NewRequest("POST", g.URL+"/v1/realtime/calls", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "multipart/form-data; boundary=XX")
			resp, got := g.Do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			if tt.status != 200 {
				p := gt.CheckProblem(t, resp, got, 400, "request-invalid")
				if !strings.Contains(p.Detail, tt.pointer) {
					t.Errorf("detail %q does not name %s", p.Detail, tt.pointer)
				}
				if up.Count() != before {
					t.Errorf("the upstream was reached")
				}
				return
			}
			if up.Count() != before+1 {
				t.Fatalf("upstream saw %d requests, want 1", up.Count()-before)
			}
			if s := up.Seen()[before]; s.Body != tt.body {
				t.Errorf("upstream saw %q, want %q", s.Body, tt.body)
			}
		})
	}
}
