package waf

import (
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/corazawaf/coraza/v3/experimental/plugins"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	re2 "github.com/wasilibs/go-re2"
	"rsc.io/binaryregexp"
)

// The CRS's @rx patterns are large alternations (assembled by the CRS
// toolchain); Go's regexp runs them with its backtracker or NFA, which cost
// ~80% of the WAF's CPU on a JSON body. RE2's DFA (go-re2: the C++ library
// compiled to WebAssembly and then to Go, no cgo) matches them in linear
// time with a far smaller constant. The operator is registered process-wide
// (Coraza's operator registry is global) before any policy compiles.
func init() { plugins.RegisterOperator("rx", newRX) }

// rx is the @rx operator on RE2. RE2 stops at the first invalid UTF-8 byte
// where Go's regexp reads it as U+FFFD and goes on: an attacker could hide a
// payload behind one such byte, so those values go to Go's regexp (compiled
// on first use).
type rx struct {
	re      *re2.Regexp
	pattern string
	minLen  int // no shorter value can match: skip the call

	once sync.Once
	std  *regexp.Regexp
}

func newRX(o plugintypes.OperatorOptions) (plugintypes.Operator, error) {
	// (?s): . matches newlines, as in ModSecurity; (?m): Coraza's default,
	// kept so that rules behave as under its own operator.
	pattern := "(?sm)" + o.Arguments
	if matchesArbitraryBytes(pattern) {
		// Patterns of raw bytes (\xbc, \x{e2}\x80…: overlong or
		// malformed encodings) need a byte matcher, as in Coraza.
		return newBinaryRX(o)
	}
	compile := func() (any, error) {
		parsed, err := syntax.Parse(pattern, syntax.Perl)
		if err != nil {
			return nil, err
		}
		re, err := re2.Compile(pattern)
		if err != nil {
			return nil, err
		}
		return &rx{re: re, pattern: pattern, minLen: minLen(parsed.Simplify())}, nil
	}
	var v any
	var err error
	if o.Memoizer != nil {
		v, err = o.Memoizer.Do("rampart-rx:"+pattern, compile)
	} else {
		v, err = compile()
	}
	if err != nil {
		return nil, err
	}
	return v.(*rx), nil
}

func (o *rx) Evaluate(tx plugintypes.TransactionState, value string) bool {
	if len(value) < o.minLen {
		return false
	}
	if !utf8.ValidString(value) {
		o.once.Do(func() { o.std = regexp.MustCompile(o.pattern) })
		if !tx.Capturing() {
			return o.std.MatchString(value)
		}
		return capture(tx, value, o.std.FindStringSubmatchIndex(value))
	}
	// Most values match nothing: RE2's DFA says so without the submatch
	// machinery a capturing rule needs only once it matched.
	if !o.re.MatchString(value) {
		return false
	}
	if !tx.Capturing() {
		return true
	}
	return capture(tx, value, o.re.FindStringSubmatchIndex(value))
}

// capture sets TX.0–TX.9 from a match, as Coraza's own operator does.
func capture(tx plugintypes.TransactionState, value string, m []int) bool {
	if m == nil {
		return false
	}
	for i := 0; i < len(m)/2 && i < 10; i++ {
		if m[2*i] >= 0 {
			tx.CaptureField(i, value[m[2*i]:m[2*i+1]])
		} else {
			tx.CaptureField(i, "")
		}
	}
	return true
}

// minLen is the fewest bytes any match of re needs (a lower bound: each
// rune counts as one byte).
func minLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture, syntax.OpPlus:
		return minLen(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min * minLen(re.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			n += minLen(s)
		}
		return n
	case syntax.OpAlternate:
		n := -1
		for _, s := range re.Sub {
			if m := minLen(s); n < 0 || m < n {
				n = m
			}
		}
		return max(n, 0)
	default: // empty, anchors, star, quest, no match
		return 0
	}
}

// binaryRX matches patterns of arbitrary bytes, with rsc.io/binaryregexp
// on the pattern as written (no flags added), as Coraza's own operator does.
type binaryRX struct{ re *binaryregexp.Regexp }

func newBinaryRX(o plugintypes.OperatorOptions) (plugintypes.Operator, error) {
	compile := func() (any, error) { return binaryregexp.Compile(o.Arguments) }
	var v any
	var err error
	if o.Memoizer != nil {
		v, err = o.Memoizer.Do("rampart-binary-rx:"+o.Arguments, compile)
	} else {
		v, err = compile()
	}
	if err != nil {
		return nil, err
	}
	return &binaryRX{re: v.(*binaryregexp.Regexp)}, nil
}

func (o *binaryRX) Evaluate(tx plugintypes.TransactionState, value string) bool {
	if !tx.Capturing() {
		return o.re.MatchString(value)
	}
	return capture(tx, value, o.re.FindStringSubmatchIndex(value))
}

// matchesArbitraryBytes reports whether expr's byte escapes (\xNN,
// \x{NN}) spell something other than UTF-8: such a pattern is about raw
// bytes. (The rule of Coraza's internal/operators/rx.go, Apache-2.0.)
func matchesArbitraryBytes(expr string) bool {
	decoded := make([]byte, 0, len(expr))
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		if c != '\\' {
			decoded = append(decoded, c)
			continue
		}
		if i+3 >= len(expr) {
			decoded = append(decoded, expr[i:]...)
			break
		}
		if expr[i+1] != 'x' {
			decoded = append(decoded, expr[i])
			continue
		}
		sub, advance := expr[i:], 3
		if len(sub) >= 6 && sub[2] == '{' {
			if end := strings.IndexByte(sub, '}'); end != -1 {
				sub, advance = `\x`+sub[3:end], end
			}
		}
		v, multibyte, _, err := strconv.UnquoteChar(sub, 0)
		if err != nil || multibyte {
			decoded = append(decoded, expr[i])
			continue
		}
		decoded = append(decoded, byte(v))
		i += advance
	}
	return !utf8.Valid(decoded)
}
