package apikey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/store"
)

// Standby is what the api_key authenticators of one process share about
// their key store, and keep across reloads: whether the store answers, and
// the keys it confirmed recently, so that those keep working through an
// outage for a bounded time (store_outage_grace; Kong's db_resurrect_ttl is
// the same idea).
//
// The rules:
//
//   - Every lookup is bounded by Timeout (store_timeout). One that fails
//     (other than "no such key") marks the store down; from then on no
//     request waits on it. A probe asks it every ProbeInterval and marks it
//     up as soon as it answers.
//   - A key is remembered once a request's secret matched the hash the
//     store returned and the key was valid (not revoked, not expired). Its
//     confirmation time is that of the lookup; keys in use are looked up
//     again each time their cache entry ends (5s). The store saying a key is
//     unknown, revoked or expired, or a revocation or rotation event for it,
//     forgets it.
//   - While the store is down, a remembered key is served if the store
//     confirmed it less than Grace ago, and after the store last came back
//     and the change feed was last reset (a revocation made while nobody
//     listened could not have reached us). Its secret is checked against
//     the remembered hash and its expiry against the clock, so a wrong
//     secret or an expired key still gets 401. Every other key gets 503: it
//     may be valid, and nobody can say.
//
// The zero value is not usable; call NewStandby.
type Standby struct {
	store      store.Store
	grace      time.Duration
	timeout    time.Duration
	probeEvery time.Duration
	size       int
	now        func() time.Time
	logger     *slog.Logger

	down  atomic.Bool // read on every lookup; written under mu
	stale atomic.Uint64
	// gen counts the changes that forgot keys (revocations, rotations,
	// feed resets); written under mu. A lookup that began before one may
	// not remember its key: the change may concern it.
	gen atomic.Uint64

	mu           sync.Mutex
	keys         map[string]remembered
	trustedSince time.Time // confirmations before it are not served while down
	since        time.Time // when the current state (up or down) began
	lastErr      string
	outages      uint64
	probing      bool
	closed       bool
	stop         chan struct{}
	wg           sync.WaitGroup
}

type remembered struct {
	key       *store.Key
	confirmed time.Time
}

// StandbyConfig configures a Standby. The zero value serves nothing through
// outages.
type StandbyConfig struct {
	// Grace is how long after the store last confirmed a key it keeps
	// working while the store is down; 0 = not at all (503 for every key).
	Grace time.Duration
	// Timeout bounds one lookup; 0 = 500ms.
	Timeout time.Duration
	// ProbeInterval is how often a down store is asked again; 0 = 500ms.
	ProbeInterval time.Duration
	// Size bounds the remembered keys (the least recently confirmed go
	// first); 0 = 10000.
	Size int
	// Now is the clock for confirmations and the grace; nil = time.Now.
	Now func() time.Time
	// Logger receives outage and recovery messages; nil = slog.Default().
	Logger *slog.Logger
}

// StandbyStatus is a Standby's state, for /readyz and metrics.
type StandbyStatus struct {
	Up          bool
	Since       time.Time // when the current state (up or down) began
	LastError   string    // what began the current outage; "" while up
	Outages     uint64    // outages since the Standby was created
	StaleServed uint64    // requests authenticated by a remembered key while down
	Remembered  int       // keys that could be served through an outage
}

// ErrStoreDown is returned, wrapped, by lookups made while the store is
// known to be unreachable.
var ErrStoreDown = errors.New("the key store is unreachable")

// probeID is a well-formed key id that no key has (ids are random), so the
// probe's lookup reaches the database like a request's and finds nothing.
const probeID = "000000000000"

// NewStandby returns a Standby for s. Close stops its probe.
func NewStandby(s store.Store, cfg StandbyConfig) *Standby {
	sb := &Standby{store: s, grace: cfg.Grace, timeout: cfg.Timeout, probeEvery: cfg.ProbeInterval, size: cfg.Size,
		now: cfg.Now, logger: cfg.Logger, keys: map[string]remembered{}, stop: make(chan struct{})}
	if sb.timeout <= 0 {
		sb.timeout = 500 * time.Millisecond
	}
	if sb.probeEvery <= 0 {
		sb.probeEvery = 500 * time.Millisecond
	}
	if sb.size <= 0 {
		sb.size = 10000
	}
	if sb.now == nil {
		sb.now = time.Now
	}
	if sb.logger == nil {
		sb.logger = slog.Default()
	}
	sb.since = sb.now()
	return sb
}

// Close stops the probe.
func (sb *Standby) Close() error {
	sb.mu.Lock()
	if !sb.closed {
		sb.closed = true
		close(sb.stop)
	}
	sb.mu.Unlock()
	sb.wg.Wait()
	return nil
}

// Err is nil while the store answers, else why not (for /readyz). The
// message never holds the store URL.
func (sb *Standby) Err() error {
	if !sb.down.Load() {
		return nil
	}
	st := sb.Status()
	return fmt.Errorf("%w since %s: %s", ErrStoreDown, st.Since.UTC().Format(time.RFC3339), st.LastError)
}

// Status returns the current state.
func (sb *Standby) Status() StandbyStatus {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return StandbyStatus{Up: !sb.down.Load(), Since: sb.since, LastError: sb.lastErr, Outages: sb.outages,
		StaleServed: sb.stale.Load(), Remembered: len(sb.keys)}
}

// key looks id up in the store within the timeout; nil, nil means the store
// does not know it. While the store is down it fails at once.
func (sb *Standby) key(id string) (*store.Key, error) {
	if sb.down.Load() {
		return nil, ErrStoreDown
	}
	ctx, cancel := context.WithTimeout(context.Background(), sb.timeout)
	k, err := sb.store.Key(ctx, id)
	cancel()
	if errors.Is(err, store.ErrNotFound) {
		sb.drop(id)
		return nil, nil
	}
	if err != nil {
		sb.markDown(err)
		return nil, err
	}
	if !k.Usable(sb.now()) {
		sb.drop(id)
	}
	return k, nil
}

// remember notes that e's key, as the store returned it, was valid and its
// secret matched a request's — unless a change forgot keys since e's lookup
// began (checked under the lock forget takes, so a revoked key cannot come
// back after its revocation was applied).
func (sb *Standby) remember(e *entry) {
	if sb.grace <= 0 {
		return
	}
	k, confirmed := e.key, e.at
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.gen.Load() != e.gen {
		return
	}
	if prev, ok := sb.keys[k.ID]; ok && prev.confirmed.After(confirmed) {
		return
	}
	if _, ok := sb.keys[k.ID]; !ok && len(sb.keys) >= sb.size {
		sb.evictLocked()
	}
	sb.keys[k.ID] = remembered{key: k, confirmed: confirmed}
}

// evictLocked drops the sampled key confirmed longest ago.
func (sb *Standby) evictLocked() {
	var victim string
	var oldest time.Time
	n := 0
	for id, r := range sb.keys { // map iteration starts at a random entry
		if n == 0 || r.confirmed.Before(oldest) {
			victim, oldest = id, r.confirmed
		}
		if n++; n == evictSample {
			break
		}
	}
	delete(sb.keys, victim)
}

// forget drops id after a change to it (revoked, rotated).
func (sb *Standby) forget(id string) {
	sb.mu.Lock()
	sb.gen.Add(1)
	delete(sb.keys, id)
	sb.mu.Unlock()
}

// drop drops id, which the store just said is unknown or unusable.
func (sb *Standby) drop(id string) {
	sb.mu.Lock()
	delete(sb.keys, id)
	sb.mu.Unlock()
}

// distrust makes every confirmation so far unusable through an outage:
// changes may have been missed (the feed was reset, or the store was away).
func (sb *Standby) distrust() {
	sb.mu.Lock()
	sb.gen.Add(1)
	sb.trustedSince = sb.now()
	sb.mu.Unlock()
}

// recall returns the remembered record of id if it may be served at now
// while the store is down, else nil.
func (sb *Standby) recall(id string, now time.Time) *store.Key {
	sb.mu.Lock()
	r, ok := sb.keys[id]
	trusted := ok && !r.confirmed.Before(sb.trustedSince) && now.Before(r.confirmed.Add(sb.grace))
	sb.mu.Unlock()
	if !trusted {
		return nil
	}
	return r.key
}

func (sb *Standby) markDown(err error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if !sb.down.Load() {
		sb.down.Store(true)
		sb.since = sb.now()
		sb.lastErr = err.Error()
		sb.outages++
		sb.logger.Error("key store unreachable; serving keys it confirmed recently (store_outage_grace), 503 for others",
			"grace", sb.grace.String(), "error", err.Error())
	}
	if sb.probing || sb.closed {
		return
	}
	sb.probing = true
	sb.wg.Add(1)
	go sb.probe()
}

// probe asks the store until it answers, then marks it up.
func (sb *Standby) probe() {
	defer sb.wg.Done()
	tick := time.NewTicker(sb.probeEvery)
	defer tick.Stop()
	for {
		select {
		case <-sb.stop:
			sb.mu.Lock()
			sb.probing = false
			sb.mu.Unlock()
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), sb.timeout)
		_, err := sb.store.Key(ctx, probeID)
		cancel()
		sb.mu.Lock()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			sb.lastErr = err.Error()
			sb.mu.Unlock()
			continue
		}
		sb.probing = false
		sb.down.Store(false)
		sb.since = sb.now()
		sb.trustedSince = sb.since
		sb.lastErr = ""
		sb.mu.Unlock()
		sb.logger.Info("key store reachable again; keys are checked against it again")
		return
	}
}
