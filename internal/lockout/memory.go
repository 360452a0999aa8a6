package lockout

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// MemoryOptions configure a Memory backend.
type MemoryOptions struct {
	// MaxKeys bounds the clients tracked at once; 0 = 100000. When full, a
	// client that is not locked out and failed longest ago is forgotten to
	// make room (so a flood of new addresses evicts stale counts before any
	// lockout).
	MaxKeys int
	// Shards is the number of independently locked parts; 0 = 64.
	Shards int
}

// Memory is a Backend in this process's memory: exact for one node, not
// shared between replicas. Idle clients (not locked out, no failure within
// the window) are dropped as the shard they live in is written to.
type Memory struct {
	seed     maphash.Seed
	shards   []memShard
	perShard int
}

var _ Backend = (*Memory)(nil)

type memShard struct {
	mu        sync.Mutex
	m         map[string]*client
	lastSweep int64
}

type client struct {
	fails  []int64 // unix nanoseconds, oldest first, at most MaxFailures
	until  int64   // locked out until; 0 = not locked
	window int64   // of the policy last used, for idleness
}

// idle reports whether c can be forgotten at now without changing any
// decision: not locked and no failure inside the window.
func (c *client) idle(now int64) bool {
	return c.until <= now && (len(c.fails) == 0 || c.fails[len(c.fails)-1] <= now-c.window)
}

// NewMemory returns an empty Memory backend.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 100000
	}
	if opts.Shards <= 0 {
		opts.Shards = 64
	}
	m := &Memory{seed: maphash.MakeSeed(), shards: make([]memShard, opts.Shards),
		perShard: max(1, (opts.MaxKeys+opts.Shards-1)/opts.Shards)}
	for i := range m.shards {
		m.shards[i].m = make(map[string]*client)
	}
	return m
}

func (m *Memory) shard(key string) *memShard {
	return &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
}

// Locked implements Backend.
func (m *Memory) Locked(_ context.Context, key string, now time.Time) (time.Time, error) {
	s := m.shard(key)
	s.mu.Lock()
	c := s.m[key]
	var until int64
	if c != nil {
		until = c.until
	}
	s.mu.Unlock()
	if until <= now.UnixNano() {
		return time.Time{}, nil
	}
	return time.Unix(0, until), nil
}

// Fail implements Backend.
func (m *Memory) Fail(_ context.Context, key string, now time.Time, p Policy) (time.Time, error) {
	n := now.UnixNano()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(n, int64(p.Window))
	c := s.m[key]
	if c == nil {
		if len(s.m) >= m.perShard {
			s.evictLocked(n)
		}
		c = &client{}
		s.m[key] = c
	}
	c.window = int64(p.Window)
	if c.until > n {
		return time.Time{}, nil // already locked: the lockout is not extended
	}
	c.until = 0
	// Keep only failures inside the window, then add this one.
	cut := 0
	for cut < len(c.fails) && c.fails[cut] <= n-int64(p.Window) {
		cut++
	}
	c.fails = append(c.fails[:0], c.fails[cut:]...)
	if len(c.fails) >= p.MaxFailures { // the policy shrank
		c.fails = append(c.fails[:0], c.fails[len(c.fails)-p.MaxFailures+1:]...)
	}
	c.fails = append(c.fails, n)
	if len(c.fails) < p.MaxFailures {
		return time.Time{}, nil
	}
	c.until = n + int64(p.Duration)
	c.fails = c.fails[:0]
	return time.Unix(0, c.until), nil
}

// sweepLocked forgets idle clients, at most once per window per shard.
func (s *memShard) sweepLocked(now, window int64) {
	if now-s.lastSweep < window {
		return
	}
	s.lastSweep = now
	for k, c := range s.m {
		if c.idle(now) {
			delete(s.m, k)
		}
	}
}

// evictLocked makes room: an idle client if one is sampled, else the
// sampled unlocked client whose last failure is oldest, else the lockout
// that ends first.
func (s *memShard) evictLocked(now int64) {
	const sample = 16
	var victim string
	var best int64
	bestLocked := true
	n := 0
	for k, c := range s.m { // map iteration starts at a random entry
		if c.idle(now) {
			delete(s.m, k)
			return
		}
		locked := c.until > now
		score := c.until
		if !locked {
			score = c.fails[len(c.fails)-1]
		}
		if n == 0 || (bestLocked && !locked) || (locked == bestLocked && score < best) {
			victim, best, bestLocked = k, score, locked
		}
		if n++; n == sample {
			break
		}
	}
	if n > 0 {
		delete(s.m, victim)
	}
}

// Len returns the number of clients tracked.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
