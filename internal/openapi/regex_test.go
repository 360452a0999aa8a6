package openapi

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

func TestPatternsFollowECMA262(t *testing.T) {
	tests := []struct {
		pattern, input string
		want           bool
		re2            bool // expected to run on RE2
	}{
		{`^[a-z]+$`, "abc", true, true},
		{`^\d{3}-\d{4}$`, "555-1234", true, true},
		{`^\d+$`, "١٢٣", false, true}, // \d is ASCII in ECMA-262
		{`\u00e9`, "café", true, true},
		{`^\s$`, "\u00a0", true, true}, // ECMA \s includes NBSP; RE2's does not
		{`^\S$`, "\u00a0", false, true},
		{`^[\s]$`, "\u2028", true, true},
		{`^.$`, "\r", false, true}, // "." excludes all line terminators
		{`^.$`, "\u2029", false, true},
		{`^[[:alpha:]]$`, "a", false, true}, // no POSIX classes in ECMA
		{`^[[:alpha:]]$`, ":]", true, true},
		{`^\$\.\*$`, "$.*", true, true},
		{`^(?:ab){2}$`, "abab", true, true},
		{`^(?!admin)[a-z]+$`, "admin", false, false},
		{`^(?!admin)[a-z]+$`, "alice", true, false},
		{`(?<=\$)\d+`, "cost $42", true, false},
		{`^(a)\1$`, "aa", true, false},
		{`^(?<x>a)\k<x>$`, "aa", true, false},
		{`^[^]$`, "\n", true, false},
		{`^\cJ$`, "\n", true, false},
		{`^a{,2}$`, "a{,2}", true, false}, // a literal brace (Annex B)
		{`\p{L}`, "p{L}", true, false},    // identity escape without the u flag
		{`^(?i)a$`, "a", false, false},    // not a flag group in ECMA: a load error below
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" on "+tt.input, func(t *testing.T) {
			p, err := compilePattern(tt.pattern)
			if err != nil {
				if tt.pattern == `^(?i)a$` {
					return
				}
				t.Fatal(err)
			}
			if tt.pattern == `^(?i)a$` {
				t.Fatal("(?i) compiled; ECMA-262 has no inline flags")
			}
			if (p.re2 != nil) != tt.re2 {
				t.Errorf("RE2 used = %v, want %v", p.re2 != nil, tt.re2)
			}
			budget := regexBudget
			if got, slow := p.match([]byte(tt.input), &budget); got != tt.want || slow {
				t.Errorf("match = %v (timed out %v), want %v", got, slow, tt.want)
			}
		})
	}
}

// A pattern only the backtracking engine can run, with catastrophic
// backtracking on a crafted value (ReDoS), costs at most the budget and then
// refuses the request even inside anyOf (fail closed).
func TestPatternTimeoutRefusesTheRequest(t *testing.T) {
	dir := docWith(t, `
    Root:
      type: object
      properties:
        name:
          anyOf:
            - {type: string, pattern: '^(?=.)(a+)+$'}
            - {type: string}
`)
	_, decide := bodySchema(t, dir, "api.yaml", false)
	start := time.Now()
	got := decide(`{"name":"` + strings.Repeat("a", 40) + `!"}`)
	if elapsed := time.Since(start); elapsed > regexBudget+time.Second {
		t.Errorf("took %v", elapsed)
	}
	if len(got) != 1 || got[0].Pointer != "/name" || !strings.Contains(got[0].Reason, "too long") {
		t.Errorf("problems %v, want one at /name about the time", got)
	}
	if p := decide(`{"name":"aaa"}`); len(p) > 0 {
		t.Errorf("refused a quick match: %v", p)
	}
}

// FuzzPatternEngines checks the RE2 translation against the ECMAScript
// engine: where a pattern runs on RE2, both must decide every input alike.
func FuzzPatternEngines(f *testing.F) {
	for _, s := range [][2]string{{`^[a-z]+$`, "abc"}, {`^\s*\S+$`, " \u00a0x"}, {`a.b`, "a\rb"}, {`\bfoo\b`, "éfoo"},
		{`^[\w.-]+@[\w-]+\.\w+$`, "a.b@c.de"}, {`^\d{2,}$`, "123"}, {`[^\s]`, "\u2028"}, {`\u00e9|\x41`, "A"}, {`^(?:ab|a)*?c$`, "ababc"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, input string) {
		if len(pat) > 40 || len(input) > 64 || regexp.MustCompile(`\d{3}`).MatchString(pat) {
			return // large repeat counts make regexp2 slow to compile, not wrong
		}
		t2, ok := ecmaToRE2(pat)
		if !ok || !utf8.ValidString(input) || !utf8.ValidString(pat) {
			return
		}
		re, err := regexp.Compile(t2)
		if err != nil || ecmaGroups(pat) != nil {
			return
		}
		bt, err := regexp2.Compile(ecmaToRegexp2(pat), regexp2.ECMAScript)
		if err != nil {
			return
		}
		bt.MatchTimeout = time.Second
		want, err := bt.MatchString(input)
		if err != nil {
			return
		}
		if got := re.MatchString(input); got != want {
			t.Errorf("pattern %q (RE2 %q) on %q: RE2 %v, ECMAScript %v", pat, t2, input, got, want)
		}
	})
}
