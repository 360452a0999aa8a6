package auth

import (
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"
)

// Key identifies a token in a Cache: its SHA-256. Tokens themselves are never
// kept, so a heap dump or a cache listing yields nothing replayable.
type Key [sha256.Size]byte

// KeyOf returns the cache key of token. It hashes the string's bytes in place:
// []byte(token) would copy every token to the heap on every request (tokens
// are longer than the compiler's 32-byte stack buffer), and sha256 only reads.
func KeyOf(token string) Key {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

const (
	cacheShards = 16
	// evictSample is how many entries an insertion into a full shard looks
	// at to pick a victim (the one expiring soonest, any expired one first):
	// approximate LRU-by-expiry, O(1), and no per-hit bookkeeping, so hits
	// only take a read lock.
	evictSample = 8
)

// Cache is a bounded, sharded map from token hashes to verification results
// (a principal, or a remembered refusal), each valid until its own expiry. A
// nil *Cache is a valid, always-empty cache: every Get misses and Put does
// nothing, which is how authenticators run with caching disabled.
type Cache[V any] struct {
	shards   [cacheShards]cacheShard[V]
	perShard int
	now      func() time.Time
}

type cacheShard[V any] struct {
	mu sync.RWMutex
	m  map[Key]cacheEntry[V]
}

type cacheEntry[V any] struct {
	v   V
	exp int64 // unix nanoseconds; the entry is dead from this instant on
}

// NewCache returns a cache holding about size entries (rounded up to a
// multiple of 16), or nil (disabled) when size <= 0. now is the clock (nil =
// time.Now).
func NewCache[V any](size int, now func() time.Time) *Cache[V] {
	if size <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	c := &Cache[V]{perShard: (size + cacheShards - 1) / cacheShards, now: now}
	for i := range c.shards {
		c.shards[i].m = make(map[Key]cacheEntry[V])
	}
	return c
}

// Get returns the live value stored under k.
func (c *Cache[V]) Get(k Key) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	s := &c.shards[k[0]%cacheShards]
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok || c.now().UnixNano() >= e.exp {
		return zero, false
	}
	return e.v, true
}

// Put stores v under k until exp. Values already dead are not stored. When
// the shard is full, an expired entry or else the sampled entry expiring
// soonest is evicted.
func (c *Cache[V]) Put(k Key, v V, exp time.Time) {
	if c == nil {
		return
	}
	now := c.now().UnixNano()
	e := cacheEntry[V]{v: v, exp: exp.UnixNano()}
	if e.exp <= now {
		return
	}
	s := &c.shards[k[0]%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; !ok && len(s.m) >= c.perShard {
		s.evictLocked(now)
	}
	s.m[k] = e
}

func (s *cacheShard[V]) evictLocked(now int64) {
	var victim Key
	soonest := int64(0)
	n := 0
	for k, e := range s.m { // map iteration starts at a random entry
		if e.exp <= now {
			delete(s.m, k)
			return
		}
		if n == 0 || e.exp < soonest {
			victim, soonest = k, e.exp
		}
		if n++; n == evictSample {
			break
		}
	}
	if n > 0 {
		delete(s.m, victim)
	}
}

// Delete removes k.
func (c *Cache[V]) Delete(k Key) {
	if c == nil {
		return
	}
	s := &c.shards[k[0]%cacheShards]
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// Purge removes every entry (the JWT authenticator purges when its key set
// changes, so no token verified with a withdrawn key outlives the change).
func (c *Cache[V]) Purge() {
	if c == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

// Len returns the number of entries, live or not yet evicted.
func (c *Cache[V]) Len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
