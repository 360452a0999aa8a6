package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/ratelimit/redistest"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/pgtest"
	"github.com/rampart-gw/rampart/internal/store/postgres"
	"github.com/rampart-gw/rampart/internal/store/sqlite"
)

// keyGateway runs a gateway whose routes take API keys from an SQLite store
// the test also opens (as `rampart keys` would, from another process).
func keyGateway(t *testing.T, lockout string) (*gt.Gateway, *gt.Upstream, *sqlite.Store) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "keys.db")
	st, err := sqlite.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	up := gt.NewUpstream(t, nil)
	extra := fmt.Sprintf("store: %q\nauthenticators:\n  partners: { type: api_key }\n%s", "sqlite://"+db, lockout)
	routes := `  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: [partners], require: { scopes: ["items:read"] } }
  - { name: admin, path: /api/admin, methods: [GET], upstream: app, auth: [partners], require: { roles: [admin] } }
`
	return gt.Start(t, gt.Config(up.URL, extra, routes), nil), up, st
}

func getWithKey(t *testing.T, g *gt.Gateway, path, key string) (*http.Response, string) {
	req, _ := http.NewRequest("GET", g.URL+path, nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	return g.Do(t, req)
}

func TestAPIKeys(t *testing.T) {
	g, up, st := keyGateway(t, "")
	ctx := context.Background()
	_, good, err := st.CreateKey(ctx, store.KeySpec{Consumer: "acme", Scopes: []string{"items:read"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("valid key: scopes applied, identity forwarded, key not", func(t *testing.T) {
		before := up.Count()
		resp, body := getWithKey(t, g, "/api/items", good)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		s := up.Seen()[before]
		if s.Header.Get("X-Api-Key") != "" || s.Header.Get("X-Rampart-Subject") != "acme" {
			t.Errorf("upstream headers %v", s.Header)
		}
		if resp, _ := getWithKey(t, g, "/api/admin", good); resp.StatusCode != 403 {
			t.Errorf("role-protected route: %d", resp.StatusCode)
		}
	})
	_, expired, err := st.CreateKey(ctx, store.KeySpec{Consumer: "acme", Scopes: []string{"items:read"}, ExpiresAt: time.Now().Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{
		"wrong secret": good[:len(good)-4] + "AAAA",
		"malformed":    "rk_short",
		"unknown id":   "rk_AAAAAAAAAAAA_" + good[len("rk_AAAAAAAAAAAA_"):],
	} {
		t.Run(name+" → 401, not forwarded", func(t *testing.T) {
			before := up.Count()
			resp, body := getWithKey(t, g, "/api/items", key)
			gt.CheckProblem(t, resp, body, 401, "invalid-api-key")
			if up.Count() != before {
				t.Fatal("upstream reached")
			}
		})
	}
	t.Run("key in the query string is not a credential", func(t *testing.T) {
		resp, _ := g.Get(t, "/api/items?api_key="+good)
		if resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("expired key → 401", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, _ := getWithKey(t, g, "/api/items", expired)
			if resp.StatusCode == 401 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("expired key still accepted: %d", resp.StatusCode)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Run("revocation reaches the running gateway within a second", func(t *testing.T) {
		k, full, err := st.CreateKey(ctx, store.KeySpec{Consumer: "globex", Scopes: []string{"items:read"}})
		if err != nil {
			t.Fatal(err)
		}
		if resp, _ := getWithKey(t, g, "/api/items", full); resp.StatusCode != 200 {
			t.Fatalf("fresh key: %d", resp.StatusCode)
		}
		if _, err := st.RevokeKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		revoked := time.Now()
		for {
			resp, _ := getWithKey(t, g, "/api/items", full)
			if resp.StatusCode == 401 {
				break
			}
			if time.Since(revoked) > time.Second {
				t.Fatal("revoked key still accepted after 1s")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("rotation: old key works during the grace period, new one at once", func(t *testing.T) {
		k, oldKey, err := st.CreateKey(ctx, store.KeySpec{Consumer: "initech", Scopes: []string{"items:read"}})
		if err != nil {
			t.Fatal(err)
		}
		_, _, newKey, err := st.RotateKey(ctx, k.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{oldKey, newKey} {
			if resp, _ := getWithKey(t, g, "/api/items", key); resp.StatusCode != 200 {
				t.Errorf("status %d", resp.StatusCode)
			}
		}
	})
}

func TestLockout(t *testing.T) {
	g, up, st := keyGateway(t, "lockout: { max_failures: 3, window: 1m, duration: 1s, key: client_ip }\n")
	_, good, err := st.CreateKey(context.Background(), store.KeySpec{Consumer: "acme", Scopes: []string{"items:read"}})
	if err != nil {
		t.Fatal(err)
	}
	bad := good[:len(good)-4] + "AAAA"
	for i := 0; i < 3; i++ {
		if resp, _ := getWithKey(t, g, "/api/items", bad); resp.StatusCode != 401 {
			t.Fatalf("failure %d: %d", i, resp.StatusCode)
		}
	}
	before := up.Count()
	resp, body := getWithKey(t, g, "/api/items", good)
	gt.CheckProblem(t, resp, body, 429, "locked-out")
	if resp.Header.Get("Retry-After") == "" || up.Count() != before {
		t.Fatalf("Retry-After %q, upstream reached %v", resp.Header.Get("Retry-After"), up.Count() != before)
	}
	// After the lockout duration the correct key works again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := getWithKey(t, g, "/api/items", good)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still locked out: %d", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Two gateway replicas on one PostgreSQL both stop accepting a revoked key
// within a second (LISTEN/NOTIFY), without a restart.
func TestRevocationAcrossReplicasOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	st, err := postgres.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	up := gt.NewUpstream(t, nil)
	text := gt.Config(up.URL, fmt.Sprintf("store: %q\nauthenticators:\n  partners: { type: api_key }\n", url),
		"  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: [partners] }\n")
	a, b := gt.Start(t, text, nil), gt.Start(t, text, nil)
	k, key, err := st.CreateKey(context.Background(), store.KeySpec{Consumer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*gt.Gateway{a, b} {
		if resp, _ := getWithKey(t, g, "/api/items", key); resp.StatusCode != 200 {
			t.Fatalf("before revocation: %d", resp.StatusCode)
		}
	}
	if _, err := st.RevokeKey(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	for _, g := range []*gt.Gateway{a, b} {
		for {
			resp, _ := getWithKey(t, g, "/api/items", key)
			if resp.StatusCode == 401 {
				break
			}
			if time.Since(revoked) > time.Second {
				t.Fatalf("a replica still accepts the revoked key after 1s (%d)", resp.StatusCode)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestMain stops the throwaway PostgreSQL cluster pgtest may have started.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// With shared_state on Redis, lockout counters are shared: guesses spread
// over two replicas lock the key on both.
func TestLockoutAcrossReplicasOnRedis(t *testing.T) {
	r := redistest.Shared(t)
	db := filepath.Join(t.TempDir(), "keys.db")
	st, err := sqlite.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, good, err := st.CreateKey(context.Background(), store.KeySpec{Consumer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	up := gt.NewUpstream(t, nil)
	// key: principal counts by the key id this test just created, so runs
	// sharing one Redis never share counters.
	text := gt.Config(up.URL, fmt.Sprintf("store: %q\nshared_state: %q\nauthenticators:\n  partners: { type: api_key }\nlockout: { max_failures: 3, window: 1m, duration: 1m, key: principal }\n", "sqlite://"+db, r.URL),
		"  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: [partners] }\n")
	a, b := gt.Start(t, text, nil), gt.Start(t, text, nil)
	bad := good[:len(good)-4] + "AAAA"
	for _, g := range []*gt.Gateway{a, a, b} {
		if resp, _ := getWithKey(t, g, "/api/items", bad); resp.StatusCode != 401 {
			t.Fatalf("guess: %d", resp.StatusCode)
		}
	}
	before := up.Count()
	for name, g := range map[string]*gt.Gateway{"a": a, "b": b} {
		resp, body := getWithKey(t, g, "/api/items", good)
		if resp.StatusCode != 429 {
			t.Errorf("replica %s: %d %s", name, resp.StatusCode, body)
		}
	}
	if up.Count() != before {
		t.Fatal("a locked-out request reached the upstream")
	}
}
