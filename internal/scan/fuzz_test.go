package scan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseRate: --rate is user input; any accepted value is a usable cap.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"10/s", "10", "600/m", "2.5/sec", "0x10/s", "1e3/s", "1e-9/s", "10/", "/", "NaN", "١٠/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if !(r > 0 && r <= MaxRate) {
			t.Fatalf("ParseRate(%q) = %v: outside (0, %d]", s, r, MaxRate)
		}
		newBucket(r, 1) // must not panic
	})
}

// FuzzParseOpenAPI: documents come from users and from targets (a document
// discovered at /openapi.json); parsing must be bounded and never panic, and
// what it returns must be usable by the checks.
func FuzzParseOpenAPI(f *testing.F) {
	f.Add([]byte(specItems(true) + specAdmin))
	f.Add([]byte(specUsers))
	f.Add([]byte(`{"openapi":"3.0.0","paths":{"/a/{id}":{"get":{"parameters":[{"$ref":"#/x"}],"responses":{"200":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}}}}}}},"components":{"schemas":{"A":{"allOf":[{"$ref":"#/components/schemas/A"}]}}}}`))
	f.Add([]byte("openapi: 3.1.0\npaths:\n  /x:\n    get:\n      responses:\n        200:\n          content:\n            application/json:\n              schema: {oneOf: [true, {type: [object, 'null'], properties: {a: {}}}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		api, err := ParseOpenAPI(data)
		if err != nil {
			return
		}
		s := &scanner{api: api, prefix: api.ServerPath}
		for _, op := range api.Operations {
			target := s.fill(op, nil)
			if !strings.HasPrefix(target, "/") && target != "" {
				t.Fatalf("target %q does not start with /", target)
			}
			_ = op.Secured()
			_ = adminLooking(op)
			_, _ = jsonBody(sample(op.Body, 0), op.Body != nil)
			for _, sc := range op.Responses {
				var out []string
				undeclared(map[string]any{"a": []any{map[string]any{"b": 1}}, "z": 1}, sc, "", &out, 0)
			}
		}
	})
}

// FuzzParseJWT: --token is user input and forged tokens are built from it.
func FuzzParseJWT(f *testing.F) {
	f.Add(userToken("items:read"))
	f.Add("eyJhbGciOiJub25lIn0.eyJleHAiOiJzb29uIn0.")
	f.Add("e30.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		j, err := parseJWT(tok)
		if err != nil {
			return
		}
		_, _ = j.scopes()
		_ = j.roles()
		for _, fg := range forgeTokens(j, goldenNow) {
			if strings.Count(fg.token, ".") != 2 {
				t.Fatalf("forged token %q is not a compact JWS", fg.token)
			}
		}
	})
}

// FuzzRedact: whatever surrounds it, the scan's own secret never survives
// redaction, and redaction never panics on response bodies.
func FuzzRedact(f *testing.F) {
	f.Add("Authorization: Bearer ", "\n")
	f.Add(`{"token":"`, `"}`)
	f.Add("postgresql://u:", "@db/x")
	f.Add("-----BEGIN PRIVATE KEY-----\n", "\n-----END PRIVATE KEY-----")
	const secret = "s3cr3t-TOKEN-value"
	r := newRedactor(secret)
	f.Fuzz(func(t *testing.T, before, after string) {
		out := r.text(before + secret + after)
		if strings.Contains(out, secret) {
			t.Fatalf("secret survived: %q", out)
		}
		_ = r.url("http://h/?" + before + "=" + after)
	})
}

// FuzzResponseChecks: bodies are untrusted; the passive checks and the
// exposure walk must not panic on anything.
func FuzzResponseChecks(f *testing.F) {
	f.Add([]byte("Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n"), []byte(`[{"id":1,"pw":"x"}]`))
	f.Add([]byte("postgres://a:b@c/d"), []byte(`{"a":{"b":[{"c":null}]}}`))
	api, _ := ParseOpenAPI([]byte(specItems(false)))
	f.Fuzz(func(t *testing.T, body, jsonBody []byte) {
		s := &scanner{seen: map[string]bool{}, red: newRedactor(), rep: &Report{}, cov: map[string]*Coverage{}}
		ex := &exchange{req: &request{method: "GET", target: "/x"}, url: "http://h/x", status: 500, body: body}
		s.errorDisclosure(ex)
		for _, f := range s.rep.Findings {
			if f.Evidence.Response == nil {
				t.Fatal("finding without response evidence")
			}
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(jsonBody))
		dec.UseNumber()
		if dec.Decode(&v) == nil {
			for _, op := range api.Operations {
				var out []string
				undeclared(v, op.Responses["200"], "", &out, 0)
			}
		}
		_ = excerpt(string(body), "x")
	})
}

// FuzzSecretsInBody: every response body of the target is untrusted; the
// credential check must be bounded, never panic, and never let a value it
// reports reach the report.
func FuzzSecretsInBody(f *testing.F) {
	f.Add([]byte(`[{"username":"name1","password":"pass1"}]`), "/users/v1/_debug")
	f.Add([]byte(`{"auth_token":"abc.def.ghi"}`), "/users/v1/login")
	f.Add([]byte(`{"a":{"b":[{"hash":"$2b$12$KIXQJ6b1b8dY0bB0P5y0Ve8Jq0d1Zl0m9bC0aYh1sQ2dE3fG4hI5K"}]}}`), "/x")
	f.Add([]byte(`{"password":"********","secret":"note"}`), "/me")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		s := &scanner{seen: map[string]bool{}, cov: map[string]*Coverage{}, red: newRedactor(), rep: &Report{}}
		ex := &exchange{req: &request{method: "GET", target: path}, url: "http://t" + path, status: 200,
			header: map[string][]string{"Content-Type": {"application/json"}}, body: body}
		s.secretsInBody(ex)
		for _, f := range s.rep.Findings {
			for _, sec := range s.red.secrets {
				if strings.Contains(f.Evidence.Response.Body+f.Message+f.Evidence.Proof, sec) {
					t.Fatalf("reported value %q appears in the finding", sec)
				}
			}
		}
	})
}

// FuzzParseOpPattern: --include/--exclude are user input; a parsed pattern
// never panics when matching.
func FuzzParseOpPattern(f *testing.F) {
	for _, s := range []string{"GET /createdb", "/users/*/password", "* /admin/**", "**", "/a.b(c", "GET  /x"} {
		f.Add(s, "/users/a/password")
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		p, err := ParseOpPattern(pattern)
		if err != nil {
			return
		}
		p.Match("GET", path)
	})
}
