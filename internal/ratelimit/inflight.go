package ratelimit

import (
	"hash/maphash"
	"sync"
)

// InFlight counts requests in flight per key, for a policy's concurrency.
// It is per process: in-flight requests are a local resource, and a counter
// that lived in a shared store would leak slots whenever a replica died with
// requests open. Its memory is bounded by the number of requests in flight,
// since a key's entry is deleted when its count returns to zero.
//
// The zero value is not usable; call NewInFlight. One InFlight should outlive
// config reloads, so that requests admitted under the old config still count.
type InFlight struct {
	seed   maphash.Seed
	shards [64]inflightShard
}

type inflightShard struct {
	mu sync.Mutex
	n  map[uint64]int32
	_  [40]byte // keep shards on separate cache lines
}

// NewInFlight returns an empty InFlight.
func NewInFlight() *InFlight {
	f := &InFlight{seed: maphash.MakeSeed()}
	for i := range f.shards {
		f.shards[i].n = map[uint64]int32{}
	}
	return f
}

// Acquire takes a slot for key if fewer than max are taken, and reports
// whether it did. Every successful Acquire must be paired with one Release.
func (f *InFlight) Acquire(key string, max int) bool {
	h := maphash.String(f.seed, key)
	s := &f.shards[h%uint64(len(f.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if int(s.n[h]) >= max {
		return false
	}
	s.n[h]++
	return true
}

// Release gives back a slot taken by Acquire.
func (f *InFlight) Release(key string) {
	h := maphash.String(f.seed, key)
	s := &f.shards[h%uint64(len(f.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[h] <= 1 {
		delete(s.n, h)
		return
	}
	s.n[h]--
}

// Len returns the number of keys with requests in flight.
func (f *InFlight) Len() int {
	n := 0
	for i := range f.shards {
		s := &f.shards[i]
		s.mu.Lock()
		n += len(s.n)
		s.mu.Unlock()
	}
	return n
}
