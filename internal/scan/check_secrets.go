package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Credentials in response bodies (EXPO002), judged on every JSON response
// the scan receives, declared in the document or not.

// secretNames are property names (lower case, without _ and -) whose
// non-empty values are credentials or their hashes.
var secretNames = []string{"password", "passwd", "pwd", "pass", "passwordhash", "passhash", "hashedpassword",
	"passworddigest", "encryptedpassword", "passwordsalt", "salt", "hash", "secretkey", "clientsecret", "appsecret",
	"apisecret", "secretaccesskey", "apikey", "privatekey", "otpsecret", "mfasecret", "totpsecret", "mfaseed", "otpseed"}

// tokenNames are credential tokens: expected in a login or token answer,
// a leak anywhere else.
var tokenNames = []string{"token", "accesstoken", "refreshtoken", "authtoken", "sessiontoken", "apitoken", "idtoken",
	"resettoken", "bearertoken", "jwt"}

// reHashFormat matches password-hash encodings wherever they appear.
var reHashFormat = regexp.MustCompile(`^(?:\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}|\$argon2(?:id|i|d)\$\S+|\$scrypt\$\S+|\$7\$\S+|\$pbkdf2(?:-sha\d+)?\$\S+|pbkdf2_sha\d+\$\d+\$\S+|\$[156]\$[^$\s]{1,16}\$\S+)$`)

// reHexDigest is an MD5/SHA-1/SHA-256/SHA-512 hex digest.
var reHexDigest = regexp.MustCompile(`^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$`)

// reMasked is a value already hidden by the service.
var reMasked = regexp.MustCompile(`^(?:[*x•#.]+|\[?redacted\]?|\[?hidden\]?|null|none|undefined)$`)

// authWords mark operations whose answers legitimately carry tokens.
var authWords = []string{"login", "signin", "logon", "token", "tokens", "auth", "oauth", "oauth2", "session", "sessions",
	"authenticate", "authorize", "register", "signup", "refresh"}

func normName(k string) string {
	return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(k))
}

// secretLeak is one property that should not have left the service.
type secretLeak struct {
	path  string // JSON path of the property
	kind  string // "password", "password hash (bcrypt)"...
	value string
}

// findSecrets walks a JSON value for credential properties.
func findSecrets(v any, path string, authOp bool, own []string, out *[]secretLeak, d int) {
	if d > maxSchemaDepth || len(*out) >= maxUndeclared {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			p := path + k
			if sv, ok := x[k].(string); ok {
				if kind := secretKind(k, sv, authOp, own); kind != "" {
					*out = append(*out, secretLeak{path: p, kind: kind, value: sv})
				}
				continue
			}
			findSecrets(x[k], p+".", authOp, own, out, d+1)
		}
	case []any:
		for i, e := range x {
			if i == maxArrayItems {
				break
			}
			findSecrets(e, path+"[].", authOp, own, out, d+1)
		}
	}
}

// secretKind says what a string property leaks, or "".
func secretKind(key, v string, authOp bool, own []string) string {
	v = strings.TrimSpace(v)
	if v == "" || reMasked.MatchString(strings.ToLower(v)) {
		return ""
	}
	if m := reHashFormat.FindString(v); m != "" {
		return "password hash (" + hashName(v) + ")"
	}
	n := normName(key)
	switch {
	case slices.Contains(secretNames, n) || strings.HasSuffix(n, "password") || strings.HasSuffix(n, "secretkey") || strings.HasSuffix(n, "apikey"):
		if reHexDigest.MatchString(v) {
			return "unsalted hex digest under " + key
		}
		return "value of " + key
	case slices.Contains(tokenNames, n) && !authOp && !slices.Contains(own, v):
		return "token under " + key
	}
	return ""
}

func hashName(v string) string {
	switch {
	case strings.HasPrefix(v, "$2"):
		return "bcrypt"
	case strings.HasPrefix(v, "$argon2"):
		return "argon2"
	case strings.HasPrefix(v, "$scrypt$"), strings.HasPrefix(v, "$7$"):
		return "scrypt"
	case strings.Contains(v, "pbkdf2"):
		return "pbkdf2"
	}
	return "crypt"
}

// secretsInBody is the passive EXPO002 check.
func (s *scanner) secretsInBody(ex *exchange) {
	if !isJSON(ex) || len(ex.body) == 0 {
		return
	}
	s.jsonSeen = true
	var v any
	dec := json.NewDecoder(bytes.NewReader(ex.body))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return
	}
	path, _, _ := strings.Cut(ex.req.target, "?")
	authOp := isAuthOp(path)
	var leaks []secretLeak
	findSecrets(v, "", authOp, []string{s.opts.Token, s.opts.TokenB}, &leaks, 0)
	if len(leaks) == 0 {
		return
	}
	var what []string
	for _, l := range leaks {
		s.red.add(l.value)
		what = append(what, l.path+" ("+l.kind+")")
	}
	what = slices.Compact(what)
	s.found(hit{rule: "EXPO002", ex: ex, bodyAt: leaks[0].path[strings.LastIndexByte(leaks[0].path, '.')+1:],
		message: fmt.Sprintf("%s answered %d with credential material in the body (values redacted here): %s.", reqLine(s, ex), ex.status, strings.Join(what, ", ")),
		proof:   "non-empty credential properties: " + strings.Join(what, ", ")})
}

// isAuthOp reports whether a path names a login, token or session operation.
func isAuthOp(path string) bool {
	return slices.ContainsFunc(splitWords(path), func(w string) bool { return slices.Contains(authWords, w) })
}
