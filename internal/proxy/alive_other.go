//go:build !unix

package proxy

import "net"

// prober is a no-op where MSG_PEEK is not available: every idle connection
// is taken as alive (a stale one fails like any broken connection).
type prober struct{}

func newProber(net.Conn) *prober { return nil }
func (*prober) alive() bool      { return true }
func alive(c net.Conn) bool      { return newProber(c).alive() }
