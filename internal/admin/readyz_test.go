package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReadyz: the status follows Ready alone (a dependency down is reported
// in the body, not a 503); error texts, which name internal hosts, are shown
// only with the admin token.
func TestReadyz(t *testing.T) {
	draining := false
	srv := httptest.NewServer(New(testToken, func() Readiness {
		rd := Readiness{Ready: !draining,
			SharedState:    &Dependency{State: "down", Mode: "fail_closed", Error: "dial tcp 10.0.0.7:6379: refused"},
			Authenticators: map[string]Dependency{"corp_sso": {State: "waiting", Error: "GET https://idp.internal/jwks: status 503"}}}
		if draining {
			rd.Reason = "draining"
		}
		return rd
	}))
	defer srv.Close()
	get := func(method, token string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+"/readyz", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, body := get(http.MethodGet, "")
	var got Readiness
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusOK {
		t.Fatalf("GET /readyz: %d %q (%v), want 200 JSON", code, body, err)
	}
	if got.SharedState.State != "down" || got.SharedState.Mode != "fail_closed" || got.Authenticators["corp_sso"].State != "waiting" {
		t.Errorf("states not reported: %s", body)
	}
	if strings.Contains(body, "10.0.0.7") || strings.Contains(body, "idp.internal") {
		t.Errorf("error text shown without the admin token: %s", body)
	}
	if _, body := get(http.MethodGet, testToken); !strings.Contains(body, "10.0.0.7") || !strings.Contains(body, "idp.internal") {
		t.Errorf("error text not shown with the admin token: %s", body)
	}

	draining = true
	if code, body := get(http.MethodGet, ""); code != http.StatusServiceUnavailable || !strings.Contains(body, `"reason":"draining"`) {
		t.Errorf("draining: %d %s, want 503 saying draining", code, body)
	}
	if code, body := get(http.MethodHead, ""); code != http.StatusServiceUnavailable || body != "" {
		t.Errorf("HEAD while draining: %d %q", code, body)
	}
}
