package pipeline

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriteProblem(t *testing.T) {
	r := httptest.NewRequest("GET", "/x", nil)
	r = WithInfo(r, &Info{ID: "req-1"})
	w := httptest.NewRecorder()
	rej := Reject(http.StatusMethodNotAllowed, "method-not-allowed", `quote " backslash \ <script>&`+"\n\x01")
	rej.Header = http.Header{"Allow": {"GET"}}
	WriteProblem(w, r, rej)
	if w.Code != 405 || w.Header().Get("Allow") != "GET" || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("code %d header %v", w.Code, w.Header())
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("invalid JSON %q: %v", w.Body.String(), err)
	}
	want := map[string]any{"type": TypePrefix + "method-not-allowed", "title": "Method Not Allowed", "status": float64(405),
		"detail": `quote " backslash \ <script>&` + "\n\x01", "request_id": "req-1"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if b := w.Body.String(); containsAny(b, "<>&") {
		t.Errorf("HTML-significant bytes not escaped: %s", b)
	}
}

func TestWriteProblemHEADHasNoBody(t *testing.T) {
	r := httptest.NewRequest("HEAD", "/x", nil)
	w := httptest.NewRecorder()
	WriteProblem(w, r, Reject(404, "route-not-found", "nope"))
	if w.Code != 404 || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
		t.Fatalf("code %d body %q", w.Code, w.Body.String())
	}
}

func containsAny(s, chars string) bool {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return true
			}
		}
	}
	return false
}

func TestWriteProblemFieldErrors(t *testing.T) {
	r := httptest.NewRequest("POST", "/x", nil)
	w := httptest.NewRecorder()
	rej := Reject(400, "request-invalid", "The request does not match the API contract.")
	rej.Fields = []FieldError{{Pointer: "/price", Detail: "must be a number"}, {Pointer: `/a"b`, Detail: "<bad>"}}
	WriteProblem(w, r, rej)
	var got struct {
		Errors []struct{ Pointer, Detail string } `json:"errors"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("invalid JSON %q: %v", w.Body.String(), err)
	}
	if len(got.Errors) != 2 || got.Errors[0].Pointer != "/price" || got.Errors[1].Pointer != `/a"b` || got.Errors[1].Detail != "<bad>" {
		t.Fatalf("errors = %+v", got.Errors)
	}
}
