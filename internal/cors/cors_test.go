package cors

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/h1/h1test"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/proxy"
)

// Policies used across the tests, as an operator would write them.
var (
	webPolicy = Config{Name: "web",
		AllowOrigins:     []string{"https://app.example.com", "http://localhost:3000"},
		AllowMethods:     []string{"GET", "POST", "PUT"},
		AllowHeaders:     []string{"authorization", "content-type", "x-request-id"},
		ExposeHeaders:    []string{"x-request-id", "etag"},
		AllowCredentials: true, MaxAge: 10 * time.Minute}
	wildPolicy = Config{Name: "wild", AllowOrigins: []string{"https://*.example.com", "https://*.example.org:8443"}, AllowHeaders: []string{"content-type"}}
	nullPolicy = Config{Name: "null", AllowOrigins: []string{"null"}}
	starPolicy = Config{Name: "public", AllowOrigins: []string{"*"}, AllowMethods: []string{"GET"}, ExposeHeaders: []string{"etag"}}
)

// recorder is an Observer that keeps the rejections it is told about.
type recorder struct {
	mu   sync.Mutex
	seen []*pipeline.Rejection
}

func (o *recorder) Rejected(r *http.Request, step string, rej *pipeline.Rejection) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, rej)
}

type stack struct {
	url      string
	hits     *atomic.Int32
	obs      *recorder
	upstream *httptest.Server
}

// start runs a gateway-like chain on a real server: Info in the context, the
// CORS policy, then the inner steps, then the gateway's proxy to a real
// upstream that counts its requests and sets CORS headers of its own (which
// must never reach the client).
func start(t *testing.T, cfg Config, upstreamH http.HandlerFunc, inner ...pipeline.Middleware) stack {
	t.Helper()
	s := stack{hits: new(atomic.Int32), obs: &recorder{}}
	if upstreamH == nil {
		upstreamH = func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Private-Network", "true")
			h.Set("Access-Control-Expose-Headers", "x-internal-secret")
			h.Set("Access-Control-Allow-Methods", "DELETE")
			h.Set("Vary", "Accept-Encoding")
			_, _ = io.WriteString(w, "ok")
		}
	}
	s.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		upstreamH(w, r)
	}))
	t.Cleanup(s.upstream.Close)
	u, _ := url.Parse(s.upstream.URL)
	up, err := proxy.New(proxy.Config{Name: "app", Targets: []*url.URL{u}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	mw, err := New(cfg, s.obs)
	if err != nil {
		t.Fatal(err)
	}
	chain := pipeline.Chain(up, append([]pipeline.Middleware{mw}, inner...)...)
	front := h1test.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chain.ServeHTTP(w, pipeline.WithInfo(r, &pipeline.Info{ID: "req-1", Route: "items"}))
	}))
	s.url = front.URL
	return s
}

func do(t *testing.T, method, u string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u+"/api/items", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func corsHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, v := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out[k] = v
		}
	}
	return out
}

func varyHas(h http.Header, tok string) bool { return hasToken(h.Values("Vary"), tok) }

func origin(o ...string) http.Header { return http.Header{"Origin": o} }

func TestActualRequests(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		header    http.Header
		wantAllow string // "" = no Access-Control-Allow-Origin (and no other CORS header)
		wantCreds bool
		noVary    bool
	}{
		{name: "listed origin → echoed with credentials", cfg: webPolicy, header: origin("https://app.example.com"), wantAllow: "https://app.example.com", wantCreds: true},
		{name: "listed origin with a port", cfg: webPolicy, header: origin("http://localhost:3000"), wantAllow: "http://localhost:3000", wantCreds: true},
		{name: "upper-case scheme and host → canonical echo", cfg: webPolicy, header: origin("HTTPS://App.Example.COM"), wantAllow: "https://app.example.com", wantCreds: true},
		{name: "explicit default port → canonical echo", cfg: webPolicy, header: origin("https://app.example.com:443"), wantAllow: "https://app.example.com", wantCreds: true},
		{name: "unlisted origin never reflected", cfg: webPolicy, header: origin("https://evil.com")},
		{name: "suffix look-alike app.example.com.evil.com refused", cfg: webPolicy, header: origin("https://app.example.com.evil.com")},
		{name: "suffix look-alike app.example.com.evil.example refused", cfg: webPolicy, header: origin("https://app.example.com.evil.example")},
		{name: "prefix look-alike evilapp.example.com refused", cfg: webPolicy, header: origin("https://evilapp.example.com")},
		{name: "sub-domain of a listed origin refused", cfg: webPolicy, header: origin("https://x.app.example.com")},
		{name: "truncated look-alike app.example.co refused", cfg: webPolicy, header: origin("https://app.example.co")},
		{name: "scheme mismatch http refused", cfg: webPolicy, header: origin("http://app.example.com")},
		{name: "port mismatch refused", cfg: webPolicy, header: origin("https://app.example.com:8443")},
		{name: "port mismatch on a listed port refused", cfg: webPolicy, header: origin("http://localhost:3001")},
		{name: "trailing dot refused", cfg: webPolicy, header: origin("https://app.example.com.")},
		{name: "path refused", cfg: webPolicy, header: origin("https://app.example.com/")},
		{name: "user info refused", cfg: webPolicy, header: origin("https://evil.com@app.example.com")},
		{name: "Kelvin sign is not k (no Unicode case folding)", cfg: Config{AllowOrigins: []string{"https://kiwi.example.com"}}, header: origin("https://\u212Aiwi.example.com")},
		{name: "null refused when not listed", cfg: webPolicy, header: origin("null")},
		{name: "two Origin fields refused", cfg: webPolicy, header: origin("https://app.example.com", "https://app.example.com")},
		{name: "empty Origin refused", cfg: webPolicy, header: origin("")},
		{name: "no Origin: no CORS headers, still Vary", cfg: webPolicy, header: http.Header{}},
		{name: "null allowed when listed", cfg: nullPolicy, header: origin("null"), wantAllow: "null"},
		{name: "Null is not null", cfg: nullPolicy, header: origin("Null")},
		{name: "wildcard matches one label", cfg: wildPolicy, header: origin("https://a.example.com"), wantAllow: "https://a.example.com"},
		{name: "wildcard matches one label with hyphen and digits", cfg: wildPolicy, header: origin("https://team-42.example.com"), wantAllow: "https://team-42.example.com"},
		{name: "wildcard with port matches", cfg: wildPolicy, header: origin("https://a.example.org:8443"), wantAllow: "https://a.example.org:8443"},
		{name: "wildcard refuses two labels", cfg: wildPolicy, header: origin("https://a.b.example.com")},
		{name: "wildcard refuses the bare domain", cfg: wildPolicy, header: origin("https://example.com")},
		{name: "wildcard refuses evil-example.com", cfg: wildPolicy, header: origin("https://evil-example.com")},
		{name: "wildcard refuses an empty label", cfg: wildPolicy, header: origin("https://.example.com")},
		{name: "wildcard refuses underscore", cfg: wildPolicy, header: origin("https://a_b.example.com")},
		{name: "wildcard refuses a suffix look-alike", cfg: wildPolicy, header: origin("https://a.example.com.evil.com")},
		{name: "wildcard refuses another scheme", cfg: wildPolicy, header: origin("http://a.example.com")},
		{name: "wildcard refuses a missing port", cfg: wildPolicy, header: origin("https://a.example.org")},
		{name: "wildcard refuses another port", cfg: wildPolicy, header: origin("https://a.example.com:8443")},
		{name: "wildcard refuses user info", cfg: wildPolicy, header: origin("https://evil.com@a.example.com")},
		{name: "star answers * without Vary", cfg: starPolicy, header: origin("https://anyone.test"), wantAllow: "*", noVary: true},
		{name: "star answers * without an Origin too", cfg: starPolicy, header: http.Header{}, wantAllow: "*", noVary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.cfg, nil)
			resp, body := do(t, "GET", s.url, tt.header)
			if resp.StatusCode != 200 || body != "ok" || s.hits.Load() != 1 {
				t.Fatalf("status %d body %q upstream hits %d; CORS never blocks an actual request", resp.StatusCode, body, s.hits.Load())
			}
			got := corsHeaders(resp.Header)
			if tt.wantAllow == "" {
				if len(got) != 0 {
					t.Fatalf("CORS headers %v, want none", got)
				}
			} else {
				if v := got["Access-Control-Allow-Origin"]; len(v) != 1 || v[0] != tt.wantAllow {
					t.Errorf("Access-Control-Allow-Origin = %q, want %q", v, tt.wantAllow)
				}
				wantCreds := []string(nil)
				if tt.wantCreds {
					wantCreds = []string{"true"}
				}
				if v := got["Access-Control-Allow-Credentials"]; strings.Join(v, ",") != strings.Join(wantCreds, ",") {
					t.Errorf("Access-Control-Allow-Credentials = %q, want %q", v, wantCreds)
				}
				want := strings.Join(tt.cfg.ExposeHeaders, ", ")
				if v := resp.Header.Get("Access-Control-Expose-Headers"); v != want {
					t.Errorf("Access-Control-Expose-Headers = %q, want %q (upstream's dropped)", v, want)
				}
				for _, k := range []string{"Access-Control-Allow-Methods", "Access-Control-Allow-Private-Network"} {
					if v, ok := got[k]; ok {
						t.Errorf("%s = %q leaked from the upstream", k, v)
					}
				}
			}
			if varyHas(resp.Header, "Origin") == tt.noVary {
				t.Errorf("Vary = %q; want Origin: %v", resp.Header.Values("Vary"), !tt.noVary)
			}
			if !varyHas(resp.Header, "Accept-Encoding") {
				t.Errorf("Vary = %q lost the upstream's Accept-Encoding", resp.Header.Values("Vary"))
			}
		})
	}
}

func preflight(o, method, headers string) http.Header {
	h := http.Header{"Access-Control-Request-Method": {method}}
	if o != "" {
		h["Origin"] = []string{o}
	}
	if headers != "" {
		h["Access-Control-Request-Headers"] = []string{headers}
	}
	return h
}

func TestPreflight(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		header http.Header
		// want: 204 with these CORS headers, or (nil) 403 with none
		want map[string]string
	}{
		{name: "allowed: origin, method and headers", cfg: webPolicy, header: preflight("https://app.example.com", "PUT", "authorization,content-type"),
			want: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Methods": "GET, POST, PUT", "Access-Control-Allow-Headers": "authorization, content-type, x-request-id", "Access-Control-Max-Age": "600"}},
		{name: "requested headers compared case-insensitively, spaces and empty elements tolerated", cfg: webPolicy,
			header: preflight("https://app.example.com", "POST", " Content-Type ,, X-Request-ID"),
			want:   map[string]string{"Access-Control-Allow-Origin": "https://app.example.com"}},
		{name: "no requested headers", cfg: webPolicy, header: preflight("https://app.example.com", "GET", ""),
			want: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com"}},
		{name: "private network access is never granted", cfg: webPolicy,
			header: func() http.Header {
				h := preflight("https://app.example.com", "GET", "")
				h.Set("Access-Control-Request-Private-Network", "true")
				return h
			}(),
			want: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Private-Network": ""}},
		{name: "wildcard origin allowed, default methods", cfg: wildPolicy, header: preflight("https://a.example.com", "POST", "content-type"),
			want: map[string]string{"Access-Control-Allow-Origin": "https://a.example.com", "Access-Control-Allow-Methods": "GET, HEAD, POST", "Access-Control-Allow-Credentials": "", "Access-Control-Max-Age": ""}},
		{name: "star policy", cfg: starPolicy, header: preflight("https://anyone.test", "GET", ""),
			want: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET"}},
		{name: "null allowed when listed", cfg: nullPolicy, header: preflight("null", "GET", ""), want: map[string]string{"Access-Control-Allow-Origin": "null"}},

		{name: "unlisted origin refused", cfg: webPolicy, header: preflight("https://evil.com", "GET", "")},
		{name: "look-alike origin refused", cfg: webPolicy, header: preflight("https://app.example.com.evil.com", "GET", "")},
		{name: "null refused when not listed", cfg: webPolicy, header: preflight("null", "GET", "")},
		{name: "wildcard two labels refused", cfg: wildPolicy, header: preflight("https://a.b.example.com", "GET", "")},
		{name: "disallowed method refused", cfg: webPolicy, header: preflight("https://app.example.com", "DELETE", "")},
		{name: "method compared case-sensitively", cfg: webPolicy, header: preflight("https://app.example.com", "put", "")},
		{name: "default methods do not include PUT", cfg: wildPolicy, header: preflight("https://a.example.com", "PUT", "")},
		{name: "disallowed header refused", cfg: webPolicy, header: preflight("https://app.example.com", "GET", "content-type,x-admin")},
		{name: "header look-alike refused", cfg: webPolicy, header: preflight("https://app.example.com", "GET", "content-type-x")},
		{name: "empty method refused", cfg: webPolicy, header: preflight("https://app.example.com", "", "")},
		{name: "two requested methods refused", cfg: webPolicy, header: func() http.Header {
			h := preflight("https://app.example.com", "GET", "")
			h.Add("Access-Control-Request-Method", "POST")
			return h
		}()},
		{name: "star policy still checks the method", cfg: starPolicy, header: preflight("https://anyone.test", "POST", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.cfg, nil)
			resp, body := do(t, "OPTIONS", s.url, tt.header)
			if s.hits.Load() != 0 {
				t.Fatalf("upstream saw %d preflights, want 0", s.hits.Load())
			}
			for _, tok := range []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"} {
				if !varyHas(resp.Header, tok) {
					t.Errorf("Vary = %q, want %s", resp.Header.Values("Vary"), tok)
				}
			}
			got := corsHeaders(resp.Header)
			if tt.want == nil {
				if resp.StatusCode != http.StatusForbidden || len(got) != 0 {
					t.Fatalf("status %d CORS headers %v, want 403 and none", resp.StatusCode, got)
				}
				var p struct{ Type string }
				if err := json.Unmarshal([]byte(body), &p); err != nil || p.Type != pipeline.TypePrefix+TypePreflightRefused {
					t.Errorf("problem body %q (%v)", body, err)
				}
				s.obs.mu.Lock()
				defer s.obs.mu.Unlock()
				if len(s.obs.seen) != 1 || s.obs.seen[0].Type != TypePreflightRefused || s.obs.seen[0].Err == nil {
					t.Errorf("observer saw %v, want one %s with a cause", s.obs.seen, TypePreflightRefused)
				}
				return
			}
			if resp.StatusCode != http.StatusNoContent || body != "" {
				t.Fatalf("status %d body %q, want 204", resp.StatusCode, body)
			}
			for k, want := range tt.want {
				if v := strings.Join(got[k], "|"); v != want {
					t.Errorf("%s = %q, want %q", k, v, want)
				}
			}
		})
	}
}

// TestOptionsWithoutRequestMethod: an OPTIONS request without
// Access-Control-Request-Method is not a preflight; the route decides.
func TestOptionsWithoutRequestMethod(t *testing.T) {
	s := start(t, webPolicy, nil)
	resp, _ := do(t, "OPTIONS", s.url, origin("https://app.example.com"))
	if s.hits.Load() != 1 || resp.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Fatalf("hits %d, Allow-Methods %q", s.hits.Load(), resp.Header.Get("Access-Control-Allow-Methods"))
	}
}

// TestLaterRejectionCarriesCORS: a 401 from a later step must be readable by
// the allowed page (otherwise it cannot tell "log in again" from a network
// error), and must carry nothing for other origins.
func TestLaterRejectionCarriesCORS(t *testing.T) {
	deny := pipeline.Guard("auth", nil, func(r *http.Request) (*http.Request, error) {
		return nil, pipeline.Reject(401, "credentials-missing", "Credentials are required.")
	})
	s := start(t, webPolicy, nil, deny)
	tests := []struct {
		name, origin, want string
	}{
		{"allowed origin reads the 401", "https://app.example.com", "https://app.example.com"},
		{"unlisted origin gets nothing", "https://evil.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := do(t, "GET", s.url, origin(tt.origin))
			if resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != tt.want || !varyHas(resp.Header, "Origin") {
				t.Fatalf("status %d Allow-Origin %q Vary %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Values("Vary"))
			}
		})
	}
	if s.hits.Load() != 0 {
		t.Fatalf("upstream hits %d", s.hits.Load())
	}
}

func TestVaryMerge(t *testing.T) {
	tests := []struct {
		name     string
		upstream []string
		want     string
	}{
		{"no upstream Vary", nil, "Origin"},
		{"upstream Vary kept", []string{"Accept-Encoding"}, "Accept-Encoding, Origin"},
		{"upstream already varies on origin", []string{"accept-encoding, origin"}, "accept-encoding, origin"},
		{"upstream Vary: * covers everything", []string{"*"}, "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, webPolicy, func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Vary"] = tt.upstream
			})
			resp, _ := do(t, "GET", s.url, origin("https://app.example.com"))
			if got := strings.Join(resp.Header.Values("Vary"), ", "); got != tt.want {
				t.Fatalf("Vary = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFlushThroughWriter: server-sent events reach the page as produced and
// carry the CORS headers.
func TestFlushThroughWriter(t *testing.T) {
	release := make(chan struct{})
	s := start(t, webPolicy, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\n")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	req, _ := http.NewRequest("GET", s.url+"/events", nil)
	req.Header.Set("Origin", "https://app.example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("Allow-Origin %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(resp.Body).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if l != "data: one\n" {
			t.Fatalf("line %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("event not flushed through the CORS writer")
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"empty origin list never means every origin", Config{}, "allow_origins is empty"},
		{"star with credentials", Config{AllowOrigins: []string{"*"}, AllowCredentials: true}, "cannot be combined"},
		{"star with other origins", Config{AllowOrigins: []string{"*", "https://a.example.com"}}, "already allows every origin"},
		{"path", Config{AllowOrigins: []string{"https://a.example.com/app"}}, "must not have a path"},
		{"no scheme", Config{AllowOrigins: []string{"a.example.com"}}, "scheme://host"},
		{"wildcard inside a label", Config{AllowOrigins: []string{"https://app-*.example.com"}}, "whole first label"},
		{"wildcard over a TLD", Config{AllowOrigins: []string{"https://*.com"}}, "two more labels"},
		{"bare wildcard host", Config{AllowOrigins: []string{"https://*"}}, "whole first label"},
		{"bad port", Config{AllowOrigins: []string{"https://a.example.com:99999"}}, "port between 1 and 65535"},
		{"upper case never matches what browsers send", Config{AllowOrigins: []string{"HTTPS://App.Example.com"}}, "lower case"},
		{"default port never matches what browsers send", Config{AllowOrigins: []string{"https://app.example.com:443"}}, "default port"},
		{"user info", Config{AllowOrigins: []string{"https://u@a.example.com"}}, "user info"},
		{"bad method", Config{AllowOrigins: []string{"https://a.example.com"}, AllowMethods: []string{"GE T"}}, "method token"},
		{"bad header", Config{AllowOrigins: []string{"https://a.example.com"}, AllowHeaders: []string{"x:y"}}, "not a header name"},
		{"star header with credentials", Config{AllowOrigins: []string{"https://a.example.com"}, AllowHeaders: []string{"*"}, AllowCredentials: true}, `allow_headers "*"`},
		{"star method with credentials", Config{AllowOrigins: []string{"https://a.example.com"}, AllowMethods: []string{"*"}, AllowCredentials: true}, `allow_methods "*"`},
		{"star expose with credentials", Config{AllowOrigins: []string{"https://a.example.com"}, ExposeHeaders: []string{"*"}, AllowCredentials: true}, `expose_headers "*"`},
		{"negative max age", Config{AllowOrigins: []string{"https://a.example.com"}, MaxAge: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Name = "p"
			_, err := New(tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `cors "p"`) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestOriginsComparedAsBrowsersSend: configured origins are exact; a
// request's Origin is lower-cased and loses a default port before the
// comparison, as browsers serialize it.
func TestOriginsComparedAsBrowsersSend(t *testing.T) {
	mw, err := New(Config{AllowOrigins: []string{"https://app.example.com", "http://[::1]:8080"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for o, want := range map[string]string{
		"https://app.example.com":     "https://app.example.com",
		"HTTPS://App.Example.com:443": "https://app.example.com",
		"http://[::1]:8080":           "http://[::1]:8080",
		"http://[::1]":                "",
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Origin", o)
		h.ServeHTTP(rec, r)
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("%s: Allow-Origin %q, want %q", o, got, want)
		}
	}
}

// TestStarAllowHeaders: "*" in allow_headers (no credentials) allows every
// header but Authorization, as Fetch does.
func TestStarAllowHeaders(t *testing.T) {
	s := start(t, Config{AllowOrigins: []string{"*"}, AllowHeaders: []string{"*"}}, nil)
	for _, tt := range []struct {
		headers string
		status  int
	}{{"x-anything,content-type", 204}, {"authorization", 403}} {
		t.Run(tt.headers, func(t *testing.T) {
			resp, _ := do(t, "OPTIONS", s.url, preflight("https://a.test", "GET", tt.headers))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
}

func TestIsPreflight(t *testing.T) {
	for _, tt := range []struct {
		name   string
		method string
		h      http.Header
		want   bool
	}{
		{"preflight", "OPTIONS", preflight("https://a.test", "PUT", ""), true},
		{"no origin", "OPTIONS", preflight("", "PUT", ""), false},
		{"no request method", "OPTIONS", origin("https://a.test"), false},
		{"GET with the headers", "GET", preflight("https://a.test", "PUT", ""), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", nil)
			r.Header = tt.h
			if got := IsPreflight(r); got != tt.want {
				t.Fatalf("IsPreflight = %v", got)
			}
		})
	}
}
