package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/alert"
)

const testSecret = "k7Qe9vN2xR4pL8sW1zT6yU3mB5cD0fGh"

func init() {
	// Retries in tests wait milliseconds, not seconds.
	baseBackoff, maxBackoff = time.Millisecond, 5*time.Millisecond
}

func sampleAlert() alert.Alert {
	return alert.Alert{Time: time.Date(2026, 12, 5, 15, 4, 5, 0, time.UTC), Detector: "credential_stuffing",
		SubjectKind: "client_ip", Subject: "203.0.113.9", Action: "block", BlockFor: 15 * time.Minute,
		Evidence: map[string]int64{"failures": 57, "distinct_usernames": 41}, Summary: "credential stuffing from 203.0.113.9: 57 failures over 41 usernames; blocked 15m",
		Replica: "gw-1"}
}

// verify checks a signature the way docs/alerts.md tells receivers to.
func verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) bool {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(t, 0)).Abs() > tolerance {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(sig))
}

type delivery struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP server answering each request with answer(n)
// (n counts from 1) and recording what arrived.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []delivery
	n   atomic.Int64
}

func newReceiver(t *testing.T, answer func(n int64, w http.ResponseWriter)) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{r.Header.Clone(), body})
		rc.mu.Unlock()
		answer(rc.n.Add(1), w)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

func start(t *testing.T, cfg Config) *Sender {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "ops"
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Queue == 0 {
		cfg.Queue = 10
	}
	s, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSignedPayloadVerifiesAndCarriesSlackText(t *testing.T) {
	rc := newReceiver(t, func(int64, http.ResponseWriter) {})
	s := start(t, Config{URL: rc.URL + "/hooks/T000/B000/token", Secret: testSecret})
	s.Notify(sampleAlert())
	waitFor(t, "one delivery", func() bool { return s.Stats().Delivered == 1 })

	d := rc.deliveries()[0]
	if !verify(testSecret, d.header.Get(SignatureHeader), d.body, time.Now(), 5*time.Minute) {
		t.Fatalf("signature %q does not verify over %s", d.header.Get(SignatureHeader), d.body)
	}
	if verify("another-secret-of-thirty-two-bytes!", d.header.Get(SignatureHeader), d.body, time.Now(), 5*time.Minute) {
		t.Fatal("signature verifies with the wrong secret")
	}
	if len(d.header.Get(DeliveryHeader)) != 32 {
		t.Errorf("delivery id = %q, want 32 hex digits", d.header.Get(DeliveryHeader))
	}
	if ct := d.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var p map[string]any
	if err := json.Unmarshal(d.body, &p); err != nil {
		t.Fatal(err)
	}
	a := sampleAlert()
	want := map[string]any{"event": "alert", "time": "2026-12-05T15:04:05Z", "detector": a.Detector, "subject_kind": "client_ip",
		"subject": a.Subject, "action": "block", "block_seconds": 900.0, "summary": a.Summary, "text": a.Summary, "replica": "gw-1",
		"evidence": map[string]any{"failures": 57.0, "distinct_usernames": 41.0}}
	for k, v := range want {
		if got, _ := json.Marshal(p[k]); string(got) != mustJSON(v) {
			t.Errorf("payload %s = %s, want %s", k, got, mustJSON(v))
		}
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestUnsignedWithoutSecret(t *testing.T) {
	rc := newReceiver(t, func(int64, http.ResponseWriter) {})
	s := start(t, Config{URL: rc.URL})
	s.Notify(sampleAlert())
	waitFor(t, "one delivery", func() bool { return s.Stats().Delivered == 1 })
	if h := rc.deliveries()[0].header.Get(SignatureHeader); h != "" {
		t.Fatalf("signature header %q without a secret", h)
	}
}

func TestRetriesOn500ThenSucceeds(t *testing.T) {
	rc := newReceiver(t, func(n int64, w http.ResponseWriter) {
		if n < 3 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	s := start(t, Config{URL: rc.URL, Secret: testSecret, MaxAttempts: 5})
	s.Notify(sampleAlert())
	waitFor(t, "delivery", func() bool { return s.Stats().Delivered == 1 })
	if n := rc.n.Load(); n != 3 {
		t.Fatalf("receiver saw %d attempts, want 3 (two 500s, then 200)", n)
	}
	ds := rc.deliveries()
	if ds[0].header.Get(DeliveryHeader) != ds[2].header.Get(DeliveryHeader) {
		t.Error("retries of one alert carry different delivery ids; receivers cannot deduplicate")
	}
	if st := s.Stats(); st.Failed != 0 || st.Attempts != 3 {
		t.Errorf("stats = %+v", st)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	rc := newReceiver(t, func(n int64, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	s := start(t, Config{URL: rc.URL, MaxAttempts: 4})
	s.Notify(sampleAlert())
	waitFor(t, "failure", func() bool { return s.Stats().Failed == 1 })
	if n := rc.n.Load(); n != 4 {
		t.Fatalf("receiver saw %d attempts, want max_attempts = 4", n)
	}
}

func TestClientErrorIsNotRetried(t *testing.T) {
	rc := newReceiver(t, func(n int64, w http.ResponseWriter) { w.WriteHeader(http.StatusBadRequest) })
	s := start(t, Config{URL: rc.URL, MaxAttempts: 4})
	s.Notify(sampleAlert())
	waitFor(t, "failure", func() bool { return s.Stats().Failed == 1 })
	if n := rc.n.Load(); n != 1 {
		t.Fatalf("receiver saw %d attempts of a 400, want 1", n)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	var first time.Time
	var gap atomic.Int64
	rc := newReceiver(t, func(n int64, w http.ResponseWriter) {
		if n == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		gap.Store(int64(time.Since(first)))
	})
	s := start(t, Config{URL: rc.URL})
	s.Notify(sampleAlert())
	waitFor(t, "delivery", func() bool { return s.Stats().Delivered == 1 })
	if g := time.Duration(gap.Load()); g < 900*time.Millisecond {
		t.Fatalf("retried %v after a 429 with Retry-After: 1", g)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{"": 0, "3": 3 * time.Second, "-1": 0, "junk": 0,
		"999999": maxRetryAfter, now.Add(10 * time.Second).Format(http.TimeFormat): 10 * time.Second} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// A receiver that holds every request never slows Notify: the queue fills,
// then new alerts are dropped and counted.
func TestSlowReceiverNeverBlocksNotifyAndOverflowIsCounted(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(int64, http.ResponseWriter) { <-release })
	defer close(release)
	s := start(t, Config{URL: rc.URL, Queue: 2, Timeout: time.Minute})
	s.Notify(sampleAlert())
	waitFor(t, "the first delivery to be held", func() bool { return rc.n.Load() == 1 })

	done := make(chan struct{})
	go func() {
		for range 10 {
			s.Notify(sampleAlert())
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Notify blocked while the receiver was held")
	}
	if st := s.Stats(); st.Dropped != 8 {
		t.Fatalf("dropped %d of 10 alerts with a queue of 2 and one in flight, want 8", st.Dropped)
	}
}

func TestCloseDrainsWithinDeadline(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(n int64, w http.ResponseWriter) {
		if n == 1 {
			<-release
		}
	})
	defer close(release)
	s, err := New(Config{Name: "ops", URL: rc.URL, MaxAttempts: 1, Queue: 5, Timeout: time.Minute}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s.Notify(sampleAlert())
	}
	waitFor(t, "the first delivery to be held", func() bool { return rc.n.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); err == nil {
		t.Fatal("Close returned nil although a delivery was held past its deadline")
	}
	st := s.Stats()
	if st.Delivered+st.Failed+st.Dropped != 3 {
		t.Fatalf("after Close every alert is accounted for: %+v", st)
	}
	s.Notify(sampleAlert()) // after Close: dropped, no panic
	if s.Stats().Dropped != st.Dropped+1 {
		t.Fatal("an alert after Close was not counted as dropped")
	}
}

func TestErrorsNeverShowTheURLPath(t *testing.T) {
	const token = "T000/B000/XXXXSECRETXXXX"
	s := start(t, Config{URL: "http://127.0.0.1:1/services/" + token + "?token=abc", MaxAttempts: 1})
	_, _, outcome := s.attempt("id", []byte("{}"))
	if outcome == "" || strings.Contains(outcome, "SECRET") || strings.Contains(outcome, "token") {
		t.Fatalf("outcome %q", outcome)
	}
	if got := Redacted("https://hooks.slack.com/services/" + token); got != "https://hooks.slack.com" {
		t.Fatalf("Redacted = %q", got)
	}
}

func TestConfigRefusesUnsafeURLs(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"https://hooks.example.com/x", false, true},
		{"http://127.0.0.1:9000/x", false, true},
		{"http://localhost/x", false, true},
		{"http://hooks.example.com/x", false, false},
		{"http://hooks.example.com/x", true, true},
		{"ftp://hooks.example.com/x", true, false},
		{"file:///etc/passwd", true, false},
		{"https://user:pw@hooks.example.com/", false, false},
		{"/relative", false, false},
	} {
		c := Config{Name: "x", URL: tc.url, AllowInsecure: tc.insecure}
		errs := c.Validate()
		if (len(errs) == 0) != tc.ok {
			t.Errorf("%s (allow_insecure %v): errors %v, want ok=%v", tc.url, tc.insecure, errs, tc.ok)
		}
		for _, err := range errs {
			if strings.Contains(err.Error(), "hooks.example.com") {
				t.Errorf("error echoes the URL: %v", err)
			}
		}
	}
}

// FuzzRetryAfter: a receiver's Retry-After, whatever it says, yields a wait
// between 0 and maxRetryAfter.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "5", "-3", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "Sun, 06 Nov 2094 08:49:37 GMT", "1.5", " 7"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := retryAfter(v, now); d < 0 || d > maxRetryAfter {
			t.Fatalf("retryAfter(%q) = %v", v, d)
		}
	})
}
