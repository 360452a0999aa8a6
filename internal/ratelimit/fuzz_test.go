package ratelimit

import "testing"

// FuzzParse: Parse never panics, accepts only valid limits, and its canonical
// spelling parses back to the same limit.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"10/s", "10/s burst 20", "600/minute", "50/hour", "200/day",
		"10 per minute", "200 per day", "1/2s", "10r/s burst=20", "5/year", "9999999999/s",
		"1/day burst 1000000000", "10 per 0 minutes", "", "per", "10/s burst", "\x00/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			return
		}
		if !l.Valid() {
			t.Fatalf("Parse(%q) = %+v, which is not Valid", s, l)
		}
		again, err := Parse(l.String())
		if err != nil || again != l {
			t.Fatalf("Parse(%q) = %+v; its String %q parses to %+v, %v", s, l, l.String(), again, err)
		}
		// The arithmetic stays in range at the extremes.
		st := Fresh
		ok, next := l.Take(st, 1<<62)
		if !ok || next.T < 1<<62 {
			t.Fatalf("%+v: first request refused or state went back in time: %+v", l, next)
		}
	})
}
