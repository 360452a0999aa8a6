package main_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

// With stderr redirected to a regular file, the log goes there through raw
// write(2) calls (audit.Destination): every access line of a concurrent
// run arrives whole, once, by the time the process has stopped.
func TestAccessLogToARegularFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"ok":true}`)
	}))
	defer upstream.Close()
	logPath := filepath.Join(t.TempDir(), "rampart.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	listen, adminListen := gt.FreeAddr(t), gt.FreeAddr(t)
	srv := serveBinaryLogs(t, detectConfig(listen, adminListen, upstream.URL, ""), logFile)
	srv.waitReady(t, gt.Client(), adminListen)

	const clients, each = 4, 150
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			client := gt.Client()
			for range each {
				resp, err := client.Get("http://" + listen + "/")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	if err := srv.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.exited:
		srv.exited <- err // for Cleanup
		if err != nil {
			t.Fatalf("rampart serve exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("rampart serve did not stop within 30s of SIGTERM")
	}

	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines, access, last := 0, 0, ""
	for sc.Scan() {
		lines++
		var line struct {
			Msg    string `json:"msg"`
			Path   string `json:"path"`
			Status int    `json:"status"`
		}
		last = sc.Text()
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %d is not whole JSON (%v): %q", lines, err, sc.Text())
		}
		if line.Path == "/" && line.Status == http.StatusOK {
			access++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if access != clients*each {
		t.Fatalf("%d access lines for / in the file, want %d (of %d lines; last %q)", access, clients*each, lines, last)
	}
}
