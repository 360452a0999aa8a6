package scan

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenNow is the fixed clock of the golden reports.
var goldenNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// vulnAPI is the composite vulnerable target of the golden reports: a
// Flask-like service with banners, tracebacks, SQL built from strings,
// leaked config, reflected CORS with credentials, unsigned tokens accepted,
// an admin operation open to any user, a hash in its items, mass
// assignment, a path-prefix guard, TRACE, method override and a .env file.
func vulnAPI() http.Handler {
	v := verifier{allowNone: true, skipExp: true}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		bareJSON(w, 200, map[string]string{"service": "inventory"})
	})
	mux.HandleFunc("GET /api/items", func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Query().Get("q"), "'") {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(500)
			_, _ = w.Write([]byte("<h1>Internal Server Error</h1><pre>Traceback (most recent call last):\n  File \"/srv/app.py\", line 31, in items\n    cur.execute(\"SELECT * FROM items WHERE name LIKE '%\" + q + \"%'\")\nMySQLdb.ProgrammingError: (1064, \"You have an error in your SQL syntax; check the manual near '\"' at line 1\")\n</pre>"))
			return
		}
		bareJSON(w, 200, []map[string]any{{"id": 1, "name": "bolt", "cost_price": 0.02, "supplier_token": "tok_live_51Habc"}})
	})
	mux.HandleFunc("GET /api/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		bareJSON(w, 200, map[string]any{"id": 1, "name": "bolt"})
	})
	mux.HandleFunc("GET /api/config", func(w http.ResponseWriter, r *http.Request) {
		bareJSON(w, 200, map[string]string{"db": "postgresql://inventory:S3cr3t-DB-pa55@db.internal:5432/inventory"})
	})
	authed := func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if _, ok := v.claims(r); !ok {
				bareJSON(w, 401, map[string]string{"error": "unauthorized"})
				return
			}
			next(w, r)
		}
	}
	mux.HandleFunc("GET /api/orders", authed(func(w http.ResponseWriter, r *http.Request) {
		bareJSON(w, 200, []map[string]any{{"id": 9}})
	}))
	mux.HandleFunc("GET /api/reports", authed(func(w http.ResponseWriter, r *http.Request) {
		bareJSON(w, 200, map[string]any{"total": 3})
	}))
	// No check here: the service trusts the prefix guard below.
	mux.HandleFunc("GET /api/admin/users", func(w http.ResponseWriter, r *http.Request) {
		bareJSON(w, 200, []map[string]any{{"name": "root"}})
	})
	mux.HandleFunc("POST /api/users", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		if json.NewDecoder(r.Body).Decode(&in) != nil || in == nil {
			bareJSON(w, 400, map[string]string{"error": "bad json"})
			return
		}
		in["id"] = 7
		bareJSON(w, 201, in)
	})
	mux.HandleFunc("GET /.env", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("FLASK_ENV=production\nSECRET_KEY=flask-s3cret-key\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		bareJSON(w, 404, map[string]string{"error": "not found"})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "Werkzeug/3.0.1 Python/3.11.7")
		w.Header().Set("X-Powered-By", "Flask")
		if o := r.Header.Get("Origin"); o != "" {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		if m := r.Header.Get("X-HTTP-Method-Override"); m != "" {
			r.Method = m
		}
		switch {
		case r.Method == http.MethodTrace:
			w.Header().Set("Content-Type", "message/http")
			_ = r.Write(w)
			return
		case r.Method == http.MethodOptions:
			w.Header().Set("Allow", "GET, HEAD, POST, OPTIONS, TRACE")
			w.WriteHeader(200)
			return
		case strings.HasPrefix(r.URL.EscapedPath(), "/api/admin"):
			// A guard on the raw path, in front of a normalizing router.
			if _, ok := v.claims(r); !ok {
				bareJSON(w, 401, map[string]string{"error": "login required"})
				return
			}
		}
		// Flask-style routing: decoded, cleaned, case-insensitive.
		r.URL.Path = strings.ToLower(cleanPath(r.URL.Path))
		r.URL.RawPath = ""
		mux.ServeHTTP(w, r)
	})
}

func cleanPath(p string) string {
	var segs []string
	for _, s := range strings.Split(p, "/") {
		s, _, _ = strings.Cut(s, ";")
		switch s {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, s)
		}
	}
	return "/" + strings.Join(segs, "/")
}

func bareJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// goldenToken is a user token with a fixed expiry (the target ignores exp).
var goldenToken = mint(map[string]any{"sub": "alice", "scope": "orders:read", "exp": goldenNow.Add(time.Hour).Unix()})

// normalize makes a report independent of the test server's port.
func normalize(b []byte, host string) []byte {
	return bytes.ReplaceAll(b, []byte(host), []byte("127.0.0.1:PORT"))
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -run TestGolden -update to accept):\n%s", name, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return "(no line differs)"
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func goldenReport(t *testing.T) (*Report, string) {
	srv := newServer(t, vulnAPI())
	return run(t, srv.URL, func(o *Options) {
		o.OpenAPI = "testdata/vulnapi.yaml"
		o.Token = goldenToken
		o.AllowUnsafe = true
		o.Now = func() time.Time { return goldenNow }
		o.Version = "test"
		o.Rate = 1000
	}), strings.TrimPrefix(srv.URL, "http://")
}

func TestGolden(t *testing.T) {
	rep, host := goldenReport(t)
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"vulnapi.json", func(b *bytes.Buffer) error { return WriteJSON(b, rep) }},
		{"vulnapi.sarif", func(b *bytes.Buffer) error { return WriteSARIF(b, rep) }},
		{"vulnapi.txt", func(b *bytes.Buffer) error { return WriteText(b, rep, TextOptions{}) }},
	} {
		t.Run(f.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := f.write(&b); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, f.name, normalize(b.Bytes(), host))
		})
	}
	t.Run("deterministic", func(t *testing.T) {
		again, host2 := goldenReport(t)
		var a, b bytes.Buffer
		_ = WriteJSON(&a, rep)
		_ = WriteJSON(&b, again)
		na, nb := normalize(a.Bytes(), host), normalize(b.Bytes(), host2)
		if !bytes.Equal(na, nb) {
			t.Errorf("two scans of the same target differ:\n%s", firstDiff(string(na), string(nb)))
		}
	})
	t.Run("no secret leaks", func(t *testing.T) {
		out := allOutputs(t, rep)
		for _, secret := range []string{"S3cr3t-DB-pa55", "flask-s3cret-key", goldenToken, strings.Split(goldenToken, ".")[2], "tok_live_51Habc"} {
			if strings.Contains(out, secret) {
				t.Errorf("%q appears in the report", secret)
			}
		}
	})
}
