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
	"bytes"
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
	"strings"
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
	url      string
	dir      string
	postgres string // the server binary
	port     int
	cred     *syscall.Credential // nil: run as ourselves
	cmd      *exec.Cmd
	exited   chan struct{}
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
	p := &process{dir: dir, postgres: postgres, port: port, cred: cred,
		url: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/test?sslmode=disable&connect_timeout=2", port)}
	if err := p.run(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	admin := p.admin()
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

func (p *process) admin() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", p.port)
}

// run starts the server on the cluster's port and waits until it answers.
func (p *process) run() error {
	cmd := exec.Command(p.postgres, "-D", filepath.Join(p.dir, "data"), "-p", strconv.Itoa(p.port), "-k", p.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	// Pdeathsig: the cluster dies with the test binary even if Main is not
	// used or the binary crashes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.cmd, p.exited = cmd, exited
	deadline := time.Now().Add(30 * time.Second)
	for ping(p.admin()) != nil {
		select {
		case <-exited:
			return errors.New("postgres exited at start")
		default:
		}
		if time.Now().After(deadline) {
			p.halt()
			return errors.New("postgres did not answer within 30s")
		}
		time.Sleep(50 * time.Millisecond) // polling a process we started; no other signal exists
	}
	return nil
}

// halt shuts the server down (fast shutdown: sessions are ended).
func (p *process) halt() {
	_ = p.signalAll(syscall.SIGCONT) // a paused server cannot shut down
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// stop halts the server and removes its directory.
func (p *process) stop() {
	p.halt()
	os.RemoveAll(p.dir)
}

// Cluster is a throwaway PostgreSQL private to one test, which the test may
// stop, start, pause and resume. Outage tests use it, never Server: a
// shared server belongs to the machine, not to the test.
type Cluster struct {
	URL string // the database "test", default search_path
	p   *process
}

// Private creates and starts a cluster for t, removed when t ends. It skips
// (or fails, with RAMPART_REQUIRE_SERVICES=1) when initdb is not installed.
func Private(t testing.TB) *Cluster {
	t.Helper()
	p, err := start()
	if err != nil {
		if os.Getenv("RAMPART_REQUIRE_SERVICES") == "1" {
			t.Fatalf("a private PostgreSQL is required (RAMPART_REQUIRE_SERVICES=1) but cannot be started: %v", err)
		}
		t.Skipf("SKIPPED: cannot start a private PostgreSQL (%v); install initdb/postgres", err)
	}
	t.Cleanup(p.stop)
	return &Cluster{URL: p.url, p: p}
}

// Stop shuts the server down; its connections are closed, new ones refused.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	c.p.halt()
}

// Start starts a stopped server again, on the same port and data.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	if err := c.p.run(); err != nil {
		t.Fatalf("pgtest: restarting: %v", err)
	}
}

// Pause stops the server and every backend with SIGSTOP: connections stay
// open and nothing answers (a hung server, not a refused one). Resume, or
// the end of the test, undoes it.
func (c *Cluster) Pause(t testing.TB) {
	t.Helper()
	if err := c.p.signalAll(syscall.SIGSTOP); err != nil {
		t.Fatalf("pgtest: SIGSTOP: %v", err)
	}
}

// Resume continues a paused server (SIGCONT).
func (c *Cluster) Resume(t testing.TB) {
	t.Helper()
	if err := c.p.signalAll(syscall.SIGCONT); err != nil {
		t.Fatalf("pgtest: SIGCONT: %v", err)
	}
}

// signalAll sends sig to the server, then to each of its processes (every
// backend calls setsid, so there is no process group to signal). The
// server goes first: once stopped, it starts no new backend.
func (p *process) signalAll(sig syscall.Signal) error {
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(pid, sig); err != nil {
		return err
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the process ended
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) {
			continue
		}
		child, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err == nil {
			_ = syscall.Kill(child, sig)
		}
	}
	return nil
}
