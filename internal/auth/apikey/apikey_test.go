package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/authz"
	"github.com/rampart-gw/rampart/internal/h1/h1test"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/pgtest"
	"github.com/rampart-gw/rampart/internal/store/postgres"
	"github.com/rampart-gw/rampart/internal/store/sqlite"
	"github.com/rampart-gw/rampart/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openSQLite(t testing.TB, path string, clock *storetest.Clock) *sqlite.Store {
	t.Helper()
	opts := store.Options{PollInterval: 50 * time.Millisecond}
	if clock != nil {
		opts.Now = clock.Now
	}
	s, err := sqlite.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newAuth(t testing.TB, cfg Config, s store.Store) *Authenticator {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "partners"
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet(t)
	}
	a, err := New(cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// upstream stands for the proxied service: it records what reached it.
type upstream struct {
	mu      sync.Mutex
	hits    int
	headers http.Header
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.hits++
	u.headers = r.Header.Clone()
	u.mu.Unlock()
	io.WriteString(w, "ok")
}

func (u *upstream) seen() (int, http.Header) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits, u.headers
}

// gateway is the route the gateway builds for `auth: [partners]` with
// `require`: authenticate, authorize, set identity headers, strip the key.
func gateway(a *Authenticator, req authz.Require, next http.Handler) http.Handler {
	authenticate := auth.Any("rampart", a)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &pipeline.Info{ID: "req-1", ClientIP: "192.0.2.1"}
		r = pipeline.WithInfo(r, info)
		p, err := authenticate(r)
		if err != nil {
			pipeline.Refuse(w, r, "auth", nil, err)
			return
		}
		info.Principal = p
		if rej := authz.Check(p, req); rej != nil {
			pipeline.Refuse(w, r, "authz", nil, rej)
			return
		}
		auth.SetHeaders(r.Header, p)
		a.Strip(r.Header)
		next.ServeHTTP(w, r)
	})
}

type harness struct {
	t     *testing.T
	clock *storetest.Clock
	store *sqlite.Store
	auth  *Authenticator
	up    *upstream
	srv   *h1test.Server
}

func newHarness(t *testing.T, cfg Config, req authz.Require) *harness {
	t.Helper()
	h := &harness{t: t, clock: storetest.NewClock(time.Now().UTC()), up: &upstream{}}
	h.store = openSQLite(t, filepath.Join(t.TempDir(), "keys.db"), h.clock)
	cfg.Now = h.clock.Now
	h.auth = newAuth(t, cfg, h.store)
	h.srv = h1test.NewServer(t, gateway(h.auth, req, h.up))
	return h
}

func (h *harness) create(spec store.KeySpec) (*store.Key, string) {
	h.t.Helper()
	k, full, err := h.store.CreateKey(context.Background(), spec)
	if err != nil {
		h.t.Fatal(err)
	}
	return k, full
}

type response struct {
	status  int
	header  http.Header
	body    string
	problem map[string]any
}

func do(t testing.TB, srv *h1test.Server, target string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, body: string(b)}
	if res.Header.Get("Content-Type") == "application/problem+json" {
		if err := json.Unmarshal(b, &out.problem); err != nil {
			t.Fatalf("problem body %q: %v", b, err)
		}
	}
	return out
}

func TestValidKeyIsAcceptedWithItsGrants(t *testing.T) {
	h := newHarness(t, Config{}, authz.Require{Scopes: []string{"items:read"}, Roles: []string{"partner"}})
	k, full := h.create(store.KeySpec{Consumer: "acme", Scopes: []string{"items:read", "items:write"}, Roles: []string{"partner"},
		Labels: map[string]string{"team": "payments"}})

	res := do(t, h.srv, "/api/items/1", "X-API-Key", full)
	if res.status != 200 || res.body != "ok" {
		t.Fatalf("status %d body %q", res.status, res.body)
	}
	hits, hdr := h.up.seen()
	if hits != 1 {
		t.Fatalf("upstream hits = %d", hits)
	}
	want := map[string]string{"X-Rampart-Subject": "acme", "X-Rampart-Principal": "partners:acme",
		"X-Rampart-Scopes": "items:read items:write", "X-Rampart-Roles": "partner", "X-Api-Key": ""}
	for name, v := range want {
		if got := hdr.Get(name); got != v {
			t.Errorf("upstream %s = %q, want %q", name, got, v)
		}
	}

	p, err := h.auth.Authenticate(request("X-API-Key", full))
	if err != nil {
		t.Fatal(err)
	}
	wantP := &pipeline.Principal{Subject: "acme", Authenticator: "partners", Scopes: []string{"items:read", "items:write"},
		Roles: []string{"partner"}, Claims: map[string]any{"key_id": k.ID, "labels": map[string]any{"team": "payments"}}}
	if diff := cmp.Diff(wantP, p); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}
	// The claims are usable by require.claims.
	if rej := authz.Check(p, authz.Require{Claims: map[string][]string{"labels.team": {"payments"}, "key_id": {k.ID}}}); rej != nil {
		t.Errorf("claims not usable by authz: %v", rej)
	}
}

func TestRequireIsAppliedToTheKeysGrants(t *testing.T) {
	h := newHarness(t, Config{}, authz.Require{Scopes: []string{"items:write"}})
	_, full := h.create(store.KeySpec{Consumer: "acme", Scopes: []string{"items:read"}})
	res := do(t, h.srv, "/", "X-API-Key", full)
	if res.status != 403 || res.problem["type"] != pipeline.TypePrefix+authz.TypeInsufficientScope {
		t.Fatalf("status %d problem %v", res.status, res.problem)
	}
	if hits, _ := h.up.seen(); hits != 0 {
		t.Error("refused request reached the upstream")
	}
}

func request(headers ...string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func TestRefusals(t *testing.T) {
	h := newHarness(t, Config{}, authz.Require{})
	_, full := h.create(store.KeySpec{Consumer: "acme"})
	expiring, expiringFull := h.create(store.KeySpec{Consumer: "acme", ExpiresAt: h.clock.Now().Add(time.Hour)})
	revoked, revokedFull := h.create(store.KeySpec{Consumer: "acme"})
	if _, err := h.store.RevokeKey(context.Background(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	_ = expiring
	// Warm the cache with the expiring key, then let it expire: expiry is
	// checked on cached keys too.
	if res := do(t, h.srv, "/", "X-API-Key", expiringFull); res.status != 200 {
		t.Fatalf("expiring key refused before expiry: %d", res.status)
	}
	h.clock.Advance(time.Hour)
	h.up = &upstream{}
	h.srv.Config.Handler = gateway(h.auth, authz.Require{}, h.up)

	id, secret, _ := store.ParseKey(full)
	wrongSecret := store.FormatKey(id, strings.Repeat("A", store.SecretLen))
	unknownID := store.FormatKey("ZZZZZZZZZZZZ", secret)
	flipped := []byte(full)
	flipped[len(flipped)-1] ^= 1

	const unauthorized, bad = 401, 400
	tests := []struct {
		name    string
		target  string
		headers []string
		status  int
		typ     string
	}{
		{"wrong secret → 401", "/", []string{"X-API-Key", wrongSecret}, unauthorized, TypeInvalidAPIKey},
		{"one flipped bit → 401", "/", []string{"X-API-Key", string(flipped)}, unauthorized, TypeInvalidAPIKey},
		{"unknown id → 401", "/", []string{"X-API-Key", unknownID}, unauthorized, TypeInvalidAPIKey},
		{"truncated → 401", "/", []string{"X-API-Key", full[:len(full)-1]}, unauthorized, TypeInvalidAPIKey},
		{"garbage → 401", "/", []string{"X-API-Key", "letmein"}, unauthorized, TypeInvalidAPIKey},
		{"empty → 401", "/", []string{"X-API-Key", ""}, unauthorized, TypeInvalidAPIKey},
		{"huge → 401", "/", []string{"X-API-Key", strings.Repeat("k", 4000)}, unauthorized, TypeInvalidAPIKey},
		{"expired → 401", "/", []string{"X-API-Key", expiringFull}, unauthorized, TypeInvalidAPIKey},
		{"revoked → 401", "/", []string{"X-API-Key", revokedFull}, unauthorized, TypeInvalidAPIKey},
		{"key in the query string → 401, never read", "/?api_key=" + full, nil, unauthorized, auth.TypeCredentialsMissing},
		{"key in a query parameter named like the header → 401", "/?X-API-Key=" + full, nil, unauthorized, auth.TypeCredentialsMissing},
		{"Authorization: ApiKey when not enabled → 401", "/", []string{"Authorization", "ApiKey " + full}, unauthorized, auth.TypeCredentialsMissing},
		{"two headers → 400", "/", []string{"X-API-Key", full, "X-API-Key", full}, bad, auth.TypeAmbiguousCredentials},
		{"comma-joined list → 400", "/", []string{"X-API-Key", full + ", " + wrongSecret}, bad, auth.TypeAmbiguousCredentials},
		{"no credential → 401", "/", nil, unauthorized, auth.TypeCredentialsMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, h.srv, tc.target, tc.headers...)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d (body %s)", res.status, tc.status, res.body)
			}
			if got, want := res.problem["type"], pipeline.TypePrefix+tc.typ; got != want {
				t.Errorf("type %v, want %v", got, want)
			}
			// Nothing in the answer helps an attacker: no reason, no key.
			for _, leak := range []string{"revoked", "expired", "unknown", "secret", "wrong", id, full[:20]} {
				if strings.Contains(strings.ToLower(res.body), strings.ToLower(leak)) {
					t.Errorf("body %s reveals %q", res.body, leak)
				}
			}
			if hits, _ := h.up.seen(); hits != 0 {
				t.Errorf("refused request reached the upstream (%d hits)", hits)
			}
		})
	}
	// The reason is kept for the logs.
	_, err := h.auth.Authenticate(request("X-API-Key", revokedFull))
	var rej *pipeline.Rejection
	if !errors.As(err, &rej) || !strings.Contains(rej.Err.Error(), "revoked") {
		t.Errorf("rejection for the logs: %v", err)
	}
}

func TestAuthorizationScheme(t *testing.T) {
	h := newHarness(t, Config{Authorization: true}, authz.Require{})
	_, full := h.create(store.KeySpec{Consumer: "acme"})
	for _, v := range []string{"ApiKey " + full, "apikey " + full, "APIKEY   " + full} {
		if res := do(t, h.srv, "/", "Authorization", v); res.status != 200 {
			t.Errorf("Authorization: %q → %d", v[:10], res.status)
		}
		if _, hdr := h.up.seen(); hdr.Get("Authorization") != "" {
			t.Error("the key was forwarded upstream in Authorization")
		}
	}
	if res := do(t, h.srv, "/", "Authorization", "ApiKey "+full, "X-API-Key", full); res.status != 400 {
		t.Errorf("key in both places → %d, want 400", res.status)
	}
	if res := do(t, h.srv, "/", "Authorization", "Bearer "+full); res.status != 401 ||
		res.problem["type"] != pipeline.TypePrefix+auth.TypeCredentialsMissing {
		t.Errorf("Bearer is not this authenticator's: %d %v", res.status, res.problem)
	}
	if res := do(t, h.srv, "/", "Authorization", "ApiKey nope"); res.status != 401 ||
		!strings.HasPrefix(res.header.Get("WWW-Authenticate"), "ApiKey ") {
		t.Errorf("refusal: %d, WWW-Authenticate %q", res.status, res.header.Get("WWW-Authenticate"))
	}
}

func TestCustomHeader(t *testing.T) {
	h := newHarness(t, Config{Header: "x-partner-key"}, authz.Require{})
	_, full := h.create(store.KeySpec{Consumer: "acme"})
	if res := do(t, h.srv, "/", "X-Partner-Key", full); res.status != 200 {
		t.Fatalf("custom header → %d", res.status)
	}
	if res := do(t, h.srv, "/", "X-API-Key", full); res.status != 401 {
		t.Errorf("default header still read: %d", res.status)
	}
}

func TestNewRefuses(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "k.db"), nil)
	for name, c := range map[string]struct {
		cfg Config
		s   store.Store
	}{
		"no name":     {Config{}, s},
		"no store":    {Config{Name: "a"}, nil},
		"bad header":  {Config{Name: "a", Header: "X Key"}, s},
		"colon in it": {Config{Name: "a", Header: "X-Key:"}, s},
	} {
		if a, err := New(c.cfg, c.s); err == nil {
			a.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

// waitRefused polls until full is refused and returns how long that took.
func waitRefused(t *testing.T, a *Authenticator, full string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := a.Authenticate(request("X-API-Key", full))
		if err != nil {
			var rej *pipeline.Rejection
			if !errors.As(err, &rej) || rej.Status != 401 {
				t.Fatalf("refused with %v, want 401", err)
			}
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("still accepted after %v", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustAccept(t *testing.T, a *Authenticator, full string) {
	t.Helper()
	if _, err := a.Authenticate(request("X-API-Key", full)); err != nil {
		t.Fatalf("key refused: %v", err)
	}
}

// Revocation is visible through a warm cache (TTL 1h here, so only the
// change feed can explain it), from this process and from another one
// (`rampart keys revoke` on the same SQLite file).
func TestRevocationReachesTheCacheWithinASecond(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	s := openSQLite(t, path, nil)
	a := newAuth(t, Config{CacheTTL: time.Hour}, s)
	_, full1 := mustCreateKey(t, s)
	k2, full2 := mustCreateKey(t, s)
	mustAccept(t, a, full1)
	mustAccept(t, a, full2)

	k1ID, _, _ := store.ParseKey(full1)
	if _, err := s.RevokeKey(context.Background(), k1ID); err != nil {
		t.Fatal(err)
	}
	if d := waitRefused(t, a, full1, time.Second); d > time.Second {
		t.Errorf("same process: %v", d)
	}

	cli := openSQLite(t, path, nil)
	if _, err := cli.RevokeKey(context.Background(), k2.ID); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	d := waitRefused(t, a, full2, time.Second)
	t.Logf("revocation by another process seen after %v", d)
}

func mustCreateKey(t *testing.T, s store.Store) (*store.Key, string) {
	t.Helper()
	k, full, err := s.CreateKey(context.Background(), store.KeySpec{Consumer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	return k, full
}

// Two gateway replicas on one PostgreSQL, both with warm caches: a key
// revoked through a third connection (the admin API of any replica, or the
// CLI) stops working on both within a second.
func TestTwoReplicasOnPostgresRefuseARevokedKeyWithinASecond(t *testing.T) {
	url := pgtest.URL(t)
	open := func() store.Store {
		s, err := postgres.Open(context.Background(), url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	replica1, replica2, admin := open(), open(), open()
	a1 := newAuth(t, Config{Name: "partners", CacheTTL: time.Hour}, replica1)
	a2 := newAuth(t, Config{Name: "partners", CacheTTL: time.Hour}, replica2)
	k, full := mustCreateKey(t, admin)
	for i := 0; i < 3; i++ {
		mustAccept(t, a1, full)
		mustAccept(t, a2, full)
	}
	start := time.Now()
	if _, err := admin.RevokeKey(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, a := range []*Authenticator{a1, a2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := waitRefused(t, a, full, time.Second)
			t.Logf("replica %d refuses the revoked key after %v", i+1, d)
		}()
	}
	wg.Wait()
	if d := time.Since(start); d > time.Second {
		t.Errorf("revocation took %v to reach both replicas", d)
	}
}

func TestRotationGrace(t *testing.T) {
	h := newHarness(t, Config{}, authz.Require{Scopes: []string{"items:read"}})
	old, oldFull := h.create(store.KeySpec{Consumer: "acme", Scopes: []string{"items:read"}})
	if res := do(t, h.srv, "/", "X-API-Key", oldFull); res.status != 200 {
		t.Fatal(res.status)
	}
	_, next, newFull, err := h.store.RotateKey(context.Background(), old.ID, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for name, full := range map[string]string{"old key in grace": oldFull, "new key": newFull} {
		if res := do(t, h.srv, "/", "X-API-Key", full); res.status != 200 {
			t.Errorf("%s → %d", name, res.status)
		}
	}
	_, hdr := h.up.seen()
	if hdr.Get("X-Rampart-Scopes") != "items:read" {
		t.Errorf("successor lost the scopes: %q", hdr.Get("X-Rampart-Scopes"))
	}
	h.clock.Advance(24*time.Hour - time.Second)
	if res := do(t, h.srv, "/", "X-API-Key", oldFull); res.status != 200 {
		t.Errorf("old key refused a second before the grace ends: %d", res.status)
	}
	h.clock.Advance(time.Second)
	if res := do(t, h.srv, "/", "X-API-Key", oldFull); res.status != 401 {
		t.Errorf("old key after the grace → %d, want 401", res.status)
	}
	if res := do(t, h.srv, "/", "X-API-Key", newFull); res.status != 200 {
		t.Errorf("new key after the grace → %d", res.status)
	}
	_ = next
}

// counting wraps a store: it counts lookups and last-used writes, can fail
// or block lookups, and replaces the change feed with one the test drives.
type counting struct {
	store.Store
	lookups atomic.Int64
	fail    atomic.Bool
	gate    chan struct{} // when set, lookups wait for it
	feed    chan store.KeyEvent

	mu      sync.Mutex
	touches []map[string]time.Time
}

func (c *counting) Key(ctx context.Context, id string) (*store.Key, error) {
	c.lookups.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	if c.fail.Load() {
		return nil, errors.New("connection refused")
	}
	return c.Store.Key(ctx, id)
}

func (c *counting) Watch(ctx context.Context) <-chan store.KeyEvent {
	if c.feed == nil {
		return c.Store.Watch(ctx)
	}
	out := make(chan store.KeyEvent)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-c.feed:
				out <- ev
			}
		}
	}()
	return out
}

func (c *counting) TouchLastUsed(ctx context.Context, used map[string]time.Time) error {
	c.mu.Lock()
	c.touches = append(c.touches, used)
	c.mu.Unlock()
	return c.Store.TouchLastUsed(ctx, used)
}

func TestCacheSparesTheStore(t *testing.T) {
	clock := storetest.NewClock(time.Now())
	s := &counting{Store: openSQLite(t, filepath.Join(t.TempDir(), "k.db"), nil)}
	_, full := mustCreateKey(t, s) // before New: its "created" event would evict the first lookup
	a := newAuth(t, Config{Now: clock.Now}, s)
	id, _, _ := store.ParseKey(full)
	for i := 0; i < 10; i++ {
		mustAccept(t, a, full)
	}
	if n := s.lookups.Load(); n != 1 {
		t.Errorf("10 requests → %d lookups, want 1", n)
	}
	// A wrong secret for a cached id is refused by hash, not by query.
	if _, err := a.Authenticate(request("X-API-Key", store.FormatKey(id, strings.Repeat("x", store.SecretLen)))); err == nil {
		t.Fatal("wrong secret accepted")
	}
	// Unknown ids are remembered too.
	unknown := store.FormatKey("QQQQQQQQQQQQ", strings.Repeat("x", store.SecretLen))
	for i := 0; i < 5; i++ {
		if _, err := a.Authenticate(request("X-API-Key", unknown)); err == nil {
			t.Fatal("unknown key accepted")
		}
	}
	if n := s.lookups.Load(); n != 2 {
		t.Errorf("lookups = %d, want 2", n)
	}
	// After the TTL the store is asked again.
	clock.Advance(5 * time.Second)
	mustAccept(t, a, full)
	if n := s.lookups.Load(); n != 3 {
		t.Errorf("lookups after TTL = %d, want 3", n)
	}
}

func TestConcurrentMissesShareOneLookup(t *testing.T) {
	s := &counting{Store: openSQLite(t, filepath.Join(t.TempDir(), "k.db"), nil), gate: make(chan struct{})}
	a := newAuth(t, Config{}, s)
	k, full, err := s.Store.CreateKey(context.Background(), store.KeySpec{Consumer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	_ = k
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := a.Authenticate(request("X-API-Key", full))
			errs <- err
		}()
	}
	for s.lookups.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others join the flight
	close(s.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := s.lookups.Load(); n != 1 {
		t.Errorf("50 concurrent cold requests → %d lookups, want 1", n)
	}
}

// A lookup that read the key before it was revoked must not put the stale
// record back after the revocation evicted it.
func TestLookupRacingARevocationDoesNotCacheTheStaleKey(t *testing.T) {
	base := openSQLite(t, filepath.Join(t.TempDir(), "k.db"), nil)
	s := &counting{Store: base, feed: make(chan store.KeyEvent)}
	a := newAuth(t, Config{CacheTTL: time.Hour}, s)
	k, full := mustCreateKey(t, base)

	// The lookup reads the (still valid) key, then stalls before caching.
	stale, err := base.Key(context.Background(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	s.gate = gate
	done := make(chan error)
	go func() {
		_, err := a.Authenticate(request("X-API-Key", full))
		done <- err
	}()
	for s.lookups.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := base.RevokeKey(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	epoch := a.cache.epoch.Load()
	s.feed <- store.KeyEvent{Kind: store.EventRevoked, ID: k.ID}
	waitFor(t, func() bool { return a.cache.epoch.Load() != epoch })
	// Make the stalled lookup return the pre-revocation record.
	s.Store = &frozen{Store: base, k: stale}
	close(gate)
	if err := <-done; err != nil {
		t.Logf("the racing request itself: %v", err)
	}
	s.gate = nil
	s.Store = base
	if _, err := a.Authenticate(request("X-API-Key", full)); err == nil {
		t.Fatal("the revoked key is accepted from a stale cache entry")
	}
}

// frozen answers lookups with a fixed record.
type frozen struct {
	store.Store
	k *store.Key
}

func (f *frozen) Key(context.Context, string) (*store.Key, error) { return f.k, nil }

func TestFeedDownBypassesTheCache(t *testing.T) {
	base := openSQLite(t, filepath.Join(t.TempDir(), "k.db"), nil)
	s := &counting{Store: base, feed: make(chan store.KeyEvent)}
	a := newAuth(t, Config{CacheTTL: time.Hour}, s)
	_, full := mustCreateKey(t, base)
	mustAccept(t, a, full)
	mustAccept(t, a, full)
	if n := s.lookups.Load(); n != 1 {
		t.Fatalf("lookups = %d", n)
	}
	s.feed <- store.KeyEvent{Kind: store.EventLost}
	waitFor(t, func() bool { return a.bypass.Load() })
	for i := 0; i < 3; i++ {
		mustAccept(t, a, full)
	}
	if n := s.lookups.Load(); n != 4 {
		t.Errorf("with the feed down, 3 requests → %d lookups in all, want 4", n)
	}
	s.feed <- store.KeyEvent{Kind: store.EventReset}
	waitFor(t, func() bool { return !a.bypass.Load() })
	mustAccept(t, a, full)
	mustAccept(t, a, full)
	if n := s.lookups.Load(); n != 5 {
		t.Errorf("after reset, lookups = %d, want 5 (cached again)", n)
	}
}

// When the store is closed under the authenticator, its feed ends and the
// cache is no longer trusted.
func TestFeedEndDisablesTheCache(t *testing.T) {
	base := openSQLite(t, filepath.Join(t.TempDir(), "k.db"), nil)
	a := newAuth(t, Config{CacheTTL: time.Hour}, base)
	_, full := mustCreateKey(t, base)
	mustAccept(t, a, full)
	base.Close()
	waitFor(t, func() bool { return a.bypass.Load() })
	_, err := a.Authenticate(request("X-API-Key", full))
	var rej *pipeline.Rejection
	if !errors.As(err, &rej) || rej.Status != 503 {
		t.Errorf("closed store → %v, want 503", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStoreDownFailsClosed(t *testing.T) {
	s := &counting{Store: openSQLite(t, filepath.Join(t.TempDir(), "k.db"), nil)}
	a := newAuth(t, Config{}, s)
	_, full := mustCreateKey(t, s)
	s.fail.Store(true)
	up := &upstream{}
	srv := h1test.NewServer(t, gateway(a, authz.Require{}, up))
	res := do(t, srv, "/", "X-API-Key", full)
	if res.status != 503 || res.problem["type"] != pipeline.TypePrefix+auth.TypeAuthUnavailable || res.header.Get("Retry-After") == "" {
		t.Errorf("store down → %d %v", res.status, res.problem)
	}
	if strings.Contains(res.body, "connection refused") {
		t.Errorf("body reveals the cause: %s", res.body)
	}
	if hits, _ := up.seen(); hits != 0 {
		t.Error("request reached the upstream with the store down")
	}
}

func TestLastUsedIsBatchedAndCoarse(t *testing.T) {
	clock := storetest.NewClock(time.Now().UTC())
	base := openSQLite(t, filepath.Join(t.TempDir(), "k.db"), nil)
	s := &counting{Store: base}
	k1, full1 := mustCreateKey(t, base)
	k2, full2 := mustCreateKey(t, base)
	a := newAuth(t, Config{Now: clock.Now, TouchInterval: time.Hour, CacheTTL: 2 * time.Hour}, s)
	for i := 0; i < 100; i++ {
		mustAccept(t, a, full1)
		mustAccept(t, a, full2)
		clock.Advance(time.Millisecond)
	}
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	touches := s.touches
	s.mu.Unlock()
	if len(touches) != 1 || len(touches[0]) != 2 {
		t.Fatalf("200 requests → writes %v, want one batch of two keys", touches)
	}
	stored, _ := base.Key(context.Background(), k1.ID)
	if stored.LastUsedAt.IsZero() {
		t.Error("last_used_at not recorded")
	}
	// More use within the interval writes nothing more.
	mustAccept(t, a, full1)
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.mu.Lock(); len(s.touches) != 1 {
		t.Errorf("use within the interval wrote again: %d batches", len(s.touches))
	}
	s.mu.Unlock()
	// Past the interval, the next use is noted again; Close writes it.
	clock.Advance(time.Hour)
	mustAccept(t, a, full2)
	a.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.touches) != 2 || len(s.touches[1]) != 1 {
		t.Errorf("after the interval: batches %v", s.touches)
	} else if _, ok := s.touches[1][k2.ID]; !ok {
		t.Errorf("second batch %v lacks %s", s.touches[1], k2.ID)
	}
}

func TestKeyIDAndStrip(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "k.db"), nil)
	a := newAuth(t, Config{Authorization: true}, s)
	full := store.FormatKey("AbCdEf123456", strings.Repeat("x", store.SecretLen))
	if got := a.KeyID(request("X-API-Key", full)); got != "AbCdEf123456" {
		t.Errorf("KeyID = %q", got)
	}
	if got := a.KeyID(request("X-API-Key", "junk")); got != "" {
		t.Errorf("KeyID of junk = %q", got)
	}
	h := http.Header{"X-Api-Key": {full}, "Authorization": {"ApiKey " + full}}
	a.Strip(h)
	if len(h) != 0 {
		t.Errorf("after Strip: %v", h)
	}
	h = http.Header{"Authorization": {"Bearer abc"}}
	a.Strip(h)
	if h.Get("Authorization") == "" {
		t.Error("Strip removed another scheme's credential")
	}
}

func quiet(testing.TB) *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestAuthorizationFieldTwice(t *testing.T) {
	h := newHarness(t, Config{Authorization: true}, authz.Require{})
	_, full := h.create(store.KeySpec{Consumer: "acme"})
	for _, pair := range [][2]string{{"Bearer x", "ApiKey " + full}, {"ApiKey " + full, "ApiKey " + full}, {"ApiKey " + full, "Basic eDp5"}} {
		if res := do(t, h.srv, "/", "Authorization", pair[0], "Authorization", pair[1]); res.status != 400 {
			t.Errorf("Authorization %q and %q → %d, want 400", pair[0][:6], pair[1][:6], res.status)
		}
	}
	if hits, _ := h.up.seen(); hits != 0 {
		t.Error("ambiguous request reached the upstream")
	}
}
