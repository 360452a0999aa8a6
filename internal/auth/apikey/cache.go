package apikey

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/store"
)

// entry is what the cache holds for one key id: the key record (nil for an
// id the store does not know) and the principal it authenticates as, built
// once and copied per request.
type entry struct {
	key        *store.Key
	principal  *pipeline.Principal
	at         time.Time    // when the store returned key
	gen        uint64       // the Standby's generation before the store was asked
	expires    int64        // unix nanoseconds (Config.Now)
	touched    atomic.Int64 // when a use was last noted for last_used_at
	remembered atomic.Bool  // a request's secret matched: handed to the Standby
}

const (
	shards      = 32
	evictSample = 8
)

// cache maps key ids to entries. It is sharded so that hits take one
// uncontended read lock.
//
// epoch closes a race between a lookup and an invalidation: a lookup reads
// the epoch before asking the store and stores its answer only if no
// invalidation happened meanwhile (checked under the shard lock, which
// invalidations also take after bumping the epoch). Without it, a lookup
// that read a key just before its revocation could put the stale record back
// after the revocation had evicted it.
type cache struct {
	shards   [shards]shard
	perShard int
	epoch    atomic.Uint64
}

type shard struct {
	mu sync.RWMutex
	m  map[string]*entry
}

func (c *cache) init(size int) {
	c.perShard = max(1, (size+shards-1)/shards)
	for i := range c.shards {
		c.shards[i].m = make(map[string]*entry)
	}
}

// shardOf hashes id with FNV-1a (ids are random, but a client chooses the
// id it sends, so the shard must not be its first byte alone).
func (c *cache) shardOf(id string) *shard {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return &c.shards[h%shards]
}

func (c *cache) get(id string, now int64) *entry {
	s := c.shardOf(id)
	s.mu.RLock()
	e := s.m[id]
	s.mu.RUnlock()
	if e == nil || now >= e.expires {
		return nil
	}
	return e
}

// put stores e unless the cache was invalidated since epoch was read.
func (c *cache) put(id string, e *entry, epoch uint64) {
	s := c.shardOf(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.epoch.Load() != epoch {
		return
	}
	if _, ok := s.m[id]; !ok && len(s.m) >= c.perShard {
		s.evictLocked()
	}
	s.m[id] = e
}

// evictLocked drops the sampled entry that expires first.
func (s *shard) evictLocked() {
	var victim string
	var soonest int64
	n := 0
	for id, e := range s.m { // map iteration starts at a random entry
		if n == 0 || e.expires < soonest {
			victim, soonest = id, e.expires
		}
		if n++; n == evictSample {
			break
		}
	}
	if n > 0 {
		delete(s.m, victim)
	}
}

func (c *cache) remove(id string) {
	c.epoch.Add(1)
	s := c.shardOf(id)
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

func (c *cache) purge() {
	c.epoch.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
