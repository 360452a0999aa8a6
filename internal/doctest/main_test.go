package doctest

import (
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if rampartBuild.path != "" {
		os.RemoveAll(filepath.Dir(rampartBuild.path))
	}
	os.Exit(code)
}

// goTool is the go command: the one on PATH, else the one of the GOROOT the
// test was built with.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(build.Default.GOROOT, "bin", "go")
}
