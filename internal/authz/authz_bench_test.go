package authz_test

import (
	"testing"

	"github.com/rampart-gw/rampart/internal/authz"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

func BenchmarkCheck(b *testing.B) {
	p := &pipeline.Principal{Subject: "alice", Scopes: []string{"openid", "profile", "items:read", "items:write"},
		Roles: []string{"viewer", "editor"}, AMR: []string{"pwd", "otp"},
		Claims: map[string]any{"tenant": "acme", "groups": []any{"eng", "ops"}}}
	req := authz.Require{Scopes: []string{"items:read", "items:write"}, Roles: []string{"admin", "editor"},
		Claims: map[string][]string{"tenant": {"acme"}}, MFA: true}
	b.ReportAllocs()
	for b.Loop() {
		if rej := authz.Check(p, req); rej != nil {
			b.Fatal(rej)
		}
	}
}
