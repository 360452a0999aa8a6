package metrics

import "github.com/prometheus/client_golang/prometheus"

// DetectSource is what the detection metrics read at each scrape
// (internal/detect's Engine and Table).
type DetectSource struct {
	Dropped, Evictions func() uint64
	Active             func() map[string]int // blocks in force by detector
	SharedUp           func() bool           // blocks reach Redis (true without Redis)
}

// Detect registers the detection metrics and returns the function that
// counts one detection (detect.Deps.Detected).
func (m *Metrics) Detect(src DetectSource) func(detector, action string) {
	detections := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_detections_total",
		Help: "Attacks detected, by detector and action taken (log or block)."}, []string{"detector", "action"})
	m.registry.MustRegister(detections,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rampart_detect_events_dropped_total",
			Help: "Request events the detectors never saw because their queue was full."},
			func() float64 { return float64(src.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rampart_detect_evictions_total",
			Help: "Tracked clients, principals or usernames forgotten to stay within detect.max_tracked_keys."},
			func() float64 { return float64(src.Evictions()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rampart_blocks_shared_up",
			Help: "1 when blocks are shared through shared_state (or kept in memory), 0 while Redis is unreachable."},
			func() float64 {
				if src.SharedUp() {
					return 1
				}
				return 0
			}),
		&activeBlocks{active: src.Active, desc: prometheus.NewDesc("rampart_blocks_active",
			"Blocks in force, by detector (operator for the admin API's).", []string{"detector"}, nil)})
	return func(detector, action string) { detections.WithLabelValues(detector, action).Inc() }
}

type activeBlocks struct {
	active func() map[string]int
	desc   *prometheus.Desc
}

func (c *activeBlocks) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *activeBlocks) Collect(ch chan<- prometheus.Metric) {
	for det, n := range c.active() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), det)
	}
}
