package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// referenceRedactQuery is RedactQuery as it was before the allocation-free
// rewrite: the rewrite must redact exactly the same parameters.
func referenceRedactQuery(q string) string {
	if len(q) > 1024 {
		q = q[:1024]
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		name, _, hasValue := strings.Cut(p, "=")
		if !hasValue {
			continue
		}
		dec, err := url.QueryUnescape(name)
		if err != nil {
			dec = name
		}
		if isSensitive(dec) {
			parts[i] = name + "=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}

func TestRedactQueryMatchesReference(t *testing.T) {
	for _, q := range append(hostileQueries, "", "a", "=", "&", "token=", "Token=x", "x_TOKEN=1", "sessionid=1",
		"private_token=1", "my_code=1", "code=1", "decode=1", "api-key=1", "X-API-KEY=1", "passwordless=1",
		"to\u212aen=1", "TO%E2%84%AAEN=1", "%E2%84%AA%45%59=1", "\u212aey=1", "\xff=1", "tok%zzen=1", "token%2=1",
		strings.Repeat("n", 200)+"_token=1", strings.Repeat("n", 200)+"=1", "+token=1", "a+b+secret=1",
		"%C3%A9_token=1", "%C3%89_SECRET=1", "PASS%57ORD=1") {
		if got, want := RedactQuery(q), referenceRedactQuery(q); got != want {
			t.Errorf("RedactQuery(%q) = %q, want %q", q, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "Z", "=", "&", "%", "%4", "%41", "%4b", "%4B", "%e2%84%aa", "\u212a", "+", "_", "-",
		"token", "TOKEN", "secret", "pass", "word", "key", "api", "code", "sig", "jwt", "x", "é", "\xff", "İ"}
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(20) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		q := b.String()
		if got, want := RedactQuery(q), referenceRedactQuery(q); got != want {
			t.Fatalf("RedactQuery(%q) = %q, want %q", q, got, want)
		}
	}
}

func TestRedactQueryCleanDoesNotAllocate(t *testing.T) {
	for _, q := range []string{"page=2&sort=name&limit=50", "a=1", "filter=A%20B&x", strings.Repeat("p=1&", 300)} {
		if n := testing.AllocsPerRun(100, func() { _ = RedactQuery(q) }); n != 0 {
			t.Errorf("RedactQuery(%.40q): %v allocs", q, n)
		}
	}
}

// TestSecretsNeverLogged plants credentials in headers and the query and
// checks neither path writes them.
func TestSecretsNeverLogged(t *testing.T) {
	secrets := []string{"HDR-AUTH-SECRET", "HDR-COOKIE-SECRET", "HDR-APIKEY-SECRET", "Q-TOKEN-SECRET",
		"Q-APIKEY-SECRET", "Q-ACCESS-SECRET", "Q-PASSWORD-SECRET", "Q-ENCODED-SECRET", "Q-UPPER-SECRET"}
	query := "token=" + secrets[3] + "&api_key=" + secrets[4] + "&access_token=" + secrets[5] + "&password=" + secrets[6] +
		"&api%5Fkey=" + secrets[7] + "&X_TOKEN=" + secrets[8] + "&page=2"
	for _, path := range []string{"fallback", "sink"} {
		t.Run(path, func(t *testing.T) {
			var out bytes.Buffer
			var l *Logger
			var sink *Sink
			if path == "sink" {
				sink = NewSink(&out)
				l = NewWithSink(slog.New(slog.NewJSONHandler(sink, nil)), sink, nil)
			} else {
				l = New(slog.New(slog.NewJSONHandler(&out, nil)), nil)
			}
			for _, info := range []*pipeline.Info{
				{ID: "r1", ClientIP: "192.0.2.1", Route: "items", Path: "/api/items"},
				{ID: "r2", ClientIP: "192.0.2.1"}, // refused before routing: raw_path
			} {
				r := httptest.NewRequest("GET", "/api/items?"+query, nil)
				r.Header.Set("Authorization", "Bearer "+secrets[0])
				r.Header.Set("Cookie", "session="+secrets[1])
				r.Header.Set("X-API-Key", secrets[2])
				r = pipeline.WithInfo(r, info)
				l.Access(r, 200, 10, time.Millisecond)
				l.Rejected(r, "auth", &pipeline.Rejection{Status: 401, Type: "unauthorized", Header: http.Header{"X": {secrets[0]}}})
			}
			if sink != nil {
				sink.Close()
			}
			logs := out.String()
			for _, s := range secrets {
				if strings.Contains(logs, s) {
					t.Errorf("secret %q logged:\n%s", s, logs)
				}
			}
			if n := strings.Count(logs, "page=2"); n != 4 {
				t.Errorf("query logged %d times, want 4:\n%s", n, logs)
			}
			if n := strings.Count(logs, `"query":"token=REDACTED&`); n != 4 {
				t.Errorf("token redacted %d times, want 4", n)
			}
		})
	}
}

// TestLevelsRespected: a logger above INFO suppresses access lines on both
// paths; rejections follow WARN/ERROR; metrics are independent of levels.
func TestLevelsRespected(t *testing.T) {
	for _, tc := range []struct {
		level                 slog.Level
		access, warn, errLine bool
	}{
		{slog.LevelInfo, true, true, true},
		{slog.LevelWarn, false, true, true},
		{slog.LevelError, false, false, true},
		{slog.LevelError + 4, false, false, false},
	} {
		for _, withSink := range []bool{false, true} {
			var out bytes.Buffer
			opts := &slog.HandlerOptions{Level: tc.level}
			l := New(slog.New(slog.NewJSONHandler(&out, opts)), nil)
			var sink *Sink
			if withSink {
				sink = NewSink(&out)
				l = NewWithSink(slog.New(slog.NewJSONHandler(sink, opts)), sink, nil)
			}
			r := pipeline.WithInfo(httptest.NewRequest("GET", "/", nil), &pipeline.Info{ID: "i", ClientIP: "c", Path: "/"})
			l.Access(r, 200, 0, 0)
			l.Rejected(r, "s", &pipeline.Rejection{Status: 403, Type: "forbidden"})
			l.Rejected(r, "s", &pipeline.Rejection{Status: 502, Type: "bad-gateway", Err: errors.New("boom")})
			if sink != nil {
				sink.Close()
			}
			logs := out.String()
			if got := strings.Contains(logs, `"msg":"access"`); got != tc.access {
				t.Errorf("level %v sink=%v: access line written %v, want %v", tc.level, withSink, got, tc.access)
			}
			if got := strings.Contains(logs, `"level":"WARN","msg":"audit"`); got != tc.warn {
				t.Errorf("level %v sink=%v: WARN audit written %v, want %v", tc.level, withSink, got, tc.warn)
			}
			if got := strings.Contains(logs, `"level":"ERROR","msg":"audit"`); got != tc.errLine {
				t.Errorf("level %v sink=%v: ERROR audit written %v, want %v", tc.level, withSink, got, tc.errLine)
			}
		}
	}
}

// TestSinkPathDoesNotAllocate: the direct encoder allocates nothing per call
// once its pooled buffers are warm (the benchmarks report the same).
func TestSinkPathDoesNotAllocate(t *testing.T) {
	sink := NewSink(io.Discard)
	defer sink.Close()
	l := NewWithSink(slog.New(slog.NewJSONHandler(sink, nil)), sink, nil)
	r := httptest.NewRequest("GET", "/api/items/42?page=2&access_token=x", nil)
	r = pipeline.WithInfo(r, &pipeline.Info{ID: "id", ClientIP: "203.0.113.7", Route: "items", Path: "/api/items/42",
		Target: "http://10.0.0.1", Principal: &pipeline.Principal{Authenticator: "jwt", Subject: "u"}})
	rej := &pipeline.Rejection{Status: 403, Type: "forbidden", Err: errors.New("scope missing")}
	if n := testing.AllocsPerRun(1000, func() { l.Access(r, 200, 1, time.Millisecond) }); n != 0 {
		t.Errorf("Access: %v allocs per call", n)
	}
	if n := testing.AllocsPerRun(1000, func() { l.Rejected(r, "scope", rej) }); n != 0 {
		t.Errorf("Rejected: %v allocs per call", n)
	}
}

// TestSinkLoggerConcurrent: request goroutines share the pooled buffers and
// the sink; every line arrives once, whole and valid.
func TestSinkLoggerConcurrent(t *testing.T) {
	var out bytes.Buffer
	sink := NewSinkLimit(&out, 4096)
	l := NewWithSink(slog.New(slog.NewJSONHandler(sink, nil)), sink, nil)
	const goroutines, perG = 8, 300
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for k := range perG {
				id := strconv.Itoa(g) + "-" + strconv.Itoa(k)
				r := pipeline.WithInfo(httptest.NewRequest("GET", "/p?n="+id, nil),
					&pipeline.Info{ID: id, ClientIP: "c", Path: "/p", Target: strings.Repeat("t", k)})
				if k%3 == 0 {
					l.Rejected(r, "s", &pipeline.Rejection{Status: 403, Type: "forbidden"})
				} else {
					l.Access(r, 200, int64(k), time.Duration(k)*time.Microsecond)
				}
				if k%50 == 0 {
					l.log.Info("operational", "g", g) // the same sink, through slog
				}
			}
		})
	}
	wg.Wait()
	sink.Close()
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("torn or invalid line %q: %v", line, err)
		}
		if m["msg"] == "operational" {
			continue
		}
		id, _ := m["request_id"].(string)
		if seen[id] || m["query"] != "n="+id {
			t.Fatalf("duplicate or mixed-up line %q", line)
		}
		seen[id] = true
	}
	if len(seen) != goroutines*perG {
		t.Fatalf("%d request lines, want %d", len(seen), goroutines*perG)
	}
}
