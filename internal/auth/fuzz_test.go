package auth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// FuzzTokenSource: whatever the Authorization header or cookie holds,
// extraction never panics, and a token it returns is one b64token of at most
// MaxTokenBytes (no comma, space, quote or control byte reaches a verifier).
func FuzzTokenSource(f *testing.F) {
	for _, s := range []string{"Bearer abc.def.ghi", "Bearer a, Bearer b", "bearer  x==", "Basic YTpi", "Bearer", "Bearer =", "Bearer {\"a\":1}", "Bearer a\x00b", "at=x; at=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, src := range []auth.TokenSource{{}, {Header: "X-Token"}, {Cookie: "at"}} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header["Authorization"] = []string{v}
			r.Header["X-Token"] = []string{v}
			r.Header["Cookie"] = []string{v}
			tok, err := src.Token(r)
			if err != nil {
				continue
			}
			if tok == "" || len(tok) > auth.MaxTokenBytes || strings.ContainsAny(tok, ", \t\"\\\x00\r\n{}") {
				t.Fatalf("%+v accepted token %q from %q", src, tok, v)
			}
			if i := strings.IndexByte(tok, '='); i >= 0 && strings.Trim(tok[i:], "=") != "" {
				t.Fatalf("%+v accepted '=' inside token %q", src, tok)
			}
		}
	})
}

// FuzzIdentityHeaders: challenges and identity headers built from arbitrary
// strings never carry a byte that could end or split a header.
func FuzzIdentityHeaders(f *testing.F) {
	f.Add("alice", "items:read", "admin", "rampart")
	f.Add("a\r\nX-Evil: 1", "x y", "a,b", "r\"e\\alm\n")
	f.Fuzz(func(t *testing.T, sub, scope, role, realm string) {
		h := http.Header{}
		auth.SetHeaders(h, &pipeline.Principal{Authenticator: "fz", Subject: sub, Scopes: []string{scope, "s2"}, Roles: []string{role, "r2"}})
		h.Set("WWW-Authenticate", auth.BearerChallenge(realm, auth.CodeInsufficientScope, scope, role))
		for k, vs := range h {
			for _, v := range vs {
				for i := 0; i < len(v); i++ {
					if c := v[i]; c < 0x20 || c == 0x7f {
						t.Fatalf("%s carries control byte %#x: %q", k, c, v)
					}
				}
				if len(v) > 4*auth.MaxIdentityHeaderBytes+len(realm)*2+64 {
					t.Fatalf("%s unbounded: %d bytes", k, len(v))
				}
			}
		}
		if got := h.Get(auth.HeaderSubject); got != "" && got != sub {
			t.Fatalf("subject altered: %q became %q", sub, got)
		}
	})
}

func ExampleChallenge() {
	fmt.Println(auth.BearerChallenge("rampart", auth.CodeInvalidToken, "", ""))
	fmt.Println(auth.Challenge("Bearer", "realm", "api \"v2\"", "error", auth.CodeInsufficientScope, "scope", "items:write"))
	// Output:
	// Bearer realm="rampart", error="invalid_token"
	// Bearer realm="api \"v2\"", error="insufficient_scope", scope="items:write"
}

func ExampleSetHeaders() {
	h := http.Header{"X-Rampart-Subject": {"forged-by-client"}}
	auth.SetHeaders(h, &pipeline.Principal{Authenticator: "corp_sso", Subject: "alice",
		Scopes: []string{"items:read", "items:write"}, Roles: []string{"editor", "a,b"}})
	for _, k := range []string{auth.HeaderPrincipal, auth.HeaderSubject, auth.HeaderScopes, auth.HeaderRoles} {
		fmt.Printf("%s: %s\n", k, h.Get(k))
	}
	// Output:
	// X-Rampart-Principal: corp_sso:alice
	// X-Rampart-Subject: alice
	// X-Rampart-Scopes: items:read items:write
	// X-Rampart-Roles: editor
}
