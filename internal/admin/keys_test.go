package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/auth/apikey"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/sqlite"
)

const testToken = "an-admin-token-that-is-long-enough-0123456789"

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type keysFixture struct {
	srv   *httptest.Server
	store *sqlite.Store
	audit *syncBuffer
}

func newKeysFixture(t *testing.T) *keysFixture {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "keys.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &keysFixture{store: s, audit: &syncBuffer{}}
	api, err := NewKeysAPI(KeysConfig{Store: s, Audit: slog.New(slog.NewJSONHandler(f.audit, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := New(testToken, func() Readiness { return Readiness{Ready: true} })
	api.Mount(h)
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

type reply struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func (f *keysFixture) call(t *testing.T, method, path, contentType, body string, token ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	tok := testToken
	if len(token) > 0 {
		tok = token[0]
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := reply{status: res.StatusCode, header: res.Header, body: string(b)}
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &out.json); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, b, err)
		}
	}
	return out
}

const jsonType = "application/json"

var fullKey = regexp.MustCompile(`^rk_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}$`)

func TestKeysAPIRequiresTheAdminToken(t *testing.T) {
	f := newKeysFixture(t)
	for _, tok := range []string{"", "wrong-token"} {
		if r := f.call(t, "GET", KeysPath, "", "", tok); r.status != 401 {
			t.Errorf("token %q → %d", tok, r.status)
		}
		if r := f.call(t, "POST", KeysPath, jsonType, `{"consumer":"acme"}`, tok); r.status != 401 {
			t.Errorf("create with token %q → %d", tok, r.status)
		}
	}
	if ks, _ := f.store.ListKeys(context.Background(), store.ListOptions{}); len(ks) != 0 {
		t.Error("a key was created without the admin token")
	}
}

func TestKeysAPILifecycle(t *testing.T) {
	f := newKeysFixture(t)

	r := f.call(t, "POST", KeysPath, jsonType+"; charset=utf-8",
		`{"consumer":"acme","scopes":["items:read"],"roles":["partner"],"labels":{"team":"payments"},"expires_in":"90d"}`)
	if r.status != 201 {
		t.Fatalf("create → %d %s", r.status, r.body)
	}
	full, _ := r.json["key"].(string)
	id, _ := r.json["id"].(string)
	if !fullKey.MatchString(full) || !strings.HasPrefix(full, "rk_"+id+"_") || r.header.Get("Location") != KeysPath+"/"+id {
		t.Fatalf("create: %v, Location %q", r.json, r.header.Get("Location"))
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("the response with the key may be cached: Cache-Control %q", r.header.Get("Cache-Control"))
	}
	if r.json["consumer"] != "acme" || r.json["status"] != "active" || r.json["expires_at"] == nil {
		t.Errorf("create: %v", r.json)
	}
	_, secret, _ := store.ParseKey(full)

	// The key works at the gateway.
	a, err := apikey.New(apikey.Config{Name: "partners", Logger: slog.New(slog.DiscardHandler)}, f.store)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-API-Key", full)
	if p, err := a.Authenticate(req); err != nil || p.Subject != "acme" {
		t.Fatalf("key from the admin API: %v %v", p, err)
	}

	// Reading never shows the secret.
	list := f.call(t, "GET", KeysPath+"?consumer=acme", "", "")
	one := f.call(t, "GET", KeysPath+"/"+id, "", "")
	if list.status != 200 || one.status != 200 || one.json["id"] != id {
		t.Fatalf("list %d %s; get %d %s", list.status, list.body, one.status, one.body)
	}
	if keys, _ := list.json["keys"].([]any); len(keys) != 1 {
		t.Errorf("list: %s", list.body)
	}
	for _, body := range []string{list.body, one.body} {
		if strings.Contains(body, secret) || strings.Contains(body, `"key"`) || strings.Contains(body, "hash") {
			t.Errorf("read response shows a secret: %s", body)
		}
	}
	if r := f.call(t, "GET", KeysPath+"?consumer=nobody", "", ""); !strings.Contains(r.body, `"keys": []`) {
		t.Errorf("empty list: %s", r.body)
	}

	// Rotate with a grace period.
	rot := f.call(t, "POST", KeysPath+"/"+id+"/rotate", jsonType, `{"grace":"1h"}`)
	if rot.status != 201 {
		t.Fatalf("rotate → %d %s", rot.status, rot.body)
	}
	newFull, _ := rot.json["key"].(string)
	newID, _ := rot.json["id"].(string)
	prev, _ := rot.json["previous"].(map[string]any)
	if !fullKey.MatchString(newFull) || newID == id || prev["id"] != id || prev["rotated_to"] != newID || prev["status"] != "rotated" {
		t.Fatalf("rotate: %s", rot.body)
	}
	if r := f.call(t, "POST", KeysPath+"/"+id+"/rotate", "", ""); r.status != 409 || r.json["type"] != "urn:rampart:problem:key-already-rotated" {
		t.Errorf("rotate twice → %d %s", r.status, r.body)
	}

	// Revoke (POST …/revoke and DELETE) and the gateway stops accepting it.
	rev := f.call(t, "POST", KeysPath+"/"+id+"/revoke", "", "")
	if rev.status != 200 || rev.json["status"] != "revoked" || rev.json["revoked_at"] == nil {
		t.Fatalf("revoke → %d %s", rev.status, rev.body)
	}
	deadline := time.Now().Add(time.Second)
	for {
		if _, err := a.Authenticate(req); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("revoked key still accepted after 1s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r := f.call(t, "DELETE", KeysPath+"/"+newID, "", ""); r.status != 200 || r.json["status"] != "revoked" {
		t.Errorf("DELETE → %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", KeysPath+"/"+newID+"/rotate", "", ""); r.status != 409 || r.json["type"] != "urn:rampart:problem:key-revoked" {
		t.Errorf("rotate a revoked key → %d %s", r.status, r.body)
	}

	// Every change is audited — who, what, when — and no secret is.
	log := f.audit.String()
	for _, want := range []string{`"event":"key_created"`, `"event":"key_rotated"`, `"event":"key_revoked"`,
		`"actor":"admin-token"`, `"remote_addr":"127.0.0.1"`, `"key_id":"` + id + `"`, `"new_key_id":"` + newID + `"`, `"at":"`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
	if strings.Count(log, `"event":"key_revoked"`) != 2 || !strings.Contains(log, `"event":"key_change_refused"`) {
		t.Errorf("audit log:\n%s", log)
	}
	for _, s := range []string{full, newFull, secret, testToken} {
		if strings.Contains(log, s) {
			t.Fatalf("audit log contains a secret:\n%s", log)
		}
	}
}

func TestKeysAPIRefusals(t *testing.T) {
	f := newKeysFixture(t)
	for _, c := range []struct {
		name, method, path, ctype, body string
		status                          int
		typ                             string
	}{
		{"no consumer", "POST", KeysPath, jsonType, `{}`, 400, "invalid-request"},
		{"bad consumer", "POST", KeysPath, jsonType, `{"consumer":"a b"}`, 400, "invalid-request"},
		{"bad scope", "POST", KeysPath, jsonType, `{"consumer":"a","scopes":["a b"]}`, 400, "invalid-request"},
		{"past expiry", "POST", KeysPath, jsonType, `{"consumer":"a","expires_at":"2001-01-01T00:00:00Z"}`, 400, "invalid-request"},
		{"both expiries", "POST", KeysPath, jsonType, `{"consumer":"a","expires_in":"1d","expires_at":"2101-01-01T00:00:00Z"}`, 400, "invalid-request"},
		{"bad lifetime", "POST", KeysPath, jsonType, `{"consumer":"a","expires_in":"soon"}`, 400, "invalid-request"},
		{"unknown field (mass assignment)", "POST", KeysPath, jsonType, `{"consumer":"a","hash":"00"}`, 400, "invalid-json"},
		{"id may not be chosen", "POST", KeysPath, jsonType, `{"consumer":"a","id":"AAAAAAAAAAAA"}`, 400, "invalid-json"},
		{"wrong type", "POST", KeysPath, jsonType, `{"consumer":7}`, 400, "invalid-json"},
		{"two objects", "POST", KeysPath, jsonType, `{"consumer":"a"}{"consumer":"b"}`, 400, "invalid-json"},
		{"not JSON", "POST", KeysPath, jsonType, `consumer=a`, 400, "invalid-json"},
		{"form content type", "POST", KeysPath, "application/x-www-form-urlencoded", `{"consumer":"a"}`, 415, "unsupported-media-type"},
		{"no content type", "POST", KeysPath, "", `{"consumer":"a"}`, 415, "unsupported-media-type"},
		{"huge body", "POST", KeysPath, jsonType, `{"consumer":"` + strings.Repeat("a", 70000) + `"}`, 413, "body-too-large"},
		{"PUT on the collection", "PUT", KeysPath, jsonType, `{}`, 405, "method-not-allowed"},
		{"GET rotate", "GET", KeysPath + "/AAAAAAAAAAAA/rotate", "", "", 405, "method-not-allowed"},
		{"unknown key", "GET", KeysPath + "/AAAAAAAAAAAA", "", "", 404, "key-not-found"},
		{"rotate unknown", "POST", KeysPath + "/AAAAAAAAAAAA/rotate", "", "", 404, "key-not-found"},
		{"revoke unknown", "DELETE", KeysPath + "/AAAAAAAAAAAA", "", "", 404, "key-not-found"},
		{"bad grace", "POST", KeysPath + "/AAAAAAAAAAAA/rotate", jsonType, `{"grace":"-1h"}`, 400, "invalid-request"},
		{"unknown endpoint", "GET", KeysPath + "/AAAAAAAAAAAA/x/y", "", "", 404, "not-found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.call(t, c.method, c.path, c.ctype, c.body)
			if r.status != c.status || r.json["type"] != "urn:rampart:problem:"+c.typ {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, c.status, c.typ)
			}
			if r.header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("content type %q", r.header.Get("Content-Type"))
			}
			if c.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	if ks, _ := f.store.ListKeys(context.Background(), store.ListOptions{}); len(ks) != 0 {
		t.Errorf("refused requests created %d keys", len(ks))
	}
	// The validation message helps the administrator.
	r := f.call(t, "POST", KeysPath, jsonType, `{"consumer":"a","roles":["x,y"]}`)
	if d, _ := r.json["detail"].(string); !strings.Contains(d, "role") || strings.Contains(d, "store:") {
		t.Errorf("detail %q", d)
	}
}

func TestNewKeysAPINeedsAStore(t *testing.T) {
	if _, err := NewKeysAPI(KeysConfig{}); err == nil {
		t.Error("accepted")
	}
}
