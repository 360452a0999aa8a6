package lockout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/auth/apikey"
	"github.com/rampart-gw/rampart/internal/h1/h1test"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/sqlite"
	"github.com/rampart-gw/rampart/internal/store/storetest"
)

var policy = Policy{MaxFailures: 3, Window: time.Minute, Duration: 5 * time.Minute}

func TestMemoryLocksAfterMaxFailuresWithinTheWindow(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	ctx := context.Background()
	t0 := storetest.Epoch
	for i := 0; i < 2; i++ {
		if until, _ := m.Fail(ctx, "k", t0.Add(time.Duration(i)*time.Second), policy); !until.IsZero() {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	if until, _ := m.Locked(ctx, "k", t0.Add(2*time.Second)); !until.IsZero() {
		t.Fatal("locked before the limit")
	}
	until, _ := m.Fail(ctx, "k", t0.Add(2*time.Second), policy)
	if want := t0.Add(2*time.Second + policy.Duration); !until.Equal(want) {
		t.Fatalf("third failure: until %v, want %v", until, want)
	}
	if got, _ := m.Locked(ctx, "k", t0.Add(time.Minute)); !got.Equal(until) {
		t.Errorf("Locked = %v, want %v", got, until)
	}
	// More failures while locked do not extend it.
	m.Fail(ctx, "k", t0.Add(4*time.Minute), policy)
	if got, _ := m.Locked(ctx, "k", t0.Add(4*time.Minute)); !got.Equal(until) {
		t.Errorf("lockout extended to %v", got)
	}
	if got, _ := m.Locked(ctx, "k", until); !got.IsZero() {
		t.Error("still locked at the end of the lockout")
	}
	// After the lockout the count starts over.
	if u, _ := m.Fail(ctx, "k", until.Add(time.Second), policy); !u.IsZero() {
		t.Error("one failure after the lockout locks again")
	}
	if got, _ := m.Locked(ctx, "other", t0.Add(time.Minute)); !got.IsZero() {
		t.Error("another key is locked")
	}
}

func TestMemoryWindowSlides(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	ctx := context.Background()
	t0 := storetest.Epoch
	// Failures 40s apart: never three within a minute.
	for i := 0; i < 10; i++ {
		if until, _ := m.Fail(ctx, "k", t0.Add(time.Duration(i)*40*time.Second), policy); !until.IsZero() {
			t.Fatalf("locked at failure %d although never 3 within the window", i+1)
		}
	}
	// Three within a minute, straddling what a fixed window would split.
	m2 := NewMemory(MemoryOptions{})
	for i, at := range []time.Duration{50 * time.Second, 70 * time.Second, 100 * time.Second} {
		until, _ := m2.Fail(ctx, "k", t0.Add(at), policy)
		if locked := !until.IsZero(); locked != (i == 2) {
			t.Fatalf("failure %d: locked %v", i+1, locked)
		}
	}
}

func TestMemoryIsBounded(t *testing.T) {
	m := NewMemory(MemoryOptions{MaxKeys: 64, Shards: 4})
	ctx := context.Background()
	t0 := storetest.Epoch
	// A locked client survives a flood of single failures from new clients.
	for i := 0; i < 3; i++ {
		m.Fail(ctx, "guesser", t0, policy)
	}
	for i := 0; i < 10000; i++ {
		m.Fail(ctx, fmt.Sprintf("flood-%d", i), t0.Add(time.Second), policy)
	}
	if n := m.Len(); n > 64 {
		t.Errorf("%d clients tracked, bound is 64", n)
	}
	if until, _ := m.Locked(ctx, "guesser", t0.Add(time.Minute)); until.IsZero() {
		t.Error("a flood of new clients evicted a lockout")
	}
}

func TestMemorySweepsIdleClients(t *testing.T) {
	m := NewMemory(MemoryOptions{Shards: 4})
	ctx := context.Background()
	t0 := storetest.Epoch
	for i := 0; i < 1000; i++ {
		m.Fail(ctx, fmt.Sprintf("old-%d", i), t0, policy)
	}
	for i := 0; i < 3; i++ {
		m.Fail(ctx, "locked", t0, policy)
	}
	// An hour later every shard is written to: the idle clients go, and so
	// does the one whose 5-minute lockout has ended.
	later := t0.Add(time.Hour)
	for i := 0; i < 200; i++ {
		m.Fail(ctx, fmt.Sprintf("new-%d", i), later, policy)
	}
	if n := m.Len(); n != 200 {
		t.Errorf("%d clients tracked after the old ones went idle, want 200", n)
	}
	// A client still locked out is not idle.
	long := Policy{MaxFailures: 1, Window: time.Minute, Duration: 24 * time.Hour}
	m.Fail(ctx, "long", later, long)
	for i := 0; i < 40; i++ {
		m.Fail(ctx, fmt.Sprintf("newer-%d", i), later.Add(time.Hour), policy)
	}
	if until, _ := m.Locked(ctx, "long", later.Add(2*time.Hour)); until.IsZero() {
		t.Error("the sweep dropped a client still locked out")
	}
}

func TestCounts(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"invalid key 401", &pipeline.Rejection{Status: 401, Type: apikey.TypeInvalidAPIKey}, true},
		{"invalid token 401", &pipeline.Rejection{Status: 401, Type: auth.TypeInvalidToken}, true},
		{"ambiguous 400", &pipeline.Rejection{Status: 400, Type: auth.TypeAmbiguousCredentials}, true},
		{"wrapped 401", fmt.Errorf("x: %w", &pipeline.Rejection{Status: 401, Type: "invalid-token"}), true},
		{"no credential", &pipeline.Rejection{Status: 401, Type: auth.TypeCredentialsMissing}, false},
		{"403", &pipeline.Rejection{Status: 403, Type: "insufficient-scope"}, false},
		{"503", &pipeline.Rejection{Status: 503, Type: auth.TypeAuthUnavailable}, false},
		{"internal error", errors.New("boom"), false},
		{"nil", nil, false},
	} {
		if got := Counts(c.err); got != c.want {
			t.Errorf("%s: Counts = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no max":        {Window: time.Minute, Duration: time.Minute},
		"huge max":      {MaxFailures: MaxMaxFailures + 1, Window: time.Minute, Duration: time.Minute},
		"no window":     {MaxFailures: 3, Duration: time.Minute},
		"no duration":   {MaxFailures: 3, Window: time.Minute},
		"unknown key":   {MaxFailures: 3, Window: time.Minute, Duration: time.Minute, Key: "header"},
		"unknown key 2": {MaxFailures: 3, Window: time.Minute, Duration: time.Minute, Key: "client-ip"},
	} {
		if _, err := New(cfg, NewMemory(MemoryOptions{})); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(Config{MaxFailures: 3, Window: time.Minute, Duration: time.Minute}, nil); err == nil {
		t.Error("nil backend accepted")
	}
}

func reqFrom(ip string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	return pipeline.WithInfo(r, &pipeline.Info{ID: "r", ClientIP: ip})
}

func TestKeys(t *testing.T) {
	l, _ := New(Config{MaxFailures: 1, Window: time.Minute, Duration: time.Minute}, NewMemory(MemoryOptions{}))
	for _, c := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"}, // one /64
		{"192.0.2.7", "::ffff:192.0.2.7"},           // v4-mapped is the v4 client
	} {
		if ka, kb := l.key(reqFrom(c.a)), l.key(reqFrom(c.b)); ka != kb {
			t.Errorf("%s and %s counted apart: %q %q", c.a, c.b, ka, kb)
		}
	}
	if l.key(reqFrom("2001:db8:1:2::1")) == l.key(reqFrom("2001:db8:1:3::1")) {
		t.Error("two /64s counted together")
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "198.51.100.4:5555"
	if got := l.key(r); got != "198.51.100.4" {
		t.Errorf("without Info: %q", got)
	}
	p, _ := New(Config{MaxFailures: 1, Window: time.Minute, Duration: time.Minute, Key: KeyPrincipal,
		Claimant: func(r *http.Request) string { return r.Header.Get("X-Claim") }}, NewMemory(MemoryOptions{}))
	r1, r2 := reqFrom("192.0.2.1"), reqFrom("192.0.2.2")
	r1.Header.Set("X-Claim", "api_key:AAA")
	r2.Header.Set("X-Claim", "api_key:AAA")
	if p.key(r1) != p.key(r2) {
		t.Error("principal key differs by address")
	}
	if got := p.key(reqFrom("192.0.2.9")); got != "192.0.2.9" {
		t.Errorf("no claim: %q, want the address", got)
	}
}

// The gateway's auth step with the real api_key authenticator on SQLite,
// wrapped by the lockout.
type fixture struct {
	clock   *storetest.Clock
	lo      *Lockout
	srv     *h1test.Server
	good    string
	bad     string
	audit   *bytes.Buffer
	auditMu *sync.Mutex
	counts  map[string]int
	hits    int
	mu      sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func newFixture(t *testing.T, cfg Config, middleware bool) *fixture {
	t.Helper()
	f := &fixture{clock: storetest.NewClock(time.Now().UTC()), audit: &bytes.Buffer{}, auditMu: &sync.Mutex{}, counts: map[string]int{}}
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"), store.Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	_, f.good, err = s.CreateKey(context.Background(), store.KeySpec{Consumer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := store.ParseKey(f.good)
	f.bad = store.FormatKey(id, strings.Repeat("x", store.SecretLen))
	a, err := apikey.New(apikey.Config{Name: "partners", Now: f.clock.Now, Logger: slog.New(slog.DiscardHandler)}, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	cfg.Now = f.clock.Now
	cfg.Audit = slog.New(slog.NewJSONHandler(lockedWriter{f.auditMu, f.audit}, nil))
	cfg.Count = func(ev string) { f.mu.Lock(); f.counts[ev]++; f.mu.Unlock() }
	if cfg.Key == KeyPrincipal {
		cfg.Claimant = func(r *http.Request) string {
			if id := a.KeyID(r); id != "" {
				return "partners:" + id
			}
			return ""
		}
	}
	if f.lo, err = New(cfg, NewMemory(MemoryOptions{})); err != nil {
		t.Fatal(err)
	}
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.hits++
		f.mu.Unlock()
		io.WriteString(w, "ok")
	})
	authenticate := auth.Any("rampart", a)
	var h http.Handler
	if middleware {
		// Lockout as its own step before authentication.
		authStep := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := authenticate(r); err != nil {
				f.lo.Failed(r, err)
				pipeline.Refuse(w, r, "auth", nil, err)
				return
			}
			upstream.ServeHTTP(w, r)
		})
		h = f.lo.Middleware(nil)(authStep)
	} else {
		guarded := f.lo.Wrap(authenticate)
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := guarded(r); err != nil {
				pipeline.Refuse(w, r, "auth", nil, err)
				return
			}
			upstream.ServeHTTP(w, r)
		})
	}
	// The client address as the gateway resolves it: X-Test-Client stands in
	// for a trusted proxy's X-Forwarded-For.
	f.srv = h1test.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := r.Header.Get("X-Test-Client")
		if ip == "" {
			ip = "192.0.2.10"
		}
		h.ServeHTTP(w, pipeline.WithInfo(r, &pipeline.Info{ID: "req", ClientIP: ip}))
	}))
	return f
}

func (f *fixture) get(t *testing.T, key, client string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/items/1", nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if client != "" {
		req.Header.Set("X-Test-Client", client)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var problem map[string]any
	if res.Header.Get("Content-Type") == "application/problem+json" {
		json.NewDecoder(res.Body).Decode(&problem)
	}
	return res.StatusCode, res.Header, problem
}

func (f *fixture) upstreamHits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

func TestLockoutThroughTheAuthStep(t *testing.T) {
	for _, middleware := range []bool{false, true} {
		name := "Wrap"
		if middleware {
			name = "Middleware+Failed"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, Config{MaxFailures: 3, Window: time.Minute, Duration: 5 * time.Minute}, middleware)
			if code, _, _ := f.get(t, f.good, ""); code != 200 {
				t.Fatalf("good key before any failure → %d", code)
			}
			// Requests without any credential are not guesses.
			for i := 0; i < 5; i++ {
				if code, _, _ := f.get(t, "", ""); code != 401 {
					t.Fatalf("no key → %d", code)
				}
			}
			for i := 0; i < 3; i++ {
				if code, _, p := f.get(t, f.bad, ""); code != 401 || p["type"] != pipeline.TypePrefix+apikey.TypeInvalidAPIKey {
					t.Fatalf("wrong key #%d → %d %v, want 401", i+1, code, p)
				}
			}
			hits := f.upstreamHits()
			// Locked out: 429 with Retry-After, even with the right key.
			code, hdr, p := f.get(t, f.good, "")
			if code != 429 || p["type"] != pipeline.TypePrefix+TypeLockedOut || hdr.Get("Retry-After") != "300" {
				t.Fatalf("good key while locked out → %d %v Retry-After %q; want 429, 300", code, p, hdr.Get("Retry-After"))
			}
			if hdr.Get("Content-Type") != "application/problem+json" {
				t.Errorf("content type %q", hdr.Get("Content-Type"))
			}
			if f.upstreamHits() != hits {
				t.Error("a locked-out request reached the upstream")
			}
			// Another client is not affected.
			if code, _, _ := f.get(t, f.good, "198.51.100.1"); code != 200 {
				t.Errorf("another client → %d", code)
			}
			// Retry-After counts down.
			f.clock.Advance(4*time.Minute + 30*time.Second)
			if code, hdr, _ := f.get(t, f.good, ""); code != 429 || hdr.Get("Retry-After") != "30" {
				t.Errorf("30s before the end → %d, Retry-After %q", code, hdr.Get("Retry-After"))
			}
			// Recovery after duration.
			f.clock.Advance(30 * time.Second)
			if code, _, _ := f.get(t, f.good, ""); code != 200 {
				t.Errorf("good key after the lockout → %d", code)
			}
			// One audit event for the lockout, naming whom and until when,
			// never the key.
			f.auditMu.Lock()
			log := f.audit.String()
			f.auditMu.Unlock()
			if strings.Count(log, `"event":"lockout"`) != 1 || !strings.Contains(log, `"key":"192.0.2.10"`) || !strings.Contains(log, `"until"`) {
				t.Errorf("audit log:\n%s", log)
			}
			if id, secret, _ := store.ParseKey(f.good); strings.Contains(log, secret) || strings.Contains(log, f.bad) {
				t.Errorf("audit log shows a key (%s)", id)
			}
			f.mu.Lock()
			counts := fmt.Sprint(f.counts)
			f.mu.Unlock()
			if counts != "map[failure:3 locked:1 refused:2]" {
				t.Errorf("counter hook: %s", counts)
			}
		})
	}
}

func TestLockoutByPrincipalFollowsTheKey(t *testing.T) {
	f := newFixture(t, Config{MaxFailures: 2, Window: time.Minute, Duration: time.Minute, Key: KeyPrincipal}, false)
	// Guesses at one key id from two addresses add up.
	f.get(t, f.bad, "192.0.2.1")
	f.get(t, f.bad, "192.0.2.2")
	if code, _, _ := f.get(t, f.good, "192.0.2.3"); code != 429 {
		t.Errorf("the key's holder from a third address → %d, want 429", code)
	}
	// A malformed key claims nothing: counted by address.
	f.get(t, "junk", "203.0.113.5")
	f.get(t, "junk", "203.0.113.5")
	if code, _, _ := f.get(t, "junk", "203.0.113.5"); code != 429 {
		t.Errorf("junk from one address → %d, want 429", code)
	}
}

type failing struct{}

func (failing) Locked(context.Context, string, time.Time) (time.Time, error) {
	return time.Time{}, errors.New("redis: connection refused")
}

func (failing) Fail(context.Context, string, time.Time, Policy) (time.Time, error) {
	return time.Time{}, errors.New("redis: connection refused")
}

func TestBackendFailure(t *testing.T) {
	r := reqFrom("192.0.2.1")
	closed, _ := New(Config{MaxFailures: 1, Window: time.Minute, Duration: time.Minute, Audit: slog.New(slog.DiscardHandler)}, failing{})
	var rej *pipeline.Rejection
	if err := closed.Check(r); !errors.As(err, &rej) || rej.Status != 503 || rej.Type != TypeLockoutUnavailable {
		t.Errorf("fail closed: %v", err)
	}
	open, _ := New(Config{MaxFailures: 1, Window: time.Minute, Duration: time.Minute, FailOpen: true, Audit: slog.New(slog.DiscardHandler)}, failing{})
	if err := open.Check(r); err != nil {
		t.Errorf("fail open: %v", err)
	}
	open.Failed(r, &pipeline.Rejection{Status: 401, Type: "invalid-api-key"}) // logged, no panic
}

func BenchmarkCheck(b *testing.B) {
	l, _ := New(Config{MaxFailures: 10, Window: time.Minute, Duration: time.Minute}, NewMemory(MemoryOptions{}))
	r := reqFrom("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Check(r); err != nil {
			b.Fatal(err)
		}
	}
}
