// Package pgtest gives tests a real PostgreSQL: the server named by
// RAMPART_TEST_POSTGRES_URL, else the one on 127.0.0.1:5432 (database
// "test", trust authentication) when it answers, else a throwaway cluster
// this package creates with initdb and starts on a free port
// (RAMPART_TEST_POSTGRES_URL=throwaway forces that). Each test gets
// its own schema, dropped when it ends, so a shared server is never wiped.
//
// When none of these works the test is skipped loudly — or fails when
// RAMPART_REQUIRE_SERVICES=1 (CI).
//
// A package whose tests use pgtest should stop the throwaway cluster when
// they end:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// (Without it the cluster dies with the test binary, but its temporary
// directory stays behind.)
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the server tests use when it is running.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&connect_timeout=2"

var (
	once    sync.Once
	server  string // URL of the server tests use
	failure error
	cluster *process
)

// Server returns the URL of the server, finding or starting it on first use.
func Server(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		u := os.Getenv("RAMPART_TEST_POSTGRES_URL")
		if u != "" && u != "throwaway" {
			server, failure = u, ping(u)
			return
		}
		if u == "" && ping(DefaultURL) == nil {
			server = DefaultURL
			return
		}
		p, err := start()
		if err != nil {
			failure = fmt.Errorf("no PostgreSQL on 127.0.0.1:5432 and no throwaway cluster: %w", err)
			return
		}
		cluster, server = p, p.url
	})
	if failure != nil {
		if os.Getenv("RAMPART_REQUIRE_SERVICES") == "1" {
			t.Fatalf("PostgreSQL is required (RAMPART_REQUIRE_SERVICES=1) but unavailable: %v", failure)
		}
		t.Skipf("SKIPPED: no PostgreSQL for this test (%v); run one on 127.0.0.1:5432 or install initdb/postgres", failure)
	}
	return server
}

// URL returns a URL for a fresh, empty schema on the server (as the first
// entry of search_path), dropped with everything in it when t ends.
func URL(t testing.TB) string {
	t.Helper()
	base := Server(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "rampart_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("pgtest: creating schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("pgtest: dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Main runs the tests, then stops the throwaway cluster if one was started.
func Main(m *testing.M) int {
	code := m.Run()
	if cluster != nil {
		cluster.stop()
	}
	return code
}

func ping(u string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

type process struct {
	url    string
	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// bin finds a PostgreSQL program on PATH or in Debian's versioned directory.
func bin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) == 0 {
		return "", fmt.Errorf("%s not found", name)
	}
	return matches[len(matches)-1], nil
}

func start() (*process, error) {
	initdb, err := bin("initdb")
	if err != nil {
		return nil, err
	}
	postgres, err := bin("postgres")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rampart-pgtest-")
	if err != nil {
		return nil, err
	}
	// PostgreSQL refuses to run as root; run it as an unprivileged user.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		for _, name := range []string{"postgres", "nobody"} {
			u, err := user.Lookup(name)
			if err != nil {
				continue
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
			break
		}
		if cred == nil {
			os.RemoveAll(dir)
			return nil, errors.New("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	cmd := exec.Command(initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd = exec.Command(postgres, "-D", data, "-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	// Pdeathsig: the cluster dies with the test binary even if Main is not
	// used or the binary crashes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	p := &process{dir: dir, cmd: cmd, exited: make(chan struct{}),
		url: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/test?sslmode=disable&connect_timeout=2", port)}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", port)
	deadline := time.Now().Add(30 * time.Second)
	for ping(admin) != nil {
		select {
		case <-p.exited:
			os.RemoveAll(dir)
			return nil, errors.New("postgres exited at start")
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("postgres did not answer within 30s")
		}
		time.Sleep(50 * time.Millisecond) // polling a process we started; no other signal exists
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		p.stop()
		return nil, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE DATABASE test`); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// stop shuts the cluster down (fast shutdown) and removes its directory.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	os.RemoveAll(p.dir)
}
