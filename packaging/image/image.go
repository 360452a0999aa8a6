// Package image builds the rampart OCI image without a daemon or a
// registry: one layer (the static binary, CA certificates, passwd/group
// naming uid 65532, the example config and the state directory) appended to
// an empty base, so there is no shell and nothing else to patch.
package image

import (
	"archive/tar"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

//go:embed rampart.yaml
var exampleConfig []byte

// Paths inside the image.
const (
	BinaryPath = "/usr/bin/rampart"
	ConfigPath = "/etc/rampart/rampart.yaml"
	StateDir   = "/var/lib/rampart"
	CAPath     = "/etc/ssl/certs/ca-certificates.crt"
	UID        = 65532
)

// Entrypoint is the image's command.
var Entrypoint = []string{BinaryPath, "serve", "-c", ConfigPath}

// Options describe one image.
type Options struct {
	Binary  string    // static linux binary for Arch
	Arch    string    // amd64, arm64
	Version string    // the org.opencontainers.image.version label
	CACerts string    // PEM bundle; default /etc/ssl/certs/ca-certificates.crt
	Created time.Time // image and file times: the commit time keeps the image reproducible
}

// Build returns the image.
func Build(o Options) (v1.Image, error) {
	if o.CACerts == "" {
		o.CACerts = CAPath
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cas, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("image: CA certificates: %w", err)
	}
	layerTar, err := rootfs(o.Created, bin, cas)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "rampart packaging/image", Comment: "static rampart binary, CA certificates, config"}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = o.Arch, "linux"
	cf.Created = v1.Time{Time: o.Created}
	cf.Config.Entrypoint = Entrypoint
	cf.Config.User = fmt.Sprintf("%d:%d", UID, UID)
	cf.Config.WorkingDir = StateDir
	cf.Config.Env = []string{"SSL_CERT_FILE=" + CAPath, "TMPDIR=/tmp"}
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}, "9901/tcp": {}}
	cf.Config.Volumes = map[string]struct{}{StateDir: {}}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":    "rampart",
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.source":   "https://github.com/rampart-gw/rampart",
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
	return mutate.ConfigFile(img, cf)
}

// WriteTarball writes img as a `podman load` / `docker load` archive tagged ref.
func WriteTarball(file, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(file, tag, img)
}

// WriteLayout writes img as an OCI image layout directory (skopeo, crane,
// `podman load` of an oci-archive after tar).
func WriteLayout(dir string, img v1.Image) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img)
}

// rootfs is the layer's tar: every entry with a fixed time and owner, in a
// fixed order, so the same inputs give the same digest.
func rootfs(mtime time.Time, bin, cas []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(p string, uid int, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: mode, Uid: uid, Gid: uid, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(p string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:%s:/sbin/nologin\n", UID, UID, StateDir)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", UID)
	steps := []func() error{
		func() error { return dir("etc", 0, 0o755) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return dir("etc/rampart", 0, 0o755) },
		func() error { return file("etc/rampart/rampart.yaml", 0o644, exampleConfig) },
		func() error { return dir("etc/ssl", 0, 0o755) },
		func() error { return dir("etc/ssl/certs", 0, 0o755) },
		func() error { return file(CAPath[1:], 0o644, cas) },
		func() error { return dir("tmp", 0, 0o1777) },
		func() error { return dir("usr", 0, 0o755) },
		func() error { return dir("usr/bin", 0, 0o755) },
		func() error { return file(BinaryPath[1:], 0o755, bin) },
		func() error { return dir("var", 0, 0o755) },
		func() error { return dir("var/lib", 0, 0o755) },
		func() error { return dir(path.Clean(StateDir[1:]), UID, 0o750) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
