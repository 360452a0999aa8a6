package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/ratelimit/redistest"
	"github.com/rampart-gw/rampart/internal/store/pgtest"
)

// replicaConfig is the one config every replica runs; only the listen
// addresses differ, and they come from the environment.
const replicaConfig = `version: 1
server: { listen: "${LISTEN}", shutdown_timeout: 5s }
admin: { listen: "${ADMIN_LISTEN}", token: "${RAMPART_ADMIN_TOKEN}" }
store: "${STORE}"
shared_state: "${REDIS}"
authenticators:
  keys: { type: api_key, header: X-API-Key }
rate_limits:
  shared: { key: client_ip, limits: ["12 per hour"] }
upstreams:
  app: { targets: ["${UPSTREAM}"], timeout: 5s }
routes:
  - { name: open, path: /open, methods: [GET], upstream: app, auth: none }
  - { name: limited, path: /limited, methods: [GET], upstream: app, auth: none, rate_limit: [shared] }
  - { name: keyed, path: /keyed, methods: [GET], upstream: app, auth: [keys] }
`

type replica struct {
	*served
	public, admin string
}

func (r *replica) get(t *testing.T, path string, header ...string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+r.public+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (r *replica) adminPost(t *testing.T, path, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+r.admin+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

// waitReady polls the replica's /readyz until it answers 200.
func (r *replica) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + r.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		r.alive(t, "starting")
		if time.Now().After(deadline) {
			t.Fatalf("replica %s never ready\n%s", r.public, r.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicas runs three `rampart serve` processes with one config on one
// PostgreSQL and one Redis, as docs/production.md describes N replicas.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes, PostgreSQL and Redis")
	}
	store := pgtest.URL(t)
	redis := redistest.Start(t)
	up := gt.NewUpstream(t, nil)
	var rs []*replica
	for i := range 3 {
		r := &replica{public: gt.FreeAddr(t), admin: gt.FreeAddr(t)}
		r.served = serveBinary(t, replicaConfig, "LISTEN="+r.public, "ADMIN_LISTEN="+r.admin,
			"STORE="+store, "REDIS="+redis.URL, "UPSTREAM="+up.URL)
		// The first replica creates the schema; the others start on it.
		if i == 0 {
			r.waitReady(t)
		}
		rs = append(rs, r)
	}
	for _, r := range rs {
		r.waitReady(t)
	}

	t.Run("a shared limit is exact across replicas", func(t *testing.T) {
		// 36 requests spread over the three replicas: exactly the 12 the
		// limit allows pass, wherever they land.
		counts := map[int]int{}
		for i := range 36 {
			counts[rs[i%3].get(t, "/limited")]++
		}
		if counts[200] != 12 || counts[429] != 24 {
			t.Errorf("statuses %v, want 12×200 and 24×429", counts)
		}
	})

	t.Run("a key revoked on one replica is refused by all within 1s", func(t *testing.T) {
		var created struct{ ID, Key string }
		if err := json.Unmarshal(rs[0].adminPost(t, "/admin/v1/keys", `{"consumer":"acme"}`), &created); err != nil || created.Key == "" {
			t.Fatalf("create: %v %+v", err, created)
		}
		for i, r := range rs {
			if s := r.get(t, "/keyed", "X-API-Key", created.Key); s != 200 {
				t.Fatalf("replica %d before revocation: %d", i, s)
			}
		}
		rs[1].adminPost(t, "/admin/v1/keys/"+created.ID+"/revoke", "")
		revoked := time.Now()
		for i, r := range rs {
			for r.get(t, "/keyed", "X-API-Key", created.Key) != 401 {
				if time.Since(revoked) > time.Second {
					t.Fatalf("replica %d still accepts the revoked key after 1s", i)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		t.Logf("refused by all three %v after the revocation", time.Since(revoked).Round(time.Millisecond))
	})

	t.Run("a config reload rolled across replicas fails no request", func(t *testing.T) {
		var stop atomic.Bool
		var sent, failed atomic.Int64
		var firstFailure atomic.Value
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rs[w%3]
				for n := 0; n < 20000 && !stop.Load(); n++ {
					sent.Add(1)
					if s := r.get(t, "/open"); s != 200 {
						failed.Add(1)
						firstFailure.CompareAndSwap(nil, fmt.Sprintf("replica %d answered %d", w%3, s))
					}
				}
			}()
		}
		// The roll starts under load and the load goes on after it.
		waitSent := func(n int64) {
			deadline := time.Now().Add(30 * time.Second)
			for sent.Load() < n && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		waitSent(60)
		newConfig := []byte(replicaConfig + "  - { name: added, path: /added, methods: [GET], upstream: app, auth: none }\n")
		for i, r := range rs {
			if err := os.WriteFile(r.config, newConfig, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := r.proc.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(15 * time.Second)
			for r.get(t, "/added") != 200 {
				if time.Now().After(deadline) {
					t.Fatalf("replica %d never reloaded\n%s", i, r.logs.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		waitSent(sent.Load() + 60)
		stop.Store(true)
		wg.Wait()
		if failed.Load() != 0 {
			t.Errorf("%d of %d requests failed during the rolling reload; first: %v", failed.Load(), sent.Load(), firstFailure.Load())
		}
		if sent.Load() < 120 {
			t.Errorf("only %d requests sent: no load during the reload", sent.Load())
		}
		t.Logf("%d requests during the rolling reload, %d failed", sent.Load(), failed.Load())
		for i, r := range rs {
			r.alive(t, fmt.Sprintf("replica %d after reload", i))
		}
	})
}
