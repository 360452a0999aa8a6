// Command idleconns measures what idle keep-alive connections cost a real
// rampart process: it starts the binary in front of a local upstream, opens
// N connections that each send one proxied request and then stay idle, and
// reports the process's resident memory (VmRSS from /proc/PID/status)
// before and after, and per connection.
//
//	go build -o /tmp/rampart ./cmd/rampart
//	go run ./bench/cmd/idleconns -bin /tmp/rampart -n 5000
//
// With -addr it measures a server that is already running instead (nginx or
// Rampart, as bench/run does): -pids lists the processes whose VmRSS is
// summed (nginx: master and worker), -path and -header shape the one
// request each connection makes. -hold keeps the connections open that
// long after the measurement, for a load generator to measure the server
// meanwhile; "READY" is printed when they are all open and measured.
//
//	idleconns -addr 127.0.0.1:8080 -pids 1234,1235 -n 10000 -path /api/items/42 -hold 20s
package main

import (
	"bufio"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	bin := flag.String("bin", "rampart", "rampart binary")
	n := flag.Int("n", 5000, "idle connections")
	settle := flag.Duration("settle", 5*time.Second, "wait before the second measurement")
	addr := flag.String("addr", "", "measure the server already listening here (no -bin)")
	pids := flag.String("pids", "", "with -addr: comma-separated processes whose VmRSS is summed")
	path := flag.String("path", "/a", "with -addr: the path each connection requests once")
	header := flag.String("header", "", `with -addr: one extra request header ("Name: value")`)
	hold := flag.Duration("hold", 0, "keep the connections open this long after measuring")
	flag.Parse()
	reqLine = "GET " + *path + " HTTP/1.1\r\nHost: bench\r\n"
	if *header != "" {
		reqLine += *header + "\r\n"
	}
	reqLine += "\r\n"
	var err error
	if *addr != "" {
		err = measure(*addr, *pids, *n, *settle, *hold)
	} else {
		err = run(*bin, *n, *settle)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(1)
	}
}

func run(bin string, n int, settle time.Duration) error {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	body := strings.Repeat("x", 194) // the size bench/cmd/upstream answers
	go http.Serve(up, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	adminAddr, err := freeAddr()
	if err != nil {
		return err
	}
	token := rand.Text() + rand.Text()
	dir, err := os.MkdirTemp("", "idleconns-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "rampart.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 1
server: { listen: %q }
admin: { listen: %q, token: %q }
upstreams:
  app: { targets: ["http://%s"] }
routes:
  - { name: a, path: /a, methods: [GET], upstream: app, auth: none }
`, addr, adminAddr, token, up.Addr())), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(bin, "serve", "-c", cfg)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid

	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := open(addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rampart never answered: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	base, err := rss(pid)
	if err != nil {
		return err
	}

	conns, err := openAll(addr, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	busy, err := rss(pid)
	if err != nil {
		return err
	}
	time.Sleep(settle)
	idle, err := rss(pid)
	if err != nil {
		return err
	}
	stack, heap := goMemory(adminAddr, token)
	mb := func(kb int) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }
	per := func(kb int) string { return fmt.Sprintf("%.1f KB", float64(kb-base)/float64(n)) }
	fmt.Printf("%s: %d idle keep-alive connections\n", bin, n)
	fmt.Printf("  VmRSS before            %s\n", mb(base))
	fmt.Printf("  VmRSS 0.5s after        %s (%s per connection)\n", mb(busy), per(busy))
	fmt.Printf("  VmRSS %v later         %s (%s per connection)\n", settle, mb(idle), per(idle))
	fmt.Printf("  Go stacks in use        %s, heap in use %s\n", mb(stack/1024), mb(heap/1024))
	return nil
}

// reqLine is the request each connection makes once.
var reqLine = "GET /a HTTP/1.1\r\nHost: bench\r\n\r\n"

// measure opens n connections to a running server (see the package
// documentation) and prints the summed VmRSS of pids before and after.
func measure(addr, pidList string, n int, settle, hold time.Duration) error {
	var pids []int
	for f := range strings.SplitSeq(pidList, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		pid, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("-pids: %w", err)
		}
		pids = append(pids, pid)
	}
	total := func() (int, error) {
		sum := 0
		for _, pid := range pids {
			kb, err := rss(pid)
			if err != nil {
				return 0, err
			}
			sum += kb
		}
		return sum, nil
	}
	// Both figures are taken after the same settling time: the "before"
	// follows the load bench/run just ran, and a process that gives the
	// memory of that load back within seconds (Rampart trims it) would
	// otherwise have its idle connections measured against that load.
	time.Sleep(settle)
	base, err := total()
	if err != nil {
		return err
	}
	conns, err := openAll(addr, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err != nil {
		return err
	}
	time.Sleep(settle)
	idle, err := total()
	if err != nil {
		return err
	}
	fmt.Printf("RESULT conns=%d rss_before_kb=%d rss_idle_kb=%d per_conn_kb=%.2f\n", n, base, idle, float64(idle-base)/float64(n))
	fmt.Println("READY")
	time.Sleep(hold)
	return nil
}

// openAll opens n connections with 64 dialers; on an error it returns those
// opened so far (for the caller to close) and the first error.
func openAll(addr string, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c, err := open(addr)
				if err != nil {
					errs <- err
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	return conns, <-errs
}

// open connects, sends one proxied request, reads the answer and leaves the
// connection open.
func open(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, reqLine); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// goMemory reads the Go runtime's stack and heap bytes in use from the
// admin listener's /metrics.
func goMemory(adminAddr, token string) (stack, heap int) {
	req, _ := http.NewRequest("GET", "http://"+adminAddr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1, -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, _ := strings.Cut(sc.Text(), " ")
		f, _ := strconv.ParseFloat(v, 64)
		switch name {
		case "go_memstats_stack_inuse_bytes":
			stack = int(f)
		case "go_memstats_heap_inuse_bytes":
			heap = int(f)
		}
	}
	return stack, heap
}

// rss reads VmRSS (in KB) of a process.
func rss(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}
