package openapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// A FastAPI service's document, enforced in front of a stand-in upstream.
func ExampleDocument_Middleware() {
	doc, err := openapi.Load(context.Background(), openapi.Config{
		Name:               "inventory",
		Spec:               "testdata/fastapi-0.110-openapi.json",
		ValidateRequests:   true,
		FilterResponses:    openapi.FilterStrip,
		RejectUndocumented: true,
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"detail":"Item not found","traceback":"File app.py, line 12"}`)
	})
	h := doc.Middleware(openapi.Deps{})(upstream)
	send := func(method, path, body string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		r = pipeline.WithInfo(r, &pipeline.Info{Path: path})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Header().Get("Content-Type") == "application/problem+json" {
			var p struct{ Detail string }
			_ = json.Unmarshal(w.Body.Bytes(), &p)
			fmt.Println(w.Code, p.Detail)
			return
		}
		fmt.Println(w.Code, w.Body.String())
	}
	send("POST", "/items/", `{"name":"Chair","price":-1,"category":"furniture","sku":"CH-1234","is_admin":true}`)
	send("DELETE", "/users/me", "")
	send("GET", "/items/7", "")
	// Output:
	// 400 The request does not match the API contract: /body/price: must be greater than 0; /body/is_admin: unknown property.
	// 405 The API does not document this method for this path.
	// 404 {"detail":"Item not found"}
}
