// Package redistest gives tests a real Redis: the one on 127.0.0.1:6379 when
// it answers (each test under its own key prefix, deleted afterwards, so the
// shared server is never flushed), or a throwaway redis-server this package
// starts on a free port. A test that needs neither skips loudly — unless
// RAMPART_REQUIRE_SERVICES=1 (CI), where a missing Redis fails it.
//
// Tests that stop Redis (outage handling) must use Start, never Shared: the
// server on 6379 belongs to the machine, not to the test.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultAddr is the Redis tests use when it is running.
const DefaultAddr = "127.0.0.1:6379"

// Redis is a Redis for one test.
type Redis struct {
	Addr   string
	Prefix string // unique to the test; every key it writes should start with it
	URL    string // redis://Addr
}

// unavailable skips t, or fails it when services are required.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("RAMPART_REQUIRE_SERVICES") == "1" {
		t.Fatalf("Redis is required (RAMPART_REQUIRE_SERVICES=1) but unavailable: %s", why)
	}
	t.Skipf("SKIPPED: no Redis for this test (%s); install redis-server or run one on %s", why, DefaultAddr)
}

func ping(addr string) error {
	c := goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: 500 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

var (
	sharedOnce sync.Once
	sharedAddr string
	sharedErr  error
	sharedProc *Process
)

// Shared returns a Redis for t with a fresh key prefix: 127.0.0.1:6379 if it
// answers, else a redis-server started once for the whole test binary (killed
// by the kernel when the binary exits). Keys under the prefix are deleted when t ends.
func Shared(t testing.TB) *Redis {
	t.Helper()
	sharedOnce.Do(func() {
		if err := ping(DefaultAddr); err == nil {
			sharedAddr = DefaultAddr
			return
		}
		p, err := startProcess()
		if err != nil {
			sharedErr = err
			return
		}
		sharedProc, sharedAddr = p, p.Addr
	})
	if sharedErr != nil {
		unavailable(t, sharedErr.Error())
	}
	r := &Redis{Addr: sharedAddr, URL: "redis://" + sharedAddr, Prefix: "rampart-test:" + randHex() + ":"}
	t.Cleanup(func() { deletePrefix(r.Addr, r.Prefix) })
	return r
}

// Client returns a client of r closed at the end of t.
func (r *Redis) Client(t testing.TB) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

func deletePrefix(addr, prefix string) {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, escapeGlob(prefix)+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			c.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		c.Unlink(ctx, batch...)
	}
}

func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}

func randHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Process is a redis-server this package started, private to one test.
type Process struct {
	Addr string
	URL  string
	port int
	dir  string
	bin  string
	args []string // extra redis-server arguments (cluster mode)
	mu   sync.Mutex
	cmd  *exec.Cmd
}

// Start starts a private redis-server on a free loopback port for t, stopped
// when t ends. It skips (or fails, see the package comment) when
// redis-server cannot be started.
func Start(t testing.TB) *Process {
	t.Helper()
	p, err := startProcess()
	if err != nil {
		unavailable(t, err.Error())
	}
	t.Cleanup(func() {
		p.Stop()
		os.RemoveAll(p.dir)
	})
	return p
}

func startProcess(args ...string) (*Process, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "redistest")
	if err != nil {
		return nil, err
	}
	p := &Process{Addr: "127.0.0.1:" + strconv.Itoa(port), port: port, dir: dir, bin: bin, args: args}
	p.URL = "redis://" + p.Addr
	if err := p.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

func (p *Process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	cmd := exec.Command(p.bin, append([]string{"--port", strconv.Itoa(p.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", p.dir, "--protected-mode", "yes"}, p.args...)...)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping(p.Addr); err == nil {
			p.cmd = cmd
			return nil
		}
		select {
		case <-exited:
			return errors.New("redis-server exited at start (port taken?)")
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return errors.New("redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond) // polling a process we started; no other signal exists
	}
}

// Stop kills the server (an outage: no graceful shutdown, no save).
func (p *Process) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	p.cmd = nil
	// Wait until the port refuses connections, so "stopped" is true when
	// Stop returns.
	for i := 0; i < 500 && ping(p.Addr) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// Pause stops the server with SIGSTOP: it keeps its port and connections
// but answers nothing (a hung Redis, not a refused one). Resume undoes it;
// so does the end of the test.
func (p *Process) Pause(t testing.TB) {
	t.Helper()
	p.signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { p.signal(t, syscall.SIGCONT) })
}

// Resume continues a paused server (SIGCONT).
func (p *Process) Resume(t testing.TB) {
	t.Helper()
	p.signal(t, syscall.SIGCONT)
}

func (p *Process) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		t.Fatalf("redistest: %v to a stopped server", sig)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("redistest: %v: %v", sig, err)
	}
}

// Restart starts the server again on the same port, empty.
func (p *Process) Restart(t testing.TB) {
	t.Helper()
	if err := p.start(); err != nil {
		t.Fatalf("restarting redis-server: %v", err)
	}
}

// Cluster is a private Redis Cluster of three masters (no replicas), each a
// redis-server this package started, with the 16384 slots split between
// them.
type Cluster struct {
	Nodes []*Process
	// URL is the gateway's form: redis+cluster://first?addr=second&addr=third.
	URL string
}

// StartCluster starts a Redis Cluster for t, stopped when t ends. It skips
// (or fails under RAMPART_REQUIRE_SERVICES=1) when redis-server cannot be
// started.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{}
	t.Cleanup(func() {
		for _, p := range c.Nodes {
			p.Stop()
			os.RemoveAll(p.dir)
		}
	})
	for i := 0; i < 3; i++ {
		p, err := startProcess("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		if err != nil {
			unavailable(t, err.Error())
		}
		c.Nodes = append(c.Nodes, p)
	}
	if err := c.form(); err != nil {
		t.Fatalf("redistest: forming the cluster: %v", err)
	}
	c.URL = "redis+cluster://" + c.Nodes[0].Addr + "?addr=" + c.Nodes[1].Addr + "&addr=" + c.Nodes[2].Addr
	return c
}

// form assigns each node a third of the slots, introduces them, and waits
// until every node reports the cluster ok (what redis-cli --cluster create
// does, without needing redis-cli).
func (c *Cluster) form() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := make([]*goredis.Client, len(c.Nodes))
	for i, p := range c.Nodes {
		clients[i] = goredis.NewClient(&goredis.Options{Addr: p.Addr, MaxRetries: -1})
		defer clients[i].Close()
	}
	per := 16384 / len(c.Nodes)
	for i, cl := range clients {
		lo, hi := i*per, (i+1)*per-1
		if i == len(clients)-1 {
			hi = 16383
		}
		if err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return fmt.Errorf("ADDSLOTSRANGE on %s: %w", c.Nodes[i].Addr, err)
		}
	}
	for i := 1; i < len(clients); i++ {
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", c.Nodes[i].port).Err(); err != nil {
			return fmt.Errorf("MEET %s: %w", c.Nodes[i].Addr, err)
		}
	}
	for _, cl := range clients {
		for {
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(c.Nodes))) {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("cluster not ok within 30s: %v %s", err, info)
			}
			time.Sleep(50 * time.Millisecond) // gossip has no event to wait on
		}
	}
	return nil
}

// NodeFor is the node serving key's slot.
func (c *Cluster) NodeFor(t testing.TB, key string) *Process {
	t.Helper()
	cl := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{c.Nodes[0].Addr}})
	defer cl.Close()
	m, err := cl.MasterForKey(context.Background(), key)
	if err != nil {
		t.Fatalf("redistest: the node for %q: %v", key, err)
	}
	for _, p := range c.Nodes {
		if p.Addr == m.Options().Addr {
			return p
		}
	}
	t.Fatalf("redistest: %q is served by %s, not one of ours", key, m.Options().Addr)
	return nil
}
