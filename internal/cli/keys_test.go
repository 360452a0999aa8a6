package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/sqlite"
)

// keysConfig writes a config whose store is a fresh SQLite file and returns
// the config path and the database path.
func keysConfig(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "keys.db")
	cfg := filepath.Join(dir, "rampart.yaml")
	if err := os.WriteFile(cfg, []byte("version: 1\nadmin: { listen: \"off\" }\nstore: \"sqlite://${DB}\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, db
}

func runKeys(t *testing.T, db string, args ...string) (int, string, string) {
	t.Helper()
	env := func(k string) (string, bool) {
		if k == "DB" {
			return db, true
		}
		return "", false
	}
	var out, errb bytes.Buffer
	code := keys(context.Background(), args, env, &out, &errb)
	return code, out.String(), errb.String()
}

var keyPattern = regexp.MustCompile(`^rk_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}$`)

func TestKeysCreateListRotateRevoke(t *testing.T) {
	cfg, db := keysConfig(t)

	// create --json prints exactly the documented object.
	code, out, errs := runKeys(t, db, "create", "-c", cfg, "--consumer", "acme", "--scopes", "items:read,items:write",
		"--roles", "partner", "--expires", "90d", "--label", "team=payments", "--label", "ticket=SEC-1", "--json")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errs)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create --json: %v\n%s", err, out)
	}
	var fields []string
	for k := range created {
		fields = append(fields, k)
	}
	if got := strings.Join(sortStrings(fields), ","); got != "consumer,expires_at,id,key,roles,scopes" {
		t.Errorf("create --json fields: %s", got)
	}
	full := created["key"].(string)
	id := created["id"].(string)
	if !keyPattern.MatchString(full) || !strings.HasPrefix(full, "rk_"+id+"_") || created["consumer"] != "acme" {
		t.Fatalf("created %v", created)
	}
	exp, err := time.Parse(time.RFC3339, created["expires_at"].(string))
	if err != nil || exp.Sub(time.Now()) < 89*24*time.Hour || exp.Sub(time.Now()) > 91*24*time.Hour {
		t.Errorf("expires_at %v, %v; want in 90 days", created["expires_at"], err)
	}

	// Plain create: the key alone on stdout (for scripts), the warning on stderr.
	code, out, errs = runKeys(t, db, "create", "--consumer", "globex", "-c", cfg)
	plain := strings.TrimSpace(out)
	if code != 0 || !keyPattern.MatchString(plain) || !strings.Contains(errs, "only time") {
		t.Fatalf("plain create: %d %q %q", code, out, errs)
	}

	// list: never a secret, in either format.
	code, out, errs = runKeys(t, db, "list", "-c", cfg)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "acme") || !strings.Contains(out, "globex") ||
		!strings.Contains(out, "items:read,items:write") || !strings.Contains(out, "team=payments") {
		t.Fatalf("list: %d\n%s%s", code, out, errs)
	}
	code, jsonOut, _ := runKeys(t, db, "list", "-c", cfg, "--consumer", "acme", "--json")
	var listed []map[string]any
	if err := json.Unmarshal([]byte(jsonOut), &listed); err != nil || code != 0 {
		t.Fatalf("list --json: %v\n%s", err, jsonOut)
	}
	if len(listed) != 1 || listed[0]["id"] != id || listed[0]["status"] != "active" {
		t.Errorf("list --consumer acme: %v", listed)
	}
	for _, secret := range []string{full, plain} {
		_, s, _ := store.ParseKey(secret)
		if strings.Contains(out+jsonOut, s) {
			t.Fatal("list shows a secret")
		}
	}
	if strings.Contains(jsonOut, "hash") {
		t.Error("list --json shows a hash field")
	}

	// rotate ID --grace (flags after the id).
	code, out, errs = runKeys(t, db, "rotate", "-c", cfg, id, "--grace", "1h", "--json")
	if code != 0 {
		t.Fatalf("rotate: %d %s", code, errs)
	}
	var rotated struct {
		ID       string         `json:"id"`
		Key      string         `json:"key"`
		Consumer string         `json:"consumer"`
		Scopes   []string       `json:"scopes"`
		Previous map[string]any `json:"previous"`
	}
	if err := json.Unmarshal([]byte(out), &rotated); err != nil {
		t.Fatalf("rotate --json: %v\n%s", err, out)
	}
	if !keyPattern.MatchString(rotated.Key) || rotated.ID == id || rotated.Consumer != "acme" || len(rotated.Scopes) != 2 ||
		rotated.Previous["id"] != id || rotated.Previous["rotated_to"] != rotated.ID || rotated.Previous["status"] != "rotated" {
		t.Errorf("rotate: %+v", rotated)
	}
	if code, _, errs := runKeys(t, db, "rotate", "-c", cfg, id); code != 1 || !strings.Contains(errs, "already rotated") {
		t.Errorf("rotating twice: %d %s", code, errs)
	}

	// revoke.
	code, out, _ = runKeys(t, db, "revoke", "-c", cfg, rotated.ID)
	if code != 0 || !strings.Contains(out, "Revoked key "+rotated.ID) {
		t.Fatalf("revoke: %d %s", code, out)
	}

	// The store agrees with what the CLI said.
	s, err := sqlite.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k, err := s.Key(context.Background(), rotated.ID)
	if err != nil || k.RevokedAt.IsZero() {
		t.Errorf("revoked key in the store: %+v, %v", k, err)
	}
	old, _ := s.Key(context.Background(), id)
	_, secret, _ := store.ParseKey(full)
	if !s.Verify(old, secret) || old.RotatedTo != rotated.ID || old.ExpiresAt.Sub(time.Now()) > time.Hour {
		t.Errorf("rotated key in the store: %+v", old)
	}
	fi, err := os.Stat(db)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode: %v, %v", fi.Mode(), err)
	}
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestKeysErrors(t *testing.T) {
	cfg, db := keysConfig(t)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", nil, 2, "Usage"},
		{"unknown subcommand", []string{"delete"}, 2, "unknown subcommand"},
		{"create without consumer", []string{"create", "-c", cfg}, 2, "--consumer is required"},
		{"create with a bad consumer", []string{"create", "-c", cfg, "--consumer", "a b"}, 2, "consumer may only contain"},
		{"create with a bad lifetime", []string{"create", "-c", cfg, "--consumer", "a", "--expires", "soon"}, 2, "not a duration"},
		{"label without =", []string{"create", "-c", cfg, "--consumer", "a", "--label", "team"}, 2, "key=value"},
		{"rotate without id", []string{"rotate", "-c", cfg}, 2, "exactly one key id"},
		{"rotate an unknown id", []string{"rotate", "-c", cfg, "AAAAAAAAAAAA"}, 1, "no such key"},
		{"revoke an unknown id", []string{"revoke", "-c", cfg, "AAAAAAAAAAAA"}, 1, "no such key"},
		{"revoke two ids", []string{"revoke", "-c", cfg, "a", "b"}, 2, "exactly one key id"},
		{"negative grace", []string{"rotate", "-c", cfg, "AAAAAAAAAAAA", "--grace", "-1h"}, 2, "must be positive"},
		{"list with an argument", []string{"list", "-c", cfg, "extra"}, 2, "unexpected argument"},
		{"missing config", []string{"list", "-c", filepath.Join(t.TempDir(), "none.yaml")}, 1, "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runKeys(t, db, c.args...)
			if code != c.code || !strings.Contains(errs, c.want) {
				t.Errorf("code %d (want %d), stderr %q (want %q), stdout %q", code, c.code, errs, c.want, out)
			}
		})
	}
}

func TestKeysStoreURLWithPasswordIsNotEchoed(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "rampart.yaml")
	os.WriteFile(cfg, []byte("version: 1\nadmin: { listen: \"off\" }\nstore: \"postgres://rampart:hunter2-secret@127.0.0.1:1/x?connect_timeout=1\"\n"), 0o600)
	code, out, errs := runKeys(t, "", "list", "-c", cfg)
	if code != 1 || strings.Contains(out+errs, "hunter2") {
		t.Errorf("code %d, output %q %q", code, out, errs)
	}
}
