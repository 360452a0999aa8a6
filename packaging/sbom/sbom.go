// Package sbom writes a CycloneDX 1.5 JSON bill of materials of the Go
// modules linked into a binary, read from the build info the Go toolchain
// embeds (what `go version -m` prints). It is written here rather than taken
// from cyclonedx-gomod because the build info already holds the exact module
// list and that tool would bring dozens of modules for a hundred lines.
//
// The output is deterministic (no clock, serial number derived from the
// content) so that a release stays byte-for-byte reproducible.
package sbom

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
)

// BOM is the part of CycloneDX 1.5 that a Go binary's build info fills.
type BOM struct {
	BOMFormat    string       `json:"bomFormat"`
	SpecVersion  string       `json:"specVersion"`
	SerialNumber string       `json:"serialNumber"`
	Version      int          `json:"version"`
	Metadata     Metadata     `json:"metadata"`
	Components   []Component  `json:"components"`
	Dependencies []Dependency `json:"dependencies"`
}

// Metadata names the main module and the tool that made the BOM.
type Metadata struct {
	Component  Component  `json:"component"`
	Properties []Property `json:"properties,omitempty"`
}

// Component is one Go module.
type Component struct {
	BOMRef     string     `json:"bom-ref"`
	Type       string     `json:"type"`
	Name       string     `json:"name"`
	Version    string     `json:"version,omitempty"`
	PURL       string     `json:"purl"`
	Hashes     []Hash     `json:"hashes,omitempty"`
	Properties []Property `json:"properties,omitempty"`
}

// Hash is a component digest.
type Hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

// Property is a name/value pair (the go.sum h1: hash, the Go version).
type Property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Dependency says which components a component depends on.
type Dependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

// FromFile reads the build info of the Go binary at path.
func FromFile(path string) (*BOM, error) {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sbom: %s: %w", path, err)
	}
	return FromBuildInfo(info), nil
}

// FromBuildInfo builds the BOM of one binary: the main module and every
// module it links (replacements resolved to what was actually built).
func FromBuildInfo(info *debug.BuildInfo) *BOM {
	main := component(&info.Main, "application")
	b := &BOM{BOMFormat: "CycloneDX", SpecVersion: "1.5", Version: 1,
		Metadata: Metadata{Component: main, Properties: []Property{{"go:version", info.GoVersion}}}}
	refs := []string{}
	for _, m := range info.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		c := component(m, "library")
		b.Components = append(b.Components, c)
		refs = append(refs, c.BOMRef)
	}
	sort.Slice(b.Components, func(i, j int) bool { return b.Components[i].BOMRef < b.Components[j].BOMRef })
	sort.Strings(refs)
	b.Dependencies = []Dependency{{Ref: main.BOMRef, DependsOn: refs}}
	sum := sha256.Sum256(mustJSON(b))
	// A name-based (v5-shaped) UUID from the content: same input, same serial.
	u := sum[:16]
	u[6], u[8] = u[6]&0x0f|0x50, u[8]&0x3f|0x80
	h := hex.EncodeToString(u)
	b.SerialNumber = "urn:uuid:" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	return b
}

// JSON is the indented document.
func (b *BOM) JSON() []byte { return append(mustJSON(b), '\n') }

func component(m *debug.Module, kind string) Component {
	version := m.Version
	if version == "(devel)" {
		version = ""
	}
	purl := "pkg:golang/" + m.Path
	if version != "" {
		purl += "@" + version
	}
	c := Component{BOMRef: purl, Type: kind, Name: m.Path, Version: version, PURL: purl}
	// go.sum's h1: is a base64 SHA-256 of the module's file tree hash list.
	if digest, ok := strings.CutPrefix(m.Sum, "h1:"); ok {
		if raw, err := base64.StdEncoding.DecodeString(digest); err == nil && len(raw) == sha256.Size {
			c.Hashes = []Hash{{Alg: "SHA-256", Content: hex.EncodeToString(raw)}}
		}
		c.Properties = []Property{{"go:sum", m.Sum}}
	}
	return c
}

func mustJSON(v any) []byte {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err) // only plain structs of strings: cannot fail
	}
	return out
}
