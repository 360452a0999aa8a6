package deb_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/packaging/deb"
	"github.com/rampart-gw/rampart/packaging/internal/testbin"
)

func build(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	o := deb.Options{Binary: testbin.Rampart(t), Version: "0.0.0~test", Arch: runtime.GOARCH, MTime: time.Unix(1700000000, 0).UTC()}
	if err := deb.Build(o, &b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "rampart.deb")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// TestPackageContents reads the .deb back with dpkg-deb: the files land
// where the unit and docs say, and the config is a conffile (edits survive
// upgrades).
func TestPackageContents(t *testing.T) {
	need(t, "dpkg-deb")
	p := build(t)
	listing := run(t, "dpkg-deb", "--contents", p)
	for _, want := range []string{"./usr/bin/rampart", "./etc/rampart/rampart.yaml", "./usr/lib/systemd/system/rampart.service", "./var/lib/rampart/"} {
		if !strings.Contains(listing, want) {
			t.Errorf("package lacks %s:\n%s", want, listing)
		}
	}
	if !regexp.MustCompile(`-rwxr-xr-x root/root .* ./usr/bin/rampart`).MatchString(listing) {
		t.Errorf("binary not 0755 root:\n%s", listing)
	}
	ctl := t.TempDir()
	run(t, "dpkg-deb", "--control", p, ctl)
	conffiles, err := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if err != nil || strings.TrimSpace(string(conffiles)) != deb.ConfigPath {
		t.Errorf("conffiles = %q (%v), want %s", conffiles, err, deb.ConfigPath)
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		if _, err := os.Stat(filepath.Join(ctl, script)); err != nil {
			t.Errorf("no %s: %v", script, err)
		}
	}
	// Reproducible: the same inputs give the same bytes.
	a, _ := os.ReadFile(p)
	b, _ := os.ReadFile(build(t))
	if !bytes.Equal(a, b) {
		t.Error("two builds of the same package differ")
	}
}

// TestInstallCheckUninstall installs the package on this (Debian) machine,
// checks the installed config, verifies and rates the unit, and purges.
// Root only (CI runs as root).
func TestInstallCheckUninstall(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("dpkg -i needs root")
	}
	need(t, "dpkg", "systemd-analyze", "runuser")
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "rampart").Output(); err == nil && strings.Contains(string(out), "installed") {
		t.Skip("a rampart package is already installed here; not touching it")
	}
	p := build(t)
	run(t, "dpkg", "-i", p)
	t.Cleanup(func() { _ = exec.Command("dpkg", "--purge", "rampart").Run() })

	run(t, "getent", "passwd", "rampart")
	if got := strings.TrimSpace(run(t, "stat", "-c", "%U:%G %a", deb.StateDir)); got != "rampart:rampart 750" {
		t.Errorf("state dir %s: %s", deb.StateDir, got)
	}
	if got := strings.TrimSpace(run(t, "stat", "-c", "%U:%G %a", deb.EnvPath)); got != "root:rampart 640" {
		t.Errorf("%s: %s", deb.EnvPath, got)
	}
	env := run(t, "cat", deb.EnvPath)
	if !regexp.MustCompile(`^RAMPART_ADMIN_TOKEN=[0-9a-f]{64}\n$`).MatchString(env) {
		t.Errorf("admin token file: %q", env)
	}
	// rampart check, as the service runs it: the rampart user with the unit's environment.
	out := run(t, "runuser", "-u", "rampart", "--", "env", strings.TrimSpace(env), deb.BinaryPath, "check", "-c", deb.ConfigPath)
	if !strings.Contains(out, "ok") {
		t.Errorf("rampart check: %s", out)
	}
	if out := run(t, deb.BinaryPath, "version"); !strings.Contains(out, "go:") {
		t.Errorf("rampart version: %s", out)
	}
	run(t, "systemd-analyze", "verify", deb.UnitPath)
	sec := run(t, "systemd-analyze", "security", "--offline=yes", deb.UnitPath)
	m := regexp.MustCompile(`Overall exposure level for rampart.service: ([0-9.]+) (\w+)`).FindStringSubmatch(sec)
	if m == nil {
		t.Fatalf("no rating in:\n%s", sec)
	}
	t.Logf("systemd-analyze security: %s %s", m[1], m[2])
	if m[2] != "OK" && m[2] != "SAFE" && m[2] != "PERFECT" {
		t.Errorf("unit rated %s %s, want OK or better", m[1], m[2])
	}

	// A reinstall (upgrade path) keeps the token.
	run(t, "dpkg", "-i", p)
	if again := run(t, "cat", deb.EnvPath); again != env {
		t.Error("reinstalling replaced the admin token")
	}

	run(t, "dpkg", "--purge", "rampart")
	for _, gone := range []string{deb.BinaryPath, deb.ConfigPath, deb.EnvPath, deb.UnitPath, deb.StateDir, "/etc/rampart"} {
		if _, err := os.Lstat(gone); !os.IsNotExist(err) {
			t.Errorf("%s left after purge (%v)", gone, err)
		}
	}
	if exec.Command("getent", "passwd", "rampart").Run() == nil {
		t.Error("rampart user left after purge")
	}
}
