//go:build !linux

package h1

import "time"

// Connections are parked on Linux only (park_linux.go); elsewhere an idle
// connection keeps its goroutine.

type parking struct{}

func (c *conn) resumable() bool           { return false }
func (c *conn) park(time.Time, bool) bool { return false }
func (s *Server) dropParked(c *conn)      { _ = c.rwc.Close() }
func (s *Server) stopParkingLocked()      {}
func (s *Server) parked() int             { return 0 }
func (c *conn) attach() bool              { return true }
