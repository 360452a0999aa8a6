package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/dashboard"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/stats"
)

const token = "dashboard-test-admin-token-0123456789abcdef"

// wantCSP is the policy the brief asks for, word for word.
const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// memBlocks is an in-memory block table.
type memBlocks struct {
	mu    sync.Mutex
	now   func() time.Time
	m     map[string]dashboard.Block
	added []string
}

func newMemBlocks() *memBlocks { return &memBlocks{m: map[string]dashboard.Block{}, now: time.Now} }

func (b *memBlocks) List(context.Context) ([]dashboard.Block, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []dashboard.Block{}
	for _, x := range b.m {
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b dashboard.Block) int { return strings.Compare(a.Subject, b.Subject) })
	return out, nil
}

func (b *memBlocks) Add(_ context.Context, subject string, d time.Duration, reason string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[subject] = dashboard.Block{Subject: subject, Until: b.now().Add(d), Reason: reason, Source: "dashboard"}
	b.added = append(b.added, subject)
	return nil
}

func (b *memBlocks) Remove(_ context.Context, subject string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, subject)
	return nil
}

func (b *memBlocks) Blocked(subject string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.m[subject]
	return ok
}

func (b *memBlocks) adds() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.added)
}

type fixture struct {
	srv    *httptest.Server
	h      *dashboard.Handler
	blocks *memBlocks
	logs   *gt.SyncBuffer
	done   chan struct{}
}

func start(t *testing.T, tweak func(*dashboard.Options)) *fixture {
	t.Helper()
	f := &fixture{blocks: newMemBlocks(), logs: &gt.SyncBuffer{}, done: make(chan struct{})}
	opts := dashboard.Options{Token: token, Stats: stats.New(), Replica: "replica-a", Blocks: f.blocks,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)), Done: f.done, StreamEvery: 100 * time.Millisecond}
	if tweak != nil {
		tweak(&opts)
	}
	f.h = dashboard.New(opts)
	f.srv = httptest.NewServer(f.h)
	t.Cleanup(func() {
		select {
		case <-f.done:
		default:
			close(f.done)
		}
		f.srv.Close()
	})
	return f
}

// client returns a browser-like client: a cookie jar, no redirects followed.
func (f *fixture) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (f *fixture) login(t *testing.T, c *http.Client, tok string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+"/dashboard/login", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", f.srv.URL)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// csrfOf reads the CSRF token from a page's meta tag.
func (f *fixture) csrfOf(t *testing.T, c *http.Client) string {
	t.Helper()
	resp, body := get(t, c, f.srv.URL+"/dashboard/offenders", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("offenders page: %d", resp.StatusCode)
	}
	_, rest, _ := strings.Cut(body, `name="csrf-token" content="`)
	tok, _, _ := strings.Cut(rest, `"`)
	if len(tok) < 40 {
		t.Fatalf("no CSRF token in the page")
	}
	return tok
}

func get(t *testing.T, c *http.Client, u string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (f *fixture) postJSON(t *testing.T, c *http.Client, path, body string, hdr map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestNothingBeforeLogin(t *testing.T) {
	f := start(t, nil)
	c := f.client()
	for _, p := range []string{"summary", "series", "routes", "events", "offenders?kind=clients", "blocks", "config", "stream"} {
		resp, body := get(t, c, f.srv.URL+"/dashboard/api/"+p, nil)
		if resp.StatusCode != 401 || strings.Contains(body, "replica-a") {
			t.Errorf("api/%s without login: %d %q; want 401 and no data", p, resp.StatusCode, body)
		}
	}
	for _, p := range []string{"", "overview", "events", "offenders", "config"} {
		resp, _ := get(t, c, f.srv.URL+"/dashboard/"+p, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/login" {
			t.Errorf("page %q without login: %d → %q; want 303 to the login page", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// The login page and the assets are open, under the strict CSP.
	for _, p := range []string{"login", "assets/dashboard.js", "assets/vendor/uPlot.iife.min.js"} {
		resp, _ := get(t, c, f.srv.URL+"/dashboard/"+p, nil)
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != wantCSP {
			t.Errorf("%s: CSP %q", p, got)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: framing or referrer headers missing: %v", p, resp.Header)
		}
	}
}

func TestLoginSessionAndLogout(t *testing.T) {
	f := start(t, nil)
	c := f.client()
	resp := f.login(t, c, token)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/overview" {
		t.Fatalf("login: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookie := resp.Header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("cookie Secure on a plain listener: %q", cookie)
	}
	resp, body := get(t, c, f.srv.URL+"/dashboard/api/summary", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"replica":"replica-a"`) {
		t.Fatalf("summary with a session: %d %s", resp.StatusCode, body)
	}
	csrf := f.csrfOf(t, c)
	u, _ := url.Parse(f.srv.URL)
	stolen := c.Jar.Cookies(u)

	// Logout needs the CSRF token too.
	form := func(tok string) *http.Request {
		req, _ := http.NewRequest("POST", f.srv.URL+"/dashboard/logout", strings.NewReader(url.Values{"csrf": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", f.srv.URL)
		return req
	}
	if resp, _ := c.Do(form("forged")); resp.StatusCode != 403 {
		t.Errorf("logout with a forged CSRF token: %d, want 403", resp.StatusCode)
	}
	if resp, _ := c.Do(form(csrf)); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	// The old cookie is dead on the server, not only in this browser.
	replay := f.client()
	replay.Jar.SetCookies(u, stolen)
	if resp, _ := get(t, replay, f.srv.URL+"/dashboard/api/summary", nil); resp.StatusCode != 401 {
		t.Errorf("old session after logout: %d, want 401", resp.StatusCode)
	}
	if logs := f.logs.String(); !strings.Contains(logs, `"event":"dashboard-login"`) || !strings.Contains(logs, `"event":"dashboard-logout"`) {
		t.Errorf("login and logout not audited: %s", logs)
	}
	if strings.Contains(f.logs.String(), token) {
		t.Error("the admin token reached the log")
	}
}

func TestSecureCookieOverTLS(t *testing.T) {
	f := start(t, func(o *dashboard.Options) { o.TLS = true })
	req, _ := http.NewRequest("POST", f.srv.URL+"/dashboard/login", strings.NewReader("token="+token))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://"+strings.TrimPrefix(f.srv.URL, "http://"))
	resp, err := f.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := resp.Header.Get("Set-Cookie"); !strings.Contains(c, "Secure") {
		t.Errorf("cookie over TLS: %q, want Secure", c)
	}
}

func TestLoginLockout(t *testing.T) {
	f := start(t, nil)
	c := f.client()
	for i := 0; i < 5; i++ {
		if resp := f.login(t, c, "wrong-token"); resp.StatusCode != 401 {
			t.Fatalf("wrong token #%d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	// Locked: even the right token is refused now.
	resp := f.login(t, c, token)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("after 5 failures: %d (Retry-After %q), want 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if strings.Contains(f.logs.String(), "wrong-token") {
		t.Error("a tried token reached the log")
	}
}

func TestLoginNeedsSameOrigin(t *testing.T) {
	f := start(t, nil)
	req, _ := http.NewRequest("POST", f.srv.URL+"/dashboard/login", strings.NewReader("token="+token))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := f.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("cross-origin login: %d, cookie %q; want 403 and none", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
}

func TestBlockNeedsCSRF(t *testing.T) {
	f := start(t, nil)
	c := f.client()
	f.login(t, c, token)
	csrf := f.csrfOf(t, c)
	body := `{"subject":"203.0.113.9","duration":"1h","reason":"test"}`
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"no CSRF token → 403", map[string]string{"Origin": f.srv.URL}, 403},
		{"forged CSRF token → 403", map[string]string{"Origin": f.srv.URL, "X-CSRF-Token": strings.Repeat("A", len(csrf))}, 403},
		{"cross-site origin → 403", map[string]string{"Origin": "https://evil.example", "X-CSRF-Token": csrf}, 403},
		{"no origin → 403", map[string]string{"X-CSRF-Token": csrf}, 403},
		{"null origin, cross-site fetch → 403", map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site", "X-CSRF-Token": csrf}, 403},
		{"null origin, same-origin fetch, no token → 403", map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-origin"}, 403},
		{"token and origin → 204", map[string]string{"Origin": f.srv.URL, "X-CSRF-Token": csrf}, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.postJSON(t, c, "/dashboard/api/blocks", body, tc.hdr); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
			if want := tc.want == 204; f.blocks.Blocked("203.0.113.9") != want {
				t.Errorf("blocked = %v, want %v", !want, want)
			}
		})
	}
	if !strings.Contains(f.logs.String(), `"event":"dashboard-block"`) {
		t.Error("block not audited")
	}
	// Unblock, audited too.
	if got := f.postJSON(t, c, "/dashboard/api/unblock", `{"subject":"203.0.113.9"}`, map[string]string{"Origin": f.srv.URL, "X-CSRF-Token": csrf}); got != 204 || f.blocks.Blocked("203.0.113.9") {
		t.Errorf("unblock: %d", got)
	}
	if !strings.Contains(f.logs.String(), `"event":"dashboard-unblock"`) {
		t.Error("unblock not audited")
	}
}

func TestBearerScrapesWithoutCSRF(t *testing.T) {
	f := start(t, nil)
	hdr := http.Header{"Authorization": {"Bearer " + token}}
	resp, body := get(t, http.DefaultClient, f.srv.URL+"/dashboard/api/summary?window=60", hdr)
	if resp.StatusCode != 200 || !strings.Contains(body, `"replica":"replica-a"`) {
		t.Errorf("bearer summary: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, http.DefaultClient, f.srv.URL+"/dashboard/api/summary", http.Header{"Authorization": {"Bearer nope"}}); resp.StatusCode != 401 {
		t.Errorf("wrong bearer: %d", resp.StatusCode)
	}
	// A bearer caller sends no ambient credential: no CSRF token needed.
	if got := f.postJSON(t, http.DefaultClient, "/dashboard/api/blocks", `{"subject":"k_1","duration":"10m"}`, map[string]string{"Authorization": "Bearer " + token}); got != 204 {
		t.Errorf("bearer block: %d", got)
	}
}

func TestBlocksNotConfigured(t *testing.T) {
	f := start(t, func(o *dashboard.Options) { o.Blocks = nil })
	hdr := http.Header{"Authorization": {"Bearer " + token}}
	_, body := get(t, http.DefaultClient, f.srv.URL+"/dashboard/api/blocks", hdr)
	var ans struct{ Configured bool }
	if err := json.Unmarshal([]byte(body), &ans); err != nil || ans.Configured {
		t.Errorf("blocks without a table: %s", body)
	}
	if got := f.postJSON(t, http.DefaultClient, "/dashboard/api/blocks", `{"subject":"x","duration":"1m"}`, map[string]string{"Authorization": "Bearer " + token}); got != 409 {
		t.Errorf("block without a table: %d, want 409", got)
	}
}

func TestInvalidBlockRequests(t *testing.T) {
	f := start(t, nil)
	auth := map[string]string{"Authorization": "Bearer " + token}
	for _, body := range []string{`{}`, `{"subject":"x","duration":"-1h"}`, `{"subject":"x","duration":"9999h"}`,
		`{"subject":"x","duration":"1h","extra":1}`, `{"subject":"` + strings.Repeat("x", 300) + `","duration":"1h"}`, `not json`} {
		if got := f.postJSON(t, http.DefaultClient, "/dashboard/api/blocks", body, auth); got != 400 {
			t.Errorf("%.40s: %d, want 400", body, got)
		}
	}
}

func TestSessionCap(t *testing.T) {
	f := start(t, func(o *dashboard.Options) { o.MaxSessions = 2 })
	first := f.client()
	f.login(t, first, token)
	f.login(t, f.client(), token)
	f.login(t, f.client(), token)
	if resp, _ := get(t, first, f.srv.URL+"/dashboard/api/summary", nil); resp.StatusCode != 401 {
		t.Errorf("oldest session past the cap: %d, want 401", resp.StatusCode)
	}
}

func TestSessionExpires(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	f := start(t, func(o *dashboard.Options) {
		o.SessionTTL = time.Hour
		o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	c := f.client()
	f.login(t, c, token)
	if resp, _ := get(t, c, f.srv.URL+"/dashboard/api/summary", nil); resp.StatusCode != 200 {
		t.Fatalf("fresh session: %d", resp.StatusCode)
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if resp, _ := get(t, c, f.srv.URL+"/dashboard/api/summary", nil); resp.StatusCode != 401 {
		t.Errorf("expired session: %d, want 401", resp.StatusCode)
	}
}

func TestStreamUpdatesAndEndsOnShutdown(t *testing.T) {
	f := start(t, func(o *dashboard.Options) { o.MaxStreams = 1 })
	hdr := http.Header{"Authorization": {"Bearer " + token}}
	req, _ := http.NewRequest("GET", f.srv.URL+"/dashboard/api/stream", nil)
	req.Header = hdr
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	// A second stream is over the cap.
	if r2, _ := get(t, http.DefaultClient, f.srv.URL+"/dashboard/api/stream", hdr); r2.StatusCode != 503 {
		t.Errorf("second stream: %d, want 503", r2.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	updates := 0
	for updates < 2 && sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "data: ") {
			var u struct{ Replica string }
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &u); err != nil || u.Replica != "replica-a" {
				t.Fatalf("update %q: %v", line, err)
			}
			updates++
		}
	}
	close(f.done)
	ended := make(chan struct{})
	go func() {
		for sc.Scan() {
		}
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end on shutdown")
	}
}

func TestMask(t *testing.T) {
	yaml := `version: 1
admin: { token: "${ADMIN}" }
store: "postgres://rampart:hunter2-db-password@db.internal/keys"
upstreams:
  app: { targets: ["http://127.0.0.1:9000"] }
authenticators:
  app_tokens: { type: jwt, issuer: any, audiences: [any], algorithms: [HS256], secret: "${JWT_SECRET}" }
  opaque: { type: introspection, url: "https://idp.example.com/introspect", client_id: rampart, client_secret: "${INTRO}" }
routes:
  - { name: r, path: /r, methods: [GET], upstream: app, auth: [app_tokens, opaque] }
`
	env := map[string]string{"ADMIN": token, "JWT_SECRET": "jwt-secret-value-0123456789abcdefXYZ", "INTRO": "introspection-secret-0123456789abcdef"}
	cfg, err := config.Parse("rampart.yaml", []byte(yaml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(dashboard.Mask(cfg))
	text := string(out)
	for _, secret := range []string{token, env["JWT_SECRET"], env["INTRO"], "hunter2-db-password"} {
		if strings.Contains(text, secret) {
			t.Errorf("secret %q shown: %s", secret, text)
		}
	}
	for _, shown := range []string{`"issuer":"any"`, `"client_id":"rampart"`, `http://127.0.0.1:9000`, `db.internal`} {
		if !strings.Contains(text, shown) {
			t.Errorf("%s missing from %s", shown, text)
		}
	}
}

func TestConfigsHistory(t *testing.T) {
	cfg, err := config.Parse("rampart.yaml", []byte("version: 1\nadmin: { listen: \"off\" }\nroutes: []\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_800_000_000, 0)
	c := dashboard.NewConfigs(cfg, t0)
	_, loadErr := config.Parse("rampart.yaml", []byte("version: 1\nbogus: 1\n"), nil)
	c.Reloaded(nil, loadErr, t0.Add(time.Minute))
	c.Reloaded(cfg, nil, t0.Add(2*time.Minute))
	v := c.View()
	if v.File != "rampart.yaml" || len(v.Reloads) != 2 || !v.Reloads[0].OK || v.Reloads[1].OK {
		t.Fatalf("view: %+v", v)
	}
	if v.LastFailure == nil || len(v.LastFailure.Errors) != 2 || !strings.HasPrefix(v.LastFailure.Errors[1], `rampart.yaml:2:1: unknown key "bogus"`) {
		t.Errorf("last failure: %+v", v.LastFailure)
	}
}

// FuzzRequest sends arbitrary methods, targets, cookies and bodies to the
// dashboard, with the admin token or without: never a panic or a 500, and
// never API data without a credential.
func FuzzRequest(f *testing.F) {
	for _, seed := range []struct {
		method, target, cookie, body string
		bearer                       bool
	}{
		{"GET", "/dashboard/api/events?after=18446744073709551615&limit=-1", "", "", true},
		{"GET", "/dashboard/api/series?window=99999999999999999999&step=0", "", "", true},
		{"GET", "/dashboard/api/offenders?kind=../../etc", "", "", true},
		{"POST", "/dashboard/api/blocks", "", `{"subject":"x","duration":"1h"}`, true},
		{"POST", "/dashboard/api/unblock", "", `{"subject":`, true},
		{"POST", "/dashboard/login", "", "token=x&token=y", false},
		{"GET", "/dashboard/api/stream", "rampart_dashboard=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", false},
		{"GET", "/dashboard/assets/../../dashboard.go", "", "", false},
		{"GET", "/dashboard/%2e%2e/api/summary", "", "", false},
	} {
		f.Add(seed.method, seed.target, seed.cookie, seed.body, seed.bearer)
	}
	done := make(chan struct{})
	close(done) // live streams send one update and end
	h := dashboard.New(dashboard.Options{Token: token, Stats: stats.New(), Blocks: newMemBlocks(), Done: done,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	f.Fuzz(func(t *testing.T, method, target, cookie, body string, bearer bool) {
		req, err := http.NewRequest(method, "http://admin.test"+target, strings.NewReader(body))
		if err != nil || !strings.HasPrefix(req.URL.Path, "/dashboard/") {
			return
		}
		req.Header.Set("Cookie", cookie)
		if bearer {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %q: %d", method, target, rec.Code)
		}
		if !bearer && rec.Code == 200 && strings.Contains(rec.Body.String(), `"replica"`) {
			t.Fatalf("%s %q answered data without a credential", method, target)
		}
	})
}
