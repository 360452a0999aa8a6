package audit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// hostile are strings that stress JSON escaping and the byte bounds.
var hostile = []string{
	"",
	"plain",
	`quote " backslash \ slash / single '`,
	"new\nline\r\ttab\f\b",
	"\x00\x01\x1f\x7f",
	"\xff\xfe invalid",
	"cut rune \xe2\x80",
	"\x80 lone continuation",
	"\u2028 line and paragraph \u2029 separators",
	"<script>alert(1)</script>&amp;",
	"emoji 😀 ünïcödé \ufffd",
	"\xed\xa0\x80 surrogate half",
	strings.Repeat("é", 300),        // 2-byte runes across every bound
	strings.Repeat("😀", 200),        // 4-byte runes across every bound
	strings.Repeat("a", 31) + "é",   // cut inside a rune at method's 32
	strings.Repeat("a", 255) + "€€", // cut inside a rune at 256
	strings.Repeat("b", 511) + "€",  // cut inside a rune at 512
	strings.Repeat("\"\\\n", 400),
	strings.Repeat("x", 5000),
}

var hostileQueries = []string{
	"page=2&sort=name",
	"access_token=SECRET&page=2",
	"TOKEN=SECRET&Api_Key=SECRET&x=1",
	"acc%65ss_token=SECRET&a%5Fsecret=SECRET",
	"to%E2%84%AAen=SECRET&to\u212aen=SECRET", // Kelvin sign lower-cases to k
	"%zz=1&token%=SECRET&a+b=c&my+password=SECRET",
	"&&=&a==b&=x&token&token=&x=y=z",
	"q=" + strings.Repeat("é", 600) + "&password=SECRET",
	strings.Repeat("k=v&", 300) + "token=SECRET",
	"name=\"quoted\"&new=line\n&ctl=\x01&bad=\xff&sep=\u2028&html=<&>",
	"client_secret=SECRET&sig=SECRET&code=SECRET&session=SECRET&jwt=SECRET&x-api-key=SECRET",
	strings.Repeat("a", 1020) + "&token=SECRET", // cut by the 1024 bound
	strings.Repeat("%41", 400) + "=1",
	"%41%50%49_%4B%45%59=SECRET", // API_KEY
}

var fixedTimes = []time.Time{
	time.Date(2026, 12, 3, 19, 4, 5, 123456789, time.UTC),
	time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 5*3600+1800)),
	time.Date(2026, 6, 30, 23, 59, 59, 100000000, time.FixedZone("", -7*3600)),
	time.Date(2026, 3, 3, 0, 0, 0, 1, time.Local),
}

var latencies = []time.Duration{0, time.Microsecond, 999 * time.Nanosecond, 1234567 * time.Nanosecond,
	time.Second, 90 * time.Minute, -5 * time.Millisecond, 1<<63 - 1}

// slogLine is what slog.JSONHandler writes for these attrs at time now.
func slogLine(t *testing.T, now time.Time, level slog.Level, msg string, attrs []slog.Attr) string {
	t.Helper()
	var buf bytes.Buffer
	rec := slog.NewRecord(now, level, msg, 0)
	rec.AddAttrs(attrs...)
	if err := slog.NewJSONHandler(&buf, nil).Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

type hostileCase struct {
	r      *http.Request
	step   string
	rej    *pipeline.Rejection
	status int
	bytes  int64
	lat    time.Duration
	now    time.Time
}

func makeRequest(method, uri, query string, info *pipeline.Info) *http.Request {
	r := &http.Request{Method: method, RequestURI: uri, URL: &url.URL{RawQuery: query}, Header: http.Header{}}
	if info != nil {
		r = pipeline.WithInfo(r, info)
	}
	return r
}

// checkEqual compares the direct encoder with slog for one case.
func checkEqual(t *testing.T, c hostileCase) {
	t.Helper()
	want := slogLine(t, c.now, slog.LevelInfo, "access", accessAttrs(nil, c.r, c.status, c.bytes, c.lat))
	if got := string(appendAccess(nil, c.now, c.r, c.status, c.bytes, c.lat)); got != want {
		t.Fatalf("access line differs from slog's\n got: %q\nwant: %q", got, want)
	}
	level := slog.LevelWarn
	if c.rej.Status >= 500 {
		level = slog.LevelError
	}
	want = slogLine(t, c.now, level, "audit", rejectedAttrs(nil, c.r, c.step, c.rej))
	if got := string(appendRejected(nil, c.now, level, c.r, c.step, c.rej)); got != want {
		t.Fatalf("audit line differs from slog's\n got: %q\nwant: %q", got, want)
	}
}

func TestEncoderMatchesSlogHostileStrings(t *testing.T) {
	n := 0
	for i, h := range hostile {
		q := hostileQueries[i%len(hostileQueries)]
		for j, info := range []*pipeline.Info{
			nil,
			{ID: h, ClientIP: h, Route: h, Path: h, Target: h, Principal: &pipeline.Principal{Authenticator: h, Subject: h}},
			{ID: "id", ClientIP: "192.0.2.1"}, // refused before routing: raw_path
			{ID: "id", ClientIP: "::1", Route: "r", Path: "/p", Principal: &pipeline.Principal{Authenticator: "jwt", Subject: h}},
			{ID: "id", ClientIP: "::1", Principal: &pipeline.Principal{Authenticator: h, Subject: "s"}},
			{ID: "id", ClientIP: "::1", Route: "r", Path: "/p", Target: "10.0.0.5:8000", UpstreamAborted: true},
			{ID: "id", ClientIP: "::1", Route: "r", Path: "/p", Target: "10.0.0.5:8000",
				WebSocket: &pipeline.WebSocket{FromClient: 12, FromUpstream: 1 << 40, CloseCode: 1009, ClosedBy: h}},
		} {
			for _, status := range []int{200, 404, 503} {
				var err error
				if status != 200 {
					err = errors.New(h)
				}
				checkEqual(t, hostileCase{
					r:    makeRequest(h, "/raw/"+h+"?"+q, q, info),
					step: h, rej: &pipeline.Rejection{Status: status, Type: h, Err: err},
					status: status, bytes: int64(len(h)) * int64(j-2),
					lat: latencies[(i+j)%len(latencies)], now: fixedTimes[(i+j+status)%len(fixedTimes)],
				})
				n++
			}
		}
	}
	for _, q := range hostileQueries {
		for _, lat := range latencies {
			checkEqual(t, hostileCase{r: makeRequest("GET", "/?"+q, q, &pipeline.Info{ID: "i", ClientIP: "c", Path: "/"}),
				step: "s", rej: &pipeline.Rejection{Status: 400, Type: "bad-request"}, status: 200, lat: lat, now: fixedTimes[0]})
			n++
		}
	}
	t.Logf("%d cases equal to slog", n)
}

// TestEncoderMatchesSlogRandom throws random mixes of hostile pieces at
// every field.
func TestEncoderMatchesSlogRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 2026))
	pieces := []string{"a", "Z", "=", "&", "%", "%4", "%41", "%e2%80%a8", "+", "_", "token", "secret", "password",
		"KEY", "\"", "\\", "\n", "\x00", "\x7f", "\xff", "\xe2\x80", "\u2028", "é", "😀", "…", "<", ">", "\u212a",
		strings.Repeat("y", 100)}
	str := func() string {
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	for range 3000 {
		info := &pipeline.Info{ID: str(), ClientIP: str(), Route: str(), Path: str(), Target: str()}
		if rng.IntN(2) == 0 {
			info.Principal = &pipeline.Principal{Authenticator: str(), Subject: str()}
		}
		if rng.IntN(4) == 0 {
			info = nil
		}
		var err error
		if rng.IntN(2) == 0 {
			err = errors.New(str())
		}
		q := str()
		checkEqual(t, hostileCase{
			r:    makeRequest(str(), str()+"?"+str(), q, info),
			step: str(), rej: &pipeline.Rejection{Status: 400 + rng.IntN(200), Type: str(), Err: err},
			status: rng.IntN(600), bytes: rng.Int64() - 1<<62,
			lat: time.Duration(rng.Int64N(1 << 50)), now: fixedTimes[rng.IntN(len(fixedTimes))],
		})
	}
}

var timeValue = regexp.MustCompile(`"time":"[^"]*"`)

// TestLoggerPathsAgree runs the public methods on both paths: the slog
// fallback and the sink's direct encoder write the same lines (apart from
// the time), at the same levels.
func TestLoggerPathsAgree(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelError + 1} {
		var viaSlog, viaSink bytes.Buffer
		opts := &slog.HandlerOptions{Level: level}
		slow := New(slog.New(slog.NewJSONHandler(&viaSlog, opts)), nil)
		sink := NewSink(&viaSink)
		fast := NewWithSink(slog.New(slog.NewJSONHandler(sink, opts)), sink, nil)
		for i, h := range hostile {
			q := hostileQueries[i%len(hostileQueries)]
			r := makeRequest("GET", "/x?"+q, q, &pipeline.Info{ID: "id", ClientIP: h, Route: "r", Path: h,
				Target: "http://u", Principal: &pipeline.Principal{Authenticator: "k", Subject: h}})
			for _, l := range []*Logger{slow, fast} {
				l.Access(r, 200, 12, 3*time.Millisecond)
				l.Rejected(r, "auth", &pipeline.Rejection{Status: 401, Type: "unauthorized", Err: errors.New(h)})
				l.Rejected(r, "proxy", &pipeline.Rejection{Status: 502, Type: "bad-gateway"})
			}
		}
		sink.Close()
		got := timeValue.ReplaceAllString(viaSink.String(), `"time":"T"`)
		want := timeValue.ReplaceAllString(viaSlog.String(), `"time":"T"`)
		if got != want {
			t.Fatalf("level %v: sink path and slog path differ\nsink: %.2000q\nslog: %.2000q", level, got, want)
		}
		lines := strings.Count(want, "\n")
		wantLines := map[slog.Level]int{slog.LevelDebug: 3, slog.LevelInfo: 3, slog.LevelWarn: 2, slog.LevelError: 1}[level] * len(hostile)
		if lines != wantLines {
			t.Errorf("level %v: %d lines, want %d", level, lines, wantLines)
		}
	}
}

// TestTimeFormatMatchesSlog checks the time value itself against a real
// slog record made now (the fixed-time cases cover other zones).
func TestTimeFormatMatchesSlog(t *testing.T) {
	now := time.Now() // with a monotonic reading, as slog's records have
	want := slogLine(t, now, slog.LevelInfo, "access", nil)
	got := string(append(appendHead(nil, now, slog.LevelInfo, "access"), '}', '\n'))
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
