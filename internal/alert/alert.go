// Package alert carries detections (internal/detect) to where operators look:
// the audit log, webhooks and syslog (SIEM). A detector builds one Alert per
// detection and hands it to a Notifier, which must never block the detector.
package alert

import "time"

// Alert is one detection: what was seen, about whom, on what evidence, and
// what the gateway did. It never holds a credential: Subject values are
// client addresses, principal or key ids, or usernames, never tokens.
type Alert struct {
	Time     time.Time
	Detector string // e.g. "credential_stuffing", "scanning", "token_sharing", "volume", "contract_violations"
	// SubjectKind says what Subject is: "client_ip", "principal" or "username".
	SubjectKind string
	Subject     string
	// Action taken: "log" (event only) or "block".
	Action string
	// BlockFor is the block's duration when Action is "block".
	BlockFor time.Duration
	// Evidence are the counts that crossed the detector's thresholds, by
	// name (e.g. "failures": 57, "distinct_usernames": 41, "window_seconds": 60).
	Evidence map[string]int64
	// Summary is one human sentence (Slack's "text"), built from the fields
	// above only.
	Summary string
	// Replica identifies the gateway process that detected it (host name or
	// configured id), so alerts from several replicas can be told apart.
	Replica string
}

// Notifier receives alerts. Notify must return at once (queue, never wait on
// the network) and must not keep a reference to a.Evidence past the call
// unless it copies it.
type Notifier interface {
	Notify(a Alert)
}

// Multi notifies each of its notifiers in order.
type Multi []Notifier

// Notify implements Notifier.
func (m Multi) Notify(a Alert) {
	for _, n := range m {
		n.Notify(a)
	}
}

// Func adapts a function to a Notifier (tests, the audit log).
type Func func(Alert)

// Notify implements Notifier.
func (f Func) Notify(a Alert) { f(a) }
