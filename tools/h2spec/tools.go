//go:build tools

// Package h2spec pins github.com/summerwind/h2spec for the HTTP/2
// conformance test in internal/h2 (h2spec_test.go). It is its own module so
// that h2spec and its dependencies stay out of the main go.mod.
package h2spec

import _ "github.com/summerwind/h2spec/cmd/h2spec"
