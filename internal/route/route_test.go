package route

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestMatch(t *testing.T) {
	g := []string{"GET"}
	tests := []struct {
		name   string
		specs  []Spec
		host   string
		method string
		path   string
		route  int
		status int
		allow  string
		params map[string]string
	}{
		{
			name:   "literal wins over param",
			specs:  []Spec{{Methods: g, Path: "/a/{id}"}, {Methods: g, Path: "/a/b"}},
			method: "GET", path: "/a/b", route: 1,
		},
		{
			name:   "deny literal beats param (and would anyway)",
			specs:  []Spec{{Methods: g, Path: "/users/{name}"}, {Methods: g, Path: "/users/_debug", Deny: true}},
			method: "GET", path: "/users/_debug", route: 1,
		},
		{
			name:   "deny catch-all beats a more specific param route",
			specs:  []Spec{{Methods: g, Path: "/users/{name}"}, {Methods: g, Path: "/users/{rest...}", Deny: true}},
			method: "GET", path: "/users/bob", route: 1, params: map[string]string{"rest": "bob"},
		},
		{
			name:   "deny param beats a literal route",
			specs:  []Spec{{Methods: g, Path: "/a/b"}, {Methods: g, Path: "/a/{id}", Deny: true}},
			method: "GET", path: "/a/b", route: 1, params: map[string]string{"id": "b"},
		},
		{
			name:  "host-less deny beats a host route",
			specs: []Spec{{Host: "api.example", Methods: g, Path: "/a"}, {Methods: g, Path: "/{rest...}", Deny: true}},
			host:  "api.example", method: "GET", path: "/a", route: 1, params: map[string]string{"rest": "a"},
		},
		{
			name:   "deny of another method leaves the route",
			specs:  []Spec{{Methods: []string{"GET", "DELETE"}, Path: "/a/{id}"}, {Methods: []string{"DELETE"}, Path: "/a/{id}", Deny: true}},
			method: "GET", path: "/a/1", route: 0, params: map[string]string{"id": "1"},
		},
		{
			name:   "deny routes are not in Allow",
			specs:  []Spec{{Methods: g, Path: "/a/{id}"}, {Methods: []string{"POST"}, Path: "/a/{id}", Deny: true}},
			method: "PUT", path: "/a/1", route: -1, status: 405, allow: "GET",
		},
		{
			name:   "deny alone answers 404 for other methods",
			specs:  []Spec{{Methods: []string{"POST"}, Path: "/a", Deny: true}},
			method: "GET", path: "/a", route: -1, status: 404,
		},
		{
			name:   "param used when literal differs",
			specs:  []Spec{{Methods: g, Path: "/a/{id}"}, {Methods: g, Path: "/a/b"}},
			method: "GET", path: "/a/c", route: 0, params: map[string]string{"id": "c"},
		},
		{
			name:   "backtracking from literal to param",
			specs:  []Spec{{Methods: g, Path: "/a/{id}/x"}, {Methods: g, Path: "/a/b/y"}},
			method: "GET", path: "/a/b/x", route: 0, params: map[string]string{"id": "b"},
		},
		{
			name:   "backtracking keeps literal branch",
			specs:  []Spec{{Methods: g, Path: "/a/{id}/x"}, {Methods: g, Path: "/a/b/y"}},
			method: "GET", path: "/a/b/y", route: 1,
		},
		{
			name:   "param wins over catch-all",
			specs:  []Spec{{Methods: g, Path: "/f/{rest...}"}, {Methods: g, Path: "/f/{name}"}},
			method: "GET", path: "/f/x", route: 1, params: map[string]string{"name": "x"},
		},
		{
			name:   "catch-all takes multi-segment rest",
			specs:  []Spec{{Methods: g, Path: "/f/{rest...}"}, {Methods: g, Path: "/f/{name}"}},
			method: "GET", path: "/f/x/y/", route: 0, params: map[string]string{"rest": "x/y/"},
		},
		{
			name:   "catch-all matches empty rest",
			specs:  []Spec{{Methods: g, Path: "/files/{rest...}"}},
			method: "GET", path: "/files/", route: 0, params: map[string]string{"rest": ""},
		},
		{
			name:   "catch-all matches prefix without slash",
			specs:  []Spec{{Methods: g, Path: "/files/{rest...}"}},
			method: "GET", path: "/files", route: 0, params: map[string]string{"rest": ""},
		},
		{
			name:   "catch-all does not match other prefix",
			specs:  []Spec{{Methods: g, Path: "/files/{rest...}"}},
			method: "GET", path: "/filesystem", route: -1, status: 404,
		},
		{
			name:   "exact route beats catch-all with empty rest",
			specs:  []Spec{{Methods: g, Path: "/files/{rest...}"}, {Methods: g, Path: "/files"}, {Methods: g, Path: "/files/"}},
			method: "GET", path: "/files", route: 1,
		},
		{
			name:   "trailing-slash route beats catch-all with empty rest",
			specs:  []Spec{{Methods: g, Path: "/files/{rest...}"}, {Methods: g, Path: "/files"}, {Methods: g, Path: "/files/"}},
			method: "GET", path: "/files/", route: 2,
		},
		{
			name:   "root catch-all matches root",
			specs:  []Spec{{Methods: g, Path: "/{all...}"}},
			method: "GET", path: "/", route: 0, params: map[string]string{"all": ""},
		},
		{
			name:   "root route",
			specs:  []Spec{{Methods: g, Path: "/"}, {Methods: g, Path: "/{id}"}},
			method: "GET", path: "/", route: 0,
		},
		{
			name:   "param does not match empty segment",
			specs:  []Spec{{Methods: g, Path: "/a/{id}"}},
			method: "GET", path: "/a/", route: -1, status: 404,
		},
		{
			name:   "param does not match slash",
			specs:  []Spec{{Methods: g, Path: "/a/{id}"}},
			method: "GET", path: "/a/b/c", route: -1, status: 404,
		},
		{
			name:   "trailing slash significant",
			specs:  []Spec{{Methods: g, Path: "/a"}},
			method: "GET", path: "/a/", route: -1, status: 404,
		},
		{
			name:   "trailing slash significant in template",
			specs:  []Spec{{Methods: g, Path: "/a/"}, {Methods: []string{"POST"}, Path: "/a"}},
			method: "GET", path: "/a", route: -1, status: 405, allow: "POST",
		},
		{
			name:   "literal is case-sensitive",
			specs:  []Spec{{Methods: g, Path: "/Admin"}},
			method: "GET", path: "/admin", route: -1, status: 404,
		},
		{
			name:   "405 lists Allow sorted",
			specs:  []Spec{{Methods: []string{"POST", "GET", "HEAD"}, Path: "/a"}},
			method: "DELETE", path: "/a", route: -1, status: 405, allow: "GET, HEAD, POST",
		},
		{
			name: "405 Allow is union of all routes matching the path",
			specs: []Spec{
				{Methods: []string{"PUT"}, Path: "/a/{id}"},
				{Methods: []string{"GET"}, Path: "/a/b"},
				{Methods: []string{"PATCH"}, Path: "/a/{x...}"},
				{Methods: []string{"POST"}, Path: "/a/c"},
			},
			method: "DELETE", path: "/a/b", route: -1, status: 405, allow: "GET, PATCH, PUT",
		},
		{
			name: "less specific route wins when it alone has the method",
			specs: []Spec{
				{Methods: []string{"PUT"}, Path: "/a/{id}"},
				{Methods: []string{"GET"}, Path: "/a/b"},
			},
			method: "PUT", path: "/a/b", route: 0, params: map[string]string{"id": "b"},
		},
		{
			name:   "method is case-sensitive: get → 405",
			specs:  []Spec{{Methods: g, Path: "/a"}},
			method: "get", path: "/a", route: -1, status: 405, allow: "GET",
		},
		{
			name:   "HEAD is not implied by GET",
			specs:  []Spec{{Methods: g, Path: "/a"}},
			method: "HEAD", path: "/a", route: -1, status: 405, allow: "GET",
		},
		{
			name:   "404 when no path matches",
			specs:  []Spec{{Methods: g, Path: "/a"}},
			method: "GET", path: "/b", route: -1, status: 404,
		},
		{
			name:   "non-origin path is 404",
			specs:  []Spec{{Methods: g, Path: "/{x...}"}},
			method: "GET", path: "*", route: -1, status: 404,
		},
		{
			name:   "empty router is 404",
			method: "GET", path: "/", route: -1, status: 404,
		},
		{
			name:  "host-specific route preferred",
			specs: []Spec{{Methods: g, Path: "/a"}, {Host: "example.com", Methods: g, Path: "/a"}},
			host:  "example.com", method: "GET", path: "/a", route: 1,
		},
		{
			name:  "host-specific param route preferred over host-less literal",
			specs: []Spec{{Methods: g, Path: "/a/b"}, {Host: "example.com", Methods: g, Path: "/a/{id}"}},
			host:  "example.com", method: "GET", path: "/a/b", route: 1, params: map[string]string{"id": "b"},
		},
		{
			name:  "other host uses host-less route",
			specs: []Spec{{Methods: g, Path: "/a"}, {Host: "example.com", Methods: g, Path: "/a"}},
			host:  "other.example", method: "GET", path: "/a", route: 0,
		},
		{
			name:  "host-specific 405 shadows host-less route",
			specs: []Spec{{Methods: []string{"POST"}, Path: "/a"}, {Host: "example.com", Methods: g, Path: "/a"}},
			host:  "example.com", method: "POST", path: "/a", route: -1, status: 405, allow: "GET",
		},
		{
			name:  "fall back to host-less when host routes miss the path",
			specs: []Spec{{Methods: g, Path: "/b"}, {Host: "example.com", Methods: g, Path: "/a"}},
			host:  "example.com", method: "GET", path: "/b", route: 0,
		},
		{
			name:  "host-only router answers 404 for other hosts",
			specs: []Spec{{Host: "example.com", Methods: g, Path: "/a"}},
			host:  "evil.example", method: "GET", path: "/a", route: -1, status: 404,
		},
		{
			name:  "port ignored in host",
			specs: []Spec{{Methods: g, Path: "/a"}, {Host: "example.com", Methods: g, Path: "/a"}},
			host:  "example.com:8443", method: "GET", path: "/a", route: 1,
		},
		{
			name:  "host compared case-insensitively",
			specs: []Spec{{Methods: g, Path: "/a"}, {Host: "Example.COM", Methods: g, Path: "/a"}},
			host:  "eXample.com", method: "GET", path: "/a", route: 1,
		},
		{
			name:  "trailing dot in host ignored",
			specs: []Spec{{Methods: g, Path: "/a"}, {Host: "example.com", Methods: g, Path: "/a"}},
			host:  "example.com.:80", method: "GET", path: "/a", route: 1,
		},
		{
			name:  "IPv6 host with port",
			specs: []Spec{{Methods: g, Path: "/a"}, {Host: "[::1]", Methods: g, Path: "/a"}},
			host:  "[::1]:8080", method: "GET", path: "/a", route: 1,
		},
		{
			name:  "IPv6 host without port",
			specs: []Spec{{Methods: g, Path: "/a"}, {Host: "[2001:DB8::1]", Methods: g, Path: "/a"}},
			host:  "[2001:db8::1]", method: "GET", path: "/a", route: 1,
		},
		{
			name:  "unbracketed IPv6 host matches no host route",
			specs: []Spec{{Methods: g, Path: "/a"}, {Host: "[::1]", Methods: g, Path: "/a"}},
			host:  "::1", method: "GET", path: "/a", route: 0,
		},
		{
			name:  "bracketed non-IPv6 host matches no host route",
			specs: []Spec{{Methods: g, Path: "/a"}, {Host: "example.com", Methods: g, Path: "/a"}},
			host:  "[example.com]", method: "GET", path: "/a", route: 0,
		},
		{
			name:  "non-numeric port matches no host route",
			specs: []Spec{{Methods: g, Path: "/a"}, {Host: "example.com", Methods: g, Path: "/a"}},
			host:  "example.com:http", method: "GET", path: "/a", route: 0,
		},
		{
			name:  "Unicode case folding is not used for hosts",
			specs: []Spec{{Methods: g, Path: "/a"}, {Host: "k.example", Methods: g, Path: "/a"}},
			host:  "\u212a.example", method: "GET", path: "/a", route: 0,
		},
		{
			name:   "percent-escapes compared byte for byte",
			specs:  []Spec{{Methods: g, Path: "/a%20b/{id}"}},
			method: "GET", path: "/a%20b/%C3%A9", route: 0, params: map[string]string{"id": "%C3%A9"},
		},
		{
			name:   "different param names at same position",
			specs:  []Spec{{Methods: g, Path: "/u/{id}"}, {Methods: []string{"POST"}, Path: "/u/{name}"}},
			method: "POST", path: "/u/bob", route: 1, params: map[string]string{"name": "bob"},
		},
		{
			name:   "many params",
			specs:  []Spec{{Methods: g, Path: "/{a}/{b}/{c}/x/{d}/{e...}"}},
			method: "GET", path: "/1/2/3/x/4/5/6",
			params: map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5/6"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, tt.specs)
			p := Params{n: 3} // stale content must be reset
			got := r.Match(tt.host, tt.method, tt.path, &p)
			want := Result{Route: tt.route, Status: tt.status, Allow: tt.allow}
			if got != want {
				t.Fatalf("Match(%q, %q, %q) = %+v, want %+v", tt.host, tt.method, tt.path, got, want)
			}
			if p.Len() != len(tt.params) {
				t.Fatalf("got %d params, want %v", p.Len(), tt.params)
			}
			for k, v := range tt.params {
				if g, ok := p.Get(k); !ok || g != v {
					t.Errorf("param %q = %q, %v; want %q", k, g, ok, v)
				}
			}
			if _, ok := p.Get("nope"); ok {
				t.Error("Get of unknown name succeeded")
			}
			// nil Params must work and give the same result.
			if got2 := r.Match(tt.host, tt.method, tt.path, nil); got2 != got {
				t.Fatalf("Match with nil Params = %+v, want %+v", got2, got)
			}
			checkAgainstRef(t, r, tt.specs, tt.host, tt.method, tt.path)
		})
	}
}

func TestParamsOrder(t *testing.T) {
	r := mustNew(t, []Spec{{Methods: []string{"GET"}, Path: "/{b}/{a}/{rest...}"}})
	var p Params
	r.Match("", "GET", "/1/2/3", &p)
	var got []string
	for i := 0; i < p.Len(); i++ {
		n, v := p.At(i)
		got = append(got, n+"="+v)
	}
	if want := []string{"b=1", "a=2", "rest=3"}; !slices.Equal(got, want) {
		t.Fatalf("params %v, want %v", got, want)
	}
	p.Reset()
	if p.Len() != 0 {
		t.Fatal("Reset did not empty Params")
	}
}

func TestRealisticTable(t *testing.T) {
	specs := realisticSpecs()
	r := mustNew(t, specs)
	cases := []struct {
		host, method, path string
		route, status      int
		allow              string
	}{
		{"example.com", "GET", "/v1/orders", 9, 0, ""},
		{"example.com", "GET", "/v1/users/me", 6, 0, ""},
		{"example.com", "DELETE", "/v1/users/me", 5, 0, ""},
		{"example.com", "GET", "/v1/users/42/orders/7", 8, 0, ""},
		{"example.com", "DELETE", "/v1/users", -1, 405, "GET, OPTIONS, POST"},
		{"example.com", "OPTIONS", "/v1/users", 41, 0, ""},
		{"api.example.com:443", "GET", "/v1/users/42", 46, 0, ""},
		{"api.example.com", "PUT", "/v1/users/42", -1, 405, "GET"},
		{"api.example.com", "DELETE", "/v1/orders", 47, 0, ""},
		{"api.example.com", "GET", "/v1/orders", -1, 405, "DELETE"},
		{"api.example.com", "GET", "/healthz", 1, 0, ""},
		{"ADMIN.example.com", "GET", "/audit", 45, 0, ""},
		{"admin.example.com", "GET", "/", 42, 0, ""},
		{"admin.example.com", "POST", "/", -1, 405, "GET"},
		{"", "GET", "/files/a/b", 39, 0, ""},
		{"", "POST", "/files/a", 40, 0, ""},
		{"", "DELETE", "/files/a", -1, 405, "GET, POST"},
		{"", "GET", "/nope", -1, 404, ""},
		{"", "GET", "/v1/nope", -1, 405, "OPTIONS"},
		{"[::1]:80", "GET", "/local", 48, 0, ""},
		{"127.0.0.1:80", "GET", "/local", 49, 0, ""},
		{"", "GET", "/local", -1, 404, ""},
		{"[127.0.0.1]", "GET", "/local", -1, 404, ""},
		{"", "PURGE", "/cache/k", 50, 0, ""},
	}
	for _, c := range cases {
		got := r.Match(c.host, c.method, c.path, nil)
		if want := (Result{c.route, c.status, c.allow}); got != want {
			t.Errorf("Match(%q, %q, %q) = %+v, want %+v", c.host, c.method, c.path, got, want)
		}
		checkAgainstRef(t, r, specs, c.host, c.method, c.path)
	}
}

func TestSpecErrors(t *testing.T) {
	g := []string{"GET"}
	tests := []struct {
		name string
		spec Spec
		msg  string // substring of the message
	}{
		{"empty path", Spec{Methods: g, Path: ""}, "empty path"},
		{"missing leading slash", Spec{Methods: g, Path: "a/b"}, "must start with '/'"},
		{"double slash", Spec{Methods: g, Path: "/a//b"}, "empty segment"},
		{"double slash at end", Spec{Methods: g, Path: "/a//"}, "empty segment"},
		{"dot segment", Spec{Methods: g, Path: "/a/./b"}, "dot segment"},
		{"dot-dot segment", Spec{Methods: g, Path: "/a/.."}, "dot segment"},
		{"encoded dot", Spec{Methods: g, Path: "/a/%2E%2E"}, "never match"},
		{"lower-case escape", Spec{Methods: g, Path: "/a%2fb"}, "upper-case"},
		{"encoded slash", Spec{Methods: g, Path: "/a%2Fb"}, "never match"},
		{"malformed escape", Spec{Methods: g, Path: "/a%2"}, "malformed percent-escape"},
		{"semicolon", Spec{Methods: g, Path: "/a;b"}, "';'"},
		{"invalid char", Spec{Methods: g, Path: "/a b"}, "invalid character"},
		{"query", Spec{Methods: g, Path: "/a?b"}, "invalid character"},
		{"unbalanced open brace", Spec{Methods: g, Path: "/a/{id"}, "unbalanced braces"},
		{"unbalanced close brace", Spec{Methods: g, Path: "/a/id}"}, "unbalanced braces"},
		{"partial-segment param", Spec{Methods: g, Path: "/a{id}"}, "whole segment"},
		{"param with suffix", Spec{Methods: g, Path: "/{id}.json"}, "whole segment"},
		{"two params in a segment", Spec{Methods: g, Path: "/{a}{b}"}, "whole segment"},
		{"empty param name", Spec{Methods: g, Path: "/a/{}"}, "invalid parameter name"},
		{"bad param name", Spec{Methods: g, Path: "/a/{1d}"}, "invalid parameter name"},
		{"dash in param name", Spec{Methods: g, Path: "/a/{my-id}"}, "invalid parameter name"},
		{"duplicate param", Spec{Methods: g, Path: "/{id}/x/{id}"}, "duplicate parameter"},
		{"duplicate with catch-all", Spec{Methods: g, Path: "/{id}/{id...}"}, "duplicate parameter"},
		{"catch-all not last", Spec{Methods: g, Path: "/{rest...}/a"}, "final segment"},
		{"catch-all then slash", Spec{Methods: g, Path: "/f/{rest...}/"}, "final segment"},
		{"empty catch-all name", Spec{Methods: g, Path: "/f/{...}"}, "invalid parameter name"},
		{"too many params", Spec{Methods: g, Path: manyParams(17)}, "at most 16"},
		{"no methods", Spec{Path: "/a"}, "no methods"},
		{"bad method", Spec{Methods: []string{"GE T"}, Path: "/a"}, "invalid method"},
		{"empty method", Spec{Methods: []string{""}, Path: "/a"}, "invalid method"},
		{"duplicate method", Spec{Methods: []string{"GET", "GET"}, Path: "/a"}, "duplicate method"},
		{"host with port", Spec{Host: "example.com:80", Methods: g, Path: "/a"}, "port"},
		{"wildcard host", Spec{Host: "*.example.com", Methods: g, Path: "/a"}, "wildcard"},
		{"host with space", Spec{Host: "exa mple.com", Methods: g, Path: "/a"}, "invalid character"},
		{"host empty label", Spec{Host: "a..b", Methods: g, Path: "/a"}, "label"},
		{"host non-ASCII", Spec{Host: "bücher.example", Methods: g, Path: "/a"}, "punycode"},
		{"unbracketed IPv6 host", Spec{Host: "::1", Methods: g, Path: "/a"}, "brackets"},
		{"IPv6 zone", Spec{Host: "[fe80::1%25eth0]", Methods: g, Path: "/a"}, "zones"},
		{"host just dot", Spec{Host: ".", Methods: g, Path: "/a"}, "length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok := Spec{Methods: g, Path: "/ok"}
			r, errs := New([]Spec{ok, tt.spec})
			if r != nil {
				t.Fatal("New returned a router despite errors")
			}
			if len(errs) != 1 {
				t.Fatalf("got %d errors %v, want 1", len(errs), errs)
			}
			var se *SpecError
			if !errors.As(errs[0], &se) || se.Index != 1 {
				t.Fatalf("got %#v, want *SpecError for index 1", errs[0])
			}
			if !strings.Contains(se.Msg, tt.msg) || !strings.HasPrefix(se.Error(), "route 1: ") {
				t.Fatalf("message %q does not contain %q", se.Error(), tt.msg)
			}
		})
	}
}

func manyParams(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "/{p%d}", i)
	}
	return b.String()
}

func TestValidTemplates(t *testing.T) {
	for _, p := range []string{
		"/", "/a", "/a/", "/a/b/c", "/{id}", "/{id}/", "/{rest...}", "/a/{_x1}/{Y}/{z...}",
		"/a:b@c!$&'()*+,=-._~", "/%20%C3%A9", "/%25", "/v1/x.json", "/...", "/.a", "/a.",
		manyParams(16),
	} {
		if _, errs := New([]Spec{{Methods: []string{"GET"}, Path: p}}); errs != nil {
			t.Errorf("New(%q): %v", p, errs)
		}
	}
}

func TestMultipleErrorsReported(t *testing.T) {
	_, errs := New([]Spec{
		{Methods: []string{"GET"}, Path: "/a/{id}"},
		{Methods: []string{"GET"}, Path: "bad"},
		{Host: "x:1", Path: "/{a"},
		{Methods: []string{"GET"}, Path: "/a/{name}"},
	})
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if len(errs) != 5 {
		t.Fatalf("got %d errors, want 5:\n%s", len(errs), strings.Join(got, "\n"))
	}
	var oe *OverlapError
	if !errors.As(errs[4], &oe) || *oe != (OverlapError{A: 0, B: 3, Method: "GET"}) {
		t.Fatalf("last error %v, want overlap 0/3", errs[4])
	}
}

func TestOverlap(t *testing.T) {
	m := func(ms ...string) []string { return ms }
	tests := []struct {
		name  string
		specs []Spec
		want  []OverlapError
	}{
		{
			name:  "same param shape different names",
			specs: []Spec{{Methods: m("GET"), Path: "/a/{id}"}, {Methods: m("GET"), Path: "/a/{name}"}},
			want:  []OverlapError{{0, 1, "GET"}},
		},
		{
			name:  "identical static",
			specs: []Spec{{Methods: m("GET", "POST"), Path: "/a"}, {Methods: m("PUT", "POST", "GET"), Path: "/a"}},
			want:  []OverlapError{{0, 1, "POST"}, {0, 1, "GET"}},
		},
		{
			name:  "two catch-alls with same prefix",
			specs: []Spec{{Methods: m("GET"), Path: "/f/{a...}"}, {Methods: m("GET"), Path: "/f/{b...}"}},
			want:  []OverlapError{{0, 1, "GET"}},
		},
		{
			name: "three-way overlap reported against the first",
			specs: []Spec{
				{Methods: m("GET"), Path: "/{a}/x"},
				{Methods: m("GET"), Path: "/{b}/x"},
				{Methods: m("GET"), Path: "/{c}/x"},
			},
			want: []OverlapError{{0, 1, "GET"}, {0, 2, "GET"}},
		},
		{
			name:  "same host in different spelling",
			specs: []Spec{{Host: "Example.com", Methods: m("GET"), Path: "/a"}, {Host: "example.COM.", Methods: m("GET"), Path: "/a"}},
			want:  []OverlapError{{0, 1, "GET"}},
		},
		{
			name:  "param vs literal do not overlap",
			specs: []Spec{{Methods: m("GET"), Path: "/a/{id}"}, {Methods: m("GET"), Path: "/a/b"}},
		},
		{
			name:  "different methods do not overlap",
			specs: []Spec{{Methods: m("GET"), Path: "/a/{id}"}, {Methods: m("POST"), Path: "/a/{name}"}},
		},
		{
			name:  "method case differs: no overlap",
			specs: []Spec{{Methods: m("GET"), Path: "/a"}, {Methods: m("get"), Path: "/a"}},
		},
		{
			name:  "different hosts do not overlap",
			specs: []Spec{{Host: "a.example", Methods: m("GET"), Path: "/a"}, {Host: "b.example", Methods: m("GET"), Path: "/a"}},
		},
		{
			name:  "host-specific vs host-less do not overlap",
			specs: []Spec{{Methods: m("GET"), Path: "/a"}, {Host: "a.example", Methods: m("GET"), Path: "/a"}},
		},
		{
			name:  "param vs catch-all do not overlap",
			specs: []Spec{{Methods: m("GET"), Path: "/f/{name}"}, {Methods: m("GET"), Path: "/f/{rest...}"}},
		},
		{
			name:  "exact vs catch-all do not overlap",
			specs: []Spec{{Methods: m("GET"), Path: "/f"}, {Methods: m("GET"), Path: "/f/"}, {Methods: m("GET"), Path: "/f/{rest...}"}},
		},
		{
			name:  "trailing slash does not overlap",
			specs: []Spec{{Methods: m("GET"), Path: "/a"}, {Methods: m("GET"), Path: "/a/"}},
		},
		{
			name:  "different catch-all prefixes",
			specs: []Spec{{Methods: m("GET"), Path: "/{a...}"}, {Methods: m("GET"), Path: "/f/{b...}"}},
		},
		{
			name:  "deny routes may overlap other routes",
			specs: []Spec{{Methods: m("GET"), Path: "/a/{id}"}, {Methods: m("GET"), Path: "/a/{name}", Deny: true}},
		},
		{
			name:  "deny routes overlap one another",
			specs: []Spec{{Methods: m("GET"), Path: "/a/{id}", Deny: true}, {Methods: m("GET"), Path: "/a/{name}", Deny: true}},
			want:  []OverlapError{{0, 1, "GET"}},
		},
		{
			name:  "realistic table",
			specs: realisticSpecs(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, errs := New(tt.specs)
			var got []OverlapError
			for _, e := range errs {
				var oe *OverlapError
				if !errors.As(e, &oe) {
					t.Fatalf("unexpected error %v", e)
				}
				if !strings.Contains(oe.Error(), "overlaps") {
					t.Errorf("message %q", oe.Error())
				}
				got = append(got, *oe)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("overlaps %v, want %v", got, tt.want)
			}
			if (r == nil) != (len(tt.want) > 0) {
				t.Fatalf("router nil = %v with %d errors", r == nil, len(errs))
			}
		})
	}
}

func TestTooManyMethods(t *testing.T) {
	var specs []Spec
	for i := range MaxMethods + 1 {
		specs = append(specs, Spec{Methods: []string{fmt.Sprintf("M%d", i)}, Path: "/a"})
	}
	_, errs := New(specs)
	var se *SpecError
	if len(errs) != 1 || !errors.As(errs[0], &se) || se.Index != MaxMethods {
		t.Fatalf("errs = %v", errs)
	}
	if _, errs := New(specs[:MaxMethods]); errs != nil {
		t.Fatalf("%d methods rejected: %v", MaxMethods, errs)
	}
}

// TestAllowBeyondPrecomputed covers configurations whose Allow table is too
// large to precompute in full: answers must still be correct.
func TestAllowBeyondPrecomputed(t *testing.T) {
	var specs []Spec
	for i := range 20 {
		specs = append(specs, Spec{Methods: []string{fmt.Sprintf("M%02d", i)}, Path: fmt.Sprintf("/{p}/%d", i)})
		specs = append(specs, Spec{Methods: []string{fmt.Sprintf("X%02d", i)}, Path: fmt.Sprintf("/%d/{q}", i)})
	}
	r := mustNew(t, specs)
	if len(r.allow) > allowCap {
		t.Fatalf("allow table has %d entries", len(r.allow))
	}
	for i := range 20 {
		for j := range 20 {
			path := fmt.Sprintf("/%d/%d", i, j)
			checkAgainstRef(t, r, specs, "", "GET", path)
			checkAgainstRef(t, r, specs, "", "GET", path) // cached
		}
	}
	if len(r.lazy) == 0 {
		t.Fatal("test did not exercise the lazily built Allow values")
	}
}

func TestConcurrentMatch(t *testing.T) {
	specs := realisticSpecs()
	r := mustNew(t, specs)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			var p Params
			for i := range 2000 {
				path := fmt.Sprintf("/v1/users/%d/orders/%d", w, i)
				res := r.Match("example.com", "GET", path, &p)
				if res.Route != 8 {
					t.Errorf("%s: %+v", path, res)
					return
				}
				if v, _ := p.Get("order"); v != fmt.Sprint(i) {
					t.Errorf("%s: order=%q", path, v)
					return
				}
				if res := r.Match("api.example.com", "PUT", "/v1/users/1", &p); res.Status != 405 {
					t.Errorf("405 expected, got %+v", res)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestMatchAllocsWithDeny(t *testing.T) {
	specs := append(realisticSpecs(), Spec{Methods: []string{"GET"}, Path: "/v1/users/{id}/secret/{rest...}", Deny: true})
	r := mustNew(t, specs)
	for _, c := range []struct {
		path  string
		route int
	}{{"/v1/users/42/secret/x", len(specs) - 1}, {"/v1/users/42", 5}} {
		var p Params
		if res := r.Match("example.com", "GET", c.path, &p); res.Route != c.route {
			t.Fatalf("%s: route %d, want %d", c.path, res.Route, c.route)
		}
		if n := testing.AllocsPerRun(1000, func() { r.Match("example.com", "GET", c.path, &p) }); n != 0 {
			t.Fatalf("%s: %v allocs per Match, want 0", c.path, n)
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	r := mustNew(t, realisticSpecs())
	cases := []struct{ name, host, method, path string }{
		{"static", "example.com", "GET", "/v1/orders"},
		{"static via trie", "example.com", "OPTIONS", "/v1/orders"},
		{"one param", "example.com", "GET", "/v1/users/42"},
		{"two params", "example.com", "GET", "/v1/users/42/orders/7"},
		{"four params", "example.com", "GET", "/v2/acme/projects/p/builds/9/logs/a/b"},
		{"405", "example.com", "DELETE", "/v1/users"},
		{"404", "example.com", "GET", "/v3/nothing"},
		{"host upper-case with port", "ADMIN.Example.com:8443", "GET", "/users/7"},
		{"IPv6 host", "[::1]:8080", "GET", "/local"},
		{"host 405", "api.example.com", "PUT", "/v1/users/1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Params
			n := testing.AllocsPerRun(1000, func() {
				r.Match(c.host, c.method, c.path, &p)
			})
			if n != 0 {
				t.Fatalf("%v allocs per Match, want 0", n)
			}
			n = testing.AllocsPerRun(100, func() {
				r.Match(c.host, c.method, c.path, nil)
			})
			if n != 0 {
				t.Fatalf("%v allocs per Match with nil Params, want 0", n)
			}
		})
	}
}

func BenchmarkMatchStatic(b *testing.B) {
	r := mustNew(b, realisticSpecs())
	var p Params
	b.ReportAllocs()
	for b.Loop() {
		if res := r.Match("example.com", "GET", "/v1/orders", &p); res.Route != 9 {
			b.Fatal(res)
		}
	}
}

func BenchmarkMatchParam(b *testing.B) {
	r := mustNew(b, realisticSpecs())
	var p Params
	b.ReportAllocs()
	for b.Loop() {
		if res := r.Match("example.com", "GET", "/v1/users/42/orders/7", &p); res.Route != 8 {
			b.Fatal(res)
		}
	}
}

func BenchmarkMatch405(b *testing.B) {
	r := mustNew(b, realisticSpecs())
	var p Params
	b.ReportAllocs()
	for b.Loop() {
		if res := r.Match("example.com", "DELETE", "/v1/users", &p); res.Status != 405 {
			b.Fatal(res)
		}
	}
}

func BenchmarkMatchHostParam(b *testing.B) {
	r := mustNew(b, realisticSpecs())
	var p Params
	b.ReportAllocs()
	for b.Loop() {
		if res := r.Match("API.example.com:443", "GET", "/v1/users/42", &p); res.Route != 46 {
			b.Fatal(res)
		}
	}
}

func BenchmarkMatchDeepBacktrack(b *testing.B) {
	r := mustNew(b, realisticSpecs())
	var p Params
	b.ReportAllocs()
	for b.Loop() {
		if res := r.Match("example.com", "GET", "/v2/system/projects/p/builds/9/logs/x/y/z", &p); res.Route != 32 {
			b.Fatal(res)
		}
	}
}
