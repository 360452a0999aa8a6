package cors

import (
	"strings"
	"testing"
)

func TestOriginProblem(t *testing.T) {
	for o, want := range map[string]string{
		"null": "", "https://app.example.com": "", "http://localhost:3000": "", "https://*.example.com": "",
		"https://[::1]:8443": "", "https://10.0.0.1": "", "capacitor://localhost": "",
		"https://app.example.com/":  `must not end with "/"`,
		"https://app.example.com/x": "must not have a path",
		"https://app.example.com?q": "must not have a path",
		"HTTPS://app.example.com":   "must be lower case",
		"https://APP.example.com":   "must be lower case",
		"http://a.test:80":          "must not include the default port :80",
		"https://a.test:0":          "must have a port between 1 and 65535",
		"https://a.test:":           "has an empty port",
		"https://u@a.test":          "must not contain user info",
		"https://":                  "has no host",
		"https://*":                 "may use a wildcard only",
		"https://[zz]":              "has an invalid IPv6 address",
		"https://a b":               "has an invalid host",
		"app.example.com":           `must be "*", "null" or an origin`,
	} {
		got := originProblem(o)
		if (want == "") != (got == "") || !strings.HasPrefix(got, want) {
			t.Errorf("originProblem(%q) = %q, want prefix %q", o, got, want)
		}
	}
}
