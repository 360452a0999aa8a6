// Command bodyrss measures the memory the real rampart binary needs for many
// concurrent large uploads: it starts an upstream that discards request
// bodies, runs `rampart serve` with one public POST route in front of it,
// sends -clients concurrent uploads of -size bytes, and reports the answers
// and the gateway's peak resident memory (VmHWM in /proc/PID/status; Linux
// only).
//
//	go build -o /tmp/rampart ./cmd/rampart
//	go run ./bench/cmd/bodyrss -bin /tmp/rampart -clients 100 -size 16777216
//	go run ./bench/cmd/bodyrss -bin /tmp/rampart -server 'body_spill_budget: 4GiB'
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

func main() {
	bin := flag.String("bin", "", "the rampart binary (required)")
	clients := flag.Int("clients", 100, "concurrent uploads")
	size := flag.Int64("size", 16<<20, "bytes per upload")
	server := flag.String("server", "", "extra server: keys, separated by ';' (e.g. 'body_spill_budget: 4GiB')")
	flag.Parse()
	if *bin == "" {
		log.Fatal("bodyrss: -bin is required")
	}
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(up, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d", n)
	}))
	addr := freeAddr()
	dir, err := os.MkdirTemp("", "bodyrss")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var extra strings.Builder
	for _, kv := range strings.Split(*server, ";") {
		if kv = strings.TrimSpace(kv); kv != "" {
			extra.WriteString("  " + kv + "\n")
		}
	}
	cfg := fmt.Sprintf("version: 1\nserver:\n  listen: %q\n  max_body_bytes: %d\n  read_timeout: 120s\n%sadmin: {listen: \"off\"}\n"+
		"upstreams: {app: {targets: [\"http://%s\"], timeout: 60s}}\n"+
		"routes:\n  - {name: upload, path: /upload, methods: [POST], upstream: app, auth: none}\n",
		addr, *size, extra.String(), up.Addr())
	cfgFile := filepath.Join(dir, "rampart.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(*bin, "serve", "-c", cfgFile)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	waitListening(addr)

	client := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxConnsPerHost: *clients}}
	var mu sync.Mutex
	answers := map[string]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", "http://"+addr+"/upload", io.LimitReader(zeros{}, *size))
			req.ContentLength = *size
			key := ""
			if resp, err := client.Do(req); err != nil {
				key = "error: " + err.Error()
			} else {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				key = resp.Status
			}
			mu.Lock()
			answers[key]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	hwm, rss := procStatus(cmd.Process.Pid, "VmHWM"), procStatus(cmd.Process.Pid, "VmRSS")
	fmt.Printf("%d uploads of %d bytes in %.1fs; server: %q\n", *clients, *size, elapsed.Seconds(), *server)
	keys := make([]string, 0, len(answers))
	for k := range answers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  %4d × %s\n", answers[k], k)
	}
	fmt.Printf("gateway peak RSS (VmHWM): %s; RSS after: %s\n", hwm, rss)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(addr string) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	log.Fatal("bodyrss: the gateway did not start listening")
}

func procStatus(pid int, field string) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
