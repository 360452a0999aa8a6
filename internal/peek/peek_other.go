//go:build !unix

package peek

import "net"

// Prober is a no-op where MSG_PEEK is not available.
type Prober struct{}

// New returns nil: every check reports Empty.
func New(net.Conn) *Prober { return nil }

// Check reports Empty.
func (*Prober) Check() State { return Empty }
