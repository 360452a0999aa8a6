package detect

import (
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/alert"
)

// defaults is `detect: {}` as the loader reads it.
func defaults() *Config {
	return &Config{BlockStatus: 403, MaxTrackedKeys: 100000, QueueSize: 65536, Replica: "test",
		CredentialStuffing: CredentialStuffing{Enabled: true, Action: ActionBlock, BlockFor: 15 * time.Minute, Failures: 20, Window: time.Minute,
			DistinctUsernames: 10, UsernamesWindow: 5 * time.Minute, ClientsPerUsername: 10, ClientsWindow: 10 * time.Minute, UsernameAction: ActionLog},
		Scanning:           Scanning{Enabled: true, Action: ActionBlock, BlockFor: 15 * time.Minute, Misses: 30, Window: time.Minute, SensitiveWeight: 5},
		TokenSharing:       TokenSharing{Enabled: true, Action: ActionLog, BlockFor: time.Hour, Addresses: 20, Window: 10 * time.Minute},
		Volume:             Volume{Enabled: true, Action: ActionLog, BlockFor: 5 * time.Minute, Interval: 10 * time.Second, Factor: 10, Floor: 300, WarmUp: 5 * time.Minute},
		ContractViolations: ContractViolations{Enabled: true, Action: ActionBlock, BlockFor: 15 * time.Minute, Violations: 30, Window: time.Minute},
	}
}

// recorder collects alerts.
type recorder struct {
	mu     sync.Mutex
	alerts []alert.Alert
}

func (r *recorder) Notify(a alert.Alert) {
	r.mu.Lock()
	r.alerts = append(r.alerts, a)
	r.mu.Unlock()
}

func (r *recorder) list() []alert.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]alert.Alert(nil), r.alerts...)
}

// harness runs events through the detectors synchronously (the engine's
// goroutine is bypassed: same code, deterministic).
type harness struct {
	t   *testing.T
	e   *Engine
	rec *recorder
	cfg *Config
	now time.Time
}

func newHarness(t *testing.T, cfg *Config) *harness {
	rec := &recorder{}
	e, err := New(cfg, 0, Deps{Notifier: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return &harness{t: t, e: e, rec: rec, cfg: cfg, now: time.Unix(1_800_000_000, 0)}
}

// feed observes ev at h.now, in the test's goroutine. The engine's own
// goroutine sees no events (nothing is queued), so there is no race.
func (h *harness) feed(ev Event) {
	ev.Time = h.now.UnixNano()
	h.e.st.observe(h.e, h.cfg, &ev)
}

func (h *harness) blocked(client string) bool {
	_, ok := h.e.BlockedClient(netip.MustParseAddr(client), h.now)
	return ok
}

func addr(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}) }

func TestCredentialStuffingThreshold(t *testing.T) {
	h := newHarness(t, defaults())
	c := netip.MustParseAddr("203.0.113.9")
	for i := range 19 {
		h.feed(Event{Client: c, Refusal: "invalid-token", Status: 401})
		h.now = h.now.Add(time.Second)
		_ = i
	}
	if h.blocked("203.0.113.9") || len(h.rec.list()) != 0 {
		t.Fatal("19 failures in 19s fired the detector (threshold 20)")
	}
	h.feed(Event{Client: c, Refusal: "invalid-token", Status: 401})
	if !h.blocked("203.0.113.9") {
		t.Fatal("the 20th failure within a minute did not block")
	}
	a := h.rec.list()
	if len(a) != 1 || a[0].Detector != DetCredentialStuffing || a[0].Action != ActionBlock || a[0].Subject != "203.0.113.9" || a[0].Evidence["failures"] != 20 {
		t.Fatalf("alerts %+v", a)
	}
	// More failures (the blocked client's own refusals are skipped anyway)
	// do not alert again within the block.
	for range 40 {
		h.feed(Event{Client: c, Refusal: "invalid-token", Status: 401})
	}
	if n := len(h.rec.list()); n != 1 {
		t.Errorf("%d alerts for one subject within its block, want 1", n)
	}
}

func TestCredentialStuffingWindowSlides(t *testing.T) {
	h := newHarness(t, defaults())
	c := netip.MustParseAddr("203.0.113.9")
	// 19 failures per minute, forever: never 20 within a minute.
	for range 200 {
		h.feed(Event{Client: c, Refusal: "locked-out", Status: 429})
		h.now = h.now.Add(time.Minute/19 + time.Millisecond)
	}
	if len(h.rec.list()) != 0 {
		t.Fatalf("a slow steady failer fired: %+v", h.rec.list()[0])
	}
}

func TestSprayingAndOneUsernameManyClients(t *testing.T) {
	cfg := defaults()
	cfg.CredentialStuffing.Failures = 1000 // isolate the other two rules
	h := newHarness(t, cfg)
	c := netip.MustParseAddr("203.0.113.9")
	for i := range 10 {
		h.feed(Event{Client: c, Login: true, UpstreamStatus: 401, Status: 401, Username: "user" + strconv.Itoa(i)})
	}
	if !h.blocked("203.0.113.9") {
		t.Fatal("10 usernames from one client were not blocked")
	}
	for i := range 10 {
		h.feed(Event{Client: addr(i), Login: true, UpstreamStatus: 403, Status: 403, Username: "alice"})
	}
	var got *alert.Alert
	for _, a := range h.rec.list() {
		if a.SubjectKind == KindUsername {
			got = &a
		}
	}
	if got == nil || got.Subject != "alice" || got.Action != ActionLog || got.Evidence["clients"] != 10 {
		t.Fatalf("one username from 10 clients: %+v", got)
	}
	for i := range 10 {
		if h.blocked(addr(i).String()) {
			t.Errorf("client %v blocked for failing alice once", addr(i))
		}
	}
	// A successful login (upstream 200) is no failure.
	h2 := newHarness(t, cfg)
	for i := range 50 {
		h2.feed(Event{Client: c, Login: true, UpstreamStatus: 200, Status: 200, Username: "user" + strconv.Itoa(i)})
	}
	if len(h2.rec.list()) != 0 {
		t.Error("successful logins fired the detector")
	}
}

func TestScanningSensitivePathsCountMore(t *testing.T) {
	h := newHarness(t, defaults())
	c := netip.MustParseAddr("2001:db8::1")
	for range 5 {
		h.feed(Event{Client: c, Status: 404, Refusal: "route-not-found", Path: "/.env"})
	}
	if h.blocked("2001:db8::1") {
		t.Fatal("blocked after 5 sensitive misses (25 < 30)")
	}
	h.feed(Event{Client: c, Status: 404, Refusal: "route-not-found", Path: "/wp-admin/setup.php"})
	if !h.blocked("2001:db8::1") || !h.blocked("2001:db8::ffff") {
		t.Fatal("6 sensitive misses did not block the client's /64")
	}
	// Routed 404s (the application's own) are no misses.
	h2 := newHarness(t, defaults())
	for range 100 {
		h2.feed(Event{Client: c, Status: 404, UpstreamStatus: 404, Route: 1, Path: "/.env"})
	}
	if len(h2.rec.list()) != 0 {
		t.Error("the application's own 404s fired the scanner detector")
	}
}

func TestTokenSharingAndNeverBlock(t *testing.T) {
	cfg := defaults()
	cfg.TokenSharing.Action = ActionBlock
	cfg.NeverBlock = []string{"10.0.0.0/8"}
	h := newHarness(t, cfg)
	for i := range 19 {
		h.feed(Event{Client: addr(i), Authenticator: "jwt", Principal: "alice", Status: 200, Route: 1})
	}
	if _, ok := h.e.Table().Principal("jwt", "alice", h.now); ok {
		t.Fatal("19 addresses blocked the principal (threshold 20)")
	}
	h.feed(Event{Client: addr(19), Authenticator: "jwt", Principal: "alice", Status: 200, Route: 1})
	if _, ok := h.e.Table().Principal("jwt", "alice", h.now); !ok {
		t.Fatal("20 addresses did not block the principal")
	}
	// never_block: detected, logged, not blocked.
	for range 30 {
		h.feed(Event{Client: netip.MustParseAddr("10.1.2.3"), Status: 404, Path: "/x"})
	}
	if h.blocked("10.1.2.3") {
		t.Fatal("a never_block client was blocked")
	}
	last := h.rec.list()[len(h.rec.list())-1]
	if last.Detector != DetScanning || last.Action != ActionLog || last.Evidence["never_block"] != 1 {
		t.Fatalf("never_block detection: %+v", last)
	}
}

func TestVolumeAgainstBaseline(t *testing.T) {
	cfg := defaults()
	cfg.Volume.Action = ActionBlock
	h := newHarness(t, cfg)
	c := netip.MustParseAddr("203.0.113.50")
	// Ten minutes at 50 requests per 10s: a baseline of 50.
	for range 60 {
		for range 50 {
			h.feed(Event{Client: c, Status: 200, Route: 1})
		}
		h.now = h.now.Add(10 * time.Second)
	}
	if len(h.rec.list()) != 0 {
		t.Fatalf("steady traffic fired: %+v", h.rec.list()[0])
	}
	// 450 in one interval: above the floor (300), under 10 × 50.
	for range 450 {
		h.feed(Event{Client: c, Status: 200, Route: 1})
	}
	if len(h.rec.list()) != 0 {
		t.Fatal("9× the baseline fired")
	}
	h.now = h.now.Add(10 * time.Second)
	for range 1000 {
		h.feed(Event{Client: c, Status: 200, Route: 1})
	}
	a := h.rec.list()
	if len(a) != 1 || a[0].Detector != DetVolume || !h.blocked("203.0.113.50") {
		t.Fatalf("1000 against a baseline near 90: %+v", a)
	}
	// A new client is held to factor × floor during its warm-up.
	h2 := newHarness(t, cfg)
	for range 2999 {
		h2.feed(Event{Client: addr(7), Status: 200, Route: 1})
	}
	if len(h2.rec.list()) != 0 {
		t.Fatal("a new client fired under factor × floor")
	}
}

func TestContractViolations(t *testing.T) {
	h := newHarness(t, defaults())
	c := netip.MustParseAddr("203.0.113.77")
	for i := range 29 {
		typ := []string{"request-invalid", "object-not-owned", "route-denied"}[i%3]
		h.feed(Event{Client: c, Status: 400, Refusal: typ, Route: 2})
	}
	if h.blocked("203.0.113.77") {
		t.Fatal("29 violations blocked")
	}
	h.feed(Event{Client: c, Status: 403, Refusal: "request-blocked", Route: 2})
	if !h.blocked("203.0.113.77") {
		t.Fatal("30 violations did not block")
	}
}

// Memory is bounded: past max_tracked_keys the oldest key is forgotten and
// counted.
func TestTrackedKeysCap(t *testing.T) {
	cfg := defaults()
	cfg.MaxTrackedKeys = 1000
	h := newHarness(t, cfg)
	for i := range 5000 {
		h.feed(Event{Client: addr(i), Status: 404, Path: "/x"})
	}
	if n := h.e.st.misses.len(); n != 1000 {
		t.Errorf("%d clients tracked, want the cap 1000", n)
	}
	if h.e.Evictions() < 4000 {
		t.Errorf("evictions %d, want at least 4000", h.e.Evictions())
	}
}

// The queue never blocks: past its size events are dropped and counted.
func TestFeedDropsWhenFull(t *testing.T) {
	e := &Engine{queue: make(chan Event, 2)}
	for range 5 {
		e.Feed(&Event{})
	}
	if e.Dropped() != 3 {
		t.Errorf("dropped %d, want 3", e.Dropped())
	}
}

// The engine's own goroutine: fed events are processed and blocks land.
func TestEngineRuns(t *testing.T) {
	rec := &recorder{}
	cfg := defaults()
	cfg.Scanning.Misses = 3
	e, err := New(cfg, 0, Deps{Notifier: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c := netip.MustParseAddr("192.0.2.1")
	for range 3 {
		e.Feed(&Event{Time: time.Now().UnixNano(), Client: c, Status: 404, Path: "/nope"})
	}
	deadline := time.Now().Add(2 * time.Second)
	for e.Processed() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("events not processed")
		}
		time.Sleep(time.Millisecond)
	}
	if _, ok := e.BlockedClient(c, time.Now()); !ok {
		t.Fatal("not blocked")
	}
	if err := e.Configure(nil); err != nil || e.Enabled() {
		t.Fatal("Configure(nil) should turn detection off")
	}
	if _, ok := e.BlockedClient(c, time.Now()); !ok {
		t.Fatal("turning detection off lifted a block")
	}
}

// BenchmarkFeed is the per-request cost the gateway pays.
func BenchmarkFeed(b *testing.B) {
	e, _ := New(defaults(), 0, Deps{})
	defer e.Close()
	ev := Event{Time: time.Now().UnixNano(), Client: netip.MustParseAddr("192.0.2.1"), Path: "/api/items", Status: 200, Route: 1}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		e.Feed(&ev)
	}
	b.ReportMetric(float64(e.Dropped())/float64(b.N), "dropped/op") // the drainer did not keep up
}
