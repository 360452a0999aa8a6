package scan

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// testSecret signs the test APIs' HS256 tokens.
const testSecret = "test-secret-0123456789abcdef0123456789"

var enc = base64.RawURLEncoding

// mint signs claims with testSecret (HS256).
func mint(claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// userToken is a valid low-privilege token.
func userToken(scope string) string {
	return mint(map[string]any{"sub": "alice", "scope": scope, "exp": time.Now().Add(time.Hour).Unix()})
}

// verifier is a test API's token check, with deliberate flaws.
type verifier struct {
	allowNone bool // accept alg none (AUTH002)
	skipSig   bool // decode without verifying (AUTH003, AUTH005)
	skipExp   bool // ignore exp (AUTH004)
}

// claims returns the token's claims when this verifier accepts it.
func (v verifier) claims(r *http.Request) (map[string]any, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	var hdr map[string]any
	var claims map[string]any
	hb, err1 := enc.DecodeString(parts[0])
	cb, err2 := enc.DecodeString(parts[1])
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &claims) != nil {
		return nil, false
	}
	alg, _ := hdr["alg"].(string)
	switch {
	case strings.EqualFold(alg, "none"):
		if !v.allowNone || parts[2] != "" {
			return nil, false
		}
	case v.skipSig:
	default:
		mac := hmac.New(sha256.New, []byte(testSecret))
		mac.Write([]byte(parts[0] + "." + parts[1]))
		sig, err := enc.DecodeString(parts[2])
		if alg != "HS256" || err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
			return nil, false
		}
	}
	if !v.skipExp {
		exp, ok := claims["exp"].(float64)
		if !ok || time.Unix(int64(exp), 0).Before(time.Now()) {
			return nil, false
		}
	}
	return claims, true
}

// writeJSON answers with the strict header profile a fixed API sends.
func writeJSON(w http.ResponseWriter, status int, v any) {
	secureHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func secureHeaders(h http.Header) {
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'", "Cache-Control": "no-store"} {
		if h.Get(k) == "" {
			h.Set(k, v)
		}
	}
}

func problem(w http.ResponseWriter, status int) {
	secureHeaders(w.Header())
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"type":"about:blank","status":%d}`, status)
}

// items is the tiny API most test targets share: public reads of items.
func items() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"name": "test api"})
	})
	mux.HandleFunc("GET /api/items", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, []map[string]any{{"id": 1, "name": "bolt"}})
	})
	mux.HandleFunc("GET /api/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "1" {
			problem(w, 404)
			return
		}
		writeJSON(w, 200, map[string]any{"id": 1, "name": "bolt"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { problem(w, 404) })
	return mux
}

// specItems documents items(); security says whether /api/items* need a bearer token.
func specItems(secured bool) string {
	sec := "[]"
	if secured {
		sec = "[{bearer: []}]"
	}
	return `openapi: 3.0.3
info: {title: test, version: "1"}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer, bearerFormat: JWT}
  schemas:
    Item:
      type: object
      additionalProperties: false
      properties: {id: {type: integer}, name: {type: string}}
paths:
  /api/items:
    get:
      security: ` + sec + `
      parameters: [{name: q, in: query, schema: {type: string}}]
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: array, items: {$ref: "#/components/schemas/Item"}}}}}
  /api/items/{id}:
    get:
      security: ` + sec + `
      parameters: [{name: id, in: path, required: true, schema: {type: integer}, example: 1}]
      responses:
        "200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Item"}}}}
`
}

// writeSpec writes an OpenAPI document to a temp file.
func writeSpec(t *testing.T, text string) string {
	t.Helper()
	p := t.TempDir() + "/openapi.yaml"
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// run scans url with fast test settings; mod adjusts the options.
func run(t *testing.T, url string, mod func(*Options)) *Report {
	t.Helper()
	opts := Options{Target: url, Rate: 100000, MaxRequests: 500, Timeout: 5 * time.Second}
	if mod != nil {
		mod(&opts)
	}
	rep, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("scan %s: %v", url, err)
	}
	return rep
}

func findingsOf(rep *Report, rule string) []Finding {
	var out []Finding
	for _, f := range rep.Findings {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func coverageOf(rep *Report, rule string) Coverage {
	for _, c := range rep.Coverage {
		if c.Rule == rule {
			return c
		}
	}
	return Coverage{}
}

// allOutputs renders the report in every format, for secret greps.
func allOutputs(t *testing.T, rep *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	if err := WriteSARIF(&b, rep); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&b, rep, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
