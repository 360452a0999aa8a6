package scan

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxRate is the highest --rate accepted, in requests per second.
const MaxRate = 1000

// ParseRate reads a request rate: "10", "10/s", "2.5/sec", "600/m",
// "600/min", "3600/h", "10/second", "100/minute", "1000/hour". It returns
// requests per second, which must be positive and at most MaxRate.
func ParseRate(s string) (float64, error) {
	text := strings.TrimSpace(s)
	num, unit, hasUnit := strings.Cut(text, "/")
	num, unit = strings.TrimSpace(num), strings.ToLower(strings.TrimSpace(unit))
	if num == "" || strings.ContainsAny(num, "+-_ \t") || len(num) > 32 {
		return 0, fmt.Errorf("rate %q: want N/s, N/m or N/h with N a positive number", s)
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n <= 0 {
		return 0, fmt.Errorf("rate %q: want N/s, N/m or N/h with N a positive number", s)
	}
	per := 1.0
	if hasUnit {
		switch unit {
		case "s", "sec", "second":
		case "m", "min", "minute":
			per = 60
		case "h", "hour":
			per = 3600
		default:
			return 0, fmt.Errorf("rate %q: unknown unit %q (want s, m or h)", s, unit)
		}
	}
	r := n / per
	if r > MaxRate {
		return 0, fmt.Errorf("rate %q: at most %d requests per second", s, MaxRate)
	}
	if r < 1.0/3600 {
		return 0, fmt.Errorf("rate %q: at least one request per hour", s)
	}
	return r, nil
}

// bucket is a token bucket: rate tokens a second, at most capacity saved.
// With capacity 1 no two requests are closer than 1/rate, so "10/s" is a
// cap in every one-second window, not just on average.
type bucket struct {
	mu       sync.Mutex
	rate     float64
	capacity float64
	tokens   float64
	last     time.Time
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
}

func newBucket(rate, capacity float64) *bucket {
	return &bucket{rate: rate, capacity: capacity, tokens: capacity, now: time.Now, sleep: sleepCtx}
}

// wait blocks until a token is available (taking it) or ctx is done.
func (b *bucket) wait(ctx context.Context) error {
	for {
		b.mu.Lock()
		now := b.now()
		if !b.last.IsZero() {
			b.tokens = min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		}
		b.last = now
		if b.tokens >= 1 {
			b.tokens--
			b.mu.Unlock()
			return nil
		}
		need := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
		b.mu.Unlock()
		if err := b.sleep(ctx, max(need, time.Microsecond)); err != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
