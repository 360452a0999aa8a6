package redis_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rampart-gw/rampart/internal/ratelimit/redis"
	"github.com/rampart-gw/rampart/internal/ratelimit/redistest"
)

// benchAllow decides against one policy of two limits over 10k keys from
// 64 goroutines (b.SetParallelism), the shape of a loaded gateway: many
// requests waiting on Redis at once.
func benchAllow(b *testing.B, client redis.Client, prefix string) {
	l := redis.New(client, redis.Config{Prefix: prefix, Timeout: 5 * time.Second})
	defer l.Close()
	lim := limits(b, "1000/s burst 2000", "100000000/day")
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "per_client:" + strconv.Itoa(i)
	}
	var seq atomic.Uint64
	var failed atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := seq.Add(1) * 7919
		for pb.Next() {
			i++
			d, err := l.Allow(context.Background(), keys[i%uint64(len(keys))], lim, time.Now())
			if err != nil || d.Degraded {
				failed.Add(1)
			}
		}
	})
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d decisions failed", n)
	}
}

func BenchmarkAllowPool(b *testing.B) {
	r := redistest.Shared(b)
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr, PoolSize: 64})
	defer c.Close()
	benchAllow(b, c, r.Prefix)
}

func BenchmarkAllowAutoPipeline(b *testing.B) {
	r := redistest.Shared(b)
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr, PoolSize: 64})
	defer c.Close()
	ap, err := c.AutoPipeline()
	if err != nil {
		b.Fatal(err)
	}
	defer ap.Close()
	benchAllow(b, ap, r.Prefix)
}

// BenchmarkAllowLatency is one decision at a time: the round-trip latency a
// single request adds.
func BenchmarkAllowLatency(b *testing.B) {
	r := redistest.Shared(b)
	l := newLimiter(b, r.URL, r.Prefix, redis.Config{NoAutoPipeline: true})
	lim := limits(b, "1000/s burst 2000", "100000000/day")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := l.Allow(context.Background(), "per_client:"+strconv.Itoa(i%1000), lim, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
