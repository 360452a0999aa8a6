package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The fallback works: a cluster of our own, reachable, with a "test"
// database, and gone after stop.
func TestThrowawayCluster(t *testing.T) {
	if _, err := bin("initdb"); err != nil {
		if os.Getenv("RAMPART_REQUIRE_SERVICES") == "1" {
			t.Fatal(err)
		}
		t.Skipf("SKIPPED: %v", err)
	}
	if testing.Short() {
		t.Skip("initdb takes seconds")
	}
	p, err := start()
	if err != nil {
		t.Fatal(err)
	}
	if err := ping(p.url); err != nil {
		p.stop()
		t.Fatalf("cluster not reachable: %v", err)
	}
	conn, err := pgx.Connect(context.Background(), p.url)
	if err != nil {
		p.stop()
		t.Fatal(err)
	}
	var db string
	err = conn.QueryRow(context.Background(), `SELECT current_database()`).Scan(&db)
	conn.Close(context.Background())
	if err != nil || db != "test" {
		t.Errorf("database %q, %v", db, err)
	}
	p.stop()
	if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
		t.Errorf("cluster directory left behind: %v", err)
	}
	if ping(p.url) == nil {
		t.Error("cluster still answers after stop")
	}
}

func TestURLGivesAnIsolatedSchema(t *testing.T) {
	a, b := URL(t), URL(t)
	if a == b {
		t.Fatal("two tests share a schema")
	}
	conn, err := pgx.Connect(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var schema string
	if err := conn.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&schema); err != nil || schema == "public" || schema == "" {
		t.Fatalf("current_schema = %q, %v", schema, err)
	}
}
