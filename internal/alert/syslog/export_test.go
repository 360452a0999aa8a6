package syslog

import (
	"testing"
	"time"
)

// SetBackoff shortens the reconnect backoff for t.
func SetBackoff(t *testing.T, lo, hi time.Duration) {
	oldLo, oldHi := minBackoff, maxBackoff
	minBackoff, maxBackoff = lo, hi
	t.Cleanup(func() { minBackoff, maxBackoff = oldLo, oldHi })
}
