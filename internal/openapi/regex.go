package openapi

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/dlclark/regexp2"
)

// pattern is a compiled ECMA-262 regular expression, as JSON Schema's
// "pattern" and "patternProperties" are. Patterns RE2 can express exactly
// run on Go's regexp (linear time, no allocation); the others (lookaround,
// backreferences, and any syntax the translation below does not know) run on
// regexp2 in ECMAScript mode with a match timeout and a per-request budget,
// so a pathological pattern costs a bounded time and then refuses the
// request (fail closed).
type pattern struct {
	re2 *regexp.Regexp
	bt  *regexp2.Regexp
}

// regexTimeout bounds one backtracking match; regexBudget bounds the time a
// request spends in backtracking matches in all. regexp2 checks its
// deadline against a clock that ticks every regexClock (100 ms by default,
// which would let a 20 ms timeout run for 200 ms).
const (
	regexTimeout = 20 * time.Millisecond
	regexBudget  = 50 * time.Millisecond
	regexClock   = 5 * time.Millisecond
)

var setRegexClock sync.Once

// compilePattern compiles p, preferring RE2.
func compilePattern(p string) (*pattern, error) {
	if t, ok := ecmaToRE2(p); ok {
		if re, err := regexp.Compile(t); err == nil {
			return &pattern{re2: re}, nil
		}
	}
	if err := ecmaGroups(p); err != nil {
		return nil, err
	}
	re, err := regexp2.Compile(ecmaToRegexp2(p), regexp2.ECMAScript)
	if err != nil {
		return nil, err
	}
	setRegexClock.Do(func() { regexp2.SetTimeoutCheckPeriod(regexClock) })
	re.MatchTimeout = regexTimeout
	return &pattern{bt: re}, nil
}

// match reports whether b matches; budget is what is left of the request's
// backtracking time and is reduced by the time spent. A match that times out
// or finds the budget spent reports timedOut.
func (p *pattern) match(b []byte, budget *time.Duration) (ok, timedOut bool) {
	if p.re2 != nil {
		return p.re2.Match(b), false
	}
	if *budget <= 0 {
		return false, true
	}
	start := time.Now()
	ok, err := p.bt.MatchString(string(b))
	*budget -= time.Since(start)
	if err != nil {
		return false, true
	}
	return ok, false
}

// Match is match with a budget of one timeout, for callers that have no
// request budget (response filtering: a property whose name times out is
// treated as not matching, so it is removed).
func (p *pattern) Match(b []byte) bool {
	budget := regexTimeout
	ok, _ := p.match(b, &budget)
	return ok
}

// ecmaSpace is ECMA-262's \s (WhiteSpace and LineTerminator), wider than
// RE2's ASCII \s; ecmaDot is what "." matches (anything but a line
// terminator: RE2's "." excludes only \n).
const (
	ecmaSpace = `\t\n\x{0B}\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}`
	ecmaDot   = `[^\n\r\x{2028}\x{2029}]`
)

// ecmaToRE2 translates an ECMA-262 pattern into RE2 syntax with the same
// meaning, or reports false when the pattern uses anything outside the
// subset it knows to mean the same in both (lookaround, backreferences,
// named groups, \p, \c, octal escapes, POSIX-looking classes...): those go
// to the ECMAScript engine instead, never to RE2 with another meaning.
func ecmaToRE2(p string) (string, bool) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) {
				return "", false
			}
			n, ok := ecmaEscape(&b, p[i+1:], inClass)
			if !ok {
				return "", false
			}
			i += n
		case inClass:
			switch c {
			case ']':
				inClass = false
				b.WriteByte(c)
			case '[': // literal in ECMA; RE2 would read [:alpha:]
				b.WriteString(`\[`)
			default:
				b.WriteByte(c)
			}
		case c == '[':
			if strings.HasPrefix(p[i:], "[]") || strings.HasPrefix(p[i:], "[^]") {
				return "", false // empty class / any character: ECMA-only forms
			}
			inClass = true
			b.WriteByte(c)
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
		case c == '.':
			b.WriteString(ecmaDot)
		case c == '(':
			if i+1 < len(p) && p[i+1] == '?' {
				if !strings.HasPrefix(p[i:], "(?:") {
					return "", false // lookaround, named groups
				}
				b.WriteString("(?:")
				i += 2
				continue
			}
			b.WriteByte(c)
		case c == '{':
			n := quantifier(p[i:])
			if n == 0 {
				return "", false // a literal brace (Annex B): leave it to ECMAScript
			}
			b.WriteString(p[i : i+n])
			i += n - 1
		default:
			b.WriteByte(c)
		}
	}
	if inClass {
		return "", false
	}
	return b.String(), true
}

// ecmaEscape writes the RE2 form of the escape at the start of rest (after
// the backslash) and returns how many bytes of rest it used.
func ecmaEscape(b *strings.Builder, rest string, inClass bool) (int, bool) {
	e := rest[0]
	switch e {
	case 'd', 'D', 'w', 'W', 't', 'n', 'r', 'f':
		b.WriteByte('\\')
		b.WriteByte(e)
		return 1, true
	case 'b', 'B':
		if inClass {
			return 0, false // [\b] is a backspace in ECMA
		}
		b.WriteByte('\\')
		b.WriteByte(e)
		return 1, true
	case 'v':
		b.WriteString(`\x{0B}`)
		return 1, true
	case 's':
		if inClass {
			b.WriteString(ecmaSpace)
		} else {
			b.WriteString("[" + ecmaSpace + "]")
		}
		return 1, true
	case 'S':
		if inClass {
			return 0, false
		}
		b.WriteString("[^" + ecmaSpace + "]")
		return 1, true
	case 'x':
		if len(rest) >= 3 && isHexByte(rest[1]) && isHexByte(rest[2]) {
			b.WriteString(`\x{` + rest[1:3] + `}`)
			return 3, true
		}
	case 'u':
		if len(rest) >= 5 && isHex4(rest[1:5]) {
			if h := rest[1:5]; h[0]|0x20 == 'd' && h[1] >= '8' {
				return 0, false // surrogate halves: UTF-16 only
			}
			b.WriteString(`\x{` + rest[1:5] + `}`)
			return 5, true
		}
	default:
		// An escaped ASCII punctuation character is itself in both.
		if e < 0x80 && e > ' ' && !('a' <= e|0x20 && e|0x20 <= 'z') && !('0' <= e && e <= '9') && e != 0x7f {
			b.WriteByte('\\')
			b.WriteByte(e)
			return 1, true
		}
	}
	return 0, false
}

// asciiWord is ECMA-262's \w; ecmaBoundary and ecmaNonBoundary are its \b
// and \B, which regexp2 would compute with Unicode letters.
const (
	asciiWord       = `[A-Za-z0-9_]`
	ecmaBoundary    = `(?:(?<=` + asciiWord + `)(?!` + asciiWord + `)|(?<!` + asciiWord + `)(?=` + asciiWord + `))`
	ecmaNonBoundary = `(?:(?<=` + asciiWord + `)(?=` + asciiWord + `)|(?<!` + asciiWord + `)(?!` + asciiWord + `))`
)

// ecmaToRegexp2 rewrites what regexp2's ECMAScript mode reads differently
// from ECMA-262: "." (regexp2 lets U+2028 and U+2029 through) and \b, \B
// (Unicode word characters in regexp2, ASCII in ECMA-262).
func ecmaToRegexp2(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			switch {
			case !inClass && p[i+1] == 'b':
				b.WriteString(ecmaBoundary)
			case !inClass && p[i+1] == 'B':
				b.WriteString(ecmaNonBoundary)
			default:
				b.WriteString(p[i : i+2])
			}
			i++
		case inClass:
			inClass = c != ']'
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
		case c == '.':
			b.WriteString(`[^\n\r\u2028\u2029]`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ecmaGroups refuses the group syntax regexp2 takes from .NET but ECMA-262
// does not have (inline flags "(?i)", "(?#comment)", "(?>atomic)"...).
func ecmaGroups(p string) error {
	inClass := false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			i++
		case inClass:
			inClass = c != ']'
		case c == '[':
			inClass = true
		case c == '(' && strings.HasPrefix(p[i:], "(?"):
			rest := p[i+2:]
			ok := strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "!") ||
				strings.HasPrefix(rest, "<=") || strings.HasPrefix(rest, "<!") || isGroupName(rest)
			if !ok {
				return fmt.Errorf("%q at offset %d is not an ECMA-262 group", p[i:min(len(p), i+4)], i)
			}
		}
	}
	return nil
}

// isGroupName reports whether s starts with "<name>".
func isGroupName(s string) bool {
	end := strings.IndexByte(s, '>')
	if !strings.HasPrefix(s, "<") || end < 2 {
		return false
	}
	for _, c := range s[1:end] {
		if !(c == '_' || c == '$' || 'a' <= c|0x20 && c|0x20 <= 'z' || '0' <= c && c <= '9' || c >= 0x80) {
			return false
		}
	}
	return true
}

// quantifier returns the length of a {n}, {n,} or {n,m} quantifier at the
// start of s, or 0 (also for numbers with leading zeros, which RE2 reads as
// literal text).
func quantifier(s string) int {
	num := func(i int) int {
		j := i
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		if j-i > 1 && s[i] == '0' {
			return -1
		}
		return j
	}
	i := num(1)
	if i <= 1 || i >= len(s) {
		return 0
	}
	if s[i] == ',' {
		if i = num(i + 1); i < 0 {
			return 0
		}
	}
	if i < len(s) && s[i] == '}' {
		return i + 1
	}
	return 0
}
