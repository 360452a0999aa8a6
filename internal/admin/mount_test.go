package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A mounted handler authenticates its own callers (the dashboard's login
// page is open); every other path still needs the token.
func TestMountBypassesTheTokenOnlyUnderItsPrefix(t *testing.T) {
	h := New(testToken, func() Readiness { return Readiness{Ready: true} })
	h.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	h.Mount("/dashboard/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/dashboard/login", http.StatusTeapot},
		{"/dashboard/api/summary", http.StatusTeapot},
		{"/dashboard", http.StatusUnauthorized}, // outside the prefix
		{"/metrics", http.StatusUnauthorized},
		{"/dashboardx/", http.StatusUnauthorized},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.want {
			t.Errorf("GET %s without the token: %d, want %d", tc.path, rec.Code, tc.want)
		}
	}
}
