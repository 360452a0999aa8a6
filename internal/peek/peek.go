// Package peek looks at what is waiting on a connection's receive side
// without consuming it and without blocking: one recv(MSG_PEEK|MSG_DONTWAIT).
//
// The proxy uses it before reusing a pooled upstream connection (anything
// waiting there is not a response to the request about to be sent), and the
// gateway uses it to notice, while an upstream is slow to answer, that the
// client has gone away (nginx aborts the upstream request then too).
//
// A Prober is made once per connection, so a check allocates nothing. It
// must not run while another goroutine reads the connection.
package peek

// State is what a check found.
type State uint8

const (
	// Empty: nothing is waiting and the peer has not closed; the healthy
	// state of an idle connection.
	Empty State = iota
	// Data: bytes are waiting to be read.
	Data
	// Closed: the peer closed its side (FIN), or the connection failed.
	Closed
)
