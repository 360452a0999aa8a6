package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// enumTries is how many interleaved pairs (unknown user, known user with a
// wrong password) each operation gets: enough to see a consistent gap, few
// enough not to lock the known account out (lockouts start at 5 or more).
const enumTries = 3

// maxEnumOps bounds the operations probed for user enumeration.
const maxEnumOps = 2

// enumWords mark login- and reset-like operations.
var enumWords = []string{"login", "signin", "logon", "authenticate", "auth", "session", "sessions", "token",
	"reset", "forgot", "recover", "recovery"}

var (
	reIdentityField = regexp.MustCompile(`(?i)^(user(_?name)?|login|e?mail|email_?address|account)$`)
	rePasswordField = regexp.MustCompile(`(?i)pass(word|wd)?$|^pwd$`)
)

// minTimingGap is the smallest timing difference reported, and the gap must
// also exceed the slowest unknown-user answer: a network hiccup cannot fake it.
const minTimingGap = 100 * time.Millisecond

// checkEnumeration is AUTH007.
func (s *scanner) checkEnumeration(ctx context.Context) {
	if !s.unsafeWithAPI("AUTH007", "login and reset operations are POST") {
		return
	}
	known := s.knownUsers()
	n := 0
	for _, op := range s.unsafe {
		if n == maxEnumOps || s.out(ctx) {
			break
		}
		words := append(splitWords(op.Path), splitWords(op.ID)...)
		if op.Method != http.MethodPost || !slices.ContainsFunc(words, func(w string) bool { return slices.Contains(enumWords, w) }) {
			continue
		}
		ov := objectView(op.Body, 0)
		idField, pwField := "", ""
		for _, k := range sortedKeys(ov.props) {
			switch {
			case idField == "" && reIdentityField.MatchString(k):
				idField = k
			case pwField == "" && rePasswordField.MatchString(k):
				pwField = k
			}
		}
		if idField == "" {
			continue
		}
		user := pickUser(known, strings.Contains(strings.ToLower(idField), "mail"))
		if user == "" {
			s.partial("AUTH007", "no known user name: give a --token whose claims name its user (sub, username or email)")
			continue
		}
		n++
		s.enumerate(ctx, op, idField, pwField, user)
	}
	if n == 0 {
		s.skipped("AUTH007", "no POST login/reset operation with a user name or e-mail field (registration is never probed: it creates accounts)")
		return
	}
	s.tested("AUTH007")
}

// knownUsers are user names the scan can name: --token's identity claims.
func (s *scanner) knownUsers() []string { return s.identities() }

func pickUser(known []string, email bool) string {
	for _, u := range known {
		if strings.Contains(u, "@") == email {
			return u
		}
	}
	return ""
}

func (s *scanner) enumerate(ctx context.Context, op *Operation, idField, pwField, user string) {
	unknownUser := "rampart-scan-nobody"
	if strings.Contains(user, "@") {
		unknownUser = "rampart-scan-nobody@example.invalid"
	}
	send := func(name string) *exchange {
		body, _ := sample(op.Body, 0).(map[string]any)
		if body == nil {
			body = map[string]any{}
		}
		body[idField] = name
		if pwField != "" {
			body[pwField] = "rampart-scan-wrong-password"
		}
		raw, _ := json.Marshal(body)
		return s.send(ctx, &request{method: op.Method, target: s.fill(op, nil), header: http.Header{"Content-Type": {"application/json"}}, body: raw, kind: kindProbe})
	}
	var unknown, knownEx []*exchange
	for range enumTries {
		u, k := send(unknownUser), send(user)
		if u == nil || k == nil || u.status == http.StatusTooManyRequests || k.status == http.StatusTooManyRequests {
			s.partial("AUTH007", fmt.Sprintf("%s %s: the tries were cut short (budget or 429)", op.Method, op.Path))
			return
		}
		unknown, knownEx = append(unknown, u), append(knownEx, k)
	}
	key := op.Method + " " + op.Path
	us, ks := answerShape(unknown[0], unknownUser), answerShape(knownEx[0], user)
	if stable(unknown, unknownUser) && stable(knownEx, user) && us != ks {
		what := "a different body"
		if unknown[0].status != knownEx[0].status {
			what = fmt.Sprintf("status %d instead of %d", knownEx[0].status, unknown[0].status)
		}
		s.found(hit{rule: "AUTH007", ex: knownEx[0], baseline: unknown[0], key: key, bodyAt: "*",
			message: fmt.Sprintf("%s %s answers a known user with a wrong password with %s than an unknown user, every time (%d tries each): it tells which accounts exist.", op.Method, op.Path, what, enumTries),
			proof:   fmt.Sprintf("unknown user → %s; known user, wrong password → %s", clip(us, 160), clip(ks, 160))})
		return
	}
	slowestUnknown, fastestKnown := slowest(unknown), fastest(knownEx)
	if gap := fastestKnown - slowestUnknown; gap >= minTimingGap && gap >= slowestUnknown {
		s.found(hit{rule: "AUTH007", ex: knownEx[0], baseline: unknown[0], key: key,
			message: fmt.Sprintf("%s %s answers the same way, but a known user with a wrong password always takes longer: the fastest of %d tries took %s, the slowest unknown-user try %s (the password is checked only for existing users).",
				op.Method, op.Path, enumTries, fastestKnown.Round(time.Millisecond), slowestUnknown.Round(time.Millisecond)),
			proof: fmt.Sprintf("%d interleaved tries each: unknown user at most %s; known user at least %s", enumTries, slowestUnknown.Round(time.Millisecond), fastestKnown.Round(time.Millisecond))})
	}
}

// answerShape is the status and the body with the user name taken out.
func answerShape(ex *exchange, user string) string {
	body := bytes.ReplaceAll(ex.body, []byte(user), []byte("{user}"))
	var v any
	if json.Unmarshal(body, &v) == nil {
		body, _ = json.Marshal(v)
	}
	return fmt.Sprintf("%d %s", ex.status, bytes.TrimSpace(body))
}

// stable reports whether every answer has the same shape: a body carrying
// a timestamp or request id cannot be compared.
func stable(exs []*exchange, user string) bool {
	for _, ex := range exs[1:] {
		if answerShape(ex, user) != answerShape(exs[0], user) {
			return false
		}
	}
	return true
}

func slowest(exs []*exchange) time.Duration {
	var d time.Duration
	for _, ex := range exs {
		d = max(d, ex.elapsed)
	}
	return d
}

func fastest(exs []*exchange) time.Duration {
	d := exs[0].elapsed
	for _, ex := range exs {
		d = min(d, ex.elapsed)
	}
	return d
}
