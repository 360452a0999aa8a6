package stats

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

var t0 = time.Unix(1_800_000_000, 0)

func TestSummaryAndSeries(t *testing.T) {
	s := New()
	rt := s.Route("items")
	for i := 0; i < 100; i++ {
		s.Request(rt, 200, time.Duration(i+1)*time.Millisecond, false, t0)
	}
	s.Request(rt, 502, time.Millisecond, true, t0.Add(time.Second))
	refuse(s, "10.0.0.1", "", "rate-limited", t0.Add(time.Second))
	refuse(s, "10.0.0.1", "", "rate-limited", t0.Add(time.Second))
	refuse(s, "10.0.0.2", "", "unauthorized", t0.Add(time.Second))

	sum := s.Summary(10, t0.Add(time.Second))
	if sum.Requests != 101 || sum.Refusals != 3 || sum.UpstreamErrors != 1 {
		t.Fatalf("summary = %+v", sum)
	}
	if got, want := sum.ByReason, map[string]float64{"rate-limited": 0.2, "unauthorized": 0.1}; !cmp.Equal(got, want) {
		t.Errorf("by reason: %v, want %v", got, want)
	}
	// Latencies 1..100 ms: p50 ≈ 50 ms and p99 ≈ 99 ms, within a bucket (±25%).
	if sum.P50ms < 37 || sum.P50ms > 63 || sum.P99ms < 74 || sum.P99ms > 124 {
		t.Errorf("p50 %v ms, p99 %v ms", sum.P50ms, sum.P99ms)
	}

	ser := s.Series(4, 1, t0.Add(2*time.Second))
	if got, want := ser.Requests, []float64{0, 0, 100, 1}; !cmp.Equal(got, want) {
		t.Errorf("series requests %v, want %v", got, want)
	}
	if got, want := ser.ByReason["rate-limited"], []float64{0, 0, 0, 2}; !cmp.Equal(got, want) {
		t.Errorf("series rate-limited %v, want %v", got, want)
	}
	if got := ser.Time[3]; got != t0.Unix()+1 {
		t.Errorf("last point at %d, want %d", got, t0.Unix()+1)
	}
}

func TestRingForgetsOldSeconds(t *testing.T) {
	s := New()
	s.Request(nil, 200, time.Millisecond, false, t0)
	later := t0.Add(Seconds * time.Second) // the same slot, an hour on
	s.Request(nil, 200, time.Millisecond, false, later)
	if got := s.Summary(Seconds, later).Requests; got != 1 {
		t.Errorf("requests in the last hour = %d, want 1 (the hour-old one is forgotten)", got)
	}
}

func TestRoutes(t *testing.T) {
	s := New()
	a, b := s.Route("a"), s.Route("b")
	if s.Route("a") != a {
		t.Fatal("Route is not stable")
	}
	for i := 0; i < 3; i++ {
		s.Request(a, 200, time.Millisecond, false, t0)
	}
	s.Request(b, 403, time.Millisecond, false, t0)
	s.Request(b, 502, time.Millisecond, true, t0)
	s.Request(nil, 404, time.Millisecond, false, t0)
	s.Request(a, 200, time.Millisecond, false, t0.Add(-20*time.Minute)) // outside 15 min
	rows := s.Routes(15, t0)
	got := map[string][3]uint64{}
	for _, r := range rows {
		got[r.Route] = [3]uint64{r.Requests, r.Refusals, r.UpstreamErrors}
	}
	want := map[string][3]uint64{"a": {3, 0, 0}, "b": {2, 1, 1}, "(no route)": {1, 1, 0}}
	if !cmp.Equal(got, want) {
		t.Errorf("routes %v, want %v", got, want)
	}
	if rows[0].Route != "a" {
		t.Errorf("busiest first: %v", rows)
	}
}

func TestRoutesAreBounded(t *testing.T) {
	s := New()
	for i := 0; i < MaxRoutes; i++ {
		s.Route(fmt.Sprint("r", i))
	}
	if got := s.Route("one-too-many"); got != s.other {
		t.Errorf("route past MaxRoutes = %q, want (other)", got.name)
	}
}

func TestReasonsAreBounded(t *testing.T) {
	s := New()
	for i := 0; i < MaxReasons+10; i++ {
		refuse(s, "10.0.0.1", "", fmt.Sprint("reason-", i), t0)
	}
	sum := s.Summary(1, t0)
	if len(sum.ByReason) != MaxReasons || sum.ByReason[OtherReason] != 11 {
		t.Errorf("%d reasons, other = %v; want %d and 11", len(sum.ByReason), sum.ByReason[OtherReason], MaxReasons)
	}
}

func TestEvents(t *testing.T) {
	s := New()
	r := httptest.NewRequest("GET", "/api/items?api_key=SECRET", nil)
	r.Header.Set("Authorization", "Bearer SECRET")
	info := &pipeline.Info{ID: "req-1", ClientIP: "192.0.2.7", Route: "items", Path: "/api/items",
		Principal: &pipeline.Principal{Authenticator: "partners", Subject: "acme", Claims: map[string]any{"key_id": "k_123"}}}
	r = pipeline.WithInfo(r, info)
	(&Observer{Stats: s, Now: func() time.Time { return t0 }}).Rejected(r, "authz", pipeline.Reject(403, "scope-missing", "no"))
	evs, last := s.Events(0, 0)
	want := []Event{{Seq: 1, Time: t0, Reason: "scope-missing", Status: 403, Step: "authz", Method: "GET", Route: "items",
		Path: "/api/items", Client: "192.0.2.7", Principal: "partners:acme", KeyID: "k_123", RequestID: "req-1"}}
	if diff := cmp.Diff(want, evs); diff != "" || last != 1 {
		t.Errorf("events (-want +got):\n%s (last %d)", diff, last)
	}
	// A refusal before routing keeps the raw path, never the query.
	r2 := pipeline.WithInfo(httptest.NewRequest("GET", "/x/..%2f?token=SECRET", nil), &pipeline.Info{ID: "req-2", ClientIP: "192.0.2.8"})
	s.Rejected(r2, "request", pipeline.Reject(400, "encoded-slash", "no"), t0)
	evs, _ = s.Events(1, 0)
	if len(evs) != 1 || evs[0].Path != "/x/..%2f" {
		t.Errorf("events after 1: %+v", evs)
	}
}

func TestEventRingKeepsTheNewest(t *testing.T) {
	s := New()
	for i := 0; i < EventCap+5; i++ {
		refuse(s, "10.0.0.1", "", "x", t0)
	}
	evs, last := s.Events(0, 0)
	if len(evs) != EventCap || evs[0].Seq != 6 || last != EventCap+5 {
		t.Errorf("%d events from seq %d, last %d", len(evs), evs[0].Seq, last)
	}
	evs, _ = s.Events(0, 10)
	if len(evs) != 10 || evs[9].Seq != EventCap+5 {
		t.Errorf("limit 10: %d events ending at %d", len(evs), evs[len(evs)-1].Seq)
	}
}

func TestOffenders(t *testing.T) {
	s := New()
	for i := 0; i < 5; i++ {
		refuse(s, "10.0.0.9", "jwt:mallory", "forbidden", t0.Add(-time.Duration(i)*time.Minute))
	}
	refuse(s, "10.0.0.1", "", "not-found", t0)
	top := s.Offenders(Clients, 10, t0)
	if len(top) != 2 || top[0].Name != "10.0.0.9" || top[0].Refusals != 5 {
		t.Fatalf("clients: %+v", top)
	}
	if got, want := top[0].History[RouteMinutes-5:], []uint32{1, 1, 1, 1, 1}; !cmp.Equal(got, want) {
		t.Errorf("history %v, want %v", got, want)
	}
	if p := s.Offenders(Principals, 10, t0); len(p) != 1 || p[0].Name != "jwt:mallory" {
		t.Errorf("principals: %+v", p)
	}
}

// Space-Saving keeps a heavy offender even when many one-off clients pass.
func TestOffendersBoundedKeepHeavyHitters(t *testing.T) {
	s := New()
	for i := 0; i < 50; i++ {
		refuse(s, "203.0.113.66", "", "x", t0)
	}
	for i := 0; i < OffenderCap*4; i++ {
		refuse(s, fmt.Sprintf("10.%d.%d.1", i/256, i%256), "", "x", t0)
	}
	top := s.Offenders(Clients, 0, t0)
	if len(top) != OffenderCap || top[0].Name != "203.0.113.66" {
		t.Errorf("%d tracked, top %+v", len(top), top[0])
	}
}

func TestBuckets(t *testing.T) {
	for _, d := range []time.Duration{0, time.Microsecond, 3 * time.Microsecond, 150 * time.Microsecond, time.Millisecond, 2 * time.Second, time.Hour} {
		b := bucket(d)
		if b < 0 || b >= Buckets {
			t.Fatalf("bucket(%v) = %d", d, b)
		}
		if b < Buckets-1 && (d < bucketLow(b) || d >= bucketLow(b+1)) {
			t.Errorf("%v in bucket %d [%v, %v)", d, b, bucketLow(b), bucketLow(b+1))
		}
	}
}

func refuse(s *Stats, client, principal, reason string, now time.Time) {
	info := &pipeline.Info{ID: "r", ClientIP: client, Route: "items", Path: "/api/items"}
	if principal != "" {
		auth, sub, _ := cutColon(principal)
		info.Principal = &pipeline.Principal{Authenticator: auth, Subject: sub}
	}
	r := pipeline.WithInfo(httptest.NewRequest(http.MethodGet, "/api/items", nil), info)
	s.Rejected(r, "test", pipeline.Reject(403, reason, "no"), now)
}

func cutColon(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
