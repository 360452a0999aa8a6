package trim

import (
	"context"
	"runtime/metrics"
	"testing"
	"time"
)

func released() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// keep stops the compiler from proving a burst's allocations dead early.
var keep [][]byte

// burst allocates n bytes in 4 KiB pieces, holds them, grows goroutine
// stacks, then drops it all: what 10,000 connections arriving at once leave.
func burst(n int) {
	for i := 0; i < n/4096; i++ {
		keep = append(keep, make([]byte, 4096))
	}
	done := make(chan struct{})
	for i := 0; i < 200; i++ {
		go func() { deep(64); done <- struct{}{} }()
	}
	for i := 0; i < 200; i++ {
		<-done
	}
	keep = nil
}

//go:noinline
func deep(n int) byte {
	var pad [512]byte
	pad[n%512] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return deep(n-1) + pad[n%512]
}

// The test ends the trimmer's intervals itself: on a loaded machine a real
// interval can pass while the burst holds its memory (the heap quiet while
// the goroutines run), and a trim then sees the burst as live.
func TestTrimAfterBurst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ticks := make(chan time.Time)
	tr := &Trimmer{MinSlack: 16 << 20, ticks: ticks}
	go tr.Run(ctx)
	waitStarted(t, tr)
	burst(96 << 20)
	// The first interval's end reads the figures; the second finds it quiet
	// and trims; the third is received only once that trim is done.
	for i := 0; i < 3; i++ {
		ticks <- time.Now()
	}
	if n := tr.Trims(); n != 1 {
		t.Fatalf("%d trims after a 96 MiB burst went quiet, want 1", n)
	}
	// The burst's pages went back to the OS (released, no longer resident).
	if got := released(); got < 64<<20 {
		t.Errorf("%d MiB released to the OS after the trim, want ≥ 64 of the burst's 96", got>>20)
	}
}

func TestDue(t *testing.T) {
	const mib = 1 << 20
	base := figures{cycles: 3, allocs: 100 * mib, live: 10 * mib, objects: 12 * mib, unused: mib, free: 2 * mib, stack: mib} // holds 16 MiB
	burst := func(f figures) figures { f.objects += 80 * mib; f.free += 20 * mib; return f }
	grown := burst(base)
	for _, tc := range []struct {
		name      string
		last, now figures
		want      bool
	}{
		{"quiet after a burst", grown, grown, true},
		{"a collection ran during the interval", figures{cycles: 2, allocs: grown.allocs}, grown, false},
		{"still allocating (heap growing through a burst)", figures{cycles: 3, allocs: grown.allocs - 4*mib}, grown, false},
		{"allocating a little (light traffic)", figures{cycles: 3, allocs: grown.allocs - mib}, grown, true},
		{"holding less than MinSlack more", base, figures{cycles: 3, allocs: base.allocs, objects: 12 * mib, unused: mib, free: 30 * mib, stack: mib}, false},
		{"the live figure of the last collection does not count (it is stale after a burst)", base,
			figures{cycles: 3, allocs: base.allocs, live: 40 * mib, objects: 12 * mib, unused: mib, free: 35 * mib, stack: mib}, true},
		{"nothing changed", base, base, false},
	} {
		if got := due(tc.last, tc.now, base, 32*mib); got != tc.want {
			t.Errorf("%s: due = %v, want %v", tc.name, got, tc.want)
		}
	}
	// More than MinSlack above base but not twice its live heap.
	big := figures{cycles: 3, live: 100 * mib, objects: 110 * mib}
	if due(big, figures{cycles: 3, objects: 150 * mib}, big, 32*mib) {
		t.Error("due with 40 MiB more held than after the trim, when 100 MiB was live then")
	}
}

func waitStarted(t *testing.T, tr *Trimmer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !tr.started.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the trimmer never made its first trim")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStartShared(t *testing.T) {
	stop1 := Start(nil)
	stop2 := Start(nil)
	shared.Lock()
	users, done := shared.users, shared.done
	shared.Unlock()
	if users != 2 {
		t.Fatalf("users = %d, want 2", users)
	}
	stop1()
	stop1() // idempotent
	select {
	case <-done:
		t.Fatal("the trimmer stopped while a caller still holds it")
	default:
	}
	stop2()
	<-done // stopped with the last holder (a hang here fails the test by timeout)
}
