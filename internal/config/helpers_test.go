package config

import (
	"strings"
	"testing"
)

func TestListenersConflict(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{":8080", ":8080", true},
		{":8080", "127.0.0.1:8080", true},
		{"0.0.0.0:8080", "10.0.0.1:8080", true},
		{"[::]:8080", "127.0.0.1:8080", true},
		{"127.0.0.1:8080", "127.0.0.1:8080", true},
		{"127.0.0.1:8080", "127.0.0.2:8080", false},
		{"localhost:8080", "LOCALHOST:8080", true},
		{"localhost:8080", "127.0.0.1:8080", false}, // a name and an address: cannot tell, not refused
		{":8080", ":8081", false},
		{":0", ":0", false},
	} {
		if got := listenersConflict(c.a, c.b); got != c.want {
			t.Errorf("listenersConflict(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestListenProblem(t *testing.T) {
	for addr, ok := range map[string]bool{
		":8080": true, "127.0.0.1:0": true, "[::1]:9901": true, "gw.internal:443": true, "my_service:80": true,
		"8080": false, ":": false, ":65536": false, ":-1": false, "[::1]": false, "a b:80": false, "::1:80": false,
	} {
		if got := listenProblem(addr) == ""; got != ok {
			t.Errorf("listenProblem(%q) ok = %v, want %v", addr, got, ok)
		}
	}
}

func TestRouteHost(t *testing.T) {
	for in, want := range map[string]string{
		"API.Example.com": "api.example.com", "10.0.0.1": "10.0.0.1", "[::1]": "[::1]", "[2001:DB8::1]": "[2001:db8::1]",
		"example.com.": "", "::1": "", "a.test:80": "", "[::1]:80": "", "*.a.test": "", "a..b": "", "-a.test": "", "[fe80::1%eth0]": "",
	} {
		got, prob := routeHost(in)
		if got != want || (want == "") != (prob != "") {
			t.Errorf("routeHost(%q) = %q, %q; want %q", in, got, prob, want)
		}
	}
}

func TestWebURLProblem(t *testing.T) {
	for u, want := range map[string]string{
		"https://idp.test/":              "",
		"https://idp.test:8443/realms/x": "",
		"http://localhost:8080/":         "",
		"http://127.0.0.1/":              "",
		"http://[::1]:8080/":             "",
		"http://idp.test/":               "must use https://",
		"ftp://idp.test/":                "must be an absolute https:// URL",
		"/relative":                      "must be an absolute https:// URL",
		"https://user:pw@idp.test/":      "must not contain credentials",
		"https://idp.test/#frag":         "must not have a fragment",
		"https://idp.test:99999/":        "must have a port",
		"https:///path":                  "must have a valid host",
	} {
		got := webURLProblem(u)
		if (want == "") != (got == "") || !strings.HasPrefix(got, want) {
			t.Errorf("webURLProblem(%q) = %q, want prefix %q", u, got, want)
		}
	}
}

func TestTypeNamesInErrors(t *testing.T) {
	runErrCases(t, []errCase{
		{name: "boolean where string expected", src: base + "server: {listen: true}\n", want: []string{`5:18: server: listen must be host:port, such as :8080, 127.0.0.1:8080 or [::1]:8080; got "true"`}},
		{name: "integer where mapping expected", src: base + "server: 5\n", want: []string{"5:9: server must be a mapping, got an integer"}},
		{name: "number where list expected", src: base + "routes: 1.5\n", want: []string{"5:9: routes must be a list of routes, got a number"}},
		{name: "boolean where list expected", src: base + "routes: false\n", want: []string{"5:9: routes must be a list of routes, got a boolean"}},
		{name: "integer out of range", src: base + "server: {max_query_params: 99999999999}\n", want: []string{`5:28: server: max_query_params is out of range, got "99999999999"`}},
		{name: "empty required string refused", src: base + "server: {tls: {cert_file: \"\", key_file: k}}\n", want: []string{"5:27: server.tls: cert_file must not be empty"}},
		{name: "empty reference refused", src: base + "routes:\n  - {name: r, path: /r, methods: [GET], upstream: app, auth: none, cors: \"\"}\n", want: []string{`6:74: route "r": cors must not be empty`}},
	})
}
