package gateway

import (
	"testing"
	"time"
)

func TestTokenHintDue(t *testing.T) {
	var h tokenHint
	t0 := time.Unix(1_700_000_000, 0)
	steps := []struct {
		at   time.Duration
		want bool
	}{
		{0, true},            // the first refusal is reported
		{time.Second, false}, // within the minute: quiet
		{hintEvery - time.Nanosecond, false},
		{hintEvery, true}, // a minute after the last hint
		{hintEvery + 30*time.Second, false},
		{3 * hintEvery, true},
	}
	for _, s := range steps {
		if got := h.due(t0.Add(s.at)); got != s.want {
			t.Errorf("due at +%s = %v, want %v", s.at, got, s.want)
		}
	}
}
