// Command deb builds the rampart .deb:
//
//	go run ./cmd/deb -binary ../dist/rampart_v1.0.0_linux_amd64 -version v1.0.0 -arch amd64 -o ../dist/rampart_v1.0.0_amd64.deb
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/rampart-gw/rampart/packaging/deb"
)

func main() {
	var o deb.Options
	out := flag.String("o", "rampart.deb", "output file")
	flag.StringVar(&o.Binary, "binary", "", "the static linux binary")
	flag.StringVar(&o.Version, "version", "0.0.0", "package version")
	flag.StringVar(&o.Arch, "arch", "amd64", "Debian architecture")
	mtime := flag.String("mtime", "", "RFC 3339 time of every file (default: now; the release passes the commit time)")
	flag.Parse()
	o.MTime = time.Now().UTC().Truncate(time.Second)
	if *mtime != "" {
		t, err := time.Parse(time.RFC3339, *mtime)
		if err != nil {
			fail(err)
		}
		o.MTime = t
	}
	var b bytes.Buffer
	if err := deb.Build(o, &b); err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
