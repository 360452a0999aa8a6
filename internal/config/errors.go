package config

import (
	"fmt"
	"sort"
	"strings"
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
