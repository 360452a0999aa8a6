package stats

import (
	"sort"
	"time"
)

// Series is the per-second ring read back as plot data: one point per Step
// seconds, oldest first, rates per second. Seconds the replica did not see
// (before it started, or idle) are zeros.
type Series struct {
	Step           int                  `json:"step"`
	Time           []int64              `json:"time"` // unix seconds, start of each point
	Requests       []float64            `json:"requests"`
	Refusals       []float64            `json:"refusals"`
	ByReason       map[string][]float64 `json:"refusals_by_reason"`
	UpstreamErrors []float64            `json:"upstream_errors"`
	P50ms          []float64            `json:"p50_ms"`
	P99ms          []float64            `json:"p99_ms"`
}

// Summary is the totals of a window.
type Summary struct {
	Seconds        int                `json:"seconds"`
	Requests       uint64             `json:"requests"`
	PerSecond      float64            `json:"requests_per_second"`
	Refusals       uint64             `json:"refusals"`
	RefusalsPerSec float64            `json:"refusals_per_second"`
	ByReason       map[string]float64 `json:"refusals_per_second_by_reason"`
	UpstreamErrors uint64             `json:"upstream_errors"`
	P50ms          float64            `json:"p50_ms"`
	P99ms          float64            `json:"p99_ms"`
}

// window adds up the seconds [from, to] into sum, hist and the reasons.
type window struct {
	requests, upstreamErrors, refusals uint64
	reasons                            [MaxReasons]uint64
	hist                               [Buckets]uint64
}

func (s *Stats) add(w *window, from, to int64) {
	for sec := from; sec <= to; sec++ {
		slot := &s.secs[uint64(sec)%Seconds]
		if slot.at.Load() != sec {
			continue
		}
		w.requests += uint64(slot.requests.Load())
		w.upstreamErrors += uint64(slot.upstreamErrors.Load())
		for i := range w.reasons {
			c := uint64(slot.refusals[i].Load())
			w.reasons[i] += c
			w.refusals += c
		}
		for i := range w.hist {
			w.hist[i] += uint64(slot.latency[i].Load())
		}
	}
}

// clampWindow bounds seconds to 1..Seconds.
func clampWindow(seconds int) int { return min(max(seconds, 1), Seconds) }

// Summary returns the totals of the last seconds (1..Seconds) up to now.
// The current second, still filling, is included.
func (s *Stats) Summary(seconds int, now time.Time) Summary {
	seconds = clampWindow(seconds)
	to := now.Unix()
	var w window
	s.add(&w, to-int64(seconds)+1, to)
	sum := Summary{Seconds: seconds, Requests: w.requests, Refusals: w.refusals, UpstreamErrors: w.upstreamErrors,
		PerSecond: float64(w.requests) / float64(seconds), RefusalsPerSec: float64(w.refusals) / float64(seconds),
		P50ms: ms(quantile(&w.hist, 0.5)), P99ms: ms(quantile(&w.hist, 0.99)), ByReason: map[string]float64{}}
	for i, name := range s.reasons.list() {
		if w.reasons[i] > 0 {
			sum.ByReason[name] = float64(w.reasons[i]) / float64(seconds)
		}
	}
	return sum
}

// Series returns the last seconds (1..Seconds) up to now, one point per
// step seconds (at least 1). The last point ends at the last complete second.
func (s *Stats) Series(seconds, step int, now time.Time) Series {
	seconds, step = clampWindow(seconds), max(step, 1)
	points := max(seconds/step, 1)
	end := now.Unix() - 1
	start := end - int64(points*step) + 1
	reasons := s.reasons.list()
	out := Series{Step: step, ByReason: map[string][]float64{}}
	perReason := make([][]float64, len(reasons))
	for i := range perReason {
		perReason[i] = make([]float64, points)
	}
	div := float64(step)
	for p := 0; p < points; p++ {
		from := start + int64(p*step)
		var w window
		s.add(&w, from, from+int64(step)-1)
		out.Time = append(out.Time, from)
		out.Requests = append(out.Requests, float64(w.requests)/div)
		out.Refusals = append(out.Refusals, float64(w.refusals)/div)
		out.UpstreamErrors = append(out.UpstreamErrors, float64(w.upstreamErrors)/div)
		out.P50ms = append(out.P50ms, ms(quantile(&w.hist, 0.5)))
		out.P99ms = append(out.P99ms, ms(quantile(&w.hist, 0.99)))
		for i := range perReason {
			perReason[i][p] = float64(w.reasons[i]) / div
		}
	}
	for i, name := range reasons {
		for _, v := range perReason[i] {
			if v > 0 {
				out.ByReason[name] = perReason[i]
				break
			}
		}
	}
	return out
}

// Reasons returns the refusal reasons seen so far, sorted.
func (s *Stats) Reasons() []string {
	r := s.reasons.list()
	sort.Strings(r)
	return r
}
