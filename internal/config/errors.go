package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/config/conf"
)

// Error is one problem at a position in a config file. Line and Col are 1-based; when
// a problem has no position of its own it carries the nearest enclosing node's.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

// Error returns "FILE:LINE:COL: MSG".
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Errors is every problem found in a config file, sorted by line then column.
// Its Error joins the problems with newlines.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// sortErrors orders errors by line then column, keeping discovery order for ties.
func sortErrors(es Errors) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
}

// At returns the position of the key, definition or list entry at path, such
// as At("cors", "web") for a definition, At("openapi", "api", "spec") for a
// key's value or At("rate_limits", "rl", "limits", "1") for a list entry.
// Without a position of its own, a path gets its nearest enclosing one.
func (c *Config) At(path ...string) conf.Pos {
	for n := len(path); n > 0; n-- {
		if p, ok := c.pos[strings.Join(path[:n], "/")]; ok {
			return p
		}
	}
	return conf.Pos{}
}

// ErrorAt is a problem found after loading (while compiling a control) at
// the position of path (see At). A *conf.FieldError in err names the key,
// under path, it is about.
func (c *Config) ErrorAt(err error, path ...string) *Error {
	var fe *conf.FieldError
	if errors.As(err, &fe) {
		path = append(path[:len(path):len(path)], fe.Field)
		if fe.Index >= 0 {
			path = append(path, strconv.Itoa(fe.Index))
		}
	}
	pos := c.At(path...)
	return &Error{File: c.File, Line: max(pos.Line, 1), Col: max(pos.Col, 1), Msg: err.Error()}
}
