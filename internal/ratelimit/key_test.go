package ratelimit_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/ratelimit"
)

func keyOf(t *testing.T, spec string, info *pipeline.Info, hdr map[string]string) string {
	t.Helper()
	k, err := ratelimit.ParseKey(spec, []string{"partners"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	for n, v := range hdr {
		r.Header.Set(n, v)
	}
	got, err := k.Key(pipeline.WithInfo(r, info), "pol")
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestKeyParts(t *testing.T) {
	alice := &pipeline.Principal{Subject: "alice", Authenticator: "corp_sso", Claims: map[string]any{"tenant": "acme", "n": 42.0}}
	aliceKey := &pipeline.Principal{Subject: "alice", Authenticator: "partners"}
	a := &pipeline.Info{ClientIP: "192.0.2.1", Route: "items", Principal: alice}
	tests := []struct {
		name     string
		spec     string
		x, y     *pipeline.Info
		hx, hy   map[string]string
		wantSame bool
	}{
		{"client_ip: same address → same key", "client_ip", a, &pipeline.Info{ClientIP: "192.0.2.1"}, nil, nil, true},
		{"client_ip: other address → other key", "client_ip", a, &pipeline.Info{ClientIP: "192.0.2.2", Principal: alice}, nil, nil, false},
		{"principal: same subject on two addresses → same key", "principal", a, &pipeline.Info{ClientIP: "198.51.100.1", Principal: alice}, nil, nil, true},
		{"principal: same subject from another authenticator → other key", "principal", a, &pipeline.Info{ClientIP: "192.0.2.1", Principal: aliceKey}, nil, nil, false},
		{"principal: anonymous falls back to the address", "principal", &pipeline.Info{ClientIP: "192.0.2.1"}, &pipeline.Info{ClientIP: "192.0.2.2"}, nil, nil, false},
		{"api_key: a JWT principal is not an API key → per address", "api_key", a, &pipeline.Info{ClientIP: "192.0.2.2", Principal: alice}, nil, nil, false},
		{"api_key: the same key on two addresses → same key", "api_key", &pipeline.Info{ClientIP: "192.0.2.1", Principal: aliceKey}, &pipeline.Info{ClientIP: "192.0.2.9", Principal: aliceKey}, nil, nil, true},
		{"route", "route", a, &pipeline.Info{ClientIP: "192.0.2.9", Route: "items"}, nil, nil, true},
		{"header: same value → same key", "header:X-Tenant", a, &pipeline.Info{ClientIP: "192.0.2.9"}, map[string]string{"X-Tenant": "t1"}, map[string]string{"x-tenant": "t1"}, true},
		{"header: absent header is per address, not shared", "header:X-Tenant", a, &pipeline.Info{ClientIP: "192.0.2.9"}, nil, nil, false},
		{"header: absent header cannot be forged by sending the address", "header:X-Tenant", a, &pipeline.Info{ClientIP: "192.0.2.9"}, nil, map[string]string{"X-Tenant": "192.0.2.1"}, false},
		{"claim", "claim:tenant", a, &pipeline.Info{ClientIP: "192.0.2.9", Principal: &pipeline.Principal{Subject: "bob", Claims: map[string]any{"tenant": "acme"}}}, nil, nil, true},
		{"claim: numbers", "claim:n", a, &pipeline.Info{Principal: &pipeline.Principal{Subject: "x", Claims: map[string]any{"n": 42.0}}}, nil, nil, true},
		{"combination: principal+route", "principal+route", a, &pipeline.Info{ClientIP: "192.0.2.1", Route: "other", Principal: alice}, nil, nil, false},
		{"parts cannot bleed into each other", "header:A+header:B", a, a, map[string]string{"A": "x", "B": "yz"}, map[string]string{"A": "xy", "B": "z"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kx, ky := keyOf(t, tt.spec, tt.x, tt.hx), keyOf(t, tt.spec, tt.y, tt.hy)
			if (kx == ky) != tt.wantSame {
				t.Fatalf("keys %q and %q: same = %v, want %v", kx, ky, kx == ky, tt.wantSame)
			}
		})
	}
}

// A 16 KiB header makes a key of the same short, fixed size as any other.
func TestKeyBoundedByHash(t *testing.T) {
	info := &pipeline.Info{ClientIP: "192.0.2.1"}
	small := keyOf(t, "header:X-Api-Key", info, map[string]string{"X-Api-Key": "k"})
	huge := keyOf(t, "header:X-Api-Key", info, map[string]string{"X-Api-Key": strings.Repeat("A", 16<<10)})
	if len(small) != len(huge) || len(huge) != len("pol:")+22 {
		t.Fatalf("key lengths %d and %d, want both %d", len(small), len(huge), len("pol:")+22)
	}
}

func TestParseKeyErrors(t *testing.T) {
	for _, spec := range []string{"", "ip", "client_ip+client_ip", "header:", "header:bad name", "claim:", "route+"} {
		if _, err := ratelimit.ParseKey(spec, nil); err == nil {
			t.Errorf("ParseKey(%q) succeeded", spec)
		}
	}
}
