// Package detect watches the stream of finished requests for attacks —
// credential stuffing and spraying, scanning, token sharing, abnormal
// volume, repeated contract violations — and responds: an alert per
// detection (internal/alert), and for detectors whose action is block, a
// block in the Table that the gateway enforces before routing (clients) or
// right after authentication (principals).
//
// The request path only hands a fixed-size Event to Feed: a non-blocking
// send on a bounded queue, drained by one goroutine that owns every
// detector's state (so the detectors need no locks). A full queue drops
// the event and counts it. Per-key state is bounded (max_tracked_keys per
// detector, least recently seen forgotten first, counted).
package detect

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/alert"
)

// Detector names (alert.Alert.Detector and metric labels).
const (
	DetCredentialStuffing = "credential_stuffing"
	DetScanning           = "scanning"
	DetTokenSharing       = "token_sharing"
	DetVolume             = "volume"
	DetContract           = "contract_violations"
	Operator              = "operator" // blocks added through the admin API
)

// Deps are the engine's collaborators; all optional.
type Deps struct {
	// Table holds the blocks (OpenShared for replicas); nil: a memory one.
	Table *Table
	// Notifier receives one alert per detection; nil: none.
	Notifier alert.Notifier
	// Detected is called per detection (metrics).
	Detected func(detector, action string)
	Logger   *slog.Logger
}

// Engine runs the detectors. It outlives gateway reloads: Configure swaps
// thresholds while windows and blocks stay.
type Engine struct {
	cfg       atomic.Pointer[Config] // nil: detection off
	never     atomic.Pointer[[]netip.Prefix]
	queue     chan Event
	table     *Table
	deps      Deps
	replica   atomic.Pointer[string]
	dropped   atomic.Uint64
	evictions atomic.Uint64
	processed atomic.Uint64
	stop      chan struct{}
	done      sync.WaitGroup
	closeOnce sync.Once

	st *state // owned by the run goroutine
}

// New starts an engine with cfg (nil: detection off, blocks enforced).
// queueSize fixes the queue for the engine's life (0: 65536).
func New(cfg *Config, queueSize int, deps Deps) (*Engine, error) {
	if deps.Table == nil {
		deps.Table = NewTable()
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if queueSize <= 0 {
		queueSize = 65536
	}
	e := &Engine{queue: make(chan Event, queueSize), table: deps.Table, deps: deps, stop: make(chan struct{})}
	if err := e.Configure(cfg); err != nil {
		return nil, err
	}
	e.st = newState(&e.evictions)
	e.done.Add(1)
	go e.run()
	return e, nil
}

// Configure applies cfg (nil: detection off). Windows, baselines and blocks
// are kept.
func (e *Engine) Configure(cfg *Config) error {
	var never []netip.Prefix
	replica := ""
	if cfg != nil {
		if errs := cfg.Validate(); len(errs) > 0 {
			return fmt.Errorf("detect: %v", errs[0])
		}
		for _, s := range cfg.NeverBlock {
			p, _ := parsePrefix(s)
			never = append(never, p)
		}
		replica = cfg.Replica
	}
	if replica == "" {
		replica, _ = os.Hostname()
	}
	e.never.Store(&never)
	e.replica.Store(&replica)
	e.cfg.Store(cfg)
	return nil
}

// Enabled reports whether detection is on (the gateway feeds only then).
func (e *Engine) Enabled() bool { return e != nil && e.cfg.Load() != nil }

// Table is the engine's block table.
func (e *Engine) Table() *Table { return e.table }

// Replica names this gateway in alerts and blocks.
func (e *Engine) Replica() string { return *e.replica.Load() }

// BlockStatus is the status blocked requests get (403 or 429).
func (e *Engine) BlockStatus() int {
	if c := e.cfg.Load(); c != nil {
		return c.BlockStatus
	}
	return 403
}

// Feed queues ev for the detectors without waiting: when the queue is
// full the event is dropped and counted.
func (e *Engine) Feed(ev *Event) {
	select {
	case e.queue <- *ev:
	default:
		e.dropped.Add(1)
	}
}

// Dropped is how many events a full queue dropped.
func (e *Engine) Dropped() uint64 { return e.dropped.Load() }

// Evictions is how many tracked keys were forgotten to stay within
// max_tracked_keys.
func (e *Engine) Evictions() uint64 { return e.evictions.Load() }

// Processed is how many events the detectors have seen (tests wait on it).
func (e *Engine) Processed() uint64 { return e.processed.Load() }

// NeverBlocked reports whether a is on the never_block list.
func (e *Engine) NeverBlocked(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range *e.never.Load() {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// BlockedClient returns the block in force on client a, unless a may
// never be blocked.
func (e *Engine) BlockedClient(a netip.Addr, now time.Time) (*Block, bool) {
	b, ok := e.table.Client(a, now)
	if !ok || e.NeverBlocked(a) {
		return nil, false
	}
	return b, true
}

// Close stops the detectors (the table is closed by its opener).
func (e *Engine) Close() {
	e.closeOnce.Do(func() { close(e.stop) })
	e.done.Wait()
}

func (e *Engine) run() {
	defer e.done.Done()
	sweep := time.NewTicker(10 * time.Second)
	defer sweep.Stop()
	for {
		select {
		case <-e.stop:
			return
		case ev := <-e.queue:
			if cfg := e.cfg.Load(); cfg != nil {
				e.st.observe(e, cfg, &ev)
			}
			e.processed.Add(1)
		case <-sweep.C:
			e.table.expire()
		}
	}
}

// finding is one detection, before the response.
type finding struct {
	detector, kind, subject string
	action                  string
	blockFor                time.Duration
	evidence                map[string]int64
}

// respond alerts (once per subject and detector per block_for) and blocks.
func (e *Engine) respond(f finding, at time.Time) {
	key := f.detector + "\x00" + f.kind + "\x00" + f.subject
	cool := e.st.cooldowns.get(key, func() *int64 { return new(int64) })
	if *cool > at.UnixNano() {
		return
	}
	*cool = at.Add(f.blockFor).UnixNano()
	action := f.action
	if action == ActionBlock && f.kind == KindClient {
		if p, err := parsePrefix(f.subject); err == nil && e.NeverBlocked(p.Addr()) {
			action, f.evidence["never_block"] = ActionLog, 1
		}
	}
	if action == ActionBlock {
		kind := f.kind
		if kind == KindUsername {
			kind = KindPrincipal // a username is blocked as the principal of that name, any authenticator
		}
		b := Block{Kind: kind, Subject: f.subject, Detector: f.detector, Reason: "detected", Created: at,
			Expires: at.Add(f.blockFor), Source: e.Replica()}
		if err := e.table.Add(b); err != nil {
			e.deps.Logger.Error("detect: block not added", "detector", f.detector, "error", err.Error())
		}
	}
	a := alert.Alert{Time: at, Detector: f.detector, SubjectKind: f.kind, Subject: f.subject, Action: action,
		Evidence: f.evidence, Replica: e.Replica()}
	if action == ActionBlock {
		a.BlockFor = f.blockFor
	}
	a.Summary = summary(a)
	if e.deps.Detected != nil {
		e.deps.Detected(f.detector, action)
	}
	if e.deps.Notifier != nil {
		e.deps.Notifier.Notify(a)
	}
}

func summary(a alert.Alert) string {
	s := fmt.Sprintf("%s detected for %s %s on %s", a.Detector, a.SubjectKind, a.Subject, a.Replica)
	if a.Action == ActionBlock {
		return s + fmt.Sprintf("; blocked for %s", a.BlockFor)
	}
	return s + "; logged"
}
