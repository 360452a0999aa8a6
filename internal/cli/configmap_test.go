package cli

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// configMapDir lays out a directory as the kubelet mounts a ConfigMap:
// the data in a timestamped directory, ..data pointing at it, and each key a
// symlink through ..data.
type configMapDir struct {
	root, current string
	n             int
}

func newConfigMapDir(t *testing.T, content string) *configMapDir {
	t.Helper()
	c := &configMapDir{root: t.TempDir()}
	c.swap(t, content, time.Time{})
	if err := os.Symlink(filepath.Join("..data", "rampart.yaml"), filepath.Join(c.root, "rampart.yaml")); err != nil {
		t.Fatal(err)
	}
	return c
}

// swap publishes content the kubelet's way (AtomicWriter): a new
// timestamped directory, a ..data_tmp symlink to it renamed over ..data in
// one step, then the old directory removed. A non-zero mtime is given to
// the new file, so a swap can keep the size and time of the old one.
func (c *configMapDir) swap(t *testing.T, content string, mtime time.Time) {
	t.Helper()
	c.n++
	dir := "..2026_12_05_10_00_0" + string(rune('0'+c.n)) + ".000000001"
	if err := os.Mkdir(filepath.Join(c.root, dir), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(c.root, dir, "rampart.yaml")
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(file, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(c.root, "..data_tmp")
	if err := os.Symlink(dir, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.root, "..data")); err != nil {
		t.Fatal(err)
	}
	if c.current != "" {
		if err := os.RemoveAll(filepath.Join(c.root, c.current)); err != nil {
			t.Fatal(err)
		}
	}
	c.current = dir
}

// TestServeReloadsOnConfigMapSwap serves a config mounted the way Kubernetes
// mounts a ConfigMap and updates it the way the kubelet does. The new config
// keeps the old one's size and modification time, so only the file's
// identity changes: the watcher must see the swap and reload.
func TestServeReloadsOnConfigMapSwap(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") }))
	defer up.Close()
	addr := gt.FreeAddr(t)
	config := func(route string) string {
		return "version: 1\nserver: { listen: \"" + addr + "\" }\nadmin: { listen: \"off\" }\nupstreams:\n  app: { targets: [\"" + up.URL + "\"] }\nroutes:\n" +
			"  - { name: r, path: " + route + ", methods: [GET], upstream: app, auth: none }\n"
	}
	cm := newConfigMapDir(t, config("/a"))
	first, err := os.Stat(filepath.Join(cm.root, "rampart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	logs := &syncBuf{}
	go func() {
		done <- Run(ctx, []string{"serve", "-c", filepath.Join(cm.root, "rampart.yaml")}, noEnv, io.Discard, logs)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d\n%s", code, logs.String())
		}
	}()
	waitStatus(t, addr, "/a", 200, logs)
	cm.swap(t, config("/b"), first.ModTime())
	if again, _ := os.Stat(filepath.Join(cm.root, "rampart.yaml")); again.Size() != first.Size() || !again.ModTime().Equal(first.ModTime()) {
		t.Fatal("the swapped file should keep the old size and time")
	}
	waitStatus(t, addr, "/b", 200, logs)
	if s := statusOf(addr, "/a"); s != 404 {
		t.Errorf("/a after the swap: %d, want 404", s)
	}
}
