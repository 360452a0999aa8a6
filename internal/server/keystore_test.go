package server_test

import (
	"path/filepath"
	"strings"
	"testing"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// A gateway with an api_key authenticator exports the key store's state:
// up, and no key served from memory.
func TestKeyStoreMetrics(t *testing.T) {
	db := filepath.Join(t.TempDir(), "k.db")
	g := gt.Start(t, gt.Config("http://127.0.0.1:9", "store: \"sqlite://"+db+"\"\nauthenticators:\n  partners: { type: api_key }\n",
		"  - { name: items, path: /items, methods: [GET], upstream: app, auth: [partners] }\n"), nil)
	m := metrics(t, g)
	for _, want := range []string{"\nrampart_keystore_up 1\n", "\nrampart_apikey_stale_served_total 0\n"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
		}
	}
}
