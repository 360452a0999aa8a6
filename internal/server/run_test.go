package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
	"github.com/rampart-gw/rampart/internal/server"
	"github.com/rampart-gw/rampart/internal/tlsconfig"
)

const runAdminToken = "run-test-admin-token-0123456789abcdef0123"

// busyAddr returns a loopback address a listener holds until the test ends.
func busyAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// storeOpen reports whether a process holds the SQLite store at db open: in
// WAL mode the -wal file exists while a connection is open and is removed
// when the last one closes.
func storeOpen(db string) bool {
	_, err := os.Stat(db + "-wal")
	return err == nil
}

// portFree reports whether addr can be listened on again.
func portFree(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// runConfig is a gateway whose route uses an api_key authenticator, so Run
// opens the SQLite store at db before compiling the gateway.
func runConfig(t *testing.T, db, server, admin, extra string) *config.Config {
	t.Helper()
	text := fmt.Sprintf(`version: 1
server:
%s
admin: %s
store: %q
authenticators:
  partners: { type: api_key }
upstreams:
  app: { targets: ["http://127.0.0.1:9"] }
%sroutes:
  - { name: items, path: /api/items, methods: [GET], upstream: app, auth: [partners] }
`, server, admin, "sqlite://"+db, extra)
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "run.yaml"), []byte(text), func(k string) (string, bool) {
		return runAdminToken, k == "ADMIN_TOKEN"
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestRunFailureClosesWhatWasOpened fails Run at each stage after the first
// resource and checks, on the real resources, that everything opened before
// the failure was closed: the SQLite store (its WAL file is gone) and the
// listeners (their ports can be bound again).
func TestRunFailureClosesWhatWasOpened(t *testing.T) {
	certDir := t.TempDir()
	cert, key, err := tlsconfig.WriteDevCert(certDir, []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	goodTLS := fmt.Sprintf("  tls: { cert_file: %q, key_file: %q }\n", cert, key)
	noAdmin := `{ listen: "off" }`

	t.Run("control: a running server holds the store and its port", func(t *testing.T) {
		db, listen := filepath.Join(t.TempDir(), "k.db"), gt.FreeAddr(t)
		cfg := runConfig(t, db, "  listen: "+listen, noAdmin, "")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		ready := make(chan struct{})
		go func() {
			done <- server.Run(ctx, cfg, server.Options{Logger: discard(), Ready: func(net.Addr, net.Addr) { close(ready) }})
		}()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("start: %v", err)
		}
		if !storeOpen(db) || portFree(listen) {
			t.Errorf("while serving: store open %v, port free %v; want true, false", storeOpen(db), portFree(listen))
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("stop: %v", err)
		}
		if storeOpen(db) || !portFree(listen) {
			t.Errorf("after stopping: store open %v, port free %v; want false, true", storeOpen(db), portFree(listen))
		}
	})

	cases := []struct {
		name    string
		server  func(listen string) string
		admin   string
		extra   string
		wantErr string
		// givenAdmin hands the test's listener in as the admin one instead
		// of the redirect one (for the case where redirect is the stage
		// under test).
		givenAdmin bool
	}{
		{
			name:    "gateway compile error (missing OpenAPI file)",
			server:  func(listen string) string { return "  listen: " + listen },
			admin:   noAdmin,
			extra:   "openapi:\n  items: { spec: ./missing.json }\n",
			wantErr: "missing.json",
		},
		{
			name:    "listen address in use",
			server:  func(string) string { return "  listen: " + busyAddr(t) },
			admin:   noAdmin,
			wantErr: "listen ",
		},
		{
			name: "TLS certificate unreadable",
			server: func(listen string) string {
				return fmt.Sprintf("  listen: %s\n  tls: { cert_file: %q, key_file: %q }\n", listen, filepath.Join(certDir, "nope.crt"), key)
			},
			admin:   noAdmin,
			wantErr: "nope.crt",
		},
		{
			name: "redirect address in use",
			server: func(listen string) string {
				return "  listen: " + listen + "\n" + goodTLS + "  http_redirect: " + busyAddr(t)
			},
			admin:      noAdmin,
			wantErr:    "http_redirect listen",
			givenAdmin: true,
		},
		{
			name:    "admin address in use",
			server:  func(listen string) string { return "  listen: " + listen },
			admin:   fmt.Sprintf(`{ listen: %q, token: "${ADMIN_TOKEN}" }`, busyAddr(t)),
			wantErr: "admin listen",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, listen := filepath.Join(t.TempDir(), "k.db"), gt.FreeAddr(t)
			cfg := runConfig(t, db, tc.server(listen), tc.admin, tc.extra)
			// A listener handed in is owned by Run too, and must be closed,
			// used or not.
			given, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			opts := server.Options{Logger: discard(), RedirectListener: given}
			if tc.givenAdmin {
				opts = server.Options{Logger: discard(), AdminListener: given}
			}
			err = server.Run(context.Background(), cfg, opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Run: %v; want an error about %q", err, tc.wantErr)
			}
			if _, statErr := os.Stat(db); statErr != nil {
				t.Fatalf("the store was never opened, so this case proves nothing: %v", statErr)
			}
			if storeOpen(db) {
				t.Error("the SQLite store is still open")
			}
			if !portFree(listen) {
				t.Errorf("the gateway port %s is still bound", listen)
			}
			// A deadline in the past: an open listener times out at once.
			_ = given.(*net.TCPListener).SetDeadline(time.Now())
			if _, err := given.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("the listener handed to Run is still open (Accept: %v)", err)
			}
		})
	}
}
