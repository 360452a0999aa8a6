package ratelimit

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	win := func(n int64, p time.Duration) Limit { return Limit{Count: n, Period: p} }
	gcra := func(n int64, p time.Duration, b int64) Limit {
		return Limit{Count: n, Period: p, Burst: b, Algorithm: GCRA}
	}
	tests := []struct {
		in   string
		want Limit
	}{
		{"10/s", win(10, time.Second)},
		{"10/second", win(10, time.Second)},
		{"600/minute", win(600, time.Minute)},
		{"50/hour", win(50, time.Hour)},
		{"200/day", win(200, 24*time.Hour)},
		{"1000/month", win(1000, 30*24*time.Hour)},
		{"5/year", win(5, 360*24*time.Hour)},
		{"10 per minute", win(10, time.Minute)},
		{"200 per day", win(200, 24*time.Hour)},
		{"200 PER DAY", win(200, 24*time.Hour)},
		{"10 per 5 minutes", win(10, 5*time.Minute)},
		{"1/2s", win(1, 2*time.Second)},
		{"  10 / s  ", win(10, time.Second)},
		{"10r/s", win(10, time.Second)},
		{"30r/m", win(30, time.Minute)},
		{"10/s burst 20", gcra(10, time.Second, 20)},
		{"10r/s burst=20", gcra(10, time.Second, 20)},
		{"10/s burst 0", gcra(10, time.Second, 0)},
		{"5/minute burst 2", gcra(5, time.Minute, 2)},
		{"1000000/s", win(1000000, time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			again, err := Parse(got.String())
			if err != nil || again != got {
				t.Fatalf("round trip through %q = %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty"},
		{"ten/s", "must start with a request count"},
		{"0/s", "at least 1"},
		{"10", `expected "/" or "per"`},
		{"10 a minute", `expected "/" or "per"`},
		{"10/fortnight", `unknown time unit "fortnight"`},
		{"10/ms", `unknown time unit "ms"`},
		{"10/", "expected a time unit"},
		{"10/0s", "must not be zero"},
		{"10/s burst", "burst needs a number"},
		{"10/s burst -1", "burst needs a number"},
		{"10/s burst 5 now", "after the burst"},
		{"10/s; 5/m", "only \"burst N\" may follow"},
		{"99999999999/s", "too large"},
		{"2000000/s", "rate is too high"},
		{"1/100000day", "period is too long"},
		{"1/day burst 1000000", "burst is too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded", tt.in)
			}
			if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) = %v, want an ErrSyntax containing %q", tt.in, err, tt.want)
			}
		})
	}
}

// clock is nanoseconds on a decision time line.
const (
	ms = int64(time.Millisecond)
	s  = int64(time.Second)
)

func mustParse(t testing.TB, str string) Limit {
	t.Helper()
	l, err := Parse(str)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// decide runs n simultaneous requests at now and returns how many were admitted.
func admit(limits []Limit, st *[MaxLimits]State, now int64, n int) int {
	ok := 0
	for range n {
		if Decide(limits, st, now).Allowed {
			ok++
		}
	}
	return ok
}

func fresh() *[MaxLimits]State {
	var st [MaxLimits]State
	for i := range st {
		st[i] = Fresh
	}
	return &st
}

// nginx limit_req rate=10r/s burst=20 nodelay: at an idle start 21 of 100
// simultaneous requests pass (excess 0 for the first, then 1..20 ≤ burst),
// then exactly one more every 100 ms.
func TestGCRAMatchesNginxBurst(t *testing.T) {
	limits := []Limit{mustParse(t, "10/s burst 20")}
	st := fresh()
	now := int64(1000 * s)
	if got := admit(limits, st, now, 100); got != 21 {
		t.Fatalf("idle start: admitted %d of 100 simultaneous, want 21 (burst+1)", got)
	}
	if got := admit(limits, st, now+99*ms, 10); got != 0 {
		t.Fatalf("after 99ms: admitted %d, want 0", got)
	}
	for i := int64(1); i <= 50; i++ {
		if got := admit(limits, st, now+i*100*ms, 10); got != 1 {
			t.Fatalf("at %dms: admitted %d, want exactly 1", i*100, got)
		}
	}
	// Idle for the whole burst period: the full burst is back.
	if got := admit(limits, st, now+50*100*ms+2100*ms, 100); got != 21 {
		t.Fatalf("after 2.1s idle: admitted %d, want 21", got)
	}
}

// nginx rate=1r/s with no burst (burst 0): one at a time.
func TestGCRABurstZero(t *testing.T) {
	limits := []Limit{mustParse(t, "1/s burst 0")}
	st := fresh()
	if got := admit(limits, st, 0, 5); got != 1 {
		t.Fatalf("admitted %d, want 1", got)
	}
	d := Decide(limits, st, 400*ms)
	if d.Allowed || d.RetryAfter != 600*time.Millisecond {
		t.Fatalf("at 400ms: %+v, want refused with RetryAfter 600ms", d)
	}
	if got := admit(limits, st, 1*s, 5); got != 1 {
		t.Fatalf("at 1s: admitted %d, want 1", got)
	}
}

// "10/minute" is Flask-Limiter's fixed window: exactly 10 in the minute that
// starts with the first request, none more until it ends, then 10 again.
func TestFixedWindowExact(t *testing.T) {
	limits := []Limit{mustParse(t, "10/minute")}
	st := fresh()
	start := int64(5 * s)
	for i := range 10 {
		d := Decide(limits, st, start+int64(i)*s)
		if !d.Allowed || d.Limits[0].Remaining != int64(9-i) {
			t.Fatalf("request %d: %+v", i+1, d)
		}
	}
	d := Decide(limits, st, start+59*s+999*ms)
	if d.Allowed || d.RetryAfter != time.Millisecond {
		t.Fatalf("11th just before the window ends: %+v, want refused, retry 1ms", d)
	}
	if got := admit(limits, st, start+60*s, 15); got != 10 {
		t.Fatalf("new window: admitted %d of 15, want 10", got)
	}
}

func TestMultipleLimitsAllOrNothing(t *testing.T) {
	limits := []Limit{mustParse(t, "3/s"), mustParse(t, "5/minute")}
	st := fresh()
	if got := admit(limits, st, 0, 10); got != 3 {
		t.Fatalf("first second: admitted %d, want 3", got)
	}
	if got := admit(limits, st, 1*s, 10); got != 2 {
		t.Fatalf("second second: admitted %d, want 2 (5/minute binds)", got)
	}
	d := Decide(limits, st, 2*s)
	if d.Allowed || d.RetryAfter != 58*time.Second {
		t.Fatalf("third second: %+v, want refused until the minute ends", d)
	}
	// Refusals by 5/minute did not spend 3/s: the second window still shows 3-2=1 left.
	if d.Limits[0].Remaining != 3 {
		t.Fatalf("3/s remaining = %d, want 3 (a fresh second, nothing charged)", d.Limits[0].Remaining)
	}
	if got := admit(limits, st, 60*s, 10); got != 3 {
		t.Fatalf("next minute: admitted %d, want 3", got)
	}
}

func TestRefusalChargesNothing(t *testing.T) {
	limits := []Limit{mustParse(t, "1/s burst 2")}
	st := fresh()
	admit(limits, st, 0, 3)
	before := *st
	for range 100 {
		Decide(limits, st, 0)
	}
	if *st != before {
		t.Fatalf("refused requests changed the state: %+v → %+v", before, *st)
	}
}

func TestViewGCRA(t *testing.T) {
	limits := []Limit{mustParse(t, "10/s burst 4")}
	st := fresh()
	d := Decide(limits, st, 0)
	if got := d.Limits[0]; got.Remaining != 4 || got.Reset != 100*time.Millisecond || got.RetryAfter != 0 {
		t.Fatalf("after 1: %+v", got)
	}
	admit(limits, st, 0, 4)
	d = Decide(limits, st, 0)
	if got := d.Limits[0]; d.Allowed || got.Remaining != 0 || got.Reset != 500*time.Millisecond || got.RetryAfter != 100*time.Millisecond {
		t.Fatalf("exhausted: %+v %+v", d, got)
	}
}
