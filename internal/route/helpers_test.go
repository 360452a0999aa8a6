package route

import (
	"slices"
	"strings"
	"testing"
)

// realisticSpecs is a ~50-route table shaped like a real gateway config; it
// is shared by benchmarks, allocation tests and FuzzMatch.
func realisticSpecs() []Spec {
	g := []string{"GET"}
	gp := []string{"GET", "POST"}
	p := []string{"POST"}
	return []Spec{
		{Methods: g, Path: "/"},                                                                     // 0
		{Methods: []string{"GET", "HEAD"}, Path: "/healthz"},                                        // 1
		{Methods: g, Path: "/readyz"},                                                               // 2
		{Methods: g, Path: "/metrics"},                                                              // 3
		{Methods: gp, Path: "/v1/users"},                                                            // 4
		{Methods: []string{"GET", "PUT", "PATCH", "DELETE"}, Path: "/v1/users/{id}"},                // 5
		{Methods: g, Path: "/v1/users/me"},                                                          // 6
		{Methods: gp, Path: "/v1/users/{id}/orders"},                                                // 7
		{Methods: g, Path: "/v1/users/{id}/orders/{order}"},                                         // 8
		{Methods: gp, Path: "/v1/orders"},                                                           // 9
		{Methods: []string{"GET", "DELETE"}, Path: "/v1/orders/{id}"},                               // 10
		{Methods: p, Path: "/v1/orders/{id}/cancel"},                                                // 11
		{Methods: g, Path: "/v1/orders/{id}/items"},                                                 // 12
		{Methods: []string{"GET", "PUT"}, Path: "/v1/orders/{id}/items/{item}"},                     // 13
		{Methods: gp, Path: "/v1/products"},                                                         // 14
		{Methods: []string{"GET", "PUT", "DELETE"}, Path: "/v1/products/{sku}"},                     // 15
		{Methods: g, Path: "/v1/products/{sku}/reviews"},                                            // 16
		{Methods: p, Path: "/v1/products/{sku}/reviews"},                                            // 17
		{Methods: g, Path: "/v1/search"},                                                            // 18
		{Methods: p, Path: "/v1/auth/login"},                                                        // 19
		{Methods: p, Path: "/v1/auth/logout"},                                                       // 20
		{Methods: p, Path: "/v1/auth/refresh"},                                                      // 21
		{Methods: g, Path: "/v1/auth/.well-known/jwks.json"},                                        // 22
		{Methods: []string{"GET", "HEAD"}, Path: "/static/{path...}"},                               // 23
		{Methods: g, Path: "/docs/"},                                                                // 24
		{Methods: g, Path: "/docs/{page...}"},                                                       // 25
		{Methods: g, Path: "/v2/{tenant}/projects"},                                                 // 26
		{Methods: p, Path: "/v2/{tenant}/projects"},                                                 // 27
		{Methods: []string{"GET", "PATCH"}, Path: "/v2/{tenant}/projects/{project}"},                // 28
		{Methods: g, Path: "/v2/{tenant}/projects/{project}/builds"},                                // 29
		{Methods: g, Path: "/v2/{tenant}/projects/{project}/builds/{build}"},                        // 30
		{Methods: p, Path: "/v2/{tenant}/projects/{project}/builds/{build}/retry"},                  // 31
		{Methods: g, Path: "/v2/{tenant}/projects/{project}/builds/{build}/logs/{rest...}"},         // 32
		{Methods: []string{"GET", "PUT"}, Path: "/v2/{tenant}/settings"},                            // 33
		{Methods: p, Path: "/v2/{tenant}/webhooks/{hook}"},                                          // 34
		{Methods: g, Path: "/v2/system/status"},                                                     // 35
		{Methods: g, Path: "/v2/{tenant}/status"},                                                   // 36
		{Methods: g, Path: "/a/{id}/x"},                                                             // 37
		{Methods: g, Path: "/a/b/y"},                                                                // 38
		{Methods: g, Path: "/files/{rest...}"},                                                      // 39
		{Methods: p, Path: "/files/{name}"},                                                         // 40
		{Methods: []string{"OPTIONS"}, Path: "/v1/{any...}"},                                        // 41
		{Host: "admin.example.com", Methods: g, Path: "/"},                                          // 42
		{Host: "admin.example.com", Methods: gp, Path: "/users"},                                    // 43
		{Host: "admin.example.com", Methods: []string{"GET", "PUT", "DELETE"}, Path: "/users/{id}"}, // 44
		{Host: "admin.example.com", Methods: g, Path: "/audit/{rest...}"},                           // 45
		{Host: "API.Example.com.", Methods: g, Path: "/v1/users/{id}"},                              // 46
		{Host: "api.example.com", Methods: []string{"DELETE"}, Path: "/v1/orders"},                  // 47
		{Host: "[::1]", Methods: g, Path: "/local"},                                                 // 48
		{Host: "127.0.0.1", Methods: g, Path: "/local"},                                             // 49
		{Methods: []string{"PURGE"}, Path: "/cache/{key}"},                                          // 50
	}
}

func mustNew(tb testing.TB, specs []Spec) *Router {
	tb.Helper()
	r, errs := New(specs)
	if len(errs) > 0 || r == nil {
		tb.Fatalf("New: %v", errs)
	}
	return r
}

// ---- reference matcher: a deliberately naive re-implementation of the
// documented semantics, used as an oracle by the fuzz targets. ----

type refSeg struct {
	kind int // 0 literal, 1 param, 2 catch-all (ranking order)
	text string
}

func refParse(tpl string) []refSeg {
	var out []refSeg
	for _, s := range strings.Split(tpl[1:], "/") {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "...}"):
			out = append(out, refSeg{2, s[1 : len(s)-4]})
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			out = append(out, refSeg{1, s[1 : len(s)-1]})
		default:
			out = append(out, refSeg{0, s})
		}
	}
	return out
}

// refMatchOne reports whether template tpl matches path and returns params.
func refMatchOne(tpl []refSeg, path string) (map[string]string, bool) {
	if path == "" || path[0] != '/' {
		return nil, false
	}
	ps := strings.Split(path[1:], "/")
	params := map[string]string{}
	for k, t := range tpl {
		if t.kind == 2 {
			if k == len(ps) {
				params[t.text] = ""
			} else {
				params[t.text] = strings.Join(ps[k:], "/")
			}
			return params, true
		}
		if k >= len(ps) {
			return nil, false
		}
		if t.kind == 0 && ps[k] != t.text || t.kind == 1 && ps[k] == "" {
			return nil, false
		}
		if t.kind == 1 {
			params[t.text] = ps[k]
		}
	}
	return params, len(ps) == len(tpl)
}

func refKinds(tpl []refSeg) []int {
	k := make([]int, len(tpl))
	for i, s := range tpl {
		k[i] = s.kind
	}
	return k
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func refSpecHost(h string) string {
	h = strings.TrimSuffix(h, ".")
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return asciiLower(h)
}

func refReqHost(h string) (string, bool) {
	var name, port string
	if strings.HasPrefix(h, "[") {
		i := strings.Index(h, "]")
		if i < 0 {
			return "", false
		}
		name, port = h[1:i], h[i+1:]
		if !strings.Contains(name, ":") {
			return "", false
		}
		if port != "" {
			if !strings.HasPrefix(port, ":") {
				return "", false
			}
			port = port[1:]
		}
	} else {
		switch strings.Count(h, ":") {
		case 0:
			name = h
		case 1:
			name, port, _ = strings.Cut(h, ":")
		default:
			return "", false
		}
		name = strings.TrimSuffix(name, ".")
	}
	if strings.Trim(port, "0123456789") != "" || name == "" {
		return "", false
	}
	return asciiLower(name), true
}

type refResult struct {
	route  int
	status int
	allow  []string
	params map[string]string
}

// refMatch routes among the deny routes first: one that matches wins;
// otherwise among the others.
func refMatch(specs []Spec, host, method, path string) refResult {
	if res := refMatchAmong(specs, true, host, method, path); res.status == 0 {
		return res
	}
	return refMatchAmong(specs, false, host, method, path)
}

func refMatchAmong(specs []Spec, deny bool, host, method, path string) refResult {
	h, hok := refReqHost(host)
	try := func(wantHost string) (refResult, bool) {
		type cand struct {
			id     int
			kinds  []int
			params map[string]string
		}
		var cs []cand
		for i, s := range specs {
			if s.Deny != deny || refSpecHost(s.Host) != wantHost {
				continue
			}
			tpl := refParse(s.Path)
			if params, ok := refMatchOne(tpl, path); ok {
				cs = append(cs, cand{i, refKinds(tpl), params})
			}
		}
		if len(cs) == 0 {
			return refResult{route: -1, status: 404}, false
		}
		slices.SortStableFunc(cs, func(a, b cand) int { return slices.Compare(a.kinds, b.kinds) })
		var allow []string
		for _, c := range cs {
			if slices.Contains(specs[c.id].Methods, method) {
				return refResult{route: c.id, params: c.params}, true
			}
			allow = append(allow, specs[c.id].Methods...)
		}
		slices.Sort(allow)
		return refResult{route: -1, status: 405, allow: slices.Compact(allow)}, true
	}
	if hok {
		if res, ok := try(h); ok {
			return res
		}
	}
	res, _ := try("")
	return res
}

// checkAgainstRef runs Match and compares it with the oracle and with the
// structural invariants of Result and Params.
func checkAgainstRef(t *testing.T, r *Router, specs []Spec, host, method, path string) {
	t.Helper()
	var p Params
	got := r.Match(host, method, path, &p)
	if (got.Route >= 0) != (got.Status == 0) {
		t.Fatalf("Match(%q,%q,%q) = %+v: Route>=0 iff Status==0 violated", host, method, path, got)
	}
	switch got.Status {
	case 0:
		if got.Allow != "" || got.Route >= len(specs) || !slices.Contains(specs[got.Route].Methods, method) {
			t.Fatalf("Match(%q,%q,%q) = %+v: bad match", host, method, path, got)
		}
		for i := 0; i < p.Len(); i++ {
			name, v := p.At(i)
			if !strings.Contains(path, v) {
				t.Fatalf("param %s=%q is not a substring of %q", name, v, path)
			}
			catchAll := strings.Contains(specs[got.Route].Path, "{"+name+"...}")
			if !catchAll && (v == "" || strings.Contains(v, "/")) {
				t.Fatalf("param %s=%q: empty or contains '/' (path %q)", name, v, path)
			}
		}
	case 404:
		if got.Allow != "" || p.Len() != 0 {
			t.Fatalf("Match(%q,%q,%q) = %+v: 404 with Allow or params", host, method, path, got)
		}
	case 405:
		allow := strings.Split(got.Allow, ", ")
		if got.Allow == "" || slices.Contains(allow, method) || !slices.IsSorted(allow) || p.Len() != 0 {
			t.Fatalf("Match(%q,%q,%q) = %+v: bad 405", host, method, path, got)
		}
	default:
		t.Fatalf("Match(%q,%q,%q) = %+v: unexpected status", host, method, path, got)
	}
	want := refMatch(specs, host, method, path)
	if got.Route != want.route || got.Status != want.status || got.Allow != strings.Join(want.allow, ", ") {
		t.Fatalf("Match(%q,%q,%q) = %+v, reference says %+v", host, method, path, got, want)
	}
	if got.Status == 0 {
		if p.Len() != len(want.params) {
			t.Fatalf("Match(%q,%q,%q): %d params, reference %v", host, method, path, p.Len(), want.params)
		}
		for k, v := range want.params {
			if g, ok := p.Get(k); !ok || g != v {
				t.Fatalf("Match(%q,%q,%q): param %s = %q,%v; reference %q", host, method, path, k, g, ok, v)
			}
		}
	}
}
