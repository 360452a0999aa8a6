// Package conf holds the few types a control's config shares with the config
// loader, so that each control package owns its config type (its YAML keys,
// defaults and documentation) without importing the loader:
//
//   - struct tags: `yaml:"key"` names a config-file key (`yaml:"-"` marks a
//     field the loader never fills, such as a clock or a logger),
//     `default:"30s"` is the value the loader sets before reading the file,
//     and `conf:"required,min=1"` are simple rules the loader checks (see
//     internal/config decode.go); the generated reference (docs/config.md)
//     and JSON Schema are read from the same tags and from the field
//     comments;
//   - a Validate() []error method on the config type, for rules across keys,
//     run by the loader (and by the control's New);
//   - Size, a byte count written as 16384 or "16KiB";
//   - FieldError, a control's way to say which key of its config is wrong, so
//     that a problem found while compiling is still reported at that key's
//     file:line:col.
package conf

import (
	"fmt"
	"net/netip"
	"strings"
)

// Pos is a position in the config file. Line and Col are 1-based; the zero
// Pos means "unknown".
type Pos struct {
	Line, Col int
}

// Size is a number of bytes. The config file writes it as an integer, or as
// an integer followed by KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers
// of 1024), such as "16KiB".
type Size int64

// FieldError is a problem with one key of a control's config, named by its
// YAML key (Field) and, for a list, the entry (Index, 0-based; -1 for the key
// itself). The loader reports it at the key's value (at the key itself with
// AtKey, and then Msg is a whole sentence), or at the mapping when the key is
// absent. Msg does not quote the
// value: with Got the loader shows it, unless it came from the environment
// (after Msg for a key: "; got ..."; before it for a list entry, named by
// Entry: `origin "x" Msg`).
type FieldError struct {
	Field string
	Index int
	Msg   string
	Got   bool
	AtKey bool
	Entry string
}

// Errorf returns a FieldError about the key field.
func Errorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Index: -1, Msg: fmt.Sprintf(format, args...)}
}

// Badf returns a FieldError about the value of the key field, which the
// loader shows after Msg.
func Badf(field, format string, args ...any) *FieldError {
	e := Errorf(field, format, args...)
	e.Got = true
	return e
}

// Error returns "FIELD: MSG" (or "FIELD entry N: [ENTRY] MSG"), without the
// value, for errors of a control built from code.
func (e *FieldError) Error() string {
	switch {
	case e.AtKey:
		return e.Msg
	case e.Index >= 0 && e.Entry != "":
		return fmt.Sprintf("%s entry %d: %s %s", e.Field, e.Index+1, e.Entry, e.Msg)
	case e.Index >= 0:
		return fmt.Sprintf("%s entry %d: %s", e.Field, e.Index+1, e.Msg)
	}
	return e.Field + ": " + e.Msg
}

// LoopbackHost reports whether host (without port) is localhost or a
// loopback address: where a plain-text URL or address is acceptable.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
