package image_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/rampart-gw/rampart/packaging/image"
	"github.com/rampart-gw/rampart/packaging/internal/testbin"
)

var created = time.Unix(1700000000, 0).UTC()

// files lists the image's flattened filesystem: path → header.
func files(t *testing.T, rc io.ReadCloser) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	defer rc.Close()
	hdrs, data := map[string]*tar.Header{}, map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hdrs, data
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Clean("/" + h.Name)
		hdrs[name] = h
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			data[name] = b
		}
	}
}

// TestImage builds the image, writes it as a load tarball and an OCI layout,
// and reads both back: a non-root user, the serve entrypoint, no shell, and
// the binary, CA bundle, config and a state directory owned by that user.
func TestImage(t *testing.T) {
	bin := testbin.Rampart(t)
	img, err := image.Build(image.Options{Binary: bin, Arch: runtime.GOARCH, Version: "test", Created: created})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tarPath, layoutPath := filepath.Join(dir, "rampart.tar"), filepath.Join(dir, "oci")
	if err := image.WriteTarball(tarPath, "localhost/rampart:test", img); err != nil {
		t.Fatal(err)
	}
	if err := image.WriteLayout(layoutPath, img); err != nil {
		t.Fatal(err)
	}
	fromTar, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(layoutPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		t.Fatalf("layout index: %v %v", m, err)
	}
	fromLayout, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if got, _ := fromLayout.Digest(); got != want {
		t.Errorf("layout digest %s, built %s", got, want)
	}

	cf, err := fromTar.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q", cf.Config.User)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/usr/bin/rampart", "serve", "-c", "/etc/rampart/rampart.yaml"}) {
		t.Errorf("entrypoint %q", cf.Config.Entrypoint)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if _, ok := cf.Config.Volumes[image.StateDir]; !ok {
		t.Errorf("no volume at %s: %v", image.StateDir, cf.Config.Volumes)
	}
	layers, err := fromTar.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d %v", len(layers), err)
	}

	hdrs, data := files(t, mutate.Extract(fromTar))
	for _, shell := range []string{"/bin/sh", "/bin/bash", "/bin/busybox", "/usr/bin/sh"} {
		if _, ok := hdrs[shell]; ok {
			t.Errorf("image has a shell: %s", shell)
		}
	}
	wantBin, _ := os.ReadFile(bin)
	if !bytes.Equal(data[image.BinaryPath], wantBin) || hdrs[image.BinaryPath].Mode&0o111 == 0 {
		t.Error("binary missing, different or not executable")
	}
	if !bytes.Contains(data[image.CAPath], []byte("BEGIN CERTIFICATE")) {
		t.Error("no CA certificates")
	}
	if !bytes.Contains(data[image.ConfigPath], []byte("version: 1")) {
		t.Error("no example config")
	}
	if h := hdrs[image.StateDir]; h == nil || h.Uid != image.UID || h.Typeflag != tar.TypeDir {
		t.Errorf("state dir: %+v", h)
	}
	if !bytes.Contains(data["/etc/passwd"], []byte(":65532:65532:")) {
		t.Error("uid 65532 has no passwd entry")
	}

	// Reproducible: the same inputs give the same image digest.
	again, err := image.Build(image.Options{Binary: bin, Arch: runtime.GOARCH, Version: "test", Created: created})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := again.Digest(); d != want {
		t.Errorf("rebuild digest %s, first %s", d, want)
	}
}
