package openapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Benchmarks run the middleware as the gateway does (buffered body with
// GetBody, pipeline.Info with the routed path) against a next handler that
// stands in for the proxy. They report the whole step: operation match,
// parameters, body read and restore, strict parse, schema validation.

type rewindBody struct {
	bytes.Reader
	data []byte
}

func (b *rewindBody) Close() error { return nil }
func (b *rewindBody) rewind()      { b.Reset(b.data) }

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

func benchRequest(b *testing.B, spec, method, path, query, ctype string, body []byte) {
	d, err := Load(context.Background(), Config{Name: "bench", Spec: spec, ValidateRequests: true, RejectUndocumented: true}, nil)
	if err != nil {
		b.Fatal(err)
	}
	passed := 0
	h := d.Middleware(Deps{})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed++ }))
	rb := &rewindBody{data: body}
	r := httptest.NewRequest(method, path+query, nil)
	if body != nil {
		r.Body = rb
		r.GetBody = func() (io.ReadCloser, error) { rb.rewind(); return rb, nil }
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", ctype)
	}
	r = pipeline.WithInfo(r, &pipeline.Info{Path: path})
	w := &nopWriter{h: http.Header{}}
	rb.rewind()
	h.ServeHTTP(w, r)
	if passed != 1 {
		rec := httptest.NewRecorder()
		rb.rewind()
		h.ServeHTTP(rec, r)
		b.Fatalf("benchmark request refused: %s", rec.Body)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rb.rewind()
		h.ServeHTTP(w, r)
	}
}

// item1KB is a create_item body of about 1 KB: what a FastAPI client sends.
var item1KB = []byte(`{"name":"Ergonomic office chair, mesh back","description":"` + strings.Repeat("Adjustable lumbar support and armrests. ", 19) +
	`","price":249.99,"quantity":42,"category":"furniture","tags":["office","ergonomic","mesh","adjustable","black"],` +
	`"sku":"CHR-104233","dimensions":{"width_cm":66.5,"height_cm":118,"depth_cm":64}}`)

// order1KB is a createOrder body of about 1 KB through allOf,
// unevaluatedProperties, a discriminated oneOf, relative $refs, maps.
var order1KB = []byte(`{"customer":"ACME Corporation","lines":[` +
	strings.Repeat(`{"sku":"A-1001","qty":2,"price":{"amount":"19.99","currency":"EUR"}},`, 9) +
	`{"sku":"B-2002","qty":1,"price":{"amount":"249.00","currency":"EUR"}}],` +
	`"payment":{"method":"card","last4":"4242","token":"tok_1NlZb2LkdIwHu7ix"},` +
	`"shipping":{"line1":"1 Main Street","city":"Utrecht","country":"NL"},"coupon":"SPRING","metadata":{"x-source":"web","x-campaign":"spring-sale"},` +
	`"quantities":{"A-1001":12,"B-2002":1},"gift":true,"gift_message":"Happy birthday from all of us!"}`)

func BenchmarkValidateRequest(b *testing.B) {
	b.Run("fastapi-item-json-1KB", func(b *testing.B) {
		benchRequest(b, fastapi, "POST", "/items/", "", "application/json", item1KB)
	})
	b.Run("orders-3.1-json-1KB", func(b *testing.B) {
		benchRequest(b, "testdata/orders-3.1.yaml", "POST", "/api/v2/orders", "", "application/json", order1KB)
	})
	b.Run("fastapi-query-params", func(b *testing.B) {
		benchRequest(b, fastapi, "GET", "/items/", "?skip=20&limit=10&q=chair&category=furniture&tag=office&tag=mesh", "", nil)
	})
	b.Run("fastapi-form-login", func(b *testing.B) {
		benchRequest(b, fastapi, "POST", "/token", "", "application/x-www-form-urlencoded", []byte("grant_type=password&username=alice%40example.com&password=correct+horse+battery&scope=items%3Aread"))
	})
}

// list10KB is a list_items response of about 10 KB, each item carrying two
// undeclared fields (one nested).
func list10KB(leak bool) []byte {
	extra, nested := "", ""
	if leak {
		extra, nested = `"internal_cost":80.12,"supplier":{"name":"Seats & Co","margin":0.41},`, `,"warehouse_bin":"A-17"`
	}
	item := `{"id":1,` + extra + `"name":"Ergonomic chair","description":"Adjustable lumbar support","price":249.99,"quantity":3,` +
		`"category":"furniture","tags":["office","mesh"],"sku":"CH-1234","dimensions":{"width_cm":66.5,"height_cm":118,"depth_cm":64` + nested + `},` +
		`"created_at":"2024-03-01T09:00:00Z","owner_id":"0b7f3c4e-9d7a-4e8b-b1a2-6f3c2d1e0a9b"}`
	var b bytes.Buffer
	b.WriteByte('[')
	for b.Len() < 10<<10 {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(item)
	}
	b.WriteByte(']')
	return b.Bytes()
}

func benchResponse(b *testing.B, body []byte, mode string) {
	d, err := Load(context.Background(), Config{Name: "bench", Spec: fastapi, FilterResponses: mode}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ct := []string{"application/json"}
	h := d.Middleware(Deps{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = ct
		w.WriteHeader(200)
		_, _ = w.Write(body)
	}))
	r := pipeline.WithInfo(httptest.NewRequest("GET", "/items/", nil), &pipeline.Info{Path: "/items/"})
	w := &nopWriter{h: http.Header{}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

func BenchmarkFilterResponse(b *testing.B) {
	b.Run("strip-10KB-with-leaks", func(b *testing.B) { benchResponse(b, list10KB(true), FilterStrip) })
	b.Run("strip-10KB-conforming", func(b *testing.B) { benchResponse(b, list10KB(false), FilterStrip) })
	b.Run("reject-10KB-conforming", func(b *testing.B) { benchResponse(b, list10KB(false), FilterReject) })
}
