package auth_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/auth"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

func TestChallenge(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"no credentials: realm only", auth.BearerChallenge("rampart", "", "", ""), `Bearer realm="rampart"`},
		{"invalid token", auth.BearerChallenge("rampart", auth.CodeInvalidToken, "", ""), `Bearer realm="rampart", error="invalid_token"`},
		{"insufficient scope lists the scope", auth.BearerChallenge("api", auth.CodeInsufficientScope, "items:read items:write", ""),
			`Bearer realm="api", error="insufficient_scope", scope="items:read items:write"`},
		{"step-up (RFC 9470)", auth.BearerChallenge("api", auth.CodeInsufficientUserAuthentication, "", "urn:mace:incommon:iap:silver"),
			`Bearer realm="api", error="insufficient_user_authentication", acr_values="urn:mace:incommon:iap:silver"`},
		{"quote and backslash escaped", auth.Challenge("Bearer", "realm", `a"b\c`), `Bearer realm="a\"b\\c"`},
		{"CR, LF, NUL and non-ASCII dropped", auth.Challenge("Bearer", "realm", "a\r\nSet-Cookie: x\x00é"), `Bearer realm="aSet-Cookie: x"`},
		{"bad scheme characters dropped", auth.Challenge("Bea rer\r\n", "realm", "r"), `Bearer realm="r"`},
		{"no params", auth.Challenge("Bearer"), `Bearer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %s, want %s", tt.got, tt.want)
			}
		})
	}
}

func TestTokenSource(t *testing.T) {
	tok := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
	tests := []struct {
		name    string
		src     auth.TokenSource
		header  [][2]string
		cookies []string
		want    string
		err     error  // errors.Is target
		typ     string // rejection type
	}{
		{name: "Bearer", header: [][2]string{{"Authorization", "Bearer " + tok}}, want: tok},
		{name: "scheme case-insensitive", header: [][2]string{{"Authorization", "BEARER " + tok}}, want: tok},
		{name: "extra spaces before the token", header: [][2]string{{"Authorization", "Bearer   " + tok}}, want: tok},
		{name: "b64token with trailing =", header: [][2]string{{"Authorization", "Bearer abc+/~-_.=="}}, want: "abc+/~-_.=="},
		{name: "no header", err: auth.ErrNoCredential},
		{name: "Basic is another kind", header: [][2]string{{"Authorization", "Basic YTpi"}}, err: auth.ErrNoCredential},
		{name: "Bearer without a token", header: [][2]string{{"Authorization", "Bearer"}}, typ: auth.TypeMalformedCredentials},
		{name: "two fields", header: [][2]string{{"Authorization", "Bearer a"}, {"Authorization", "Bearer b"}}, typ: auth.TypeAmbiguousCredentials},
		{name: "two fields, other scheme first", header: [][2]string{{"Authorization", "Basic YTpi"}, {"Authorization", "Bearer b"}}, typ: auth.TypeAmbiguousCredentials},
		{name: "comma list", header: [][2]string{{"Authorization", "Bearer a, Bearer b"}}, typ: auth.TypeAmbiguousCredentials},
		{name: "token with inner space", header: [][2]string{{"Authorization", "Bearer a b"}}, typ: auth.TypeMalformedCredentials},
		{name: "= in the middle", header: [][2]string{{"Authorization", "Bearer a=b"}}, typ: auth.TypeMalformedCredentials},
		{name: "only =", header: [][2]string{{"Authorization", "Bearer ="}}, typ: auth.TypeMalformedCredentials},
		{name: "quote", header: [][2]string{{"Authorization", `Bearer "abc"`}}, typ: auth.TypeMalformedCredentials},
		{name: "NUL", header: [][2]string{{"Authorization", "Bearer a\x00b"}}, typ: auth.TypeMalformedCredentials},
		{name: "oversized", header: [][2]string{{"Authorization", "Bearer " + strings.Repeat("a", auth.MaxTokenBytes+1)}}, typ: auth.TypeMalformedCredentials},
		{name: "exactly MaxTokenBytes", header: [][2]string{{"Authorization", "Bearer " + strings.Repeat("a", auth.MaxTokenBytes)}}, want: strings.Repeat("a", auth.MaxTokenBytes)},
		{name: "custom header, raw token", src: auth.TokenSource{Header: "x-access-token"}, header: [][2]string{{"X-Access-Token", tok}}, want: tok},
		{name: "custom header, Bearer prefix", src: auth.TokenSource{Header: "X-Access-Token"}, header: [][2]string{{"X-Access-Token", "bearer " + tok}}, want: tok},
		{name: "custom header ignores Authorization", src: auth.TokenSource{Header: "X-Access-Token"}, header: [][2]string{{"Authorization", "Bearer " + tok}}, err: auth.ErrNoCredential},
		{name: "custom header twice", src: auth.TokenSource{Header: "X-Access-Token"}, header: [][2]string{{"X-Access-Token", "a"}, {"X-Access-Token", "b"}}, typ: auth.TypeAmbiguousCredentials},
		{name: "cookie", src: auth.TokenSource{Cookie: "at"}, cookies: []string{"at=" + tok}, want: tok},
		{name: "cookie absent", src: auth.TokenSource{Cookie: "at"}, cookies: []string{"other=x"}, err: auth.ErrNoCredential},
		{name: "cookie twice", src: auth.TokenSource{Cookie: "at"}, cookies: []string{"at=a; at=b"}, typ: auth.TypeAmbiguousCredentials},
		{name: "cookie in two Cookie fields", src: auth.TokenSource{Cookie: "at"}, cookies: []string{"at=a", "at=b"}, typ: auth.TypeAmbiguousCredentials},
		{name: "cookie source ignores Authorization", src: auth.TokenSource{Cookie: "at"}, header: [][2]string{{"Authorization", "Bearer " + tok}}, err: auth.ErrNoCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, h := range tt.header {
				r.Header.Add(h[0], h[1])
			}
			for _, c := range tt.cookies {
				r.Header.Add("Cookie", c)
			}
			got, err := tt.src.Token(r)
			switch {
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Errorf("err = %v, want %v", err, tt.err)
				}
			case tt.typ != "":
				var rej *pipeline.Rejection
				if !errors.As(err, &rej) || rej.Status != http.StatusBadRequest || rej.Type != tt.typ {
					t.Errorf("err = %v, want 400 %s", err, tt.typ)
				}
			default:
				if err != nil || got != tt.want {
					t.Errorf("Token = %q, %v; want %q", got, err, tt.want)
				}
			}
		})
	}
}

func TestSetHeaders(t *testing.T) {
	long := strings.Repeat("r", auth.MaxIdentityHeaderBytes)
	tests := []struct {
		name string
		p    *pipeline.Principal
		want map[string]string // absent key = header must be absent
	}{
		{"nil principal: all removed", nil, map[string]string{}},
		{"plain", &pipeline.Principal{Authenticator: "corp_sso", Subject: "alice", Scopes: []string{"a:read", "b"}, Roles: []string{"admin", "Domain Users"}},
			map[string]string{auth.HeaderPrincipal: "corp_sso:alice", auth.HeaderSubject: "alice", auth.HeaderScopes: "a:read b", auth.HeaderRoles: "admin,Domain Users"}},
		{"UTF-8 subject kept", &pipeline.Principal{Authenticator: "a", Subject: "zoë"}, map[string]string{auth.HeaderPrincipal: "a:zoë", auth.HeaderSubject: "zoë"}},
		{"CRLF subject: no identity rather than a cleaned one", &pipeline.Principal{Authenticator: "a", Subject: "alice\r\nX-Rampart-Roles: admin"}, map[string]string{}},
		{"NUL subject", &pipeline.Principal{Authenticator: "a", Subject: "alice\x00"}, map[string]string{}},
		{"invalid UTF-8 subject", &pipeline.Principal{Authenticator: "a", Subject: "al\xffice"}, map[string]string{}},
		{"over-long subject: never truncated", &pipeline.Principal{Authenticator: "a", Subject: long}, map[string]string{}},
		{"subject with edge spaces (HTTP would trim it)", &pipeline.Principal{Authenticator: "a", Subject: " alice"}, map[string]string{}},
		{"role with a comma is left out, not split", &pipeline.Principal{Authenticator: "a", Subject: "s", Roles: []string{"user", "admin,root", "ops"}},
			map[string]string{auth.HeaderPrincipal: "a:s", auth.HeaderSubject: "s", auth.HeaderRoles: "user,ops"}},
		{"scope with a space or LF left out", &pipeline.Principal{Authenticator: "a", Subject: "s", Scopes: []string{"x y", "ok", "bad\n"}},
			map[string]string{auth.HeaderPrincipal: "a:s", auth.HeaderSubject: "s", auth.HeaderScopes: "ok"}},
		{"roles past the bound are dropped", &pipeline.Principal{Authenticator: "a", Subject: "s", Roles: []string{"first", long}},
			map[string]string{auth.HeaderPrincipal: "a:s", auth.HeaderSubject: "s", auth.HeaderRoles: "first"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, k := range []string{auth.HeaderPrincipal, auth.HeaderSubject, auth.HeaderScopes, auth.HeaderRoles} {
				h.Add(k, "forged-by-client")
			}
			auth.SetHeaders(h, tt.p)
			got := map[string]string{}
			for _, k := range []string{auth.HeaderPrincipal, auth.HeaderSubject, auth.HeaderScopes, auth.HeaderRoles} {
				if vs := h.Values(k); len(vs) > 0 {
					got[k] = strings.Join(vs, "|")
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCache(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	t.Run("expiry", func(t *testing.T) {
		c := auth.NewCache[string](100, clock)
		k := auth.KeyOf("tok")
		c.Put(k, "v", clock().Add(time.Minute))
		if v, ok := c.Get(k); !ok || v != "v" {
			t.Fatalf("Get = %q, %v", v, ok)
		}
		advance(time.Minute)
		if _, ok := c.Get(k); ok {
			t.Error("entry alive at its expiry")
		}
		c.Put(k, "dead", clock())
		if c.Len() != 1 { // the old, dead entry is still there, the new dead one was refused
			t.Errorf("Len = %d", c.Len())
		}
	})
	t.Run("bounded", func(t *testing.T) {
		c := auth.NewCache[int](64, clock)
		for i := range 10000 {
			c.Put(auth.KeyOf(fmt.Sprint(i)), i, clock().Add(time.Duration(i+1)*time.Second))
		}
		if n := c.Len(); n > 64 {
			t.Errorf("Len = %d after 10000 inserts, want <= 64", n)
		}
		// Eviction prefers entries expiring soonest: the last inserted
		// (latest expiry) survive far more often than the first.
		late, early := 0, 0
		for i := range 200 {
			if _, ok := c.Get(auth.KeyOf(fmt.Sprint(i))); ok {
				early++
			}
			if _, ok := c.Get(auth.KeyOf(fmt.Sprint(9999 - i))); ok {
				late++
			}
		}
		if late <= early {
			t.Errorf("survivors: %d of the latest-expiring, %d of the earliest", late, early)
		}
	})
	t.Run("purge and delete", func(t *testing.T) {
		c := auth.NewCache[int](100, clock)
		c.Put(auth.KeyOf("a"), 1, clock().Add(time.Hour))
		c.Put(auth.KeyOf("b"), 2, clock().Add(time.Hour))
		c.Delete(auth.KeyOf("a"))
		if _, ok := c.Get(auth.KeyOf("a")); ok {
			t.Error("deleted entry found")
		}
		c.Purge()
		if c.Len() != 0 {
			t.Errorf("Len after Purge = %d", c.Len())
		}
	})
	t.Run("nil cache is empty", func(t *testing.T) {
		c := auth.NewCache[int](0, clock)
		c.Put(auth.KeyOf("a"), 1, clock().Add(time.Hour))
		if _, ok := c.Get(auth.KeyOf("a")); ok || c.Len() != 0 {
			t.Error("disabled cache stored a value")
		}
		c.Purge()
		c.Delete(auth.KeyOf("a"))
	})
	t.Run("concurrent use", func(t *testing.T) {
		c := auth.NewCache[int](128, clock)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 2000 {
					k := auth.KeyOf(fmt.Sprint(g, i%300))
					c.Put(k, i, clock().Add(time.Hour))
					c.Get(k)
					if i%500 == 0 {
						c.Purge()
					}
				}
			}()
		}
		wg.Wait()
	})
}

func TestPrincipalFromClaims(t *testing.T) {
	tests := []struct {
		name    string
		claims  map[string]any
		roles   string
		subs    []string
		want    *pipeline.Principal
		wantErr bool
	}{
		{"sub, scope, roles, amr", map[string]any{"sub": "a", "scope": "x y", "roles": []any{"r"}, "amr": []any{"pwd", "otp"}, "acr": "2"}, "", []string{"sub"},
			&pipeline.Principal{Subject: "a", Scopes: []string{"x", "y"}, Roles: []string{"r"}, AMR: []string{"pwd", "otp"}}, false},
		{"scp array", map[string]any{"sub": "a", "scp": []any{"x"}}, "", []string{"sub"}, &pipeline.Principal{Subject: "a", Scopes: []string{"x"}}, false},
		{"fallback subject claim", map[string]any{"client_id": "svc"}, "", []string{"sub", "client_id"}, &pipeline.Principal{Subject: "svc"}, false},
		{"nested roles", map[string]any{"sub": "a", "realm_access": map[string]any{"roles": []any{"x"}}}, "realm_access.roles", []string{"sub"},
			&pipeline.Principal{Subject: "a", Roles: []string{"x"}}, false},
		{"nested path through a non-object", map[string]any{"sub": "a", "realm_access": "x"}, "realm_access.roles", []string{"sub"}, &pipeline.Principal{Subject: "a"}, false},
		{"no subject", map[string]any{"scope": "x"}, "", []string{"sub"}, nil, true},
		{"sub wrong type", map[string]any{"sub": 1}, "", []string{"sub"}, nil, true},
		{"scope wrong type", map[string]any{"sub": "a", "scope": 1}, "", []string{"sub"}, nil, true},
		{"scope array with a number", map[string]any{"sub": "a", "scope": []any{"x", 1}}, "", []string{"sub"}, nil, true},
		{"roles wrong type", map[string]any{"sub": "a", "roles": true}, "", []string{"sub"}, nil, true},
		{"amr a string", map[string]any{"sub": "a", "amr": "mfa"}, "", []string{"sub"}, nil, true},
		{"acr a number", map[string]any{"sub": "a", "acr": 1}, "", []string{"sub"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := auth.PrincipalFromClaims("x", tt.claims, tt.roles, tt.subs...)
			if tt.wantErr {
				if err == nil || !errors.Is(err, auth.ErrClaim) {
					t.Errorf("err = %v, want ErrClaim", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Authenticator, tt.want.Claims = "x", tt.claims
			if diff := cmp.Diff(tt.want, p); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
}
