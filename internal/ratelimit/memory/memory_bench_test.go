package memory

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAllow decides against one policy of two limits ("10/s burst 20",
// "200/day"), from all cores at once, over 10k keys.
func BenchmarkAllow(b *testing.B) {
	l := New(Config{})
	ls := limits(b, "10/s burst 20", "200/day")
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "per_client:" + strconv.Itoa(i)
	}
	var seq atomic.Uint64
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := seq.Add(1) * 7919
		for pb.Next() {
			i++
			l.Allow(context.Background(), keys[i%uint64(len(keys))], ls, now)
		}
	})
}

// BenchmarkAllowOneKey is the worst case for sharding: every core on one key.
func BenchmarkAllowOneKey(b *testing.B) {
	l := New(Config{})
	ls := limits(b, "10/s burst 20")
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow(context.Background(), "per_client:hot", ls, now)
		}
	})
}
