package ipfilter

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config/conf"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

func quietFiles(opts FilesOptions) *Files {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return NewFiles(opts)
}

func TestDecisions(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "allow.txt"), "# partners\n198.51.100.0/24\n")
	writeFile(t, filepath.Join(dir, "deny.txt"), "198.51.100.66\n")
	writeFile(t, filepath.Join(dir, "empty.txt"), "# nobody yet\n")
	for _, tc := range []struct {
		name   string
		cfg    Config
		client string
		want   bool
	}{
		{"deny only: listed client refused", Config{Deny: []string{"203.0.113.0/24"}}, "203.0.113.9", false},
		{"deny only: others pass", Config{Deny: []string{"203.0.113.0/24"}}, "192.0.2.1", true},
		{"allow: listed client passes", Config{Allow: []string{"10.0.0.0/8"}}, "10.9.9.9", true},
		{"allow: unlisted client refused", Config{Allow: []string{"10.0.0.0/8"}}, "192.0.2.1", false},
		{"allow: IPv6 client not in an IPv4 allowlist", Config{Allow: []string{"10.0.0.0/8"}}, "2001:db8::1", false},
		{"deny wins over allow", Config{Allow: []string{"10.0.0.0/8"}, Deny: []string{"10.0.0.66"}}, "10.0.0.66", false},
		{"mapped client decided as IPv4", Config{Deny: []string{"192.0.2.0/24"}}, "::ffff:192.0.2.1", false},
		{"allow file", Config{AllowFile: "allow.txt", BaseDir: dir}, "198.51.100.1", true},
		{"allow file: unlisted refused", Config{AllowFile: "allow.txt", BaseDir: dir}, "192.0.2.1", false},
		{"deny file wins over allow file", Config{AllowFile: "allow.txt", DenyFile: "deny.txt", BaseDir: dir}, "198.51.100.66", false},
		{"inline and file allow both count", Config{Allow: []string{"192.0.2.1"}, AllowFile: "allow.txt", BaseDir: dir}, "192.0.2.1", true},
		{"empty allow file admits nobody", Config{AllowFile: "empty.txt", BaseDir: dir}, "192.0.2.1", false},
		{"absolute path ignores BaseDir", Config{DenyFile: filepath.Join(dir, "deny.txt"), BaseDir: "/nonexistent"}, "198.51.100.66", false},
		{"unknown client refused", Config{Deny: []string{"203.0.113.0/24"}}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(tc.cfg, quietFiles(FilesOptions{}))
			if err != nil {
				t.Fatal(err)
			}
			var client netip.Addr
			if tc.client != "" {
				client = netip.MustParseAddr(tc.client).Unmap()
			}
			if got := f.Allows(client); got != tc.want {
				t.Errorf("Allows(%s) = %v, want %v", tc.client, got, tc.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	writeFile(t, bad, "192.0.2.0/24\n10.0.0.1/8\n\n  nope\n")
	_, err := New(Config{Deny: []string{"10.0.0.0/8", "192.0.2.1/24"}, Allow: []string{"x"}, DenyFile: bad, AllowFile: "missing.txt", BaseDir: dir}, quietFiles(FilesOptions{}))
	if err == nil {
		t.Fatal("no error")
	}
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *conf.FieldError
		var le *LineError
		switch {
		case errors.As(e, &fe):
			got = append(got, "field "+fe.Error())
		case errors.As(e, &le):
			got = append(got, "line "+le.Error())
		default:
			got = append(got, "other "+e.Error())
		}
	}
	want := []string{
		`field allow entry 1: entry is not an IP address or CIDR prefix (such as 192.0.2.0/24 or 2001:db8::/32)`,
		`field deny entry 2: entry has bits set after the prefix length; write "192.0.2.0/24" for the network, or "192.0.2.1" for that one address`,
		`field allow_file: cannot be read: no such file or directory`,
		"line " + bad + `:2:1: entry "10.0.0.1/8" has bits set after the prefix length; write "10.0.0.0/8" for the network, or "10.0.0.1" for that one address`,
		"line " + bad + `:4:3: entry "nope" is not an IP address or CIDR prefix (such as 192.0.2.0/24 or 2001:db8::/32)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

type recordingObserver struct {
	mu   sync.Mutex
	rejs []string
}

func (o *recordingObserver) Rejected(r *http.Request, step string, rej *pipeline.Rejection) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rejs = append(o.rejs, step+" "+rej.Type)
}

func TestMiddleware(t *testing.T) {
	f, err := New(Config{Deny: []string{"203.0.113.0/24"}}, quietFiles(FilesOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	obs := &recordingObserver{}
	reached := 0
	h := f.Middleware(obs)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ }))
	for _, tc := range []struct {
		client string
		status int
	}{{"203.0.113.7", http.StatusForbidden}, {"192.0.2.1", http.StatusOK}} {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r = pipeline.WithInfo(r, &pipeline.Info{ID: "req-1", Client: netip.MustParseAddr(tc.client)})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.client, w.Code, tc.status)
		}
		if tc.status == http.StatusForbidden {
			body := w.Body.String()
			if !strings.Contains(body, `"type":"urn:rampart:problem:ip-denied"`) || strings.Contains(body, "203.0.113") {
				t.Errorf("body %s: want ip-denied without the list", body)
			}
		}
	}
	if reached != 1 {
		t.Errorf("next reached %d times, want 1 (the allowed client only)", reached)
	}
	if strings.Join(obs.rejs, ",") != "ipfilter ip-denied" {
		t.Errorf("observed %v, want one ipfilter ip-denied", obs.rejs)
	}
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	// Write then rename, as operators should: the poller never sees half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// failures counts Failed calls by path.
type failures struct {
	mu sync.Mutex
	n  map[string]int
}

func (f *failures) add(path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n[path]++
}

func (f *failures) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[path]
}

// eventually polls cond until it holds, or fails the test after 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFileReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "deny.txt")
	writeFile(t, path, "203.0.113.0/24\n")
	fails := &failures{n: map[string]int{}}
	files := quietFiles(FilesOptions{Poll: 5 * time.Millisecond, Failed: fails.add})
	// Two filters naming one file share it.
	f1, err := New(Config{DenyFile: path}, files)
	if err != nil {
		t.Fatal(err)
	}
	f2, err := New(Config{DenyFile: "deny.txt", BaseDir: dir, Allow: []string{"0.0.0.0/0"}}, files)
	if err != nil {
		t.Fatal(err)
	}
	files.Start()
	t.Cleanup(files.Close)
	old, fresh := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("192.0.2.1")
	if f1.Allows(old) || !f1.Allows(fresh) {
		t.Fatal("initial list not applied")
	}

	writeFile(t, path, "# moved\n192.0.2.0/24\n")
	eventually(t, "the rewritten list holds", func() bool { return !f1.Allows(fresh) && f1.Allows(old) })
	if f2.Allows(fresh) || !f2.Allows(old) {
		t.Error("the second filter naming the file did not get the new list")
	}

	writeFile(t, path, "192.0.2.0/24\n10.0.0.1/8\n") // invalid: the previous list stays
	eventually(t, "the failure is counted", func() bool { return fails.count(path) == 1 })
	if f1.Allows(fresh) || !f1.Allows(netip.MustParseAddr("10.0.0.1")) {
		t.Error("an invalid rewrite changed the list")
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the removal is counted", func() bool { return fails.count(path) == 2 })
	if f1.Allows(fresh) {
		t.Error("a removed file dropped the list")
	}

	writeFile(t, path, "10.0.0.0/8\n")
	eventually(t, "the restored file holds", func() bool { return !f1.Allows(netip.MustParseAddr("10.0.0.1")) && f1.Allows(fresh) })
	if n := fails.count(path); n != 2 {
		t.Errorf("%d failures counted, want 2 (each failed change once)", n)
	}
}

func TestFilesCloseWithoutStart(t *testing.T) {
	files := quietFiles(FilesOptions{})
	files.Close()
	files.Close() // twice is fine
}
