package stats

import (
	"sort"
	"sync"
	"time"
)

// Kind is a kind of offender.
type Kind int

// The offender kinds.
const (
	Clients    Kind = iota // client IP addresses
	Principals             // authenticator:subject of authenticated callers
	Keys                   // API key ids
	kinds
)

// OffenderCap is how many offenders of each kind are tracked.
const OffenderCap = 256

// ParseKind returns the kind named "clients", "principals" or "keys".
func ParseKind(name string) (Kind, bool) {
	switch name {
	case "clients":
		return Clients, true
	case "principals":
		return Principals, true
	case "keys":
		return Keys, true
	}
	return 0, false
}

// Offender is one client, principal or key with its refusals.
type Offender struct {
	Name string `json:"name"`
	// Refusals is the count since it was first tracked; with Space-Saving
	// it may overcount by at most Error (what the entry it replaced had).
	Refusals   uint64    `json:"refusals"`
	Error      uint64    `json:"error"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	LastReason string    `json:"last_reason"`
	LastRoute  string    `json:"last_route,omitempty"`
	// History is refusals per minute, oldest first, RouteMinutes minutes
	// ending with the current one.
	History []uint32 `json:"history"`
}

type offender struct {
	Offender
	mins [RouteMinutes]struct {
		at    int64
		count uint32
	}
}

// topK tracks the heaviest offenders in bounded memory (Metwally et al.,
// "Efficient computation of frequent and top-k elements in data streams").
type topK struct {
	mu      sync.Mutex
	byName  map[string]*offender
	entries []*offender
	cap     int
}

func newTopK(n int) *topK {
	return &topK{byName: make(map[string]*offender, n), cap: n}
}

func (t *topK) add(name, reason, route string, now time.Time, minute int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.byName[name]
	if !ok {
		if len(t.entries) < t.cap {
			e = &offender{}
			t.entries = append(t.entries, e)
		} else {
			e = t.entries[0]
			for _, c := range t.entries[1:] {
				if c.Refusals < e.Refusals {
					e = c
				}
			}
			delete(t.byName, e.Name)
			floor := e.Refusals
			*e = offender{}
			e.Refusals, e.Error = floor, floor
		}
		e.Name, e.FirstSeen = name, now
		t.byName[name] = e
	}
	e.Refusals++
	e.LastSeen, e.LastReason, e.LastRoute = now, reason, route
	m := &e.mins[uint64(minute)%RouteMinutes]
	if m.at != minute {
		m.at, m.count = minute, 0
	}
	m.count++
}

// Offenders returns the top n offenders of kind by refusals, with their
// per-minute history up to now.
func (s *Stats) Offenders(kind Kind, n int, now time.Time) []Offender {
	if kind < 0 || kind >= kinds {
		return nil
	}
	t := s.offenders[kind]
	cur := now.Unix() / 60
	t.mu.Lock()
	out := make([]Offender, 0, len(t.entries))
	for _, e := range t.entries {
		o := e.Offender
		o.History = make([]uint32, RouteMinutes)
		for i := range o.History {
			m := cur - int64(RouteMinutes-1-i)
			if slot := e.mins[uint64(m)%RouteMinutes]; slot.at == m {
				o.History[i] = slot.count
			}
		}
		out = append(out, o)
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Refusals != out[j].Refusals {
			return out[i].Refusals > out[j].Refusals
		}
		return out[i].Name < out[j].Name
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
