package memory

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/ratelimit"
)

var t0 = time.Unix(1_700_000_000, 0) // injected clock origin

func limits(t testing.TB, ss ...string) []ratelimit.Limit {
	t.Helper()
	var out []ratelimit.Limit
	for _, s := range ss {
		l, err := ratelimit.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func admitted(l *Limiter, key string, ls []ratelimit.Limit, now time.Time, n int) int {
	ok := 0
	for range n {
		if d, _ := l.Allow(context.Background(), key, ls, now); d.Allowed {
			ok++
		}
	}
	return ok
}

func TestNginxBurstSimultaneous(t *testing.T) {
	l := New(Config{})
	ls := limits(t, "10/s burst 20")
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if d, _ := l.Allow(context.Background(), "k", ls, t0); d.Allowed {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 21 {
		t.Fatalf("100 simultaneous: %d admitted, want 21", ok)
	}
	if got := admitted(l, "k", ls, t0.Add(100*time.Millisecond), 10); got != 1 {
		t.Fatalf("100ms later: %d admitted, want 1", got)
	}
}

func TestExactTenPerMinute(t *testing.T) {
	l := New(Config{})
	ls := limits(t, "10/minute")
	if got := admitted(l, "k", ls, t0, 30); got != 10 {
		t.Fatalf("%d admitted, want 10", got)
	}
	if got := admitted(l, "k", ls, t0.Add(time.Minute-time.Nanosecond), 5); got != 0 {
		t.Fatalf("end of the window: %d admitted, want 0", got)
	}
	if got := admitted(l, "k", ls, t0.Add(time.Minute), 30); got != 10 {
		t.Fatalf("next window: %d admitted, want 10", got)
	}
}

func TestMultipleWindowsAndKeys(t *testing.T) {
	l := New(Config{})
	ls := limits(t, "5/s", "7/hour")
	for i := range 50 {
		key := "client-" + strconv.Itoa(i)
		if got := admitted(l, key, ls, t0, 10); got != 5 {
			t.Fatalf("%s second 1: %d, want 5", key, got)
		}
		if got := admitted(l, key, ls, t0.Add(time.Second), 10); got != 2 {
			t.Fatalf("%s second 2: %d, want 2", key, got)
		}
	}
}

// A changed limit (a reload) does not read the old limit's state.
func TestChangedLimitStartsFresh(t *testing.T) {
	l := New(Config{})
	admitted(l, "k", limits(t, "2/minute"), t0, 5)
	if got := admitted(l, "k", limits(t, "3/minute"), t0, 5); got != 3 {
		t.Fatalf("%d admitted under the new limit, want 3", got)
	}
}

// A flood of random keys cannot grow the table: entries never exceed the
// capacity, whatever the number of distinct keys.
func TestBoundedUnderRandomKeyFlood(t *testing.T) {
	l := New(Config{MaxEntries: 4096, Shards: 8})
	ls := limits(t, "10/minute")
	for i := range 200_000 {
		if _, err := l.Allow(context.Background(), "flood-"+strconv.Itoa(i), ls, t0); err != nil {
			t.Fatal(err)
		}
	}
	st := l.Stats(t0)
	if st.Capacity != 4096 || st.Live > st.Capacity {
		t.Fatalf("stats %+v: live entries exceed the capacity", st)
	}
	if st.Evictions < 200_000-4096 {
		t.Fatalf("stats %+v: expected every insert past capacity to evict", st)
	}
	// All that state ends with its window: nothing is live a minute later,
	// and every slot is reusable without evicting anything.
	if st := l.Stats(t0.Add(time.Minute)); st.Live != 0 {
		t.Fatalf("a minute later %d entries are live, want 0", st.Live)
	}
	before := l.Stats(t0).Evictions
	for i := range 256 { // half a key per set on average: no set overflows by itself
		l.Allow(context.Background(), "next-"+strconv.Itoa(i), ls, t0.Add(time.Minute))
	}
	if ev := l.Stats(t0).Evictions - before; ev != 0 {
		t.Fatalf("%d live entries evicted while idle slots were free", ev)
	}
}

// Under a flood the evicted state is the one expiring soonest: a long-lived
// quota survives short-lived noise in its set.
func TestEvictionPrefersSoonestExpiry(t *testing.T) {
	l := New(Config{MaxEntries: 8, Shards: 1}) // one set of 8 ways
	day := limits(t, "3/day")
	admitted(l, "victim", day, t0, 3)
	sec := limits(t, "5/s")
	for i := range 100 {
		l.Allow(context.Background(), "noise-"+strconv.Itoa(i), sec, t0)
	}
	if got := admitted(l, "victim", day, t0.Add(time.Hour), 1); got != 0 {
		t.Fatal("the day quota was evicted by per-second noise")
	}
}

func TestIdleEntriesCostNothing(t *testing.T) {
	l := New(Config{MaxEntries: 1024, Shards: 4})
	ls := limits(t, "1/s burst 3")
	for i := range 1024 {
		l.Allow(context.Background(), "k"+strconv.Itoa(i), ls, t0)
	}
	// GCRA state drains after (burst+1)/rate at most.
	if st := l.Stats(t0.Add(4 * time.Second)); st.Live != 0 {
		t.Fatalf("%d live entries after the buckets drained, want 0", st.Live)
	}
}

func TestAllowDoesNotAllocate(t *testing.T) {
	l := New(Config{})
	ls := limits(t, "10/s burst 20", "200/day")
	now := t0
	allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Millisecond)
		l.Allow(context.Background(), "client-1", ls, now)
		l.Allow(context.Background(), "client-new-"+"x", ls, now)
	})
	if allocs != 0 {
		t.Fatalf("Allow allocates %.1f times per call", allocs)
	}
}
