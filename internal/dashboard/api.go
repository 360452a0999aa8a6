package dashboard

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/stats"
)

// Every API answer names the replica whose numbers it holds.
type summaryAnswer struct {
	Replica string    `json:"replica"`
	Started time.Time `json:"started"`
	Now     time.Time `json:"now"`
	stats.Summary
}

// intParam is query parameter name as an int within [lo, hi], or def.
func intParam(r *http.Request, name string, def, lo, hi int) int {
	v, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil {
		return def
	}
	return min(max(v, lo), hi)
}

func (h *Handler) summary(w http.ResponseWriter, r *http.Request, _ *session) {
	now := h.opts.Now()
	win := intParam(r, "window", 10, 1, stats.Seconds)
	writeJSON(w, summaryAnswer{Replica: h.opts.Replica, Started: h.opts.Stats.Started(), Now: now, Summary: h.opts.Stats.Summary(win, now)})
}

func (h *Handler) series(w http.ResponseWriter, r *http.Request, _ *session) {
	win := intParam(r, "window", 900, 60, stats.Seconds)
	step := intParam(r, "step", max(1, win/900), 1, 600)
	writeJSON(w, struct {
		Replica string `json:"replica"`
		stats.Series
	}{h.opts.Replica, h.opts.Stats.Series(win, step, h.opts.Now())})
}

func (h *Handler) routeTable(w http.ResponseWriter, r *http.Request, _ *session) {
	mins := intParam(r, "minutes", stats.RouteMinutes, 1, stats.RouteMinutes)
	writeJSON(w, struct {
		Replica string           `json:"replica"`
		Minutes int              `json:"minutes"`
		Routes  []stats.RouteRow `json:"routes"`
	}{h.opts.Replica, mins, h.opts.Stats.Routes(mins, h.opts.Now())})
}

type eventsAnswer struct {
	Replica string        `json:"replica"`
	Last    uint64        `json:"last"` // pass as ?after= to get only newer events
	Events  []stats.Event `json:"events"`
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request, _ *session) {
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	evs, last := h.opts.Stats.Events(after, intParam(r, "limit", 200, 1, stats.EventCap))
	writeJSON(w, eventsAnswer{Replica: h.opts.Replica, Last: last, Events: evs})
}

func (h *Handler) offenders(w http.ResponseWriter, r *http.Request, _ *session) {
	kind, ok := stats.ParseKind(r.URL.Query().Get("kind"))
	if !ok {
		pipeline.WriteProblem(w, r, pipeline.Reject(http.StatusBadRequest, "invalid-kind", "kind is clients, principals or keys."))
		return
	}
	writeJSON(w, struct {
		Replica   string           `json:"replica"`
		Offenders []stats.Offender `json:"offenders"`
	}{h.opts.Replica, h.opts.Stats.Offenders(kind, intParam(r, "n", 20, 1, stats.OffenderCap), h.opts.Now())})
}

func (h *Handler) config(w http.ResponseWriter, r *http.Request, _ *session) {
	var view ConfigView
	if h.opts.Config != nil {
		view = h.opts.Config()
	}
	view.Replica = h.opts.Replica
	writeJSON(w, view)
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}

// update is one message of the live stream: the last 10 seconds' rates,
// the last minute's totals and the events since the previous message.
type update struct {
	Replica string        `json:"replica"`
	Now     time.Time     `json:"now"`
	Rates   stats.Summary `json:"rates"`
	Minute  stats.Summary `json:"minute"`
	Last    uint64        `json:"last"`
	Events  []stats.Event `json:"events"`
}

// heartbeatEvery is how often the stream also carries a comment line, which
// clients ignore, so that intermediaries that only count comments or bytes
// keep it open.
const heartbeatEvery = 15 * time.Second

// stream is the live server-sent-events stream: one update per
// StreamEvery, at most MaxStreams at once; it ends when the session ends,
// the client leaves or the server shuts down.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, s *session) {
	if int(h.streams.Add(1)) > h.opts.MaxStreams {
		h.streams.Add(-1)
		rej := pipeline.Reject(http.StatusServiceUnavailable, "too-many-streams", "Too many live streams are open; close a dashboard tab.")
		rej.Header = http.Header{"Retry-After": {"5"}}
		pipeline.WriteProblem(w, r, rej)
		return
	}
	defer h.streams.Add(-1)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	if after == 0 {
		_, after = h.opts.Stats.Events(0, 1)
		after = max(after, 50) - 50 // start with the last 50 events
	}
	tick := time.NewTicker(h.opts.StreamEvery)
	defer tick.Stop()
	var lastBeat time.Time
	for {
		now := h.opts.Now()
		if s != nil && !h.sessions.alive(s, now) {
			return
		}
		evs, last := h.opts.Stats.Events(after, 200)
		after = last
		msg, _ := json.Marshal(update{Replica: h.opts.Replica, Now: now, Rates: h.opts.Stats.Summary(10, now),
			Minute: h.opts.Stats.Summary(60, now), Last: last, Events: evs})
		// Each write gets its own deadline: the admin server's WriteTimeout
		// would otherwise cut the stream.
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 0, len(msg)+40)
		if time.Since(lastBeat) >= heartbeatEvery {
			buf, lastBeat = append(buf, ": heartbeat\n\n"...), time.Now()
		}
		buf = append(append(append(buf, "event: update\ndata: "...), msg...), '\n', '\n')
		_, err := w.Write(buf)
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-h.opts.Done:
			return
		case <-tick.C:
		}
	}
}
