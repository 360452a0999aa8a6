// Package memory is the in-process rate limit backend (shared_state:
// memory://): exact on one node, nothing to run beside the binary.
//
// Why this shape. A decision must be O(1), allocation-free and must not
// serialise all requests on one lock; and no request pattern may grow memory
// without bound (an attacker sending a fresh X-API-Key or source port on every
// request must not be able to exhaust the gateway). So the table is
// preallocated and fixed-size: Config.MaxEntries slots split evenly over
// shards, each shard a set-associative table of 8-way sets behind its own
// mutex. A key's limits all live in one shard, so a multi-limit decision takes
// one lock.
//
// Eviction. A limit's state ends at a known instant (the end of its window, or
// when a GCRA bucket has drained); after it, the state is exactly equivalent
// to no state, so its slot is simply reused — idle keys cost nothing and their
// eviction never changes a decision. Only when all 8 slots of a set hold live
// state does a new key evict one: the one that expires soonest, which loses
// the least. That is nginx's answer to a full limit_req zone (drop the least
// recently used state); the price is that under a flood bigger than the table
// some legitimate key may get a fresh quota early — over-admission, never a
// false refusal. Size MaxEntries for the number of keys live at once.
//
// The zero value is not usable; call New. A Limiter should outlive config
// reloads (create it once per shared_state URL) so counters survive them.
package memory

import (
	"context"
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/ratelimit"
)

// Config sizes a Limiter. The zero value gives the defaults.
type Config struct {
	// MaxEntries is the number of (key, limit) states kept at most; a policy
	// with two limits uses two per key. Default 1<<20 (about 24 MiB, reserved
	// up front but touched only as used). Rounded up to a power of two.
	MaxEntries int
	// Shards is the number of independently locked shards. Default 64;
	// rounded up to a power of two.
	Shards int
}

const (
	ways              = 8
	defaultMaxEntries = 1 << 20
	defaultShards     = 64
)

// entry is one (key, limit) state. hash 0 means empty.
type entry struct {
	hash uint64
	s    ratelimit.State
}

type set [ways]entry

type shard struct {
	mu   sync.Mutex
	sets []set
	_    [40]byte // keep hot mutexes on separate cache lines
}

// Limiter is the in-memory ratelimit.Limiter.
type Limiter struct {
	seed      maphash.Seed
	base      time.Time // decisions count nanoseconds from here
	shards    []shard
	shardBits uint
	setMask   uint64
	evictions atomic.Uint64
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// New returns an empty Limiter.
func New(cfg Config) *Limiter {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = defaultMaxEntries
	}
	if cfg.Shards <= 0 {
		cfg.Shards = defaultShards
	}
	shards := pow2(cfg.Shards)
	perShard := max(pow2(cfg.MaxEntries)/shards, ways)
	l := &Limiter{
		seed:      maphash.MakeSeed(),
		base:      time.Now(),
		shards:    make([]shard, shards),
		shardBits: uint(bits.TrailingZeros(uint(shards))),
		setMask:   uint64(perShard/ways - 1),
	}
	for i := range l.shards {
		l.shards[i].sets = make([]set, perShard/ways)
	}
	return l
}

func pow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// mix is a 64-bit finaliser (splitmix64): spreads a key hash combined with a
// limit's parameters over all bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// limitHash identifies (key, limit): the same key under a changed limit (after
// a reload) starts afresh instead of reading a state it would misread.
func limitHash(kh uint64, l ratelimit.Limit) uint64 {
	h := mix(kh ^ uint64(l.Count)*0x9e3779b97f4a7c15)
	h = mix(h ^ uint64(l.Period))
	h = mix(h ^ uint64(l.Burst)<<1 ^ uint64(l.Algorithm))
	if h == 0 {
		h = 1
	}
	return h
}

// Allow implements ratelimit.Limiter. It never returns an error. now is
// measured against the Limiter's creation with its monotonic reading when it
// has one, so wall-clock steps do not move limits.
func (l *Limiter) Allow(_ context.Context, key string, limits []ratelimit.Limit, now time.Time) (ratelimit.Decision, error) {
	if len(limits) > ratelimit.MaxLimits {
		limits = limits[:ratelimit.MaxLimits]
	}
	t := int64(now.Sub(l.base))
	kh := maphash.String(l.seed, key)
	sh := &l.shards[kh>>(64-l.shardBits)&(uint64(len(l.shards))-1)] // a shift by 64 is 0
	var hs [ratelimit.MaxLimits]uint64
	var found [ratelimit.MaxLimits]*entry
	var st [ratelimit.MaxLimits]ratelimit.State
	for i, lim := range limits {
		hs[i] = limitHash(kh, lim)
	}

	sh.mu.Lock()
	for i := range limits {
		st[i] = ratelimit.Fresh
		s := &sh.sets[hs[i]&l.setMask]
		for j := range s {
			if s[j].hash == hs[i] {
				if !s[j].s.Idle(t) {
					st[i] = s[j].s
				}
				found[i] = &s[j]
				break
			}
		}
	}
	d := ratelimit.Decide(limits, &st, t)
	if d.Allowed {
		for i := range limits {
			e := found[i]
			if e == nil {
				e = l.slotLocked(&sh.sets[hs[i]&l.setMask], t, hs[:len(limits)])
			}
			*e = entry{hash: hs[i], s: st[i]}
		}
	}
	sh.mu.Unlock()
	return d, nil
}

// slotLocked picks a slot of s for a new entry: an empty or idle one, else
// the live entry expiring soonest that does not belong to the current
// decision (mine).
func (l *Limiter) slotLocked(s *set, now int64, mine []uint64) *entry {
	var victim *entry
	for j := range s {
		e := &s[j]
		if e.hash == 0 || e.s.Idle(now) {
			return e
		}
		if owned(e.hash, mine) {
			continue
		}
		if victim == nil || e.s.T < victim.s.T {
			victim = e
		}
	}
	if victim == nil { // only possible with more limits than ways
		victim = &s[0]
	}
	l.evictions.Add(1)
	return victim
}

func owned(h uint64, mine []uint64) bool {
	for _, m := range mine {
		if m == h {
			return true
		}
	}
	return false
}

// Stats is a snapshot for metrics and tests.
type Stats struct {
	Capacity  int    // slots in the table: the hard bound on entries
	Live      int    // entries holding live state at the time given
	Evictions uint64 // live entries dropped to make room (table too small)
}

// Stats counts live entries at now. It scans the whole table (O(capacity)),
// so call it from metrics scrapes and tests, not per request.
func (l *Limiter) Stats(now time.Time) Stats {
	t := int64(now.Sub(l.base))
	st := Stats{Evictions: l.evictions.Load()}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		st.Capacity += len(sh.sets) * ways
		for _, s := range sh.sets {
			for _, e := range s {
				if e.hash != 0 && !e.s.Idle(t) {
					st.Live++
				}
			}
		}
		sh.mu.Unlock()
	}
	return st
}
