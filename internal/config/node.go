package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v4"

	"github.com/rampart-gw/rampart/internal/config/conf"
)

// parser walks the yaml.Node tree, converting and validating as it goes, and collects
// every problem instead of stopping at the first.
type parser struct {
	file string
	env  func(string) (string, bool)
	errs Errors
	// refused holds nodes already reported: by checkStructure (unsupported tags), so
	// that they fail type checks silently, and list entries refused by decode, so that
	// a control's Validate findings about them are not reported. One problem gives one
	// error.
	refused map[*yaml.Node]bool
	// fromEnv are the scalars that took text from ${VAR}s (see Config.FromEnv).
	fromEnv []string
	// suggestSpent is the edit-distance work done so far (see suggestBudget).
	suggestSpent int
	// pos records where each key, definition and list entry was read, for
	// Config.At.
	pos map[string]conf.Pos
}

// refuse marks n as reported (see refused).
func (p *parser) refuse(n *yaml.Node) {
	if p.refused == nil {
		p.refused = map[*yaml.Node]bool{}
	}
	p.refused[n] = true
}

// join extends a position path (see Config.At) by one element.
func join(path, elem string) string {
	if path == "" {
		return elem
	}
	return path + "/" + elem
}

// record notes n's position under path.
func (p *parser) record(path string, n *yaml.Node) {
	if p.pos == nil {
		p.pos = map[string]conf.Pos{}
	}
	p.pos[path] = posOf(n)
}

// errAt records a problem at n's position (1:1 when n has none).
func (p *parser) errAt(n *yaml.Node, format string, args ...any) {
	line, col := 1, 1
	if n != nil && n.Line > 0 {
		line = n.Line
		if n.Column > 0 {
			col = n.Column
		}
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

func posOf(n *yaml.Node) conf.Pos {
	if n == nil {
		return conf.Pos{}
	}
	return conf.Pos{Line: n.Line, Col: n.Column}
}

// value is a scalar after ${VAR} interpolation.
type value struct {
	s    string
	node *yaml.Node
	env  bool // interpolation substituted at least one variable
}

// show renders the value for an error message. A value that took anything from the
// environment is shown as written in the file (variable names only), never expanded,
// so that environment values (which may be secrets) do not end up in messages.
func (v value) show() string {
	if v.env {
		return quoteTrunc(v.node.Value) + " (after interpolation)"
	}
	return quoteTrunc(v.s)
}

// quoteTrunc quotes s for a message, cutting it short if it is long.
func quoteTrunc(s string) string {
	const maxRunes = 64
	if utf8.RuneCountInString(s) > maxRunes {
		i, n := 0, 0
		for i = range s {
			if n == maxRunes {
				break
			}
			n++
		}
		return strconv.Quote(s[:i]) + "…"
	}
	return strconv.Quote(s)
}

// describe names the YAML type of n for "got ..." in type errors.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!str":
			return "a string"
		}
		return "a scalar"
	}
	return "nothing"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// expect checks n's kind, reporting "SUBJECT must be WANT, got ...". Aliases and nodes
// with refused tags fail silently: checkStructure already reported them.
func (p *parser) expect(n *yaml.Node, kind yaml.Kind, subject, want string) bool {
	if p.refused[n] {
		return false
	}
	if n.Kind == kind && !(kind == yaml.ScalarNode && isNull(n)) {
		return true
	}
	if n.Kind != yaml.AliasNode {
		p.errAt(n, "%s must be %s, got %s", subject, want, describe(n))
	}
	return false
}

// scalar returns n's interpolated text; n must be a non-null scalar.
func (p *parser) scalar(n *yaml.Node, subject, want string) (value, bool) {
	if !p.expect(n, yaml.ScalarNode, subject, want) {
		return value{}, false
	}
	s, env, ok := p.interpolate(n, subject)
	if env && s != "" {
		p.fromEnv = append(p.fromEnv, s)
	}
	return value{s: s, node: n, env: env}, ok
}

// interpolate expands ${NAME} in n.Value; $$ is a literal $, and any other $ is kept
// as is. Problems name only variables and positions, never values.
func (p *parser) interpolate(n *yaml.Node, subject string) (out string, env, ok bool) {
	s := n.Value
	if !strings.Contains(s, "$") {
		return s, false, true
	}
	var b strings.Builder
	ok = true
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) || (s[i+1] != '$' && s[i+1] != '{') {
			b.WriteByte(c)
			i++
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			i += 2
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			p.errAt(n, `%s: unterminated "${" (write "$$" for a literal "$")`, subject)
			return "", env, false
		}
		name := s[i+2 : i+2+end]
		if !validEnvName(name) {
			p.errAt(n, `%s: malformed "${...}": a variable name is a letter or "_" followed by letters, digits or "_" (write "$$" for a literal "$")`, subject)
			return "", env, false
		}
		v, set := p.env(name)
		if !set {
			p.errAt(n, "%s: environment variable %q is not set", subject, name)
			ok = false
		}
		b.WriteString(v)
		env = true
		i += 2 + end + 1
	}
	return b.String(), env, ok
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// kv is one entry of a mapping.
type kv struct {
	name     string
	key, val *yaml.Node
}

// entries returns a mapping's entries in order. It reports non-string keys and
// duplicate keys (keeping the first), and skips merge keys (reported by checkStructure).
func (p *parser) entries(n *yaml.Node, subject string) ([]kv, bool) {
	if !p.expect(n, yaml.MappingNode, subject, "a mapping") {
		return nil, false
	}
	out := make([]kv, 0, len(n.Content)/2)
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			if k.Kind != yaml.AliasNode {
				p.errAt(k, "%s: keys must be strings, got %s", subject, describe(k))
			}
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.errAt(k, "duplicate key %s in %s (first at line %d)", quoteTrunc(k.Value), subject, first.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, kv{name: k.Value, key: k, val: v})
	}
	return out, true
}

// fields is a mapping with a fixed set of known keys.
type fields struct {
	p    *parser
	at   *yaml.Node // position for "X is required" problems
	ctx  string     // prefix for messages, e.g. `route "items"`
	path string     // position path of the mapping, e.g. "routes/0" (see Config.At)
	vals map[string]*yaml.Node
	keys map[string]*yaml.Node
	bad  bool // the node was not a mapping (reported); required keys are not reported
}

// fields checks that n is a mapping with only known keys. at is where problems about
// missing keys are reported (the section's key, or n itself). It never returns nil; a
// node of the wrong kind gives an empty set of fields.
func (p *parser) fields(n, at *yaml.Node, ctx, path string, known []string) *fields {
	f := &fields{p: p, at: at, ctx: ctx, path: path, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	if at == nil {
		f.at = n
	}
	es, ok := p.entries(n, ctx)
	if !ok {
		f.bad = true
		return f
	}
	knownList := ""
	for _, e := range es {
		if !contains(known, e.name) {
			if knownList == "" {
				knownList = strings.Join(known, ", ")
			}
			msg := fmt.Sprintf("unknown key %s in %s (known: %s)", quoteTrunc(e.name), ctx, knownList)
			if s := p.suggest(e.name, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			p.errAt(e.key, "%s", msg)
			continue
		}
		f.vals[e.name] = e.val
		f.keys[e.name] = e.key
		p.record(join(path, e.name), e.val)
	}
	return f
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// subject is how messages name key: `CTX: KEY`.
func (f *fields) subject(key string) string {
	if f.ctx == "" || f.ctx == topLevel {
		return key
	}
	return f.ctx + ": " + key
}

// errf reports a problem about key's value.
func (f *fields) errf(key, format string, args ...any) {
	n := f.vals[key]
	if n == nil {
		n = f.at
	}
	f.p.errAt(n, "%s %s", f.subject(key), fmt.Sprintf(format, args...))
}

// missing reports that a required key is absent.
func (f *fields) missing(key string) {
	if f.bad {
		return
	}
	f.p.errAt(f.at, "%s is required", f.subject(key))
}

func (f *fields) has(key string) bool { return f.vals[key] != nil }

// str returns key's string value; ok is false when absent or invalid (reported).
func (f *fields) str(key string) (value, bool) {
	n := f.vals[key]
	if n == nil {
		return value{}, false
	}
	return f.p.scalar(n, f.subject(key), "a string")
}

// reqStr is str for a required, non-empty key.
func (f *fields) reqStr(key string) (value, bool) {
	if !f.has(key) {
		f.missing(key)
		return value{}, false
	}
	v, ok := f.str(key)
	if ok && v.s == "" {
		f.errf(key, "must not be empty")
		return v, false
	}
	return v, ok
}

// boolean sets *dst from key when present.
func (f *fields) boolean(key string, dst *bool) bool {
	n := f.vals[key]
	if n == nil {
		return false
	}
	v, ok := f.p.scalar(n, f.subject(key), "a boolean (true or false)")
	if !ok {
		return false
	}
	switch v.s {
	case "true", "True", "TRUE":
		*dst = true
	case "false", "False", "FALSE":
		*dst = false
	default:
		f.errf(key, "must be a boolean (true or false), got %s", v.show())
		return false
	}
	return true
}

// number returns key's numeric value (an integer or a decimal such as 0.25);
// ok is false when absent or invalid (reported).
func (f *fields) number(key string) (float64, bool) {
	n := f.vals[key]
	if n == nil {
		return 0, false
	}
	v, ok := f.p.scalar(n, f.subject(key), "a number")
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseFloat(v.s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		f.errf(key, "must be a number such as 0.25, got %s", v.show())
		return 0, false
	}
	return x, true
}

// integer returns key's integer value; ok is false when absent or invalid (reported).
func (f *fields) integer(key string) (int, bool) {
	n := f.vals[key]
	if n == nil {
		return 0, false
	}
	v, ok := f.p.scalar(n, f.subject(key), "an integer")
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(v.s, 10, 32)
	if err != nil {
		if ne, _ := err.(*strconv.NumError); ne != nil && ne.Err == strconv.ErrRange {
			f.errf(key, "is out of range, got %s", v.show())
		} else {
			f.errf(key, "must be an integer, got %s", v.show())
		}
		return 0, false
	}
	return int(i), true
}

// duration returns key's duration value (Go syntax: 5s, 1m30s, 250ms); a bare number is
// refused because its unit would be a guess.
func (f *fields) duration(key string) (time.Duration, bool) {
	n := f.vals[key]
	if n == nil {
		return 0, false
	}
	v, ok := f.p.scalar(n, f.subject(key), "a duration such as 30s")
	if !ok {
		return 0, false
	}
	if isBareNumber(v.s) {
		f.errf(key, "must be a duration with a unit, such as 30s, 1m30s or 250ms; got the bare number %s", v.show())
		return 0, false
	}
	d, err := time.ParseDuration(v.s)
	if err != nil {
		f.errf(key, "must be a duration such as 30s, 1m30s or 250ms, got %s", v.show())
		return 0, false
	}
	return d, true
}

// isBareNumber reports whether s is a number without a unit, such as 30, -1 or 1.5.
func isBareNumber(s string) bool {
	digits := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			digits = true
		case c == '.' || (i == 0 && (c == '-' || c == '+')):
		default:
			return false
		}
	}
	return digits
}

// positiveDuration sets *dst from key when present, requiring > 0.
func (f *fields) positiveDuration(key string, dst *time.Duration) {
	d, ok := f.duration(key)
	if !ok {
		return
	}
	if d <= 0 {
		f.errf(key, "must be greater than 0")
		return
	}
	*dst = d
}

// list returns key's items, checking it is a list; ok is false when absent or invalid.
func (f *fields) list(key, want string) ([]*yaml.Node, bool) {
	n := f.vals[key]
	if n == nil {
		return nil, false
	}
	if !f.p.expect(n, yaml.SequenceNode, f.subject(key), want) {
		return nil, false
	}
	return n.Content, true
}

// strList returns key's list of strings; items of the wrong type are reported and
// dropped. ok is false when the key is absent or is not a list.
func (f *fields) strList(key string) ([]value, bool) {
	items, ok := f.list(key, "a list of strings")
	if !ok {
		return nil, false
	}
	out := make([]value, 0, len(items))
	for i, it := range items {
		f.p.record(join(join(f.path, key), strconv.Itoa(i)), it)
		if v, ok := f.p.scalar(it, f.subject(key)+" entries", "strings"); ok {
			out = append(out, v)
		}
	}
	return out, true
}

// nonEmptyStrList is strList requiring at least one entry and no empty strings.
func (f *fields) nonEmptyStrList(key string, required bool) ([]value, bool) {
	if !f.has(key) {
		if required {
			f.missing(key)
		}
		return nil, false
	}
	vs, ok := f.strList(key)
	if !ok {
		return nil, false
	}
	if len(f.vals[key].Content) == 0 {
		f.errf(key, "must not be empty")
		return nil, false
	}
	out := vs[:0:0]
	for _, v := range vs {
		if v.s == "" {
			f.p.errAt(v.node, "%s entries must not be empty", f.subject(key))
			continue
		}
		out = append(out, v)
	}
	return out, true
}

// noDuplicates reports repeated values (compared by norm) at the repeat.
func (p *parser) noDuplicates(vs []value, subject string, norm func(string) string) []value {
	seen := make(map[string]*yaml.Node, len(vs))
	out := vs[:0:0]
	for _, v := range vs {
		k := v.s
		if norm != nil {
			k = norm(k)
		}
		if first, dup := seen[k]; dup {
			p.errAt(v.node, "%s lists %s twice (first at line %d)", subject, v.show(), first.Line)
			continue
		}
		seen[k] = v.node
		out = append(out, v)
	}
	return out
}

func strs(vs []value) []string {
	if len(vs) == 0 {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.s
	}
	return out
}
