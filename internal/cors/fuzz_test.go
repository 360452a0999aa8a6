package cors

import (
	"slices"
	"strings"
	"testing"
)

// fuzzAllow is the allowlist FuzzOrigin attacks: exact origins with and
// without ports, wildcards with and without ports, IPv6, Punycode and null.
var fuzzAllow = []string{
	"https://app.example.com", "http://localhost:3000", "https://*.example.org",
	"https://*.example.net:8443", "null", "http://[::1]:8080", "https://xn--bcher-kva.example",
}

// FuzzOrigin checks the matcher against a reference rule written component
// by component: whatever the fuzzer sends, the matcher never allows an origin
// the reference refuses, never answers with anything but the reference's
// canonical origin, and (so that the tests cannot pass by refusing
// everything) allows what the reference allows.
func FuzzOrigin(f *testing.F) {
	for _, s := range []string{
		"https://app.example.com", "HTTPS://APP.EXAMPLE.COM:443", "https://app.example.com.evil.com",
		"https://evilapp.example.com", "https://app.example.com:", "https://app.example.com:0443",
		"https://a.example.org", "https://a.b.example.org", "https://example.org", "https://evil-example.org",
		"https://-a.example.org", "https://a.example.net:8443", "https://a.example.net", "null", "Null",
		"http://[::1]:8080", "http://[::1]", "https://\u212Aey.example.org", "https://a.example.org:443",
		"https://a.example.org:443:443", "https://user@a.example.org", "https://a.example.org/", "",
	} {
		f.Add(s)
	}
	p, err := compile(Config{Name: "fuzz", AllowOrigins: fuzzAllow}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		got := p.origins.match(origin)
		want, ok := reference(fuzzAllow, origin)
		switch {
		case got != nil && !ok:
			t.Fatalf("match(%q) = %q, but the reference refuses it", origin, got)
		case got == nil && ok:
			t.Fatalf("match(%q) refused, but the reference allows it as %q", origin, want)
		case got != nil && (len(got) != 1 || got[0] != want):
			t.Fatalf("match(%q) = %q, want %q", origin, got, want)
		}
		if got != nil && strings.ContainsFunc(got[0], func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(":/.-[]", r))
		}) {
			t.Fatalf("match(%q) answers %q, which carries bytes an origin cannot", origin, got[0])
		}
	})
}

// reference is the allowlist rule stated on components: ASCII only, scheme
// and host compared case-insensitively, the default port equal to no port,
// exact hosts equal, and "*.base" equal to one LDH label followed by ".base".
func reference(allow []string, origin string) (string, bool) {
	if origin == "null" {
		return "null", slices.Contains(allow, "null")
	}
	for _, r := range origin {
		if r <= ' ' || r >= 0x7f {
			return "", false
		}
	}
	scheme, host, port, ok := split(strings.ToLower(origin))
	if !ok {
		return "", false
	}
	canon := scheme + "://" + host + port
	for _, a := range allow {
		as, ah, ap, ok := split(a)
		if !ok || as != scheme || ap != port {
			continue
		}
		if base, wild := strings.CutPrefix(ah, "*."); wild {
			label, rest, found := strings.Cut(host, ".")
			if found && rest == base && len(label) <= 63 && label != "" && label[0] != '-' && label[len(label)-1] != '-' &&
				strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-") == "" {
				return canon, true
			}
		} else if ah == host {
			return canon, true
		}
	}
	return "", false
}

// split cuts scheme://host[:port]; port keeps its colon ("" when absent) and
// the default port of http and https becomes "".
func split(o string) (scheme, host, port string, ok bool) {
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok {
		return "", "", "", false
	}
	after := rest
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i >= 0 {
			after = rest[i:]
		}
	}
	host = rest
	if i := strings.LastIndexByte(after, ':'); i >= 0 {
		cut := len(rest) - len(after) + i
		host, port = rest[:cut], rest[cut:]
	}
	if scheme == "https" && port == ":443" || scheme == "http" && port == ":80" {
		port = ""
	}
	return scheme, host, port, true
}

// FuzzRequestHeaders checks the Access-Control-Request-Headers parser: a
// preflight is allowed only if every listed name is on the allowlist.
func FuzzRequestHeaders(f *testing.F) {
	for _, s := range []string{"content-type", "Content-Type, X-Request-ID", ",,", " authorization ,x-admin", "content-type-x", "\tcontent-type\t"} {
		f.Add(s)
	}
	allowed := []string{"authorization", "content-type", "x-request-id"}
	p, err := compile(Config{AllowOrigins: []string{"https://a.example.com"}, AllowHeaders: allowed}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		bad, ok := p.headersAllowed([]string{v})
		want := true
		for _, name := range strings.Split(v, ",") {
			name = strings.Trim(name, " \t")
			if name != "" && !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, name) && isASCII(name) }) {
				want = false
			}
		}
		if ok != want {
			t.Fatalf("headersAllowed(%q) = %v (refused %q), want %v", v, ok, bad, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
