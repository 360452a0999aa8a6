package scan

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Redacted replaces every secret in reports.
const Redacted = "[REDACTED]"

// redactor removes secrets from anything that reaches a report: the scan's
// own credentials (wherever they are echoed), credential-looking values in
// bodies and URLs. It is applied to evidence, proofs and messages alike, so
// a check cannot forget it.
type redactor struct {
	secrets []string // exact values, longest first
}

func newRedactor(secrets ...string) *redactor {
	r := &redactor{}
	for _, s := range secrets {
		if len(s) >= 4 {
			r.secrets = append(r.secrets, s)
		}
	}
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	return r
}

var (
	// scheme://user:password@host — the password group is replaced.
	reURLPassword = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:/@"'<>]{1,100}:)([^\s@/"'<>]{1,200})(@)`)
	reJWT         = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	reBearer      = regexp.MustCompile(`(?i)\b(bearer|basic|token)(\s+)([A-Za-z0-9._~+/=-]{8,})`)
	// NAME=value and "name": "value" where NAME contains a secret word
	// (DB_PASSWORD=, SECRET_KEY=, "supplier_token": ...).
	reKeyValue   = regexp.MustCompile(`(?i)([\w.-]{0,40}(?:password|passwd|pwd|secret|api[_-]?key|apikey|token|private[_-]?key)[\w.-]{0,40}["']?\s*[:=]\s*["']?)([^\s"'&,;<>]{1,200})`)
	rePrivateKey = regexp.MustCompile(`-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)`)
	reAWSKey     = regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`)
)

// text redacts s.
func (r *redactor) text(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	s = rePrivateKey.ReplaceAllString(s, "-----BEGIN ${1}PRIVATE KEY----- "+Redacted)
	s = reURLPassword.ReplaceAllString(s, "${1}"+Redacted+"${3}")
	s = reJWT.ReplaceAllString(s, Redacted)
	s = reBearer.ReplaceAllStringFunc(s, func(m string) string {
		sub := reBearer.FindStringSubmatch(m)
		if sub[3] == Redacted || strings.HasPrefix(sub[3], "[") {
			return m
		}
		return sub[1] + sub[2] + Redacted
	})
	s = reKeyValue.ReplaceAllStringFunc(s, func(m string) string {
		sub := reKeyValue.FindStringSubmatch(m)
		if strings.HasPrefix(sub[2], "[REDACTED") {
			return m
		}
		return sub[1] + Redacted
	})
	s = reAWSKey.ReplaceAllString(s, "${1}"+Redacted)
	return s
}

// secretQueryParams are query parameter names whose values never appear in reports.
var secretQueryParams = []string{"token", "access_token", "id_token", "refresh_token", "api_key", "apikey", "key",
	"password", "passwd", "secret", "client_secret", "sig", "signature", "auth", "jwt", "session"}

// url redacts a URL: userinfo, secret query parameters, then text rules.
func (r *redactor) url(raw string) string {
	base, query, hasQuery := strings.Cut(raw, "?")
	if hasQuery {
		parts := strings.Split(query, "&")
		for i, p := range parts {
			name, _, hasValue := strings.Cut(p, "=")
			n, err := url.QueryUnescape(name)
			if err != nil {
				n = name
			}
			if hasValue && slices.Contains(secretQueryParams, strings.ToLower(n)) {
				parts[i] = name + "=" + Redacted
			}
		}
		raw = base + "?" + strings.Join(parts, "&")
	}
	return r.text(raw)
}

// sensitiveHeaders never show their values, whatever they hold.
var sensitiveHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
	"X-Api-Key", "X-Auth-Token", "X-Access-Token", "Api-Key", "X-Csrf-Token"}

func isSensitiveHeader(name string, extra string) bool {
	if extra != "" && strings.EqualFold(name, extra) {
		return true
	}
	for _, h := range sensitiveHeaders {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	return false
}

// header redacts one header value. Authorization keeps its scheme
// ("Bearer [REDACTED]"); Set-Cookie keeps the cookie name and attributes.
func (r *redactor) header(name, value, apiKeyHeader string) string {
	if !isSensitiveHeader(name, apiKeyHeader) {
		return r.text(value)
	}
	switch {
	case strings.EqualFold(name, "Authorization") || strings.EqualFold(name, "Proxy-Authorization"):
		if scheme, _, ok := strings.Cut(value, " "); ok {
			return scheme + " " + Redacted
		}
	case strings.EqualFold(name, "Set-Cookie"):
		if n, rest, ok := strings.Cut(value, "="); ok {
			attrs := ""
			if _, a, ok := strings.Cut(rest, ";"); ok {
				attrs = ";" + a
			}
			return n + "=" + Redacted + attrs
		}
	case strings.EqualFold(name, "Cookie"):
		var out []string
		for _, c := range strings.Split(value, ";") {
			n, _, _ := strings.Cut(strings.TrimSpace(c), "=")
			out = append(out, n+"="+Redacted)
		}
		return strings.Join(out, "; ")
	}
	return Redacted
}
