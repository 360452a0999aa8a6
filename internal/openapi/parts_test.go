package openapi

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/route"
)

// part is one multipart part: its form-data name, optional filename and
// Content-Type, and content.
type part struct{ name, filename, ctype, data string }

func partsBody(parts ...part) (ctype, body string) {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--XX\r\nContent-Disposition: form-data; name=\"" + p.name + "\"")
		if p.filename != "" {
			b.WriteString("; filename=\"" + p.filename + "\"")
		}
		b.WriteString("\r\n")
		if p.ctype != "" {
			b.WriteString("Content-Type: " + p.ctype + "\r\n")
		}
		b.WriteString("\r\n" + p.data + "\r\n")
	}
	b.WriteString("--XX--\r\n")
	return "multipart/form-data; boundary=XX", b.String()
}

const sdpOffer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0"

// TestMultipartPartEncodings drives testdata/parts-3.1.yaml (OpenAI's
// realtime-calls shape: an application/sdp part and an application/json
// part with an object schema) through real servers: an encoding's
// contentType is enforced on each part, JSON parts are validated as JSON
// against the property's schema, and refused requests never reach the
// upstream.
func TestMultipartPartEncodings(t *testing.T) {
	h := newHarness(t, Config{Name: "parts", Spec: "testdata/parts-3.1.yaml", ValidateRequests: true, RejectUndocumented: true}, nil)
	const calls, edits, forms = "/v1/realtime/calls", "/v1/images/edits", "/v1/forms"
	session := `{"type":"realtime","model":"gpt-realtime","audio":{"output":{"voice":"marin"}}}`
	ok := []struct {
		name, target string
		parts        []part
	}{
		{"sdp and JSON session", calls, []part{{"sdp", "", "application/sdp", sdpOffer}, {"session", "", "application/json", session}}},
		{"sdp only, Content-Type parameters and case ignored", calls, []part{{"sdp", "", "Application/SDP; charset=utf-8", sdpOffer}}},
		{"session as a JSON file part", calls, []part{{"sdp", "", "application/sdp", sdpOffer}, {"session", "s.json", "application/json; charset=utf-8", session}}},
		{"image from a list, mask from a range, JSON array items, +json object", edits, []part{
			{"image", "a.png", "image/png", "\x89PNG\r\n\x1a\n\x00\xff"}, {"mask", "m.webp", "image/webp", "RIFF\x00"},
			{"prompt", "", "", "a cat"}, {"tags", "", "application/json", `{"k":"a"}`}, {"tags", "", "application/json", `{"k":"b"}`},
			{"options", "", "application/vnd.example+json", `{"n":2}`}}},
		{"jpeg image", edits, []part{{"image", "a.jpg", "image/jpeg", "\xff\xd8\xff"}, {"prompt", "", "text/plain", "x"}}},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			ctype, body := partsBody(tt.parts...)
			got := h.do("POST", tt.target, ctype, body)
			if got.status != 200 {
				_, d := got.problem()
				t.Fatalf("→ %d %s", got.status, d)
			}
			if s := h.up.last(); string(s.Body) != body {
				t.Errorf("upstream saw body %q; want it unchanged", s.Body)
			}
		})
	}
	t.Run("urlencoded JSON value", func(t *testing.T) {
		body := "filter=%7B%22n%22%3A3%7D&note=%7Bnot+json"
		if got := h.do("POST", forms, "application/x-www-form-urlencoded", body); got.status != 200 || string(h.up.last().Body) != body {
			_, d := got.problem()
			t.Errorf("→ %d %s", got.status, d)
		}
	})
	bad := []struct {
		name, target string
		parts        []part
		want         string
	}{
		{"sdp part of the wrong type", calls, []part{{"sdp", "", "text/plain", sdpOffer}}, "/body/sdp: part Content-Type text/plain is not one of application/sdp"},
		{"sdp part without Content-Type (text/plain)", calls, []part{{"sdp", "", "", sdpOffer}}, "/body/sdp: part Content-Type text/plain"},
		{"session of the wrong type", calls, []part{{"sdp", "", "application/sdp", sdpOffer}, {"session", "", "text/plain", session}}, "/body/session: part Content-Type"},
		{"session failing its schema", calls, []part{{"sdp", "", "application/sdp", sdpOffer}, {"session", "", "application/json", `{"type":"realtime","voice":"x"}`}}, "/body/session/voice: unknown property"},
		{"session const", calls, []part{{"sdp", "", "application/sdp", sdpOffer}, {"session", "", "application/json", `{"type":"transcription"}`}}, "/body/session/type"},
		{"session not an object", calls, []part{{"sdp", "", "application/sdp", sdpOffer}, {"session", "", "application/json", `"realtime"`}}, "/body/session"},
		{"session malformed JSON", calls, []part{{"sdp", "", "application/sdp", sdpOffer}, {"session", "", "application/json", `{"type":"realtime",}`}}, "/body/session: trailing comma"},
		{"session cannot add properties next to it", calls, []part{{"sdp", "", "application/sdp", sdpOffer}, {"session", "", "application/json", `{"type":"realtime"},"sdp":"x"`}}, "/body/session"},
		{"duplicate JSON key", calls, []part{{"sdp", "", "application/sdp", sdpOffer}, {"session", "", "application/json", `{"type":"realtime","type":"realtime"}`}}, "/body/session/type"},
		{"two Content-Types", calls, []part{{"sdp", "", "application/sdp\r\nContent-Type: application/sdp", sdpOffer}}, "/body/sdp: part has more than one Content-Type"},
		{"malformed Content-Type", calls, []part{{"sdp", "", "application/", sdpOffer}}, "/body/sdp: malformed part Content-Type"},
		{"image not in the list", edits, []part{{"image", "a.gif", "image/gif", "GIF89a"}, {"prompt", "", "", "x"}}, "/body/image: part Content-Type image/gif"},
		{"mask outside the range", edits, []part{{"image", "a.png", "image/png", "x"}, {"mask", "m", "application/octet-stream", "x"}, {"prompt", "", "", "x"}}, "/body/mask"},
		{"JSON array item failing its schema", edits, []part{{"image", "a.png", "image/png", "x"}, {"prompt", "", "", "x"}, {"tags", "", "application/json", `{"k":"a"}`}, {"tags", "", "application/json", `{"k":1}`}}, "/body/tags/1/k"},
		{"+json object failing its schema", edits, []part{{"image", "a.png", "image/png", "x"}, {"prompt", "", "", "x"}, {"options", "", "application/vnd.example+json", `{"n":"two"}`}}, "/body/options/n"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			before := h.up.count()
			ctype, body := partsBody(tt.parts...)
			got := h.do("POST", tt.target, ctype, body)
			typ, detail := got.problem()
			if got.status != 400 || typ != TypeRequestInvalid || h.up.count() != before || !strings.Contains(detail, tt.want) {
				t.Errorf("→ %d %s %q (upstream reached: %v), want 400 naming %q", got.status, typ, detail, h.up.count() != before, tt.want)
			}
		})
	}
	t.Run("urlencoded JSON value failing its schema", func(t *testing.T) {
		before := h.up.count()
		got := h.do("POST", forms, "application/x-www-form-urlencoded", "filter=%7B%22n%22%3A%22x%22%7D")
		if _, d := got.problem(); got.status != 400 || h.up.count() != before || !strings.Contains(d, "/body/filter/n") {
			t.Errorf("→ %d %q", got.status, d)
		}
	})
}

// TestPartEncodingLoadErrors: encodings Rampart cannot enforce are refused
// at load, every occurrence listed with its pointer.
func TestPartEncodingLoadErrors(t *testing.T) {
	doc := func(mt, enc string) map[string]string {
		return map[string]string{"api.yaml": "openapi: 3.1.0\npaths:\n  /u:\n    post:\n      requestBody:\n        content:\n          " + mt +
			":\n            schema: {type: object, properties: {a: {type: object}, b: {type: string}}}\n            encoding:\n" + enc +
			"      responses: {'200': {description: ok}}\n"}
	}
	const enc = "/paths/~1u/post/requestBody/content/"
	loadBroken(t, doc("multipart/form-data",
		"              a: {contentType: application/json, headers: {X-Rate-Limit: {schema: {type: integer}}, X-Trace: {required: true, schema: {type: string}}, Content-Type: {schema: {type: string}}}}\n"+
			"              b: {headers: {X-Other: {schema: {type: string}}}}\n"),
		"api.yaml", []string{
			"api.yaml#" + enc + "multipart~1form-data/encoding/a/headers/X-Rate-Limit",
			"api.yaml#" + enc + "multipart~1form-data/encoding/a/headers/X-Trace",
			"api.yaml#" + enc + "multipart~1form-data/encoding/b/headers/X-Other",
			"not enforced"})
	loadBroken(t, doc("multipart/form-data", "              b: {contentType: 'image/png, nonsense'}\n"),
		"api.yaml", []string{"encoding/b/contentType", "not a list of media types"})
	loadBroken(t, doc("application/x-www-form-urlencoded", "              a: {contentType: 'application/json, text/plain'}\n"),
		"api.yaml", []string{"encoding/a/contentType", "mixes JSON"})
	// Headers are multipart-only (OpenAPI: ignored otherwise), and an
	// explicit style means contentType is ignored, in either media type.
	if err := loadDoc(t, doc("application/x-www-form-urlencoded",
		"              a: {style: deepObject, contentType: 'application/json, text/plain', headers: {X-A: {schema: {type: string}}}}\n")); err != nil {
		t.Error(err)
	}
	if err := loadDoc(t, doc("multipart/form-data", "              b: {style: form, contentType: 'nonsense'}\n")); err != nil {
		t.Error(err)
	}
}

// loadDoc loads the document api.yaml of files, returning the error.
func loadDoc(t *testing.T, files map[string]string) error {
	t.Helper()
	_, err := Load(context.Background(), Config{Name: "inv", Spec: "api.yaml", BaseDir: writeFiles(t, files)}, nil)
	return err
}

var partsEnf *enforcer

// FuzzMultipartParts feeds arbitrary part Content-Types and JSON part
// contents to the part-encoding checks. Whatever the input: no panic, the
// body reaches the upstream unchanged, and what is accepted carried an
// application/sdp sdp part and, for a JSON session part, one JSON object.
func FuzzMultipartParts(f *testing.F) {
	d, err := Load(context.Background(), Config{Name: "parts", Spec: "testdata/parts-3.1.yaml", ValidateRequests: true}, nil)
	if err != nil {
		f.Fatal(err)
	}
	partsEnf = d.Middleware(Deps{})(http.NotFoundHandler()).(*enforcer)
	for _, s := range [][3]string{
		{"application/sdp", "application/json", `{"type":"realtime"}`},
		{"APPLICATION/SDP; x=y", "application/json; charset=utf-8", `{"type":"realtime","audio":{"output":{}}}`},
		{"text/plain", "text/plain", `{"type":"realtime"}`},
		{"application/sdp", "application/json", `{"type":"realtime"},"sdp":"x"`},
		{"application/*", "application/json", `{"type":"realtime","type":"x"}`},
		{"application/sdp", "", `[` + strings.Repeat("[", 200)},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, sdpType, sessionType, session string) {
		if strings.ContainsAny(sdpType+sessionType, "\r\n") || strings.Contains(session, "--XX") {
			return
		}
		ctype, body := partsBody(part{"sdp", "", sdpType, sdpOffer}, part{"session", "", sessionType, session})
		r := httptest.NewRequest(http.MethodPost, "/v1/realtime/calls", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
		vals := make([]string, route.MaxParams)
		op, _ := partsEnf.match(r.Method, "/v1/realtime/calls", "", vals)
		rej := partsEnf.validate(r, op, vals)
		if got, _ := io.ReadAll(r.Body); string(got) != body {
			t.Fatalf("body changed: %q", got)
		}
		if rej != nil {
			return
		}
		if mt, _, err := mime.ParseMediaType(sdpType); err != nil || mt != "application/sdp" {
			t.Fatalf("accepted an sdp part of type %q", sdpType)
		}
		mt, _, err := mime.ParseMediaType(sessionType)
		if err != nil || mt != "application/json" {
			t.Fatalf("accepted a session part of type %q", sessionType)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(session), &v); err != nil {
			t.Fatalf("accepted a session part that is not one JSON object: %q", session)
		}
	})
}
