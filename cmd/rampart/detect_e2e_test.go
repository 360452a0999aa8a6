package main_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/cli"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/ratelimit/redistest"
)

func detectConfig(listen, adminListen, upstream, extra string) string {
	return fmt.Sprintf(`version: 1
server: { listen: %q }
admin: { listen: %q, token: "${RAMPART_ADMIN_TOKEN}" }
upstreams:
  app: { targets: [%q] }
%sroutes:
  - { name: login, path: /login, methods: [POST], upstream: app, auth: none, login: { username_field: username } }
  - { name: home, path: /, methods: [GET], upstream: app, auth: none }
`, listen, adminListen, upstream, extra)
}

// A replayed credential-stuffing run — 200 logins over 50 usernames from
// one client — is blocked within 2 s of its start, and the application
// sees no more than the configured number of attempts (plus at most the
// one racing the block: detection runs off the request path).
func TestCredentialStuffingBlockedThroughTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	var logins atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logins.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer upstream.Close()
	listen, adminListen := gt.FreeAddr(t), gt.FreeAddr(t)
	const threshold = 10 // distinct usernames per client: spraying fires first
	srv := serveBinary(t, detectConfig(listen, adminListen, upstream.URL,
		fmt.Sprintf("detect:\n  credential_stuffing: { failures: 20, distinct_usernames: %d }\n", threshold)))
	srv.waitReady(t, gt.Client(), adminListen)

	client := gt.Client()
	start := time.Now()
	var blockedAt time.Duration
	for i := range 200 {
		body := fmt.Sprintf(`{"username":"user%02d@example.com","password":"Winter2024!"}`, i%50)
		resp, err := client.Post("http://"+listen+"/login", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusForbidden && blockedAt == 0 {
			blockedAt = time.Since(start)
			gt.CheckProblem(t, resp, string(b), http.StatusForbidden, "client-blocked")
		}
	}
	if blockedAt == 0 || blockedAt > 2*time.Second {
		t.Fatalf("blocked after %v (0: never), want within 2s\n%s", blockedAt, srv.logs.String())
	}
	if n := logins.Load(); n > threshold+1 {
		t.Errorf("the application saw %d logins, want at most %d (+1 racing the block)", n, threshold)
	}
	t.Logf("blocked after %v; the application saw %d of 200 logins", blockedAt, logins.Load())
}

// Three replicas on one Redis: a block added through A's admin API is
// enforced by B and C within a second. `rampart blocks add|list|remove`
// drives it.
func TestBlocksSharedAcrossReplicasThroughTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	redis := redistest.Start(t) // private: the block keys use the default prefix
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer upstream.Close()
	type replica struct{ listen, admin string }
	var rs []replica
	for range 3 {
		r := replica{gt.FreeAddr(t), gt.FreeAddr(t)}
		srv := serveBinary(t, detectConfig(r.listen, r.admin, upstream.URL, fmt.Sprintf("shared_state: %q\ndetect: {}\n", redis.URL)))
		srv.waitReady(t, gt.Client(), r.admin)
		rs = append(rs, r)
	}
	env := func(k string) (string, bool) {
		if k == "RAMPART_ADMIN_TOKEN" {
			return e2eAdminToken, true
		}
		return "", false
	}
	blocks := func(args ...string) string {
		var out, errb bytes.Buffer
		if code := cli.Run(context.Background(), append([]string{"blocks"}, args...), env, &out, &errb); code != 0 {
			t.Fatalf("rampart blocks %v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	status := func(r replica) int {
		resp, err := gt.Client().Get("http://" + r.listen + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, r := range rs {
		if s := status(r); s != 200 {
			t.Fatalf("before the block: %d", s)
		}
	}
	start := time.Now()
	blocks("add", "--admin", "http://"+rs[0].admin, "127.0.0.0/8", "--for", "10m", "--reason", "e2e")
	for _, r := range rs[1:] {
		for status(r) != http.StatusForbidden {
			if time.Since(start) > time.Second {
				t.Fatalf("replica %s does not enforce A's block within 1s", r.listen)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("B and C enforce A's block after %v", time.Since(start))
	if out := blocks("list", "--admin", "http://"+rs[2].admin); !strings.Contains(out, "127.0.0.0/8") || !strings.Contains(out, "operator") {
		t.Errorf("list on C:\n%s", out)
	}
	blocks("remove", "--admin", "http://"+rs[1].admin, "127.0.0.0/8")
	start = time.Now()
	for _, r := range rs {
		for status(r) != 200 {
			if time.Since(start) > time.Second {
				t.Fatalf("replica %s still blocks 1s after the removal", r.listen)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
