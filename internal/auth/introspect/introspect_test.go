package introspect_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/auth/authtest"
	"github.com/rampart-gw/rampart/internal/auth/introspect"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	idp   *authtest.IdP
	clock *clock
	a     *introspect.Authenticator
	log   *bytes.Buffer
}

// newFixture starts an IdP whose introspection endpoint knows the tokens in
// answers (anything else is inactive).
func newFixture(t *testing.T, answers map[string]map[string]any, edit func(*fixture, *introspect.Config)) *fixture {
	t.Helper()
	f := &fixture{idp: authtest.NewIdP(t), clock: &clock{t: time.Now().Truncate(time.Second)}, log: &bytes.Buffer{}}
	var mu sync.Mutex
	f.idp.SetIntrospect(func(tok string) (int, any) {
		mu.Lock()
		defer mu.Unlock()
		if a, ok := answers[tok]; ok {
			return http.StatusOK, a
		}
		return http.StatusOK, map[string]any{"active": false}
	})
	cfg := introspect.Config{Name: "opaque", URL: f.idp.IntrospectionURL(), ClientID: "rampart",
		ClientSecret: authtest.IntrospectSecret, Now: f.clock.Now}
	if edit != nil {
		edit(f, &cfg)
	}
	a, err := introspect.New(cfg, f.idp.Server.Client(), slog.New(slog.NewTextHandler(&syncWriter{w: f.log}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f.a = a
	return f
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://gw.example/api", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func rejection(t *testing.T, err error) *pipeline.Rejection {
	t.Helper()
	var rej *pipeline.Rejection
	if !errors.As(err, &rej) {
		t.Fatalf("error %v (%T) is not a *pipeline.Rejection", err, err)
	}
	return rej
}

func (f *fixture) active(sub string, extra map[string]any) map[string]any {
	m := map[string]any{"active": true, "sub": sub, "client_id": "web", "scope": "items:read items:write",
		"exp": f.clock.Now().Add(time.Hour).Unix(), "iat": f.clock.Now().Unix(), "token_type": "Bearer"}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

func TestActiveToken(t *testing.T) {
	var f *fixture
	f = newFixture(t, nil, nil)
	answers := map[string]map[string]any{
		"tok-user":   f.active("alice", map[string]any{"roles": []string{"admin"}, "amr": []string{"pwd", "hwk"}}),
		"tok-client": f.active("", map[string]any{"sub": nil, "client_id": "batch-job", "scope": "reports:write"}),
	}
	f.idp.SetIntrospect(func(tok string) (int, any) {
		if a, ok := answers[tok]; ok {
			return http.StatusOK, a
		}
		return http.StatusOK, map[string]any{"active": false}
	})
	tests := []struct {
		name, tok, sub string
		scopes, roles  []string
	}{
		{"user token", "tok-user", "alice", []string{"items:read", "items:write"}, []string{"admin"}},
		{"client-credentials token: subject from client_id", "tok-client", "batch-job", []string{"reports:write"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.a.Authenticate(bearer(tt.tok))
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != tt.sub || p.Authenticator != "opaque" {
				t.Errorf("principal %s:%s, want opaque:%s", p.Authenticator, p.Subject, tt.sub)
			}
			if diff := cmp.Diff(tt.scopes, p.Scopes); diff != "" {
				t.Errorf("scopes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.roles, p.Roles); diff != "" {
				t.Errorf("roles (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCaching(t *testing.T) {
	t.Run("active answer reused until exp", func(t *testing.T) {
		f := newFixture(t, nil, nil)
		ans := f.active("alice", map[string]any{"exp": f.clock.Now().Add(time.Minute).Unix()})
		f.idp.SetIntrospect(func(string) (int, any) { return http.StatusOK, ans })
		for range 5 {
			if _, err := f.a.Authenticate(bearer("tok")); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.idp.IntrospectHits.Load(); got != 1 {
			t.Fatalf("5 requests: %d introspection calls, want 1", got)
		}
		f.clock.Advance(time.Minute)
		_, err := f.a.Authenticate(bearer("tok"))
		if rej := rejection(t, err); rej.Status != 401 || !errors.Is(rej.Err, introspect.ErrRefused) {
			t.Errorf("after exp: %d %v, want 401 ErrRefused (expired)", rej.Status, rej.Err)
		}
		if got := f.idp.IntrospectHits.Load(); got != 2 {
			t.Errorf("after exp: %d calls, want 2 (the cache entry died at exp)", got)
		}
	})
	t.Run("active answer reused at most CacheTTL", func(t *testing.T) {
		f := newFixture(t, nil, func(_ *fixture, c *introspect.Config) { c.CacheTTL = time.Minute })
		f.idp.SetIntrospect(func(string) (int, any) { return http.StatusOK, f.active("alice", nil) })
		if _, err := f.a.Authenticate(bearer("tok")); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Minute - time.Second)
		if _, err := f.a.Authenticate(bearer("tok")); err != nil {
			t.Fatal(err)
		}
		if got := f.idp.IntrospectHits.Load(); got != 1 {
			t.Fatalf("within CacheTTL: %d calls, want 1", got)
		}
		// Revoked at the IdP: honoured once CacheTTL has passed.
		f.idp.SetIntrospect(func(string) (int, any) { return http.StatusOK, map[string]any{"active": false} })
		f.clock.Advance(time.Second)
		_, err := f.a.Authenticate(bearer("tok"))
		if rej := rejection(t, err); !errors.Is(rej.Err, introspect.ErrInactive) {
			t.Errorf("revoked token after CacheTTL: %v, want ErrInactive", rej.Err)
		}
	})
	t.Run("inactive answer reused for NegativeTTL", func(t *testing.T) {
		f := newFixture(t, nil, func(_ *fixture, c *introspect.Config) { c.NegativeTTL = 10 * time.Second })
		for range 3 {
			_, err := f.a.Authenticate(bearer("junk"))
			if rej := rejection(t, err); rej.Status != 401 || rej.Type != auth.TypeInvalidToken || !errors.Is(rej.Err, introspect.ErrInactive) {
				t.Fatalf("inactive: %d %s %v", rej.Status, rej.Type, rej.Err)
			}
		}
		if got := f.idp.IntrospectHits.Load(); got != 1 {
			t.Fatalf("3 requests: %d calls, want 1", got)
		}
		f.clock.Advance(10 * time.Second)
		_, _ = f.a.Authenticate(bearer("junk"))
		if got := f.idp.IntrospectHits.Load(); got != 2 {
			t.Errorf("after NegativeTTL: %d calls, want 2", got)
		}
	})
	t.Run("concurrent requests share one call", func(t *testing.T) {
		f := newFixture(t, nil, nil)
		f.idp.SetIntrospect(func(string) (int, any) { return http.StatusOK, f.active("alice", nil) })
		release := f.idp.HoldIntrospection()
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := f.a.Authenticate(bearer("shared")); err != nil {
					failed.Add(1)
				}
			}()
		}
		release()
		wg.Wait()
		if failed.Load() != 0 || f.idp.IntrospectHits.Load() != 1 {
			t.Errorf("20 concurrent requests: %d failed, %d calls; want 0, 1", failed.Load(), f.idp.IntrospectHits.Load())
		}
	})
	t.Run("no cache", func(t *testing.T) {
		f := newFixture(t, nil, func(_ *fixture, c *introspect.Config) { c.CacheSize = -1 })
		f.idp.SetIntrospect(func(string) (int, any) { return http.StatusOK, f.active("alice", nil) })
		for range 3 {
			if _, err := f.a.Authenticate(bearer("tok")); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.idp.IntrospectHits.Load(); got != 3 {
			t.Errorf("%d calls, want 3", got)
		}
	})
}

func TestRefusedAnswers(t *testing.T) {
	f := newFixture(t, nil, func(_ *fixture, c *introspect.Config) {
		c.Issuer = "https://idp.example.com/"
		c.Audiences = []string{"inventory-api"}
	})
	good := map[string]any{"iss": "https://idp.example.com/", "aud": "inventory-api"}
	with := func(extra map[string]any) map[string]any {
		m := f.active("alice", good)
		for k, v := range extra {
			if v == nil {
				delete(m, k)
				continue
			}
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name   string
		answer map[string]any
		want   error // nil = accepted
	}{
		{"active with our iss and aud", with(nil), nil},
		{"aud as an array", with(map[string]any{"aud": []string{"x", "inventory-api"}}), nil},
		{"inactive", map[string]any{"active": false}, introspect.ErrInactive},
		{"expired per our clock", with(map[string]any{"exp": f.clock.Now().Add(-time.Second).Unix()}), introspect.ErrRefused},
		{"nbf in the future", with(map[string]any{"nbf": f.clock.Now().Add(time.Hour).Unix()}), introspect.ErrRefused},
		{"exp a string", with(map[string]any{"exp": "soon"}), introspect.ErrRefused},
		{"refresh token sent as bearer", with(map[string]any{"token_type": "refresh_token"}), introspect.ErrRefused},
		{"another issuer", with(map[string]any{"iss": "https://evil.example/"}), introspect.ErrRefused},
		{"another audience", with(map[string]any{"aud": "billing"}), introspect.ErrRefused},
		{"no aud", with(map[string]any{"aud": nil}), introspect.ErrRefused},
		{"no subject at all", with(map[string]any{"sub": nil, "client_id": nil}), introspect.ErrRefused},
		{"subject with CRLF", with(map[string]any{"sub": "a\r\nb"}), introspect.ErrRefused},
		{"active a string", with(map[string]any{"active": "true"}), introspect.ErrUnavailable},
		{"active missing", with(map[string]any{"active": nil}), introspect.ErrUnavailable},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := "tok" + strings.Repeat("x", i)
			f.idp.SetIntrospect(func(string) (int, any) { return http.StatusOK, tt.answer })
			p, err := f.a.Authenticate(bearer(tok))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted as %+v", p)
			}
			rej := rejection(t, err)
			if !errors.Is(rej.Err, tt.want) {
				t.Errorf("reason %v, want %v", rej.Err, tt.want)
			}
			wantStatus := http.StatusUnauthorized
			if tt.want == introspect.ErrUnavailable {
				wantStatus = http.StatusServiceUnavailable
			}
			if rej.Status != wantStatus {
				t.Errorf("status %d, want %d", rej.Status, wantStatus)
			}
		})
	}
}

// TestFailsClosed: every way of not getting a clear answer is a 503, is not
// remembered, and never lets the request through.
func TestFailsClosed(t *testing.T) {
	var attackerHits atomic.Int64
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attackerHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"active":true,"sub":"admin"}`)
	}))
	defer attacker.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, attacker.URL, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()

	tests := []struct {
		name  string
		setup func(f *fixture, c *introspect.Config)
		log   string // expected in the log
	}{
		{"server error", func(f *fixture, c *introspect.Config) {
			f.idp.SetIntrospect(func(string) (int, any) { return http.StatusInternalServerError, map[string]any{"error": "boom"} })
		}, ""},
		{"server unreachable", func(f *fixture, c *introspect.Config) { c.URL = "http://127.0.0.1:1/introspect" }, ""},
		{"wrong client secret", func(f *fixture, c *introspect.Config) { c.ClientSecret = "not-the-secret" }, "refused the gateway's client credentials"},
		{"answer not JSON", func(f *fixture, c *introspect.Config) {
			f.idp.SetIntrospect(func(string) (int, any) { return http.StatusOK, "<html>login</html>" })
		}, ""},
		{"answer a JSON array", func(f *fixture, c *introspect.Config) {
			f.idp.SetIntrospect(func(string) (int, any) { return http.StatusOK, `[{"active":true}]` })
		}, ""},
		{"answer too large", func(f *fixture, c *introspect.Config) {
			c.MaxResponseBytes = 1024
			f.idp.SetIntrospect(func(string) (int, any) {
				return http.StatusOK, map[string]any{"active": true, "sub": "a", "pad": strings.Repeat("x", 2048)}
			})
		}, ""},
		{"redirect to another server", func(f *fixture, c *introspect.Config) { c.URL = redirector.URL }, ""},
		{"timeout", func(f *fixture, c *introspect.Config) {
			c.Timeout = 100 * time.Millisecond
			f.idp.HoldIntrospection() // released when the test ends
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, map[string]map[string]any{"tok": {"active": true, "sub": "alice"}}, tt.setup)
			_, err := f.a.Authenticate(bearer("tok"))
			rej := rejection(t, err)
			if rej.Status != http.StatusServiceUnavailable || rej.Type != auth.TypeAuthUnavailable || !errors.Is(rej.Err, introspect.ErrUnavailable) {
				t.Errorf("got %d %s %v, want 503 auth-unavailable", rej.Status, rej.Type, rej.Err)
			}
			if rej.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			if tt.log != "" && !strings.Contains(f.log.String(), tt.log) {
				t.Errorf("log %q lacks %q", f.log.String(), tt.log)
			}
		})
	}
	if attackerHits.Load() != 0 {
		t.Errorf("the redirect target was contacted %d times: the token leaked", attackerHits.Load())
	}
}

func TestOutageIsNotRemembered(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.idp.SetIntrospect(func(string) (int, any) { return http.StatusBadGateway, map[string]any{} })
	_, err := f.a.Authenticate(bearer("tok"))
	if rejection(t, err).Status != http.StatusServiceUnavailable {
		t.Fatalf("IdP down: %v", err)
	}
	f.idp.SetIntrospect(func(string) (int, any) { return http.StatusOK, f.active("alice", nil) })
	if _, err := f.a.Authenticate(bearer("tok")); err != nil {
		t.Fatalf("IdP back: %v (the outage was cached)", err)
	}
}

func TestConfigErrors(t *testing.T) {
	base := introspect.Config{Name: "o", URL: "https://idp.example.com/introspect", ClientID: "rampart", ClientSecret: "secret"}
	tests := []struct {
		name string
		edit func(*introspect.Config)
		want string
	}{
		{"plain http to a remote host", func(c *introspect.Config) { c.URL = "http://idp.example.com/introspect" }, "use https"},
		{"no URL", func(c *introspect.Config) { c.URL = "" }, "url"},
		{"no client secret", func(c *introspect.Config) { c.ClientSecret = "" }, "client_secret"},
		{"no name", func(c *introspect.Config) { c.Name = "" }, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.edit(&cfg)
			if _, err := introspect.New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
