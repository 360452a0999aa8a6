package store

import (
	"context"
	"sync"
)

// feedBacklog is how many events a subscriber may fall behind before its
// backlog is replaced by one EventReset (dropping an invalidation silently
// would leave a revoked key in a cache; a reset flushes the cache instead).
const feedBacklog = 1024

// Feed fans key events out to subscribers. Implementations of Store embed
// one; the zero value is ready to use.
type Feed struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	lost   bool // the source is down: new subscribers start with EventLost
	closed bool
	done   chan struct{} // closed by Close; made by the first Subscribe
}

type subscriber struct {
	mu      sync.Mutex
	pending []KeyEvent
	wake    chan struct{} // capacity 1
}

// Subscribe returns a channel of the events published from now on, closed
// when ctx is done or the feed is closed.
func (f *Feed) Subscribe(ctx context.Context) <-chan KeyEvent {
	out := make(chan KeyEvent, 16)
	sub := &subscriber{wake: make(chan struct{}, 1)}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		close(out)
		return out
	}
	if f.subs == nil {
		f.subs = map[*subscriber]struct{}{}
		f.done = make(chan struct{})
	}
	f.subs[sub] = struct{}{}
	if f.lost {
		sub.pending = append(sub.pending, KeyEvent{Kind: EventLost})
		sub.wake <- struct{}{}
	}
	done := f.done
	f.mu.Unlock()
	go f.pump(ctx, done, sub, out)
	return out
}

func (f *Feed) pump(ctx context.Context, done <-chan struct{}, sub *subscriber, out chan<- KeyEvent) {
	defer func() {
		f.mu.Lock()
		delete(f.subs, sub)
		f.mu.Unlock()
		close(out)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-sub.wake:
		}
		sub.mu.Lock()
		batch := sub.pending
		sub.pending = nil
		sub.mu.Unlock()
		for _, ev := range batch {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
	}
}

// Publish sends ev to every subscriber. It never blocks.
func (f *Feed) Publish(ev KeyEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch ev.Kind {
	case EventLost:
		f.lost = true
	case EventReset:
		f.lost = false
	}
	for sub := range f.subs {
		sub.mu.Lock()
		if len(sub.pending) >= feedBacklog {
			sub.pending = append(sub.pending[:0], KeyEvent{Kind: EventReset})
			if f.lost {
				sub.pending = append(sub.pending, KeyEvent{Kind: EventLost})
			}
		} else {
			sub.pending = append(sub.pending, ev)
		}
		sub.mu.Unlock()
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}

// Close ends every subscription.
func (f *Feed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	if f.done != nil {
		close(f.done)
	}
}
