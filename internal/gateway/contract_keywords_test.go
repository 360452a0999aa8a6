package gateway_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// TestOpenAPIRealDocumentKeywords runs a 3.1 document of the shapes large
// real documents use ($recursiveRef/$recursiveAnchor, enum: [], a duplicate
// required entry, a lookahead pattern; issue 15) through the real gateway:
// legitimate requests reach the upstream unchanged, bad ones are refused
// with 400 and never reach it.
func TestOpenAPIRealDocumentKeywords(t *testing.T) {
	spec, err := filepath.Abs("../openapi/testdata/filters-3.1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	up := gt.NewUpstream(t, nil)
	extra := fmt.Sprintf("openapi:\n  search: { spec: %q, validate_requests: true, reject_undocumented: true }\n", spec)
	routes := "  - { name: api, path: \"/{rest...}\", methods: [POST], upstream: app, auth: none, openapi: search }\n"
	g := gt.Start(t, gt.Config(up.URL, extra, routes), nil)
	tests := []struct {
		name, body string
		status     int
	}{
		{"nested compound filter (recursive) → forwarded", `{"query":"q","filter":{"type":"and","filters":[{"type":"eq","key":"a","value":1},{"type":"or","filters":[{"type":"ne","key":"b","value":"x"}]}]}}`, 200},
		{"cursor the lookahead allows → forwarded", `{"query":"q","cursor":"abc"}`, 200},
		{"bad filter two levels down → 400", `{"query":"q","filter":{"type":"and","filters":[{"type":"or","filters":[{"type":"eq","key":"b"}]}]}}`, 400},
		{"any value for an enum: [] property → 400", `{"query":"q","retired_option":"x"}`, 400},
		{"cursor the lookahead forbids → 400", `{"query":"q","cursor":"internal-1"}`, 400},
		{"missing the (twice) required query → 400", `{"cursor":"abc"}`, 400},
		{"slug the lookahead pattern allows → forwarded", `{"query":"q","slug":"red-boots-2"}`, 200},
		{"slug crafted for catastrophic backtracking → 400 within the budget", `{"query":"q","slug":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.Count()
			req, _ := http.NewRequest("POST", g.URL+"/search", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			resp, body := g.Do(t, req)
			if tt.status == 400 {
				gt.CheckProblem(t, resp, body, 400, "request-invalid")
				if strings.Contains(tt.name, "catastrophic") && !strings.Contains(body, "too long to evaluate") {
					t.Errorf("refused for another reason: %s", body)
				}
				if up.Count() != before {
					t.Error("the upstream saw a refused request")
				}
				return
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if up.Count() != before+1 || up.Seen()[before].Body != tt.body {
				t.Errorf("upstream saw %d requests, want the body unchanged", up.Count()-before)
			}
		})
	}
}
