// Command image builds the rampart OCI image into dist/ (no daemon, no
// registry): an OCI layout directory and a `podman load` tarball.
//
//	go run ./cmd/image -binary ../dist/rampart_v1_linux_amd64 -arch amd64 -version v1 -tar ../dist/rampart-image.tar -layout ../dist/oci
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/rampart-gw/rampart/packaging/image"
)

func main() {
	var o image.Options
	flag.StringVar(&o.Binary, "binary", "", "static linux binary")
	flag.StringVar(&o.Arch, "arch", "amd64", "architecture")
	flag.StringVar(&o.Version, "version", "dev", "version label and tag")
	tar := flag.String("tar", "", "write a podman/docker load tarball here")
	dir := flag.String("layout", "", "write an OCI image layout directory here")
	created := flag.String("created", "", "RFC 3339 creation time (default now; the release passes the commit time)")
	flag.Parse()
	o.Created = time.Now().UTC().Truncate(time.Second)
	if *created != "" {
		t, err := time.Parse(time.RFC3339, *created)
		if err != nil {
			fail(err)
		}
		o.Created = t
	}
	img, err := image.Build(o)
	if err != nil {
		fail(err)
	}
	if *tar != "" {
		if err := image.WriteTarball(*tar, "localhost/rampart:"+tagSafe(o.Version), img); err != nil {
			fail(err)
		}
	}
	if *dir != "" {
		if err := image.WriteLayout(*dir, img); err != nil {
			fail(err)
		}
	}
	d, _ := img.Digest()
	fmt.Println("image", d)
}

// tagSafe keeps a version usable as a tag (no "+", at most 128 characters).
func tagSafe(v string) string {
	out := []rune{}
	for _, r := range v {
		if r == '+' || r == '~' {
			r = '-'
		}
		out = append(out, r)
	}
	if len(out) > 128 {
		out = out[:128]
	}
	return string(out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
