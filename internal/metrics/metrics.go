// Package metrics exposes the gateway's Prometheus metrics on the admin
// listener. Labels are bounded by construction: routes by their config name
// (never the raw path, which an attacker chooses), methods by a fixed list,
// rejection reasons by the stable problem types.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors. One instance lives for the whole process and
// survives reloads (counters must not reset when the config changes).
type Metrics struct {
	registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	upstream   *prometheus.HistogramVec
	rejections *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	limited    *prometheus.CounterVec
	ipLists    *prometheus.CounterVec
	alertsSent *prometheus.CounterVec
	alertsLost *prometheus.CounterVec
	wafDecide  *prometheus.CounterVec
	wafMatches *prometheus.CounterVec
	inFlight   prometheus.Gauge
	websockets prometheus.Gauge

	mu     sync.Mutex
	routes map[string]*Route // handles by route name, kept across reloads
}

// New registers the gateway's metrics (and the Go runtime's) in a fresh registry.
func New() *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry()}
	buckets := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_requests_total",
		Help: "Requests answered, by route, method and status code."}, []string{"route", "method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rampart_request_duration_seconds",
		Help: "Time from request received to response finished, by route.", Buckets: buckets}, []string{"route"})
	m.upstream = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rampart_upstream_duration_seconds",
		Help: "Time waiting for the upstream's response headers, by route.", Buckets: buckets}, []string{"route"})
	m.rejections = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_rejections_total",
		Help: "Requests refused by the gateway, by reason (the problem type)."}, []string{"reason"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_config_reloads_total",
		Help: "Config reload attempts, by result (success or failure)."}, []string{"result"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "rampart_requests_in_flight",
		Help: "Requests being processed."})
	m.websockets = prometheus.NewGauge(prometheus.GaugeOpts{Name: "rampart_websockets_open",
		Help: "WebSocket connections being relayed."})
	m.limited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_rate_limited_total",
		Help: "Requests refused by a rate-limit policy, by policy name."}, []string{"policy"})
	m.ipLists = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_ip_list_reload_errors_total",
		Help: "Changes of an ip_filter list file that could not be loaded (unreadable or invalid; the previous list stays), by file."}, []string{"list"})
	m.alertsSent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_alert_deliveries_total",
		Help: "Alerts handed to a destination, by sink (webhook:NAME) and result (delivered, failed after its attempts)."}, []string{"sink", "result"})
	m.alertsLost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_alert_dropped_total",
		Help: "Alerts dropped because a destination's queue was full or shutdown ended its drain, by sink."}, []string{"sink"})
	m.wafDecide = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_waf_decisions_total",
		Help: "Requests (side request) and upstream answers (side response, inspect_responses) inspected by a WAF policy, by policy, mode and decision (pass, match, block, detect)."}, []string{"policy", "mode", "side", "decision"})
	m.wafMatches = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_waf_matches_total",
		Help: "WAF rule matches, by policy and rule id (bounded by the loaded rule set)."}, []string{"policy", "rule"})
	m.registry.MustRegister(m.requests, m.duration, m.upstream, m.rejections, m.reloads, m.inFlight, m.websockets, m.limited, m.ipLists,
		m.alertsSent, m.alertsLost, m.wafDecide, m.wafMatches,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WebSocket adds delta (1 when a relay starts, -1 when it ends) to the
// open WebSockets gauge.
func (m *Metrics) WebSocket(delta int) { m.websockets.Add(float64(delta)) }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Begin counts a request in flight; Done ends it.
func (m *Metrics) Begin() { m.inFlight.Inc() }

// Done records a finished request.
func (m *Metrics) Done(route, method string, code int, elapsed time.Duration) {
	if route == "" {
		route = "(none)"
	}
	m.requests.WithLabelValues(route, Method(method), codeLabel(code)).Inc()
	m.duration.WithLabelValues(route).Observe(elapsed.Seconds())
	m.inFlight.Dec() // last, so "0 in flight" means every count is in
}

// Route is one route's metric handles, resolved once so that recording a
// request costs no label hashing or registry lookup: the gateway takes one
// per route at load (Metrics.Route) and records through it per request.
type Route struct {
	m        *Metrics
	name     string
	duration prometheus.Observer
	upstream prometheus.Observer
	// counters caches rampart_requests_total children by method and code
	// (key: method index << 16 | code); both are bounded, so is the cache.
	counters sync.Map
}

// Route returns the handles for the route named name ("" is the "(none)"
// route of requests refused before routing). Handles are shared by every
// gateway that has a route of that name, so reloads keep them.
func (m *Metrics) Route(name string) *Route {
	if name == "" {
		name = "(none)"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.routes[name]; r != nil {
		return r
	}
	if m.routes == nil {
		m.routes = map[string]*Route{}
	}
	r := &Route{m: m, name: name, duration: m.duration.WithLabelValues(name), upstream: m.upstream.WithLabelValues(name)}
	m.routes[name] = r
	return r
}

// Done records a finished request of this route and ends it in flight.
func (r *Route) Done(method string, code int, elapsed time.Duration) {
	mi := methodIndex(method)
	key := uint32(mi)<<16 | uint32(min(max(code, 0), 0xffff))
	c, ok := r.counters.Load(key)
	if !ok {
		c, _ = r.counters.LoadOrStore(key, r.m.requests.WithLabelValues(r.name, methods[mi], codeLabel(code)))
	}
	c.(prometheus.Counter).Inc()
	r.duration.Observe(elapsed.Seconds())
	r.m.inFlight.Dec() // last, so "0 in flight" means every count is in
}

// Upstream records how long the upstream took to answer a request of this route.
func (r *Route) Upstream(elapsed time.Duration) { r.upstream.Observe(elapsed.Seconds()) }

// Upstream records how long an upstream took to answer.
func (m *Metrics) Upstream(route string, elapsed time.Duration) {
	m.upstream.WithLabelValues(route).Observe(elapsed.Seconds())
}

// Rejected counts a refusal by reason.
func (m *Metrics) Rejected(reason string) { m.rejections.WithLabelValues(reason).Inc() }

// RateLimited counts a refusal by a rate-limit policy (a config name).
func (m *Metrics) RateLimited(policy string) { m.limited.WithLabelValues(policy).Inc() }

// IPListReloadFailed counts a change of an ip_filter list file (a path from
// the config) that could not be loaded.
func (m *Metrics) IPListReloadFailed(list string) { m.ipLists.WithLabelValues(list).Inc() }

// WAF counts one WAF decision and the rules that matched. Labels are
// bounded: policies by their config name, rules by the loaded rule set.
func (m *Metrics) WAF(policy, mode, side, decision string, rules []int) {
	m.wafDecide.WithLabelValues(policy, mode, side, decision).Inc()
	for _, id := range rules {
		m.wafMatches.WithLabelValues(policy, strconv.Itoa(id)).Inc()
	}
}

// SharedState exports whether the shared-state backend (Redis) is reachable:
// up reports 1 when it is, 0 during an outage.
func (m *Metrics) SharedState(up func() bool) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rampart_shared_state_up",
		Help: "1 when the shared-state backend (rate limits) is reachable, 0 during an outage."},
		func() float64 {
			if up() {
				return 1
			}
			return 0
		}))
}

// Authenticators exports, per authenticator that fetches keys (jwt with
// jwks_url or discovery), whether it has them: ready reports the current
// gateway's authenticators at each scrape (they change with reloads).
func (m *Metrics) Authenticators(ready func() map[string]bool) {
	m.registry.MustRegister(&authenticatorsReady{ready: ready, desc: prometheus.NewDesc("rampart_authenticator_ready",
		"1 when the authenticator has verification keys, 0 while it waits for its identity provider (its routes answer 503).",
		[]string{"authenticator"}, nil)})
}

type authenticatorsReady struct {
	ready func() map[string]bool
	desc  *prometheus.Desc
}

func (c *authenticatorsReady) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *authenticatorsReady) Collect(ch chan<- prometheus.Metric) {
	for name, ok := range c.ready() {
		v := 0.0
		if ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, name)
	}
}

// Connections exports the public listener's connection counts: open now,
// parked now (idle, held without a goroutine), refused at
// server.max_connections, and idle ones closed to make room.
func (m *Metrics) Connections(open, parked, refused, reclaimed func() int64) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rampart_connections",
			Help: "Open connections on the public listener (HTTP/1)."},
			func() float64 { return float64(open()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rampart_connections_parked",
			Help: "Open connections on the public listener idle long enough to be parked (no goroutine, no buffers; plain TCP on Linux)."},
			func() float64 { return float64(parked()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rampart_connections_refused_total",
			Help: "Connections answered 503 and closed at server.max_connections, none being idle."},
			func() float64 { return float64(refused()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rampart_connections_reclaimed_total",
			Help: "Idle connections closed to make room for new ones (max_connections or out of file descriptors)."},
			func() float64 { return float64(reclaimed()) }))
}

// KeyStore exports the API-key store's state: rampart_keystore_up (1 while
// it answers) and rampart_apikey_stale_served_total (requests authenticated
// by a key remembered from before an outage). state reports both.
func (m *Metrics) KeyStore(state func() (up bool, staleServed uint64)) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rampart_keystore_up",
			Help: "1 while the API-key store answers, 0 during an outage."},
			func() float64 {
				if up, _ := state(); up {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rampart_apikey_stale_served_total",
			Help: "Requests authenticated during a key store outage by a key the store confirmed shortly before (store_outage_grace)."},
			func() float64 { _, n := state(); return float64(n) }))
}

// AlertDelivery counts an alert a sink delivered or gave up on (sink names
// come from the config: bounded).
func (m *Metrics) AlertDelivery(sink, result string) {
	m.alertsSent.WithLabelValues(sink, result).Inc()
}

// AlertDropped counts an alert a sink dropped.
func (m *Metrics) AlertDropped(sink string) { m.alertsLost.WithLabelValues(sink).Inc() }

// Syslog exports the syslog forwarder's state: rampart_syslog_up (1 while
// connected to the collector), rampart_syslog_sent_total and
// rampart_syslog_dropped_total (messages over the queue's budget, or left at
// shutdown). state reports all three.
func (m *Metrics) Syslog(state func() (up bool, sent, dropped uint64)) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rampart_syslog_up",
			Help: "1 while connected to the syslog collector, 0 otherwise."},
			func() float64 {
				if up, _, _ := state(); up {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rampart_syslog_sent_total",
			Help: "Audit events (and access lines with include_access) written to the syslog collector."},
			func() float64 { _, n, _ := state(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rampart_syslog_dropped_total",
			Help: "Syslog messages dropped: the queue was full (collector slow or unreachable) or shutdown ended its drain."},
			func() float64 { _, _, n := state(); return float64(n) }))
}

// Tracing exports the trace exporter's outcomes as
// rampart_trace_spans_total{outcome}: exported, failed (in batches the
// collector refused or did not take in time) and dropped (ended while the
// export queue was full). stats reports the three counts.
func (m *Metrics) Tracing(stats func() (exported, failed, dropped uint64)) {
	for i, outcome := range []string{"exported", "failed", "dropped"} {
		m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rampart_trace_spans_total",
			Help:        "Spans by export outcome: exported, failed (the collector refused them or did not answer in time), dropped (the export queue was full).",
			ConstLabels: prometheus.Labels{"outcome": outcome}},
			func() float64 {
				e, f, d := stats()
				return float64([3]uint64{e, f, d}[i])
			}))
	}
}

// Reloaded counts a reload attempt.
func (m *Metrics) Reloaded(err error) {
	if err != nil {
		m.reloads.WithLabelValues("failure").Inc()
		return
	}
	m.reloads.WithLabelValues("success").Inc()
}

// Method bounds the method label: anything outside the registered methods is
// "OTHER", so a client inventing methods cannot create series.
func Method(m string) string { return methods[methodIndex(m)] }

var methods = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodTrace, http.MethodConnect, "OTHER"}

func methodIndex(m string) int {
	for i, name := range methods[:len(methods)-1] {
		if m == name {
			return i
		}
	}
	return len(methods) - 1
}

var codes [600]string

func init() {
	for i := range codes {
		codes[i] = strconv.Itoa(i)
	}
}

func codeLabel(c int) string {
	if c >= 0 && c < len(codes) {
		return codes[c]
	}
	return "other"
}
