package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// childNofile, set in the environment, makes the test binary a `rampart`
// process with RLIMIT_NOFILE lowered to its value (soft and hard: Go raises
// the soft limit to the hard one at start).
const childNofile = "RAMPART_TEST_CHILD_NOFILE"

func TestMain(m *testing.M) {
	if v := os.Getenv(childNofile); v != "" {
		os.Exit(runLimitedChild(v))
	}
	os.Exit(m.Run())
}

// runLimitedChild runs `rampart` with os.Args[1:] as main does, under a
// lowered file-descriptor limit.
func runLimitedChild(nofile string) int {
	n, err := strconv.ParseUint(nofile, 10, 64)
	if err == nil {
		err = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		return 3
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
}

// The issue: at a 1,024 file-descriptor limit, 1,100 idle keep-alive
// connections made new clients and the admin /healthz hang until idle
// connections timed out. With max_connections derived from the limit,
// every new client is served (the idlest connections make room) and the
// admin listener, with its own budget, answers at once.
func TestServeAtFileLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,100 connections")
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") }))
	defer up.Close()
	addr, adminAddr := gt.FreeAddr(t), gt.FreeAddr(t)
	token := rand.Text() + rand.Text() // random, 52 characters: serve refuses weak tokens
	path := writeFile(t, "version: 1\nserver: { listen: \""+addr+"\" }\n"+
		"admin: { listen: \""+adminAddr+"\", token: \""+token+"\" }\n"+
		"upstreams:\n  app: { targets: [\""+up.URL+"\"] }\n"+
		"routes:\n  - { name: a, path: /a, methods: [GET], upstream: app, auth: none }\n")
	logs := &syncBuf{}
	cmd := exec.Command(os.Args[0], "serve", "-c", path)
	cmd.Env = append(os.Environ(), childNofile+"=1024")
	cmd.Stdout, cmd.Stderr = io.Discard, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("rampart exit: %v\n%s", err, tail(logs.String(), 2000))
		}
	}()
	admin := &http.Client{Timeout: 5 * time.Second}
	adminGet := func(p string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+adminAddr+p, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := admin.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, _ := adminGet("/healthz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rampart never became healthy\n%s", tail(logs.String(), 2000))
		}
	}

	// 1,100 clients, one after another, each sends a request, reads the
	// answer and stays connected (idle, keep-alive).
	const clients = 1100
	conns := make([]net.Conn, 0, clients)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range clients {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("client %d not served: %v %v\n%s", i, resp, err, tail(logs.String(), 2000))
		}
		resp.Body.Close()
	}

	start := time.Now()
	if code, body := adminGet("/healthz"); code != 200 {
		t.Fatalf("admin /healthz with %d clients: %d %s", clients, code, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("admin /healthz took %v", d)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/a")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a new client after %d: %v %v", clients, resp, err)
	}
	resp.Body.Close()

	// The cap derived from 1,024 descriptors is (1024-128)/2 = 448: the
	// idlest connections were closed to stay under it, none refused.
	_, metrics := adminGet("/metrics")
	open, reclaimed, refused := metric(metrics, "rampart_connections"),
		metric(metrics, "rampart_connections_reclaimed_total"), metric(metrics, "rampart_connections_refused_total")
	if open > 448 || reclaimed < clients+1-448 || refused != 0 {
		t.Errorf("open %v, reclaimed %v, refused %v; want open <= 448, reclaimed >= %d, none refused", open, reclaimed, refused, clients+1-448)
	}

	// The idle ones are parked after a second without a byte (Linux).
	if runtime.GOOS == "linux" {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, metrics = adminGet("/metrics")
			if metric(metrics, "rampart_connections_parked") > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no idle connection parked within 10 s: rampart_connections_parked %v", metric(metrics, "rampart_connections_parked"))
			}
		}
	}
}

// metric reads one unlabelled sample from a Prometheus text exposition.
func metric(text, name string) float64 {
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
