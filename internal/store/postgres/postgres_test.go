package postgres

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/pgtest"
	"github.com/rampart-gw/rampart/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		url := pgtest.URL(t)
		return storetest.Harness{
			Open: func(t *testing.T, opts store.Options) store.Store {
				s, err := Open(context.Background(), url, opts)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			},
			Dump:          func(t *testing.T) []byte { return dump(t, url) },
			SchemaVersion: func(t *testing.T) int64 { return version(t, url) },
			LatestVersion: 1,
		}
	})
}

// dump returns every row of every table in the test's schema as JSON text
// (bytea as hex), the way a pg_dump of the tables would show them.
func dump(t *testing.T, url string) []byte {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, table := range tables {
		var text string
		if err := conn.QueryRow(ctx, `SELECT coalesce(string_agg(row_to_json(t)::text, E'\n'), '') FROM `+
			pgx.Identifier{table}.Sanitize()+` t`).Scan(&text); err != nil {
			t.Fatal(err)
		}
		out = append(out, table+"\n"+text+"\n"...)
	}
	if len(tables) < 3 {
		t.Fatalf("dump found tables %v", tables)
	}
	return out
}

func version(t *testing.T, url string) int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v int64
	if err := conn.QueryRow(context.Background(), `SELECT coalesce(max(version_id), 0) FROM `+MigrationTable+` WHERE is_applied`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The listener is killed (a failover, a proxy timeout): watchers hear
// "lost" at once, and changes flow again after the reconnect, preceded by
// "reset".
func TestListenerReconnects(t *testing.T) {
	url := pgtest.URL(t)
	s, err := Open(context.Background(), url, store.Options{PingInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events := s.Watch(ctx)

	terminateListener(t, url, s.Channel())
	// The reset Open's listener sends when it starts may or may not be
	// seen, depending on when Watch subscribed.
	for ev := expectAny(t, events); ev.Kind != store.EventLost; ev = expectAny(t, events) {
		if ev.Kind != store.EventReset {
			t.Fatalf("event %+v before lost", ev)
		}
	}
	expect(t, events, store.EventReset)

	k, _, err := s.CreateKey(ctx, store.KeySpec{Consumer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := expect(t, events, store.EventCreated); ev.ID != k.ID {
		t.Errorf("event for %s, want %s", ev.ID, k.ID)
	}
}

func expect(t *testing.T, ch <-chan store.KeyEvent, kind store.EventKind) store.KeyEvent {
	t.Helper()
	ev := expectAny(t, ch)
	if ev.Kind != kind {
		t.Fatalf("event %+v, want %s", ev, kind)
	}
	return ev
}

func expectAny(t *testing.T, ch <-chan store.KeyEvent) store.KeyEvent {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return store.KeyEvent{}
}

// terminateListener kills the backend of the store's listening connection.
func terminateListener(t *testing.T, url, channel string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, ListenerApplicationName+" "+channel).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminated %d listeners: %v", n, err)
	}
}

func TestRefusesSimpleProtocol(t *testing.T) {
	url := pgtest.URL(t) + "&default_query_exec_mode=simple_protocol"
	if s, err := Open(context.Background(), url, store.Options{}); err == nil {
		s.Close()
		t.Fatal("simple_protocol accepted")
	}
}

func TestErrorsDoNotRepeatThePassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, u := range []string{
		"postgres://rampart:hunter2-secret@127.0.0.1:1/x?connect_timeout=1",
		"postgres://rampart:hunter2-secret@127.0.0.1:1/x?sslmode=bogus",
	} {
		_, err := Open(ctx, u, store.Options{})
		if err == nil {
			t.Fatalf("Open(%q) succeeded", u)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error repeats the password: %v", err)
		}
	}
}

func TestNoSchema(t *testing.T) {
	url := pgtest.URL(t)
	url = strings.Replace(url, "search_path=rampart_test_", "search_path=missing_", 1)
	_, err := Open(context.Background(), url, store.Options{})
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open with a search_path naming no schema: %v", err)
	}
}
