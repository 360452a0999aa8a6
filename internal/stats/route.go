package stats

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Route is one route's counters, one slot per minute for RouteMinutes
// minutes.
type Route struct {
	name string
	mins [RouteMinutes]minute
}

type minute struct {
	reset          sync.Mutex
	at             atomic.Int64 // unix minute
	requests       atomic.Uint32
	refusals       atomic.Uint32
	upstreamErrors atomic.Uint32
	latency        [Buckets]atomic.Uint32
}

// record counts a request finished at unix second sec. A status of 400 or
// more that the upstream did not cause counts as a refusal.
func (rt *Route) record(sec int64, status, b int, upstreamErr bool) {
	m := sec / 60
	slot := &rt.mins[uint64(m)%RouteMinutes]
	if slot.at.Load() != m { // the slot holds an older period: rare
		claim(&slot.reset, &slot.at, m, func() {
			slot.requests.Store(0)
			slot.refusals.Store(0)
			slot.upstreamErrors.Store(0)
			zero(slot.latency[:])
		})
	}
	slot.requests.Add(1)
	slot.latency[b].Add(1)
	switch {
	case upstreamErr:
		slot.upstreamErrors.Add(1)
	case status >= 400:
		slot.refusals.Add(1)
	}
}

// RouteRow is one line of the route table.
type RouteRow struct {
	Route          string  `json:"route"`
	Requests       uint64  `json:"requests"`
	PerSecond      float64 `json:"per_second"`
	Refusals       uint64  `json:"refusals"`
	UpstreamErrors uint64  `json:"upstream_errors"`
	P50ms          float64 `json:"p50_ms"`
	P99ms          float64 `json:"p99_ms"`
}

// Routes returns the route table over the last minutes (1..RouteMinutes)
// before now, busiest first; routes with no traffic in it are left out.
// Refusals here are the requests answered with 4xx/5xx without reaching the
// upstream; upstream errors are counted apart.
func (s *Stats) Routes(minutes int, now time.Time) []RouteRow {
	minutes = min(max(minutes, 1), RouteMinutes)
	s.routesMu.Lock()
	all := append([]*Route{s.unrouted, s.other}, s.order...)
	s.routesMu.Unlock()
	cur := now.Unix() / 60
	rows := []RouteRow{}
	for _, rt := range all {
		row := RouteRow{Route: rt.name}
		var h [Buckets]uint64
		for i := range rt.mins {
			slot := &rt.mins[i]
			if at := slot.at.Load(); at > cur || at <= cur-int64(minutes) {
				continue
			}
			row.Requests += uint64(slot.requests.Load())
			row.Refusals += uint64(slot.refusals.Load())
			row.UpstreamErrors += uint64(slot.upstreamErrors.Load())
			for b := range h {
				h[b] += uint64(slot.latency[b].Load())
			}
		}
		if row.Requests == 0 {
			continue
		}
		row.PerSecond = float64(row.Requests) / float64(minutes*60)
		row.P50ms, row.P99ms = ms(quantile(&h, 0.5)), ms(quantile(&h, 0.99))
		rows = append(rows, row)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Requests > rows[j].Requests })
	return rows
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
