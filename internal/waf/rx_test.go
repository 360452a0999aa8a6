package waf

import (
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// rxPatterns are CRS-like @rx patterns: large case-insensitive
// alternations, anchors with (?m), captures, classes, counted repeats.
var rxPatterns = []string{
	`(?i)(?:union\s+(?:all\s+)?select|select\s+.+\s+from|insert\s+into|drop\s+table)`,
	`(?i)<script[^>]*>[\s\S]*?`,
	`(?i)\b(?:eval|exec|system|passthru)\s*\(`,
	`^[\d.:]+$`,
	`(?i)(\w+)=(\d{2,})`,
	`(?:\.\./|\.\.\\){2,}`,
	`(?i)^(?:get|post|put)$`,
	`[\x{100}-\x{10FFFF}]{3}`,
	`(?i)k`, // folds to KELVIN SIGN
	`<[^>]*script`,
	`(?i)on\w*.load\s*=`,
}

var rxInputs = []string{
	"", "x' UNION SELECT password FROM users--", "<SCRIPT src=x>", "please select the best option from the list",
	"exec (ls)", "127.0.0.1", "a=12&b=3", "../../etc/passwd", "..\\..\\..\\win.ini", "GET", "get\npost",
	"line one\nPOST", "日本語のテキスト", "ab", "\u212a", "système", "évalue", "evaluate(x)",
}

// capturer is a TransactionState that records captures (the operator
// uses nothing else of it).
type capturer struct {
	plugintypes.TransactionState
	capturing bool
	got       map[int]string
}

func (c *capturer) Capturing() bool { return c.capturing }
func (c *capturer) CaptureField(i int, v string) {
	if c.got == nil {
		c.got = map[int]string{}
	}
	c.got[i] = v
}

func operator(t testing.TB, pattern string) plugintypes.Operator {
	t.Helper()
	op, err := newRX(plugintypes.OperatorOptions{Arguments: pattern})
	if err != nil {
		t.Fatalf("%s: %v", pattern, err)
	}
	return op
}

// The RE2 operator decides and captures as Go's regexp does (the engine
// Coraza's own operator uses), including on invalid UTF-8, which RE2 alone
// would stop reading at.
func TestRXAgreesWithGoRegexp(t *testing.T) {
	// RE2 matches neither . nor [^>] on an invalid byte: "<\xffscript"
	// would pass it.
	inputs := append(rxInputs, "\xff<script>alert(1)</script>", "ok\xc3(select * from users)", "\x80../../..\\..\\",
		"<\xffscript>", "<img onx\xffload=alert(1)>", "a=1\xff2")
	for _, p := range rxPatterns {
		op, std := operator(t, p), regexp.MustCompile("(?sm)"+p)
		for _, in := range inputs {
			want := std.FindStringSubmatch(in)
			c := &capturer{capturing: true}
			if got := op.Evaluate(c, in); got != (want != nil) {
				t.Errorf("%s on %q: %v, Go's regexp says %v", p, in, got, want != nil)
				continue
			}
			for i, w := range want {
				if c.got[i] != w {
					t.Errorf("%s on %q: capture %d = %q, want %q", p, in, i, c.got[i], w)
				}
			}
			if got := op.Evaluate(&capturer{}, in); got != (want != nil) {
				t.Errorf("%s on %q without capture: %v", p, in, got)
			}
		}
	}
}

// A payload with an invalid UTF-8 byte inside is still seen: RE2 matches
// neither . nor a negated class on it.
func TestAttackAfterInvalidUTF8IsBlocked(t *testing.T) {
	p := pl1(t)
	for _, target := range []string{"/search?q=%3Cscript%ff%3Ealert(document.cookie)%3C/script%3E", "/search?q=%3Cbody%20onload%ff=alert(1)%3E",
		"/users?name=x%27%20UNION%ff%20SELECT%20password%20FROM%20users--"} {
		if res := inspect(t, p, "GET", target, "", ""); res == nil || !res.Blocked {
			t.Errorf("%s passed: %+v", target, res)
		}
	}
}

// Patterns of raw bytes (the CRS's malformed-encoding rules) match bytes,
// as Coraza's own operator makes them.
func TestRXByteSpelledPatterns(t *testing.T) {
	op := operator(t, `\xbc[^\xbe>]*[\xbe>]`) // 941310's shape
	if !op.Evaluate(&capturer{}, "\xbcscript\xbe") || op.Evaluate(&capturer{}, "plain text") {
		t.Error("a byte pattern does not match bytes")
	}
	if _, ok := op.(*binaryRX); !ok {
		t.Errorf("a byte pattern got %T", op)
	}
}

func TestMinLenIsALowerBound(t *testing.T) {
	for _, p := range rxPatterns {
		op := operator(t, p).(*rx)
		std := regexp.MustCompile("(?sm)" + p)
		for _, in := range rxInputs {
			if loc := std.FindStringIndex(in); loc != nil && loc[1]-loc[0] < op.minLen {
				t.Errorf("%s: a %d-byte match under minLen %d", p, loc[1]-loc[0], op.minLen)
			}
		}
	}
}

// FuzzRXAgreesWithGoRegexp checks the RE2 operator against Go's regexp on
// arbitrary values (valid UTF-8 or not) for the patterns above.
func FuzzRXAgreesWithGoRegexp(f *testing.F) {
	for _, in := range rxInputs {
		f.Add(in)
	}
	f.Add("\xff<script>")
	ops := make([]plugintypes.Operator, len(rxPatterns))
	stds := make([]*regexp.Regexp, len(rxPatterns))
	for i, p := range rxPatterns {
		ops[i], stds[i] = operator(f, p), regexp.MustCompile("(?sm)"+p)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for i := range ops {
			want := stds[i].MatchString(in)
			if got := ops[i].Evaluate(&capturer{}, in); got != want {
				t.Fatalf("%s on %q (valid UTF-8: %v): %v, Go's regexp says %v", rxPatterns[i], in, utf8.ValidString(in), got, want)
			}
		}
	})
}
