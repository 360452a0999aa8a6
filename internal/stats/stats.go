// Package stats keeps the in-process aggregates the dashboard shows: what one
// replica served and refused over the last hour, per second and per route,
// the last security events and the top offenders.
//
// Recording a request is a handful of atomic adds into fixed arrays (no lock,
// no allocation, no map): the gateway calls Request once per request from its
// finish step. Refusals arrive through Observer (wrapping the audit
// observer), which also files the security event and the offender counts;
// those take a mutex, but only refused requests pay for it.
//
// Memory is fixed at New, whatever the traffic:
//
//   - per second, for one hour (3600 slots): requests, upstream errors,
//     refusals by reason (MaxReasons slots) and a latency histogram
//     (Buckets) — 4 bytes each, about 1.5 MB in all;
//   - per route (at most MaxRoutes, then "(other)"), one slot per minute
//     for RouteMinutes minutes: about 3.6 KB a route;
//   - the last EventCap security events;
//   - per offender kind (client, principal, API key), OffenderCap entries
//     counted with the Space-Saving algorithm (a newcomer replaces the
//     smallest count, inheriting it as its error bound), each with a
//     per-minute history of RouteMinutes minutes.
//
// The numbers are this replica's only: with several replicas, scrape each
// one's admin API and add them up.
package stats

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// Seconds is how far back the per-second series go.
	Seconds = 3600
	// MaxReasons bounds the distinct refusal reasons counted per second;
	// reasons past it are counted as "other". Problem types are a fixed
	// set in the code (about 40), so this is not reached in practice.
	MaxReasons = 48
	// Buckets is the latency histogram's size: two buckets per power of two
	// of microseconds, from 0 up to 2^25 µs (33 s) and beyond in the last.
	Buckets = 52
	// MaxRoutes bounds the per-route table; routes past it (only a reload
	// adding many could get there) share one "(other)" row.
	MaxRoutes = 512
	// RouteMinutes is the per-route and per-offender history, in minutes.
	RouteMinutes = 15
)

// OtherReason collects refusal reasons past MaxReasons.
const OtherReason = "other"

// Stats holds one replica's aggregates. Its methods are safe for concurrent
// use. The zero value is not usable; call New.
type Stats struct {
	secs    [Seconds]second
	reasons reasonTable
	started time.Time

	routesMu sync.Mutex
	routes   map[string]*Route
	order    []*Route
	other    *Route // past MaxRoutes
	unrouted *Route // requests refused before a route matched

	events    eventRing
	offenders [kinds]*topK
}

// second is one slot of the per-second ring.
type second struct {
	reset          sync.Mutex // taken only to recycle the slot for a new second
	at             atomic.Int64
	requests       atomic.Uint32
	upstreamErrors atomic.Uint32
	refusals       [MaxReasons]atomic.Uint32
	latency        [Buckets]atomic.Uint32
}

// New returns empty aggregates.
func New() *Stats {
	s := &Stats{started: time.Now(), routes: map[string]*Route{}}
	s.other = &Route{name: "(other)"}
	s.unrouted = &Route{name: "(no route)"}
	s.events.buf = make([]Event, EventCap)
	for k := range s.offenders {
		s.offenders[k] = newTopK(OffenderCap)
	}
	return s
}

// Started is when the aggregates began.
func (s *Stats) Started() time.Time { return s.started }

// Route returns the per-route counters of the route named name, creating
// them on first use. The gateway looks them up once per route when it is
// compiled; they outlive reloads.
func (s *Stats) Route(name string) *Route {
	s.routesMu.Lock()
	defer s.routesMu.Unlock()
	if rt, ok := s.routes[name]; ok {
		return rt
	}
	if len(s.order) >= MaxRoutes {
		return s.other
	}
	rt := &Route{name: name}
	s.routes[name] = rt
	s.order = append(s.order, rt)
	return rt
}

// Unrouted returns the counters of requests answered before a route matched.
func (s *Stats) Unrouted() *Route { return s.unrouted }

// Request records one finished request: its route (nil: no route matched),
// its status, how long it took, whether the upstream failed (no answer, a
// 5xx or a broken body) and when it finished. It never allocates.
func (s *Stats) Request(rt *Route, status int, elapsed time.Duration, upstreamErr bool, now time.Time) {
	sec := now.Unix()
	b := bucket(elapsed)
	slot := s.slot(sec)
	slot.requests.Add(1)
	slot.latency[b].Add(1)
	if upstreamErr {
		slot.upstreamErrors.Add(1)
	}
	if rt == nil {
		rt = s.unrouted
	}
	rt.record(sec, status, b, upstreamErr)
}

// refused counts one refusal by reason at now.
func (s *Stats) refused(reason string, now time.Time) {
	s.slot(now.Unix()).refusals[s.reasons.index(reason)].Add(1)
}

// slot returns the ring slot of sec, recycled for it if it held an older
// second.
func (s *Stats) slot(sec int64) *second {
	slot := &s.secs[uint64(sec)%Seconds]
	if slot.at.Load() != sec { // the slot holds an older period: rare
		claim(&slot.reset, &slot.at, sec, func() {
			slot.requests.Store(0)
			slot.upstreamErrors.Store(0)
			zero(slot.refusals[:])
			zero(slot.latency[:])
		})
	}
	return slot
}

// claim makes a ring slot hold period p: the first writer of a new period
// resets it, under mu, before storing p, so no count of p is lost to the
// reset. (A writer still counting the old period as it is recycled may land
// in the new one: one count, at a period's edge.)
func claim(mu *sync.Mutex, at *atomic.Int64, p int64, reset func()) {
	if at.Load() == p {
		return
	}
	mu.Lock()
	if at.Load() != p {
		reset()
		at.Store(p)
	}
	mu.Unlock()
}

func zero(counts []atomic.Uint32) {
	for i := range counts {
		counts[i].Store(0)
	}
}

// bucket is elapsed's latency histogram bucket: two per power of two of
// microseconds.
func bucket(elapsed time.Duration) int {
	us := uint64(max(elapsed, 0) / time.Microsecond)
	if us < 2 {
		return int(us)
	}
	n := bits.Len64(us)
	i := 2*(n-1) + int(us>>(n-2)&1)
	return min(i, Buckets-1)
}

// bucketLow is the smallest latency of bucket i.
func bucketLow(i int) time.Duration {
	if i < 2 {
		return time.Duration(i) * time.Microsecond
	}
	n := i/2 + 1
	return time.Duration(uint64(1)<<(n-1)+uint64(i%2)<<(n-2)) * time.Microsecond
}

// quantile is the q-quantile (0..1) of histogram h: the middle of the
// bucket it falls in, so within about 20% of the true value. 0 when empty.
func quantile(h *[Buckets]uint64, q float64) time.Duration {
	var total uint64
	for _, c := range h {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total-1)) + 1
	var seen uint64
	for i, c := range h {
		seen += c
		if seen >= rank {
			if i == Buckets-1 {
				return bucketLow(i)
			}
			return (bucketLow(i) + bucketLow(i+1)) / 2
		}
	}
	return bucketLow(Buckets - 1)
}

// reasonTable interns refusal reasons into small indexes without a lock on
// the lookup: a slot, once published, never changes.
type reasonTable struct {
	mu    sync.Mutex
	n     atomic.Int32
	names [MaxReasons]atomic.Pointer[string]
}

func (t *reasonTable) index(reason string) int {
	n := int(t.n.Load())
	for i := 0; i < n; i++ {
		if *t.names[i].Load() == reason {
			return i
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n = int(t.n.Load())
	for i := 0; i < n; i++ {
		if *t.names[i].Load() == reason {
			return i
		}
	}
	if n >= MaxReasons-1 {
		// The last slot is "other", for good.
		if n == MaxReasons-1 {
			other := OtherReason
			t.names[n].Store(&other)
			t.n.Store(MaxReasons)
		}
		return MaxReasons - 1
	}
	r := reason
	t.names[n].Store(&r)
	t.n.Store(int32(n + 1))
	return n
}

// list returns the interned reasons, by index.
func (t *reasonTable) list() []string {
	n := int(t.n.Load())
	out := make([]string, n)
	for i := range out {
		out[i] = *t.names[i].Load()
	}
	return out
}
