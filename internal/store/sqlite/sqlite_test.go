package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		path := filepath.Join(t.TempDir(), "keys.db")
		var last *Store
		return storetest.Harness{
			Open: func(t *testing.T, opts store.Options) store.Store {
				s, err := Open(context.Background(), path, opts)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				last = s
				return s
			},
			Dump: func(t *testing.T) []byte {
				// Everything on disk: the database, its WAL and shared memory.
				var all []byte
				for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
					b, err := os.ReadFile(path + suffix)
					if err != nil && !os.IsNotExist(err) {
						t.Fatal(err)
					}
					all = append(all, b...)
				}
				return all
			},
			SchemaVersion: func(t *testing.T) int64 {
				v, err := last.SchemaVersion(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				return v
			},
			LatestVersion: 1,
		}
	})
}

func TestFileModes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.db")
	s, err := Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.CreateKey(context.Background(), store.KeySpec{Consumer: "acme"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(name), perm)
		}
	}
	var mode string
	if err := s.r.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestOddPathCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys?mode=ro#x %41.db")
	s, err := Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.CreateKey(context.Background(), store.KeySpec{Consumer: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the literal path: %v", err)
	}
}

func TestRefusesNonFiles(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory", t.TempDir()} {
		if s, err := Open(context.Background(), p, store.Options{}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

// A change made by another process (the CLI) reaches this one's watchers
// through the change log.
func TestChangeLogCarriesOtherProcessesChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	server, err := Open(context.Background(), path, store.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := server.Watch(ctx)

	cli, err := Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := cli.CreateKey(ctx, store.KeySpec{Consumer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	var got []store.KeyEvent
	timeout := time.After(time.Second)
	for len(got) < 2 {
		select {
		case ev := <-events:
			got = append(got, ev)
		case <-timeout:
			t.Fatalf("events after 1s: %+v", got)
		}
	}
	want := []store.KeyEvent{{Kind: store.EventCreated, ID: k.ID}, {Kind: store.EventRevoked, ID: k.ID}}
	if got[0] != want[0] || got[1] != want[1] {
		t.Errorf("events %+v, want %+v", got, want)
	}
	// And the server's own changes are published once, not again by the
	// poller.
	k2, _, err := server.CreateKey(ctx, store.KeySpec{Consumer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-events; ev.ID != k2.ID {
		t.Fatalf("event %+v", ev)
	}
	select {
	case ev := <-events:
		t.Errorf("duplicate event %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
}
