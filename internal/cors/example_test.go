package cors_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/rampart-gw/rampart/internal/cors"
)

// A route's policy answers preflights itself; the upstream never sees them.
func Example() {
	policy, err := cors.New(cors.Config{
		Name:             "web",
		AllowOrigins:     []string{"https://app.example.com", "https://*.preview.example.com"},
		AllowMethods:     []string{"GET", "POST"},
		AllowHeaders:     []string{"authorization", "content-type"},
		AllowCredentials: true,
		MaxAge:           10 * time.Minute,
	}, nil)
	if err != nil {
		panic(err)
	}
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Println("upstream called") })
	h := policy(upstream)

	r := httptest.NewRequest("OPTIONS", "/api/items", nil)
	r.Header.Set("Origin", "https://pr-42.preview.example.com")
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", "content-type")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("Access-Control-Allow-Origin"), w.Header().Get("Access-Control-Allow-Methods"))

	r = httptest.NewRequest("GET", "/api/items", nil)
	r.Header.Set("Origin", "https://app.example.com.evil.com")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Printf("%d %q %s\n", w.Code, w.Header().Get("Access-Control-Allow-Origin"), w.Header().Get("Vary"))
	// Output:
	// 204 https://pr-42.preview.example.com GET, POST
	// upstream called
	// 200 "" Origin
}
