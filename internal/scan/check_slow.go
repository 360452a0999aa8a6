package scan

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Resource-consumption hints (DOS001), --allow-slow only: a value that
// makes a backtracking regular expression explode is a run of matching
// characters followed by one that fails the match. Each field gets a short
// value, then longer ones, and the escalation stops at the first slow answer.

const (
	maxSlowFields = 6
	slowGap       = 500 * time.Millisecond // at least this much slower...
	slowFactor    = 10                     // ...and this many times slower than the short value
)

// slowLengths are the run lengths tried after the short one; a quadratic
// or exponential matcher shows at the last, a linear one never does.
var slowLengths = []int{12, 18, 24}

func slowValue(n int) string { return strings.Repeat("a", n) + "!" }

// slowField is one string input: build gives the request for a value.
type slowField struct {
	name  string
	where string
	build func(v string) *request
}

func (s *scanner) checkSlow(ctx context.Context) {
	if !s.opts.AllowSlow {
		s.skipped("DOS001", "needs --allow-slow (it may make a vulnerable service busy for seconds)")
		return
	}
	fields := s.slowFields()
	if len(fields) == 0 {
		s.skipped("DOS001", "no string parameter or body property to probe")
		return
	}
	s.tested("DOS001")
	for _, f := range fields {
		if s.out(ctx) || s.credDead {
			break
		}
		short := s.send(ctx, f.build(slowValue(4)))
		if short == nil {
			continue
		}
		for _, n := range slowLengths {
			long := s.send(ctx, f.build(slowValue(n)))
			if long == nil || !isSlow(long, short) {
				continue
			}
			again := s.send(ctx, f.build(slowValue(n))) // once more: not a hiccup
			if again != nil && isSlow(again, short) {
				s.found(hit{rule: "DOS001", ex: again, baseline: short, key: f.where,
					message: fmt.Sprintf("%s: a %d-character crafted value took %s (twice) where a 5-character one took %s: the input is likely matched by a backtracking regular expression or processed in super-linear time.",
						f.where, n+1, again.elapsed.Round(time.Millisecond), short.elapsed.Round(time.Millisecond)),
					proof: fmt.Sprintf("\"a\"×4+\"!\" → %s; \"a\"×%d+\"!\" → %s and %s", short.elapsed.Round(time.Millisecond), n, long.elapsed.Round(time.Millisecond), again.elapsed.Round(time.Millisecond))})
			}
			break // never escalate past a slow answer
		}
	}
}

func isSlow(ex, short *exchange) bool {
	return ex.elapsed >= short.elapsed+slowGap && ex.elapsed >= slowFactor*short.elapsed
}

// slowFields lists string query and path parameters of the probed GET
// operations and, with --allow-unsafe, string properties of write bodies.
func (s *scanner) slowFields() []slowField {
	var out []slowField
	for _, ep := range s.eps {
		if ep.op == nil || is5xx(ep.best()) {
			continue
		}
		for _, p := range ep.op.Params {
			if (p.In != "query" && p.In != "path") || p.Schema == nil || !p.Schema.is("string") || p.Schema.Format != "" {
				continue
			}
			key := p.In + ":" + p.Name
			out = append(out, slowField{name: p.Name, where: fmt.Sprintf("%s %s (%s parameter %s)", ep.method, ep.template, p.In, p.Name),
				build: func(v string) *request {
					h, q := http.Header{}, ""
					if ep.auth != nil {
						h, q = s.credential(ep.op)
					}
					return &request{method: ep.method, target: withQuery(s.fill(ep.op, map[string]string{key: url.QueryEscape(v)}), q), header: h, kind: kindProbe, creds: ep.auth != nil}
				}})
		}
	}
	if !s.opts.AllowUnsafe {
		return byLikelyRegex(out)
	}
	for _, op := range s.unsafe {
		ov := objectView(op.Body, 0)
		for _, name := range sortedKeys(ov.props) {
			if sc := ov.props[name]; sc == nil || !sc.is("string") || len(sc.Enum) > 0 {
				continue
			}
			out = append(out, slowField{name: name, where: fmt.Sprintf("%s %s (body property %s)", op.Method, op.Path, name),
				build: func(v string) *request {
					body, _ := sample(op.Body, 0).(map[string]any)
					if body == nil {
						body = map[string]any{}
					}
					body[name] = v
					return s.writeRequest(op, body)
				}})
		}
	}
	return byLikelyRegex(out)
}

// reRegexField names inputs usually checked with a regular expression.
var reRegexField = regexp.MustCompile(`(?i)mail|url|uri|phone|pattern|regex|search|query|filter|^q$`)

// byLikelyRegex puts the fields most likely validated by a regular
// expression first, so the bound keeps the interesting ones.
func byLikelyRegex(fields []slowField) []slowField {
	slices.SortStableFunc(fields, func(a, b slowField) int {
		return cmp.Compare(b2i(reRegexField.MatchString(b.name)), b2i(reRegexField.MatchString(a.name)))
	})
	return fields[:min(len(fields), maxSlowFields)]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func is5xx(ex *exchange) bool { return ex == nil || ex.status >= 500 }
