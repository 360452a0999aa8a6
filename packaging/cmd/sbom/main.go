// Command sbom writes the CycloneDX SBOM of a Go binary:
//
//	go run ./cmd/sbom -o rampart.cdx.json path/to/rampart
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/rampart-gw/rampart/packaging/sbom"
)

func main() {
	out := flag.String("o", "", "output file (default stdout)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: sbom [-o file] BINARY")
		os.Exit(2)
	}
	b, err := sbom.FromFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *out == "" {
		os.Stdout.Write(b.JSON())
		return
	}
	if err := os.WriteFile(*out, b.JSON(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
