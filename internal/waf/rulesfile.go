package waf

import (
	"fmt"
	"strings"

	"github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/rampart-gw/rampart/internal/config/conf"
)

// directive is one logical SecLang directive of a file and the line it
// starts on (continuation lines ending in \ are joined, as Coraza does).
type directive struct {
	line int
	text string
}

// directives splits a SecLang file the way Coraza's parser reads it.
func directives(text string) []directive {
	var out []directive
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if cur.Len() == 0 && (line == "" || line[0] == '#') {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\"))
			continue
		}
		cur.WriteString(line)
		out = append(out, directive{line: start, text: cur.String()})
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, directive{line: start, text: cur.String()})
	}
	return out
}

// rulesFileError places Coraza's error about rules_file at its line:
// Coraza's messages do not carry one, so each directive is compiled alone
// and the first that fails with the same message is the culprit. Without
// one (an error that needs the CRS around it), the message stands at line 1.
func rulesFileError(file, text string, err error) error {
	line := 1
	for _, d := range directives(text) {
		_, derr := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(d.text))
		if derr != nil && strings.Contains(err.Error(), innermost(derr)) {
			line = d.line
			break
		}
	}
	return &conf.FieldError{Field: "rules_file", Index: -1, Msg: fmt.Sprintf("%s:%d: %s", file, line, innermost(err))}
}

// innermost is the last part of Coraza's chain of "context: cause"
// messages, the one that says what is wrong.
func innermost(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"invalid WAF config from string: ", "failed to parse string: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return msg
}
