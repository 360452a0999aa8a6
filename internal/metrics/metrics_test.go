package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRouteHandlesCountLikeDone(t *testing.T) {
	m := New()
	r := m.Route("items")
	if m.Route("items") != r {
		t.Fatal("Route must return the same handle for the same name (reloads keep it)")
	}
	m.Begin()
	r.Done("GET", 200, time.Millisecond)
	m.Begin()
	r.Done("GET", 200, time.Millisecond)
	m.Begin()
	m.Done("items", "GET", 200, time.Millisecond) // the unhandled path adds to the same series
	m.Begin()
	r.Done("BREW", 418, time.Millisecond) // invented method → OTHER
	m.Begin()
	m.Route("").Done("GET", 404, time.Millisecond)

	cases := []struct {
		route, method, code string
		want                float64
	}{
		{"items", "GET", "200", 3},
		{"items", "OTHER", "418", 1},
		{"(none)", "GET", "404", 1},
	}
	for _, c := range cases {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(c.route, c.method, c.code)); got != c.want {
			t.Errorf("requests{%s,%s,%s} = %v, want %v", c.route, c.method, c.code, got, c.want)
		}
	}
	if got := testutil.ToFloat64(m.inFlight); got != 0 {
		t.Errorf("in flight = %v, want 0", got)
	}
}

// BenchmarkRouteDone is the per-request metrics cost through a route handle.
func BenchmarkRouteDone(b *testing.B) {
	m := New()
	r := m.Route("items")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m.Begin()
		r.Done("GET", 200, time.Millisecond)
	}
}

// BenchmarkDoneByName is the same through label lookups, for comparison.
func BenchmarkDoneByName(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m.Begin()
		m.Done("items", "GET", 200, time.Millisecond)
	}
}
