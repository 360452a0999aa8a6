package h1

import (
	"context"
	"sync"
	"time"
)

// requestContext is a request's context, held in the request's exchange so
// that it costs no allocation of its own: its connection's values, one value
// a handler may add in place (SetValue), and a cancellation when the handler
// returns, as net/http's. context.WithCancel, and a handler's one
// context.WithValue with the http.Request copy that installing it takes,
// would cost four allocations per request.
//
// It is used only under a connection context that is never canceled (the
// server's, and pipeline.WatchClient's); under another one a request gets
// context.WithCancel (see serveOne).
type requestContext struct {
	parent context.Context

	mu     sync.Mutex
	done   chan struct{} // made when first asked for
	err    error
	afters map[*afterFunc]struct{}

	// One value set in place by SetValue; read without the lock, so it is
	// set before the context is shared (see SetValue).
	key, val any
}

// closedChan is Done's answer once canceled, when Done was not asked for
// before.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (c *requestContext) Deadline() (time.Time, bool) { return c.parent.Deadline() }

func (c *requestContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		if c.err != nil {
			c.done = closedChan
		} else {
			c.done = make(chan struct{})
		}
	}
	return c.done
}

func (c *requestContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *requestContext) Value(key any) any {
	if c.key != nil && key == c.key {
		return c.val
	}
	return c.parent.Value(key)
}

// SetValue adds key → val to the context itself, as context.WithValue
// would to a child, and reports whether it did: only one value can be
// added, and key must be comparable and not nil. It is meant for the first
// thing a handler does, before it shares the context with anything (its
// request's context is then the same value, now carrying val): Value reads
// the slot without a lock.
func (c *requestContext) SetValue(key, val any) bool {
	if c.key != nil || key == nil {
		return false
	}
	c.key, c.val = key, val
	return true
}

// cancel ends the context (the handler returned).
func (c *requestContext) cancel() {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = context.Canceled
	if c.done != nil {
		close(c.done)
	}
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for a := range afters {
		a.start()
	}
}

// AfterFunc arranges for f to run in its own goroutine once the context is
// canceled, as context.AfterFunc does. The context package uses it for the
// contexts derived from this one (context.WithCancel, WithTimeout...), which
// then need no goroutine to watch Done.
func (c *requestContext) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		a.start()
	} else {
		if c.afters == nil {
			c.afters = map[*afterFunc]struct{}{}
		}
		c.afters[a] = struct{}{}
		c.mu.Unlock()
	}
	return func() bool {
		c.mu.Lock()
		_, waiting := c.afters[a]
		delete(c.afters, a)
		c.mu.Unlock()
		return waiting && a.claim()
	}
}

func (c *requestContext) String() string { return "h1.requestContext" }

// afterFunc runs f once, unless stopped first.
type afterFunc struct {
	once sync.Once
	f    func()
}

// claim reports whether this call is the one that decides f's fate.
func (a *afterFunc) claim() bool {
	claimed := false
	a.once.Do(func() { claimed = true })
	return claimed
}

func (a *afterFunc) start() {
	if a.claim() {
		go a.f()
	}
}
