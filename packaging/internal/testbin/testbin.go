// Package testbin gives packaging tests a static linux rampart binary:
// $RAMPART_BINARY when `make package-test` built one already, otherwise one
// built once per test process from the checkout above this module.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	once  sync.Once
	built string
	err   error
	out   []byte
)

// Rampart returns the path of a static (CGO_ENABLED=0) rampart binary for
// this machine's architecture.
func Rampart(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("RAMPART_BINARY"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	once.Do(func() {
		dir, e := os.MkdirTemp("", "rampart-bin")
		if e != nil {
			err = e
			return
		}
		built = filepath.Join(dir, "rampart")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", built, "./cmd/rampart")
		cmd.Dir = RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		out, err = cmd.CombinedOutput()
	})
	if err != nil {
		t.Fatalf("building rampart: %v\n%s", err, out)
	}
	return built
}

// RepoRoot is the main module's directory (this module lives in its packaging/).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	if _, err := os.Stat(filepath.Join(root, "cmd", "rampart")); err != nil {
		t.Fatalf("cannot find the checkout: %v", err)
	}
	return root
}
