package backend

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/pgtest"
	"github.com/rampart-gw/rampart/internal/store/postgres"
	"github.com/rampart-gw/rampart/internal/store/sqlite"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.db")
	s, err := Open(ctx, "sqlite://"+path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*sqlite.Store); !ok {
		t.Errorf("sqlite:// opened a %T", s)
	}
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("sqlite file: %v", err)
	}
	p, err := Open(ctx, pgtest.URL(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.(*postgres.Store); !ok {
		t.Errorf("postgres:// opened a %T", p)
	}
	p.Close()
	for _, bad := range []string{"", "mysql://x", "redis://x", "sqlite:/x"} {
		if s, err := Open(ctx, bad, store.Options{}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}
