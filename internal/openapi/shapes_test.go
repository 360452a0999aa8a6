package openapi

import (
	"net/http"
	"testing"
)

// Documents shaped like what frameworks emit, through the h1 front end and
// a real upstream: legitimate requests reach it, bad ones are refused and
// do not.
func TestFrameworkShapedDocuments(t *testing.T) {
	ok := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }
	tests := []struct {
		spec    string
		method  string
		target  string
		ctype   string
		body    string
		status  int // 0: forwarded (the upstream answers 204)
		problem string
	}{
		// flask-smorest / apispec
		{"testdata/smorest-3.0.yaml", "GET", "/pets/?name=rex&page=2", "", "", 0, ""},
		{"testdata/smorest-3.0.yaml", "GET", "/pets/7", "", "", 0, ""},
		{"testdata/smorest-3.0.yaml", "POST", "/pets/", "application/json", `{"name":"rex","tag":null}`, 0, ""},
		{"testdata/smorest-3.0.yaml", "GET", "/pets/?page=0", "", "", 400, "request-invalid"},
		{"testdata/smorest-3.0.yaml", "GET", "/pets/-1", "", "", 400, "request-invalid"},
		{"testdata/smorest-3.0.yaml", "POST", "/pets/", "application/json", `{"name":"rex","id":5}`, 400, "request-invalid"}, // readOnly in a request
		{"testdata/smorest-3.0.yaml", "POST", "/pets/", "application/json", `{"name":"rex","owner":"x"}`, 400, "request-invalid"},
		{"testdata/smorest-3.0.yaml", "DELETE", "/pets/7", "", "", 405, ""},
		// webhooks and callbacks are not routes
		{"testdata/webhooks-3.1.yaml", "POST", "/subscriptions", "application/json", `{"callbackUrl":"https://client.example/hook","events":["created"]}`, 0, ""},
		{"testdata/webhooks-3.1.yaml", "POST", "/subscriptions", "application/json", `{"callbackUrl":"https://client.example/hook","events":[]}`, 400, "request-invalid"},
		{"testdata/webhooks-3.1.yaml", "POST", "/newPet", "application/json", `{"kind":"x"}`, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.spec+" "+tt.method+" "+tt.target, func(t *testing.T) {
			h := newHarness(t, Config{Name: "shapes", Spec: tt.spec, ValidateRequests: true, RejectUndocumented: true}, ok)
			got := h.do(tt.method, tt.target, tt.ctype, tt.body)
			if tt.status == 0 {
				if got.status != http.StatusNoContent || h.up.count() != 1 {
					t.Fatalf("status %d (%s), upstream saw %d requests; want forwarded", got.status, got.body, h.up.count())
				}
				if seen := h.up.last(); string(seen.Body) != tt.body {
					t.Errorf("upstream got body %q, want %q unchanged", seen.Body, tt.body)
				}
				return
			}
			if got.status != tt.status || h.up.count() != 0 {
				t.Fatalf("status %d (%s), upstream saw %d requests; want %d and nothing forwarded", got.status, got.body, h.up.count(), tt.status)
			}
			if typ, _ := got.problem(); tt.problem != "" && typ != tt.problem {
				t.Errorf("problem type %q, want %q", typ, tt.problem)
			}
		})
	}
}
