// Package trim gives memory back to the OS once the process has gone quiet
// after a burst.
//
// Go keeps the heap it grew during a burst (10,000 connections arriving at
// once, a wave of large uploads) until its next collection, and a process
// that went quiet allocates too little to start one: the periodic forced
// collection comes after two minutes, and the scavenger then returns pages
// a little at a time. Until then the RSS a container limit or an operator
// sees is the burst's. The goroutine stacks the burst grew, and the buffers
// pooled for it (sync.Pool drops them only after two collections), are in
// the same state.
//
// A Trimmer looks at the runtime's own figures once per interval. When the
// process was quiet during the whole interval (no collection ran and the
// process allocated less than MinSlack/16 during it) and it holds at least
// MinSlack more than after its last trim, and more than twice what was
// live then (garbage, free spans, spare stacks), it runs two
// collections (the second drops what the first only moved to the pools'
// victim caches) and returns every free page to the OS
// (debug.FreeOSMemory). Envoy does the same with tcmalloc
// (memory_release_interval), for the same reason.
package trim

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults: look once a second; trim only when at least 32 MiB is held
// beyond the live heap.
const (
	DefaultInterval = time.Second
	DefaultMinSlack = 32 << 20
)

// Trimmer watches the runtime's memory and trims it; see the package
// documentation.
type Trimmer struct {
	Interval time.Duration // 0: DefaultInterval
	MinSlack uint64        // 0: DefaultMinSlack
	Logger   *slog.Logger  // nil: no log

	trims   atomic.Int64
	started atomic.Bool      // the first trim is done (tests)
	ticks   <-chan time.Time // tests: the intervals' ends, instead of a ticker
}

// Trims reports how many times memory was trimmed.
func (t *Trimmer) Trims() int64 { return t.trims.Load() }

var samples = []string{
	"/gc/cycles/total:gc-cycles",
	"/gc/heap/allocs:bytes",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/stacks:bytes",
}

// figures is one reading of samples.
type figures struct {
	cycles, allocs                     uint64
	live, objects, unused, free, stack uint64
}

func read(s []metrics.Sample) figures {
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0 // unknown to this runtime
		}
		return s[i].Value.Uint64()
	}
	return figures{cycles: v(0), allocs: v(1), live: v(2), objects: v(3), unused: v(4), free: v(5), stack: v(6)}
}

// held is the memory the process holds for its heap and stacks (not
// counting what was already returned to the OS).
func (f figures) held() uint64 { return f.objects + f.unused + f.free + f.stack }

// due reports whether to trim now: the interval since last was quiet (no
// collection, and little allocated: a heap growing through a burst may go
// a while without a collection too), and the process holds MinSlack more
// than after the last trim (base), and more than twice what was live then.
func due(last, now, base figures, minSlack uint64) bool {
	quiet := now.cycles == last.cycles && now.allocs-last.allocs < minSlack/16
	return quiet && now.held() >= base.held()+max(minSlack, base.live)
}

// Run trims as described until ctx ends. It first trims once, to learn
// what the process holds when all its garbage is gone.
func (t *Trimmer) Run(ctx context.Context) {
	every := t.Interval
	if every <= 0 {
		every = DefaultInterval
	}
	minSlack := t.MinSlack
	if minSlack == 0 {
		minSlack = DefaultMinSlack
	}
	s := make([]metrics.Sample, len(samples))
	for i, name := range samples {
		s[i].Name = name
	}
	ticks := t.ticks
	if ticks == nil {
		tick := time.NewTicker(every)
		defer tick.Stop()
		ticks = tick.C
	}
	var last, base figures // base: right after the last trim
	trim := func(before figures) {
		runtime.GC()
		debug.FreeOSMemory()
		base = read(s)
		last = base // our own collections are not load
		if t.Logger != nil && before.cycles != 0 {
			t.Logger.Debug("trim: returned memory to the OS after a quiet interval",
				"held_mb", before.held()>>20, "kept_mb", base.held()>>20)
		}
	}
	trim(figures{}) // not counted: it answers no burst
	t.started.Store(true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
		now := read(s)
		if now.held() < base.held() {
			base = now // the runtime gave some back on its own
		}
		due := due(last, now, base, minSlack)
		last = now
		if due {
			trim(now)
			t.trims.Add(1)
		}
	}
}

// One Trimmer serves the whole process, however many servers run in it
// (tests run many): Start runs it while at least one caller holds it.
var shared struct {
	sync.Mutex
	users int
	stop  context.CancelFunc
	done  chan struct{}
}

// Start runs the process's Trimmer (with the defaults) until every caller
// of Start has called the stop function it returned.
func Start(logger *slog.Logger) (stop func()) {
	shared.Lock()
	defer shared.Unlock()
	shared.users++
	if shared.users == 1 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		shared.stop, shared.done = cancel, done
		go func() {
			defer close(done)
			(&Trimmer{Logger: logger}).Run(ctx)
		}()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			shared.Lock()
			shared.users--
			var done chan struct{}
			if shared.users == 0 {
				shared.stop()
				done = shared.done
			}
			shared.Unlock()
			if done != nil {
				<-done
			}
		})
	}
}
