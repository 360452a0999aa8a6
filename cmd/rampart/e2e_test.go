package main_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

const e2eAdminToken = "e2e-admin-token-0123456789abcdef0123456789"

// served is a `rampart serve` process run by an end-to-end test.
type served struct {
	logs   gt.SyncBuffer
	exited chan error  // receives cmd.Wait's result once
	config string      // the config file's path (tests edit it to reload)
	proc   *os.Process // for signals (SIGHUP reloads)
}

// serveBinary builds the real binary and runs `rampart serve -c cfg` with
// env added to the test's environment (the admin token included). Cleanup
// sends SIGTERM and expects a clean exit within 30 s.
func serveBinary(t *testing.T, cfg string, env ...string) *served {
	t.Helper()
	return serveBinaryLogs(t, cfg, nil, env...)
}

// serveBinaryLogs is serveBinary with the process's stdout and stderr on
// logs (nil: the served's buffer).
func serveBinaryLogs(t *testing.T, cfg string, logs *os.File, env ...string) *served {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "rampart")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(dir, "rampart.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &served{exited: make(chan error, 1), config: cfgPath}
	cmd := exec.Command(bin, "serve", "-c", cfgPath)
	cmd.Env = append(append(os.Environ(), "RAMPART_ADMIN_TOKEN="+e2eAdminToken), env...)
	cmd.Stdout, cmd.Stderr = &s.logs, &s.logs
	if logs != nil {
		cmd.Stdout, cmd.Stderr = logs, logs
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.proc = cmd.Process
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-s.exited:
			if err != nil {
				t.Errorf("rampart serve exited with %v\n%s", err, s.logs.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("rampart serve did not stop within 30s of SIGTERM")
		}
	})
	return s
}

// alive fails the test if the process has exited.
func (s *served) alive(t *testing.T, while string) {
	t.Helper()
	select {
	case err := <-s.exited:
		s.exited <- err // for Cleanup
		t.Fatalf("rampart serve exited (%v) while %s\n%s", err, while, s.logs.String())
	default:
	}
}

// waitReady waits up to 60 s for the admin listener's /readyz to answer 200.
func (s *served) waitReady(t *testing.T, client *http.Client, adminListen string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; {
		if resp, err := client.Get("http://" + adminListen + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		s.alive(t, "starting")
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 60s\n%s", s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
