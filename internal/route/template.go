package route

import (
	"fmt"
	"github.com/rampart-gw/rampart/internal/framing"
	"strings"
)

// MaxParams is the maximum number of parameters (including a catch-all) in
// one template, and the capacity of Params.
const MaxParams = 16

type segKind uint8

const (
	segLiteral segKind = iota
	segParam
	segCatchAll
)

type tseg struct {
	kind segKind
	lit  string // literal text; parameter name for segParam and segCatchAll
}

// template is a parsed path template.
type template struct {
	segs  []tseg
	names []string // parameter names in order of appearance
}

// static reports whether the template has no parameters.
func (t *template) static() bool { return len(t.names) == 0 }

// parseTemplate parses and validates a path template. On failure it returns
// a message suitable for SpecError.Msg.
func parseTemplate(p string) (template, string) {
	var t template
	if p == "" {
		return t, "empty path template"
	}
	if p[0] != '/' {
		return t, fmt.Sprintf("path template %q must start with '/'", p)
	}
	rest := p[1:]
	for {
		seg, tail, more := strings.Cut(rest, "/")
		if seg == "" && more {
			return t, fmt.Sprintf("empty segment (\"//\") in path template %q", p)
		}
		if msg := checkSegment(&t, seg, !more, p); msg != "" {
			return template{}, msg
		}
		if !more {
			break
		}
		rest = tail
	}
	if len(t.names) > MaxParams {
		return template{}, fmt.Sprintf("path template %q has %d parameters; at most %d are allowed", p, len(t.names), MaxParams)
	}
	return t, ""
}

// checkSegment validates one segment and appends it to t.
func checkSegment(t *template, seg string, last bool, p string) string {
	if !strings.ContainsAny(seg, "{}") {
		if msg := checkLiteral(seg); msg != "" {
			return fmt.Sprintf("path template %q: %s", p, msg)
		}
		t.segs = append(t.segs, tseg{kind: segLiteral, lit: seg})
		return ""
	}
	open, closed := strings.Count(seg, "{"), strings.Count(seg, "}")
	if open != closed {
		return fmt.Sprintf("path template %q: unbalanced braces in segment %q", p, seg)
	}
	if open != 1 || seg[0] != '{' || seg[len(seg)-1] != '}' {
		return fmt.Sprintf("path template %q: parameter must be a whole segment, got %q (partial-segment parameters such as \"a{id}\" are not supported)", p, seg)
	}
	name := seg[1 : len(seg)-1]
	kind := segParam
	if n, ok := strings.CutSuffix(name, "..."); ok {
		if !last {
			return fmt.Sprintf("path template %q: catch-all %q must be the final segment", p, seg)
		}
		name, kind = n, segCatchAll
	}
	if !validName(name) {
		return fmt.Sprintf("path template %q: invalid parameter name %q (want [A-Za-z_][A-Za-z0-9_]*)", p, name)
	}
	for _, n := range t.names {
		if n == name {
			return fmt.Sprintf("path template %q: duplicate parameter name %q", p, name)
		}
	}
	t.names = append(t.names, name)
	t.segs = append(t.segs, tseg{kind: kind, lit: name})
	return ""
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// checkLiteral validates a literal segment: pchar only, upper-case
// percent-escapes, no dot segments, and nothing that a canonical path (see
// package pathnorm) can never contain.
func checkLiteral(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isUnreserved(c), isSubDelim(c) && c != ';', c == ':', c == '@':
		case c == ';':
			return fmt.Sprintf("';' in segment %q can never match: normalized paths never contain it", s)
		case c == '%':
			if i+2 >= len(s) || !framing.IsHexDigit(s[i+1]) || !framing.IsHexDigit(s[i+2]) {
				return fmt.Sprintf("malformed percent-escape in segment %q", s)
			}
			if isLowerHex(s[i+1]) || isLowerHex(s[i+2]) {
				return fmt.Sprintf("percent-escape %q in segment %q must use upper-case hex digits", s[i:i+3], s)
			}
			b := byte(framing.HexDigit(s[i+1]))<<4 | byte(framing.HexDigit(s[i+2]))
			switch {
			case isUnreserved(b):
				return fmt.Sprintf("percent-escape %q in segment %q can never match: normalized paths decode it, write %q instead", s[i:i+3], s, string(rune(b)))
			case b == '/' || b == ';' || b == '#' || b < 0x20 || b == 0x7f:
				return fmt.Sprintf("percent-escape %q in segment %q can never match: normalized paths reject it", s[i:i+3], s)
			}
			i += 2
		default:
			return fmt.Sprintf("invalid character %q in segment %q (want RFC 3986 pchar; percent-encode other bytes)", c, s)
		}
	}
	if s == "." || s == ".." {
		return fmt.Sprintf("dot segment %q is not allowed", s)
	}
	return ""
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isSubDelim(c byte) bool {
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}

func isLowerHex(c byte) bool { return 'a' <= c && c <= 'f' }
