package authz_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/authz"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/route"
	"github.com/rampart-gw/rampart/internal/spool"
)

// matched is a request for target as the gateway hands it to authz: its
// Info holds the principal and the path parameters of /users/{username}.
func matched(tb testing.TB, target string, p *pipeline.Principal) (*http.Request, *pipeline.Info) {
	tb.Helper()
	rt, errs := route.New([]route.Spec{{Methods: []string{"GET"}, Path: "/users/{username}"}})
	if len(errs) > 0 {
		tb.Fatal(errs)
	}
	path, query, _ := strings.Cut(target, "?")
	r := &http.Request{Method: "GET", URL: &url.URL{Path: path, RawQuery: query}, Header: http.Header{}}
	info := &pipeline.Info{Principal: p}
	if res := rt.Match("", "GET", path, &info.Params); res.Status != 0 {
		tb.Fatalf("%s: no match (%d)", target, res.Status)
	}
	return r, info
}

func TestCheckMatch(t *testing.T) {
	alice := &pipeline.Principal{Subject: "alice", Claims: map[string]any{"uid": float64(42), "ratio": 1.5, "org": map[string]any{"tenant": "acme"}}}
	req := authz.Require{Match: []authz.Match{{Path: "username", Claim: "sub"}}}
	for _, tt := range []struct {
		target string
		req    authz.Require
		p      *pipeline.Principal
		ok     bool
	}{
		{"/users/alice", req, alice, true},
		{"/users/bob", req, alice, false},
		{"/users/%61lice", req, alice, true}, // one percent-decoding, as the router's canonical path has it
		{"/users/Alice", req, alice, false},
		{"/users/alice%2F", req, alice, false},
		{"/users/alice%2", req, alice, false},
		{"/users/alice%zz", req, alice, false},
		{"/users/%2561lice", req, alice, false}, // decoded once only: "%61lice"
		{"/users/bob", authz.Require{Match: req.Match, MatchBypassRoles: []string{"admin"}}, &pipeline.Principal{Subject: "root", Roles: []string{"admin"}}, true},
		{"/users/42?id=42", authz.Require{Match: []authz.Match{{Path: "username", Claim: "uid"}, {Query: "id", Claim: "uid"}}}, alice, true},
		{"/users/x?id=1.5", authz.Require{Match: []authz.Match{{Query: "id", Claim: "ratio"}}}, alice, false}, // not an integer
		{"/users/x?a+b=acme", authz.Require{Match: []authz.Match{{Query: "a b", Claim: "org.tenant"}}}, alice, true},
		{"/users/x?id=42", authz.Require{Match: []authz.Match{{Query: "id", Claim: "org"}}}, alice, false}, // an object claim
		{"/users/x?id=42", authz.Require{Match: []authz.Match{{Query: "id", Claim: "nope"}}}, alice, false},
		{"/users/x?id=4%32", authz.Require{Match: []authz.Match{{Query: "id", Claim: "uid"}}}, alice, true},
		{"/users/x?id=420", authz.Require{Match: []authz.Match{{Query: "id", Claim: "uid"}}}, alice, false},
	} {
		r, info := matched(t, tt.target, tt.p)
		rej := authz.CheckMatch(r, info, tt.p, tt.req)
		if (rej == nil) != tt.ok {
			t.Errorf("%s: refused = %v, want %v", tt.target, rej, !tt.ok)
			continue
		}
		if rej != nil && (rej.Status != 403 || rej.Type != authz.TypeObjectNotOwned) {
			t.Errorf("%s: got %d %s", tt.target, rej.Status, rej.Type)
		}
	}
}

// TestCheckMatchAudit: the refusal names the request value, never the value.
func TestCheckMatchAudit(t *testing.T) {
	p := &pipeline.Principal{Subject: "alice"}
	r, info := matched(t, "/users/bob-secret", p)
	rej := authz.CheckMatch(r, info, p, authz.Require{Match: []authz.Match{{Path: "username", Claim: "sub"}}})
	if rej == nil {
		t.Fatal("not refused")
	}
	msg := rej.Error()
	if !strings.Contains(msg, `path value "username"`) || strings.Contains(msg, "bob-secret") || strings.Contains(msg+rej.Detail, "alice") {
		t.Errorf("refusal = %q / %q", msg, rej.Detail)
	}
}

func TestMatchValidate(t *testing.T) {
	for _, tt := range []struct {
		req  authz.Require
		want string
	}{
		{authz.Require{Match: []authz.Match{{Path: "a", Query: "b", Claim: "sub"}}}, "exactly one request value"},
		{authz.Require{Match: []authz.Match{{Claim: "sub"}}}, "exactly one request value"},
		{authz.Require{Match: []authz.Match{{Header: "X-A"}}}, "needs the claim"},
		{authz.Require{MatchBypassRoles: []string{"admin"}}, "there are none"},
	} {
		if _, err := authz.New(tt.req, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.req, err, tt.want)
		}
	}
}

// FuzzCheckMatch: whatever the path and query, a request value matches only
// when it decodes (once, no "/") to exactly the claim.
func FuzzCheckMatch(f *testing.F) {
	for _, s := range []string{"alice", "%61lice", "Alice", "alice%2F", "alice%", "%zz", "a+b", "%2561", "al%C3%ADce", ""} {
		f.Add(s, "alice")
	}
	f.Fuzz(func(t *testing.T, raw, claim string) {
		if strings.ContainsAny(raw, "/?#& ") || strings.ContainsAny(claim, "\x00") || raw == "" {
			t.Skip()
		}
		p := &pipeline.Principal{Subject: "s", Claims: map[string]any{"c": claim}}
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/", RawQuery: "v=" + raw}}
		info := &pipeline.Info{Principal: p}
		rt, _ := route.New([]route.Spec{{Methods: []string{"GET"}, Path: "/users/{v}"}})
		pathOK := rt.Match("", "GET", "/users/"+raw, &info.Params).Status == 0
		got := authz.CheckMatch(r, info, p, authz.Require{Match: []authz.Match{{Path: "v", Claim: "c"}}}) == nil
		want := false
		if dec, err := pathUnescape(raw); err == nil && !strings.Contains(dec, "/") {
			want = dec == claim && claim != ""
		}
		if pathOK && got != want {
			t.Errorf("path %q vs claim %q: matched %v, want %v", raw, claim, got, want)
		}
		gotQ := authz.CheckMatch(r, info, p, authz.Require{Match: []authz.Match{{Query: "v", Claim: "c"}}}) == nil
		wantQ := false
		if dec, err := queryUnescape(raw); err == nil && !strings.Contains(dec, "/") {
			wantQ = dec == claim && claim != ""
		}
		if gotQ != wantQ {
			t.Errorf("query %q vs claim %q: matched %v, want %v", raw, claim, gotQ, wantQ)
		}
	})
}

// BenchmarkCheckMatchInt: an integer claim is compared without making a
// string of it.
func BenchmarkCheckMatchInt(b *testing.B) {
	p := &pipeline.Principal{Subject: "alice", Claims: map[string]any{"uid": float64(1234567)}}
	r, info := matched(b, "/users/1234567?x=1", p)
	r.Header.Set("X-Uid", "1234567")
	req := authz.Require{Match: []authz.Match{{Path: "username", Claim: "uid"}, {Header: "X-Uid", Claim: "uid"}}}
	b.ReportAllocs()
	for b.Loop() {
		if rej := authz.CheckMatch(r, info, p, req); rej != nil {
			b.Fatal(rej)
		}
	}
}

// BenchmarkCheckMatch is the cost of a path and a query ownership rule on
// an allowed request.
func BenchmarkCheckMatch(b *testing.B) {
	p := &pipeline.Principal{Subject: "alice", Claims: map[string]any{"org": map[string]any{"tenant": "acme"}}}
	r, info := matched(b, "/users/%61lice?page=2&tenant=acme", p)
	req := authz.Require{Match: []authz.Match{{Path: "username", Claim: "sub"}, {Query: "tenant", Claim: "org.tenant"}}}
	b.ReportAllocs()
	for b.Loop() {
		if rej := authz.CheckMatch(r, info, p, req); rej != nil {
			b.Fatal(rej)
		}
	}
}

func pathUnescape(s string) (string, error)  { return url.PathUnescape(s) }
func queryUnescape(s string) (string, error) { return url.QueryUnescape(s) }

// bodyBudget is a body budget like the gateway's.
func bodyBudget(tb testing.TB) *spool.Budget {
	b, err := spool.New(spool.Config{Dir: tb.TempDir(), Threshold: 1 << 20, MemoryBudget: 64 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// bodyRequest is a request whose body the gateway's body step has
// buffered in memory, as it does on routes with json rules.
func bodyRequest(tb testing.TB, bud *spool.Budget, body string) *http.Request {
	r := &http.Request{Method: "POST", URL: &url.URL{Path: "/"}, Header: http.Header{}, Body: http.NoBody}
	if body == "" {
		return r
	}
	buf, err := bud.Buffer(int64(len(body)), 1<<20, true)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(buf.Free)
	if _, err := buf.Fill(strings.NewReader(body), 1<<20); err != nil {
		tb.Fatal(err)
	}
	r.Body = buf.Open()
	return r
}

func TestCheckBodyMatch(t *testing.T) {
	bud := bodyBudget(t)
	p := &pipeline.Principal{Subject: "alice", Claims: map[string]any{"uid": float64(7)}}
	for _, tt := range []struct {
		pointer, body string
		ok            bool
	}{
		{"/owner", `{"owner":"alice"}`, true},
		{"/owner", `{"owner":"al\u0069ce"}`, true},
		{"/owner", `{"owner":"alice","owner":"alice"}`, false}, // duplicate keys: strict JSON refuses
		{"/owner", `{"owner":["alice"]}`, false},
		{"/owner", `{"Owner":"alice"}`, false},
		{"/a~1b", `{"a/b":"alice"}`, true},
		{"/m~0", `{"m~":"alice"}`, true},
		{"/items/1/by", `{"items":[{"by":"bob"},{"by":"alice"}]}`, true},
		{"/items/01/by", `{"items":[{"by":"bob"},{"by":"alice"}]}`, false},
		{"/items/2/by", `{"items":[{"by":"bob"},{"by":"alice"}]}`, false},
		{"/owner/x", `{"owner":"alice"}`, false},
		{"/owner", ``, false},
		{"/owner", `{"owner":"alice"} {}`, false},
	} {
		req := authz.Require{Match: []authz.Match{{JSON: tt.pointer, Claim: "sub"}}}
		if got := authz.CheckBodyMatch(bodyRequest(t, bud, tt.body), p, req) == nil; got != tt.ok {
			t.Errorf("%s in %s: matched %v, want %v", tt.pointer, tt.body, got, tt.ok)
		}
	}
	uid := authz.Require{Match: []authz.Match{{JSON: "/uid", Claim: "uid"}}}
	for body, ok := range map[string]bool{`{"uid":7}`: true, `{"uid":"7"}`: true, `{"uid":7.0}`: false, `{"uid":70}`: false} {
		if got := authz.CheckBodyMatch(bodyRequest(t, bud, body), p, uid) == nil; got != ok {
			t.Errorf("%s: matched %v, want %v", body, got, ok)
		}
	}
	// json rules are left to CheckBodyMatch; other rules to CheckMatch.
	r, info := matched(t, "/users/bob", p)
	if rej := authz.CheckMatch(r, info, p, authz.Require{Match: []authz.Match{{JSON: "/owner", Claim: "sub"}}}); rej != nil {
		t.Errorf("CheckMatch checked a json rule: %v", rej)
	}
}

// FuzzCheckBodyMatch: a body never makes a json rule panic, and a body
// that matches is one whose pointed-at value is the claim.
func FuzzCheckBodyMatch(f *testing.F) {
	for _, s := range []string{`{"owner":"alice"}`, `{"owner":"\u0061lice"}`, `{"owner":"alice","owner":"bob"}`, `{"owner":7}`, `[1]`, `{"owner":{"id":"alice"}}`, `{`} {
		f.Add(s, "/owner")
	}
	bud := bodyBudget(f)
	f.Fuzz(func(t *testing.T, body, pointer string) {
		p := &pipeline.Principal{Subject: "alice"}
		req := authz.Require{Match: []authz.Match{{JSON: pointer, Claim: "sub"}}}
		if _, err := authz.New(req, nil); err != nil {
			return // not a pointer
		}
		if authz.CheckBodyMatch(bodyRequest(t, bud, body), p, req) != nil {
			return
		}
		var doc any
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatalf("%q matched a body encoding/json refuses: %v", body, err)
		}
		if !strings.Contains(body, "alice") && !strings.Contains(body, `\u`) {
			t.Fatalf("%q at %q matched without the value", body, pointer)
		}
	})
}
