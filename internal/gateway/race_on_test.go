//go:build race

package gateway

// raceEnabled: the race detector changes allocation counts (sync.Pool drops
// items at random), so allocation guards skip under it.
const raceEnabled = true
