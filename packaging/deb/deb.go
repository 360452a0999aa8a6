// Package deb builds the rampart .deb with nfpm as a library (no nfpm
// binary to download): the static binary, the example config as a conffile,
// the hardened systemd unit, the state directory and the maintainer scripts
// that create the rampart system user and a per-install admin token.
package deb

import (
	"embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
)

// Assets are the files the package installs besides the binary; tests read
// them too (the unit is verified with systemd-analyze).
//
//go:embed rampart.service rampart.yaml postinst prerm postrm
var Assets embed.FS

// Installed paths.
const (
	BinaryPath = "/usr/bin/rampart"
	ConfigPath = "/etc/rampart/rampart.yaml"
	EnvPath    = "/etc/rampart/rampart.env"
	UnitPath   = "/usr/lib/systemd/system/rampart.service"
	StateDir   = "/var/lib/rampart"
)

// Options describe one package.
type Options struct {
	Binary  string    // the static linux binary for Arch
	Version string    // e.g. v1.2.3 or 0.0.0~git.abc1234
	Arch    string    // Debian architecture: amd64, arm64
	MTime   time.Time // every file's time: the commit time keeps the .deb reproducible
}

// Build writes the .deb to w.
func Build(o Options, w io.Writer) error {
	tmp, err := os.MkdirTemp("", "rampart-deb")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// nfpm reads sources from disk: write the embedded assets out.
	asset := func(name string) (string, error) {
		b, err := Assets.ReadFile(name)
		if err != nil {
			return "", err
		}
		p := filepath.Join(tmp, name)
		return p, os.WriteFile(p, b, 0o644)
	}
	paths := map[string]string{}
	for _, name := range []string{"rampart.service", "rampart.yaml", "postinst", "prerm", "postrm"} {
		if paths[name], err = asset(name); err != nil {
			return err
		}
	}
	mode := func(m os.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Owner: "root", Group: "root", Mode: m, MTime: o.MTime}
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:        "rampart",
		Arch:        o.Arch,
		Platform:    "linux",
		Version:     o.Version,
		Section:     "net",
		Priority:    "optional",
		Maintainer:  "Rampart maintainers <rampart@example.invalid>",
		Description: "Security-first API gateway\n One Go binary and one YAML file in front of your HTTP services.",
		Homepage:    "https://github.com/rampart-gw/rampart",
		License:     "Apache-2.0",
		MTime:       o.MTime,
		Overridables: nfpm.Overridables{
			Depends: []string{"passwd"},
			Contents: files.Contents{
				{Source: o.Binary, Destination: BinaryPath, FileInfo: mode(0o755)},
				{Source: paths["rampart.yaml"], Destination: ConfigPath, Type: files.TypeConfigNoReplace, FileInfo: mode(0o640)},
				{Source: paths["rampart.service"], Destination: UnitPath, FileInfo: mode(0o644)},
				{Destination: "/etc/rampart", Type: files.TypeDir, FileInfo: mode(0o755)},
				{Destination: StateDir, Type: files.TypeDir, FileInfo: mode(0o750)},
			},
			Scripts: nfpm.Scripts{PostInstall: paths["postinst"], PreRemove: paths["prerm"], PostRemove: paths["postrm"]},
		},
	})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return fmt.Errorf("deb: %w", err)
	}
	p, err := nfpm.Get("deb")
	if err != nil {
		return err
	}
	if err := p.Package(info, w); err != nil {
		return fmt.Errorf("deb: %w", err)
	}
	return nil
}
