package route

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// FuzzMatch matches arbitrary requests against the realistic table and
// checks Result invariants, Params invariants and agreement with the naive
// reference matcher.
func FuzzMatch(f *testing.F) {
	specs := realisticSpecs()
	r := mustNew(f, specs)
	for _, s := range [][3]string{
		{"example.com", "GET", "/v1/users/42/orders/7"},
		{"api.example.com:443", "PUT", "/v1/users/42"},
		{"[::1]:8080", "GET", "/local"},
		{"ADMIN.EXAMPLE.COM.", "GET", "/audit/a/b/"},
		{"", "get", "/files"},
		{"", "GET", "/a/b/x"},
		{"", "DELETE", "/v2/system/projects/p/builds/9/logs/"},
		{"[::1", "GET", "//"},
		{"h:1:2", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, host, method, path string) {
		checkAgainstRef(t, r, specs, host, method, path)
	})
}

// acceptedTemplate is an independent, coarse grammar for templates: every
// template New accepts must match it.
var acceptedTemplate = regexp.MustCompile(`^(/([A-Za-z0-9\-._~!$&'()*+,=:@]|%[0-9A-F]{2})*|/\{[A-Za-z_][A-Za-z0-9_]*\})*(/\{[A-Za-z_][A-Za-z0-9_]*\.\.\.\})?$`)

// FuzzNew compiles arbitrary specs: New must not panic, must report only
// well-formed errors, and a router it returns must agree with the reference
// matcher on instantiations of its own templates and on an arbitrary path.
func FuzzNew(f *testing.F) {
	f.Add("", "GET", "/a/{id}", "/a/b", "/a/b")
	f.Add("Example.com", "POST", "/f/{rest...}", "/f/{name}", "/f/x/y")
	f.Add("[::1]", "GET", "/{a}/{b}/{c...}", "/x/{b}/", "/x/y/")
	f.Add("x:1", "GET", "/a{id}", "/{id}/{id}", "/")
	f.Add("", "GET", "/a/{id}", "/a/{name}", "/a/1")
	f.Add("", "G\x00", "/%2e/%zz/{", "//", "")
	f.Fuzz(func(t *testing.T, host, method, p1, p2, reqPath string) {
		// Each input twice: the first route an ordinary one, then a deny route.
		for _, deny := range []bool{false, true} {
			fuzzNew(t, deny, host, method, p1, p2, reqPath)
		}
	})
}

func fuzzNew(t *testing.T, deny bool, host, method, p1, p2, reqPath string) {
	specs := []Spec{
		{Host: host, Methods: []string{method}, Path: p1, Deny: deny},
		{Methods: []string{"GET", method}, Path: p2},
	}
	r, errs := New(specs)
	if (r == nil) != (len(errs) > 0) {
		t.Fatalf("router nil = %v with errors %v", r == nil, errs)
	}
	bad := map[int]bool{}
	for _, e := range errs {
		var se *SpecError
		var oe *OverlapError
		switch {
		case errors.As(e, &se):
			if se.Index < 0 || se.Index >= len(specs) || se.Msg == "" {
				t.Fatalf("bad SpecError %#v", se)
			}
			bad[se.Index] = true
		case errors.As(e, &oe):
			if !(0 <= oe.A && oe.A < oe.B && oe.B < len(specs)) || oe.Method == "" {
				t.Fatalf("bad OverlapError %#v", oe)
			}
		default:
			t.Fatalf("unexpected error type %T: %v", e, e)
		}
	}
	for i, s := range specs {
		if !bad[i] && !acceptedTemplate.MatchString(s.Path) {
			t.Fatalf("New accepted template %q", s.Path)
		}
	}
	if r == nil {
		return
	}
	reqHosts := []string{"", host, strings.ToUpper(host) + ":8080", "other.example"}
	for _, h := range reqHosts {
		for _, path := range []string{instantiate(p1), instantiate(p2), p1, p2, reqPath} {
			checkAgainstRef(t, r, specs, h, method, path)
			checkAgainstRef(t, r, specs, h, "GET", path)
		}
	}
	// A template's own instantiation must match some route.
	if res := r.Match(host, method, instantiate(p1), nil); res.Status != 0 {
		t.Fatalf("instantiation of %q does not match: %+v", p1, res)
	}
}

// instantiate turns a template into a path it matches.
func instantiate(tpl string) string {
	segs := strings.Split(tpl, "/")
	for i, s := range segs {
		if strings.HasSuffix(s, "...}") && strings.HasPrefix(s, "{") {
			segs[i] = "r/s"
		} else if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = "v"
		}
	}
	return strings.Join(segs, "/")
}
