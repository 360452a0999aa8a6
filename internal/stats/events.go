package stats

import (
	"net/http"
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

const (
	// EventCap is how many security events are kept (the newest).
	EventCap = 1000
	// fieldMax bounds each client-influenced text kept in an event.
	fieldMax = 256
)

// Event is one refusal, with what the audit line says about it and nothing
// more: no header, no query string, no credential. Principal is the
// authenticator and subject of an authenticated caller; KeyID the API key's
// id (an identifier, not the secret).
type Event struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Reason    string    `json:"reason"`
	Status    int       `json:"status"`
	Step      string    `json:"step"`
	Method    string    `json:"method"`
	Route     string    `json:"route,omitempty"`
	Path      string    `json:"path,omitempty"`
	Client    string    `json:"client"`
	Principal string    `json:"principal,omitempty"`
	KeyID     string    `json:"key_id,omitempty"`
	RequestID string    `json:"request_id"`
}

type eventRing struct {
	mu   sync.Mutex
	buf  []Event
	next uint64 // Seq of the next event; buf[(seq-1)%len] holds seq
}

func (e *eventRing) add(ev Event) {
	e.mu.Lock()
	e.next++
	ev.Seq = e.next
	e.buf[(ev.Seq-1)%uint64(len(e.buf))] = ev
	e.mu.Unlock()
}

// Events returns up to limit events newer than after (a Seq; 0 for all),
// oldest first, and the Seq of the newest event kept.
func (s *Stats) Events(after uint64, limit int) ([]Event, uint64) {
	e := &s.events
	e.mu.Lock()
	defer e.mu.Unlock()
	first := uint64(1)
	if e.next > uint64(len(e.buf)) {
		first = e.next - uint64(len(e.buf)) + 1
	}
	first = max(first, after+1)
	if limit > 0 && e.next >= first && e.next-first+1 > uint64(limit) {
		first = e.next - uint64(limit) + 1 // the newest limit
	}
	out := []Event{}
	for seq := first; seq <= e.next; seq++ {
		out = append(out, e.buf[(seq-1)%uint64(len(e.buf))])
	}
	return out, e.next
}

// Observer is a pipeline.Observer that counts each refusal into Stats and
// passes it on to Next (the audit log).
type Observer struct {
	Stats *Stats
	Next  pipeline.Observer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ pipeline.Observer = (*Observer)(nil)

// Rejected implements pipeline.Observer.
func (o *Observer) Rejected(r *http.Request, step string, rej *pipeline.Rejection) {
	if o.Next != nil {
		o.Next.Rejected(r, step, rej)
	}
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	o.Stats.Rejected(r, step, rej, now)
}

// Rejected records a refusal at now: the per-second reason count, the event
// ring and the offenders.
func (s *Stats) Rejected(r *http.Request, step string, rej *pipeline.Rejection, now time.Time) {
	s.refused(rej.Type, now)
	ev := Event{Time: now, Reason: rej.Type, Status: rej.Status, Step: step, Method: bound(r.Method, 32)}
	if info := pipeline.InfoFrom(r.Context()); info != nil {
		ev.Route, ev.Path, ev.Client, ev.RequestID = info.Route, bound(info.Path, fieldMax), info.ClientIP, info.ID
		if info.Path == "" {
			ev.Path = bound(pathOf(r.RequestURI), fieldMax)
		}
		if p := info.Principal; p != nil {
			ev.Principal = bound(p.Authenticator+":"+p.Subject, fieldMax)
			if id, ok := p.Claims["key_id"].(string); ok {
				ev.KeyID = bound(id, fieldMax)
			}
		}
	}
	s.events.add(ev)
	min := now.Unix() / 60
	if ev.Client != "" {
		s.offenders[Clients].add(ev.Client, ev.Reason, ev.Route, now, min)
	}
	if ev.Principal != "" {
		s.offenders[Principals].add(ev.Principal, ev.Reason, ev.Route, now, min)
	}
	if ev.KeyID != "" {
		s.offenders[Keys].add(ev.KeyID, ev.Reason, ev.Route, now, min)
	}
}

// pathOf is a raw request target without its query (which may hold
// credentials).
func pathOf(target string) string {
	for i := 0; i < len(target); i++ {
		if target[i] == '?' {
			return target[:i]
		}
	}
	return target
}

func bound(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
