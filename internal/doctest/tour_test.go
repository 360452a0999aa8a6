package doctest

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/cli"
	gt "github.com/rampart-gw/rampart/internal/gatewaytest"
)

var (
	wantStatus = regexp.MustCompile(`#\s*(\d{3})\b`)
	demoToken  = regexp.MustCompile(`(?m)^\s*(WRITER|READER)='([^']+)'`)
	statusLine = regexp.MustCompile(`^HTTP/1\.1 (\d{3}) `)
)

// TestReadmeTour runs the README's tour ("sh tour" block) against
// `rampart demo`, in process, and checks that every command gets the status
// its comment names.
func TestReadmeTour(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		require(t, "the README tour needs curl on PATH")
	}
	root := repoRoot(t)
	var tour *block
	for _, b := range parseBlocks("README.md", readDoc(t, root, "README.md")) {
		if b.lang() == "sh" && b.has("tour") {
			bb := b
			tour = &bb
		}
	}
	if tour == nil {
		t.Fatal(`README.md has no "sh tour" block`)
	}
	cmds := commands(tour.text)
	if len(cmds) < 5 {
		t.Fatalf("%s: %d commands, want at least 5", tour.where(), len(cmds))
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut gt.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- cli.Run(ctx, []string{"demo", "--listen", addr}, nil, &out, &errOut) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("rampart demo did not stop within 30 s of its context ending")
		}
	})

	// Wait until the demo has printed its tokens and the gateway answers.
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if time.Now().After(deadline) {
			t.Fatalf("rampart demo not ready after 30 s\nstdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
		}
		select {
		case code := <-done:
			t.Fatalf("rampart demo exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
		default:
		}
		if len(demoToken.FindAllString(out.String(), -1)) == 2 {
			if resp, err := client.Get("http://" + addr + "/health"); err == nil {
				resp.Body.Close()
				break
			}
		}
		time.Sleep(50 * time.Millisecond) // polling interval, bounded by the deadline
	}
	env := os.Environ()
	for _, m := range demoToken.FindAllStringSubmatch(out.String(), -1) {
		env = append(env, m[1]+"="+m[2])
	}

	for _, c := range cmds {
		m := wantStatus.FindStringSubmatch(c[strings.LastIndex(c, "#"):])
		if m == nil {
			t.Errorf("%s: command %q has no \"# STATUS: …\" comment", tour.where(), c)
			continue
		}
		cmd := exec.Command("bash", "-c", strings.ReplaceAll(c, "127.0.0.1:8080", addr))
		cmd.Env = env
		got, err := cmd.Output()
		if err != nil {
			t.Errorf("%s: %q: %v", tour.where(), c, err)
			continue
		}
		first, _, _ := strings.Cut(string(got), "\n")
		sm := statusLine.FindStringSubmatch(first)
		if sm == nil || sm[1] != m[1] {
			t.Errorf("%s: %q answered %q, the README says %s\n%s", tour.where(), c, strings.TrimSpace(first), m[1], got)
		}
	}
}

// commands splits a shell block into commands, joining continuation lines.
func commands(text string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "" && cur.Len() == 0 {
			continue
		}
		if strings.HasSuffix(strings.TrimRight(l, " "), "\\") {
			cur.WriteString(strings.TrimSuffix(strings.TrimRight(l, " "), "\\"))
			continue
		}
		cur.WriteString(l)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}
