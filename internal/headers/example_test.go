package headers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/rampart-gw/rampart/internal/headers"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// The profile is applied when the header is written, after the upstream's
// headers are in the map, so the upstream cannot weaken it.
func Example() {
	secure, err := headers.New(headers.Config{Routes: map[string]headers.Overrides{
		"docs": {Set: map[string]string{"Content-Security-Policy": "default-src 'self'"}},
	}})
	if err != nil {
		panic(err)
	}
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "ALLOWALL")
		_, _ = w.Write([]byte("{}"))
	})
	for _, route := range []string{"items", "docs"} {
		info := &pipeline.Info{Route: route, Principal: &pipeline.Principal{Subject: "alice"}}
		r := pipeline.WithInfo(httptest.NewRequest("GET", "/", nil), info)
		w := httptest.NewRecorder()
		secure(upstream).ServeHTTP(w, r)
		h := w.Header()
		fmt.Printf("%s: %s | %s | %s\n", route, h.Get("X-Frame-Options"), h.Get("Content-Security-Policy"), h.Get("Cache-Control"))
	}
	// Output:
	// items: DENY | default-src 'none'; frame-ancestors 'none' | no-store
	// docs: DENY | default-src 'self' | no-store
}
