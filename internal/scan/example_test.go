package scan_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/rampart-gw/rampart/internal/scan"
)

// A service that announces its software and answers a quote in a query
// parameter with a stack trace.
func ExampleRun() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "gunicorn/21.2.0")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("RateLimit-Policy", `"default";q=100;w=60`)
		if r.URL.Query().Get("id") != "" {
			w.WriteHeader(500)
			fmt.Fprintln(w, "Traceback (most recent call last):\n  File \"/app/main.py\", line 9, in get")
			return
		}
		fmt.Fprintln(w, `{"ok": true}`)
	}))
	defer api.Close()

	rep, err := scan.Run(context.Background(), scan.Options{Target: api.URL, Rate: 1000})
	if err != nil {
		fmt.Fprintln(os.Stderr, err) // `rampart scan` exits 2 here
		return
	}
	for _, f := range rep.Findings {
		fmt.Println(f.Severity, f.Rule, f.Title)
	}
	fmt.Println("fails --fail-on medium:", rep.Fails(scan.Medium))
	// Output:
	// medium ERR001 Stack trace or framework debug page in a response
	// low HDR004 Software or version disclosed in response headers
	// info TLS001 API served over plain HTTP without a redirect to HTTPS
	// fails --fail-on medium: true
}
