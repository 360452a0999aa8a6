package scan

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Destructive-operation classification. A scan of a real API must not drop
// its database: VAmPI's GET /createdb re-seeds it, deleting the scan's own
// user halfway. An operation is skipped unless --include names it when a
// word of its path, operationId or summary is in destructiveWords (any
// method), or in writeOnlyWords for methods other than GET/HEAD/OPTIONS.

// destructiveWords change or destroy state whatever the method says.
var destructiveWords = []string{
	"createdb", "dropdb", "initdb", "resetdb", "seed", "seeds", "reseed", "populate",
	"delete", "remove", "destroy", "erase", "wipe", "purge", "flush", "truncate", "drop",
	"reset", "init", "initialize", "initialise", "setup", "install", "migrate", "migration",
	"clear", "cleanup", "shutdown", "restart", "reboot", "kill", "terminate", "stop",
	"logout", "signout", "revoke", // would end the scan's own session
	"disable", "deactivate", "suspend", "ban", "block",
}

// writeOnlyWords are alarming on a write, but ordinary on a read: an admin
// listing read with a low-privilege credential is what AUTHZ001 tests, and a
// GET that "creates" something is destructive (caught by the rule below).
var writeOnlyWords = []string{"admin", "create"}

// splitWords breaks a path, operationId or summary into lower-case words at
// / _ - . spaces, braces and camelCase boundaries: "createDB" → create, db;
// "/users/v1/_debug" → users, v1, debug.
func splitWords(s string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			continue
		case unicode.IsUpper(r) && len(cur) > 0:
			prevLower := unicode.IsLower(cur[len(cur)-1]) || unicode.IsDigit(cur[len(cur)-1])
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if prevLower || nextLower && unicode.IsUpper(cur[len(cur)-1]) {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return words
}

// destructiveWord returns the word that makes method+texts look destructive,
// or "". A whole lower-case segment ("createdb") counts as a word too.
func destructiveWord(method string, texts ...string) string {
	read := method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
	for _, t := range texts {
		words := splitWords(t)
		// "createdb" stays one word when written in lower case: also look at
		// joined neighbours ("create_db" → "createdb").
		for i, n := 0, len(words); i+1 < n; i++ {
			words = append(words, words[i]+words[i+1])
		}
		for _, w := range words {
			if slices.Contains(destructiveWords, w) {
				return w
			}
			if w == "create" && read {
				return w // a GET that creates has side effects
			}
			if !read && slices.Contains(writeOnlyWords, w) {
				return w
			}
		}
	}
	return ""
}

// OpPattern selects operations for --include and --exclude:
// "[METHOD ]PATH", where PATH is a glob over the documented path template
// (or the request path): * matches within one segment, ** across segments.
// "GET /createdb", "/users/*/password", "/admin/**", "* /debug/*".
type OpPattern struct {
	Method string // upper case; "" or "*" = any
	re     *regexp.Regexp
	raw    string
}

// ParseOpPattern parses an --include/--exclude pattern.
func ParseOpPattern(s string) (OpPattern, error) {
	s = strings.TrimSpace(s)
	method, path, ok := strings.Cut(s, " ")
	if !ok {
		method, path = "", s
	}
	path = strings.TrimSpace(path)
	method = strings.ToUpper(method)
	if method != "" && method != "*" && !validHeaderName(method) {
		return OpPattern{}, fmt.Errorf("pattern %q: %q is not a method", s, method)
	}
	if !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "*") {
		return OpPattern{}, fmt.Errorf("pattern %q: want [METHOD ]/path/glob", s)
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(path); i++ {
		switch {
		case strings.HasPrefix(path[i:], "**"):
			b.WriteString(".*")
			i++
		case path[i] == '*':
			b.WriteString("[^/]*")
		default:
			b.WriteString(regexp.QuoteMeta(path[i : i+1]))
		}
	}
	b.WriteString("/?$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return OpPattern{}, fmt.Errorf("pattern %q: %v", s, err)
	}
	if method == "*" {
		method = ""
	}
	return OpPattern{Method: method, re: re, raw: s}, nil
}

func (p OpPattern) String() string { return p.raw }

// Match reports whether the pattern names method and any of paths.
func (p OpPattern) Match(method string, paths ...string) bool {
	if p.re == nil || p.Method != "" && p.Method != method {
		return false
	}
	return slices.ContainsFunc(paths, p.re.MatchString)
}

func parsePatterns(list []string) ([]OpPattern, error) {
	var out []OpPattern
	for _, s := range list {
		p, err := ParseOpPattern(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// SkippedOperation is an operation the scan did not send, and why.
type SkippedOperation struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// allowed decides whether op may be sent; when not, it records why once.
func (s *scanner) allowed(op *Operation) bool {
	full := s.prefix + op.Path
	for _, p := range s.exclude {
		if p.Match(op.Method, op.Path, full) {
			s.skipOp(op, "(excluded by --exclude '"+p.String()+"')")
			return false
		}
	}
	w := destructiveWord(op.Method, op.Path, op.ID, op.Summary)
	if w == "" {
		return true
	}
	for _, p := range s.include {
		if p.Match(op.Method, op.Path, full) {
			return true
		}
	}
	s.skipOp(op, fmt.Sprintf("looks destructive (%q); name it with --include '%s %s' to scan it", w, op.Method, op.Path))
	return false
}

func (s *scanner) skipOp(op *Operation, why string) {
	for _, k := range s.rep.Skipped {
		if k.Method == op.Method && k.Path == op.Path {
			return
		}
	}
	k := SkippedOperation{Method: op.Method, Path: op.Path, Reason: why}
	s.rep.Skipped = append(s.rep.Skipped, k)
	s.note(k.note())
}

// note is how a skipped operation appears among the report's notes.
func (k SkippedOperation) note() string {
	return fmt.Sprintf("not sent: %s %s %s", k.Method, k.Path, k.Reason)
}

// --- the scan's own credential ---

// errCredDead stops authenticated requests once the credential died.
var errCredDead = errors.New("the scan's credential stopped working")

// pickCanary chooses the known-good authenticated read: a secured GET
// without path parameters that answered 2xx with the credential and 401/403
// without it (so a later 401 means the credential, not the example value).
func (s *scanner) pickCanary() {
	if !s.hasCreds() {
		return
	}
	s.canary = s.pickRead(func(ep *endpoint) bool {
		return ep.auth != nil && is2xx(ep.auth) && refused(ep.unauth) && !strings.Contains(ep.template, "{")
	})
	if s.canary == nil {
		s.canary = s.pickRead(func(ep *endpoint) bool { return ep.auth != nil && is2xx(ep.auth) && refused(ep.unauth) })
	}
}

// checkCredential re-sends the canary with the credential; a refusal where
// it was accepted means the scan's own credential died (the API revoked it,
// deleted its user, re-seeded its database). Authenticated requests stop.
func (s *scanner) checkCredential(ctx context.Context, after string) {
	if s.canary == nil || s.credDead || s.out(ctx) {
		return
	}
	ex := s.sendAuthed(ctx, s.canary, nil, kindProbe)
	if ex == nil || !refused(ex) {
		return
	}
	s.credDead = true
	s.note(fmt.Sprintf("the scan's credential stopped working during %s: %s %s answered %d with it at the start and %d now. "+
		"Authenticated checks after that point were stopped rather than reporting their noise; check what the scan called (or --exclude it) and run again.",
		after, s.canary.method, s.canary.template, s.canary.auth.status, ex.status))
}
