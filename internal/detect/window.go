package detect

import (
	"container/list"
	"sync/atomic"
	"time"
)

// tracker remembers per-key state for at most max keys; past that the
// least recently seen key is forgotten and counted. Only the engine's one
// goroutine uses it.
type tracker[K comparable, V any] struct {
	max       int
	items     map[K]*list.Element
	order     *list.List // front: most recently seen
	evictions *atomic.Uint64
}

type entry[K comparable, V any] struct {
	key K
	val V
}

func newTracker[K comparable, V any](max int, evictions *atomic.Uint64) *tracker[K, V] {
	return &tracker[K, V]{max: max, items: map[K]*list.Element{}, order: list.New(), evictions: evictions}
}

// get returns key's state, created by mk when new.
func (t *tracker[K, V]) get(key K, mk func() V) V {
	if el, ok := t.items[key]; ok {
		t.order.MoveToFront(el)
		return el.Value.(*entry[K, V]).val
	}
	if t.order.Len() >= t.max {
		old := t.order.Back()
		delete(t.items, old.Value.(*entry[K, V]).key)
		t.order.Remove(old)
		t.evictions.Add(1)
	}
	v := mk()
	t.items[key] = t.order.PushFront(&entry[K, V]{key, v})
	return v
}

func (t *tracker[K, V]) len() int { return t.order.Len() }

// window is a sliding count: the times of the last n hits (n = the
// threshold), so it fires when n hits fall within the window. Memory per
// key is bounded by the threshold.
type window struct {
	times []int64 // ring of unix nanoseconds
	next  int
	full  bool
}

// add records weight hits at now and reports whether threshold hits now
// fall within span.
func (w *window) add(now int64, weight, threshold int, span time.Duration) bool {
	if w.times == nil {
		w.times = make([]int64, threshold)
	}
	for range weight {
		w.times[w.next] = now
		w.next++
		if w.next == len(w.times) {
			w.next, w.full = 0, true
		}
	}
	if !w.full {
		return false
	}
	oldest := w.times[w.next] // the threshold-th most recent
	return now-oldest <= int64(span)
}

// reset forgets the hits (after a detection, so the next one needs a fresh
// threshold's worth of evidence).
func (w *window) reset() { w.next, w.full = 0, false }

// distinct counts the distinct values seen within a window, remembering at
// most threshold of them (the most recent), so it fires when threshold
// distinct values were seen within span.
type distinct[V comparable] struct {
	seen map[V]int64 // value → last seen
}

func (d *distinct[V]) add(now int64, v V, threshold int, span time.Duration) bool {
	if d.seen == nil {
		d.seen = make(map[V]int64, 4)
	}
	d.seen[v] = now
	if len(d.seen) < threshold {
		return false
	}
	// Forget what left the window; if still too many, the oldest.
	for k, t := range d.seen {
		if now-t > int64(span) {
			delete(d.seen, k)
		}
	}
	if len(d.seen) >= threshold {
		return true
	}
	return false
}

func (d *distinct[V]) count() int { return len(d.seen) }

func (d *distinct[V]) reset() { clear(d.seen) }
