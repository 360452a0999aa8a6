package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/server"
)

// A gateway with an api_key authenticator exports the key store's state:
// up, and no key served from memory.
func TestKeyStoreMetrics(t *testing.T) {
	db := filepath.Join(t.TempDir(), "k.db")
	cfg := runConfig(t, db, "  listen: "+gt.FreeAddr(t), `{ listen: "`+gt.FreeAddr(t)+`", token: "${ADMIN_TOKEN}" }`, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan net.Addr, 1)
	go func() {
		done <- server.Run(ctx, cfg, server.Options{Logger: discard(), Ready: func(_, admin net.Addr) { ready <- admin }})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var admin net.Addr
	select {
	case admin = <-ready:
	case err := <-done:
		t.Fatalf("start: %v", err)
	}
	req, _ := http.NewRequest("GET", "http://"+admin.String()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+runAdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{"\nrampart_keystore_up 1\n", "\nrampart_apikey_stale_served_total 0\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
		}
	}
}
