package cors

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/rampart-gw/rampart/internal/headers"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// TestWithSecurityHeaders wires both response steps the way the gateway does
// (security headers outermost, CORS after routing) and checks that preflight
// answers, refusals and actual responses carry both.
func TestWithSecurityHeaders(t *testing.T) {
	secure, err := headers.New(headers.Config{})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := New(webPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.WriteHeader(200)
	})
	routed := policy(upstream)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &pipeline.Info{ID: "req-1"}
		secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info.Route = "items" // the router
			routed.ServeHTTP(w, r)
		})).ServeHTTP(w, pipeline.WithInfo(r, info))
	}))
	defer srv.Close()
	tests := []struct {
		name      string
		method    string
		header    http.Header
		status    int
		allow     string
		wantHits  int32
		wantVary  bool
		wantCreds bool
	}{
		{"allowed preflight", "OPTIONS", preflight("https://app.example.com", "POST", "content-type"), 204, "https://app.example.com", 0, true, true},
		{"refused preflight", "OPTIONS", preflight("https://evil.com", "POST", ""), 403, "", 0, true, false},
		{"actual request", "GET", origin("https://app.example.com"), 200, "https://app.example.com", 1, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			req, _ := http.NewRequest(tt.method, srv.URL+"/api/items", nil)
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || hits.Load() != tt.wantHits {
				t.Fatalf("status %d hits %d", resp.StatusCode, hits.Load())
			}
			if got := resp.Header.Values("Access-Control-Allow-Origin"); tt.allow == "" && len(got) != 0 || tt.allow != "" && (len(got) != 1 || got[0] != tt.allow) {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.allow)
			}
			if (resp.Header.Get("Access-Control-Allow-Credentials") == "true") != tt.wantCreds {
				t.Errorf("Access-Control-Allow-Credentials = %q", resp.Header.Get("Access-Control-Allow-Credentials"))
			}
			if varyHas(resp.Header, "Origin") != tt.wantVary {
				t.Errorf("Vary = %q", resp.Header.Values("Vary"))
			}
			for k, want := range map[string]string{
				"X-Content-Type-Options": headers.ContentTypeOptions, "X-Frame-Options": headers.FrameOptions,
				"Content-Security-Policy": headers.ContentSecurityPolicy, "Referrer-Policy": headers.ReferrerPolicy,
				"Cross-Origin-Resource-Policy": headers.CrossOriginResourcePolicy, "Strict-Transport-Security": headers.StrictTransportSecurity,
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}
